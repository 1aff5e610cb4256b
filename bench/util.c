/* util.c - shapes, aligned seeded buffers, tolerance checks and case registration shared by all cases. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime with -std=c11 */

#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const bench_shape bench_shapes[] = {
    {64, 784, 128, "mnist", 1, 0, 0},       /* MNIST MLP, first layer */
    {64, 128, 10, "mnist-out", 0, 0, 0},    /* MNIST MLP, classifier */
    {128, 512, 512, "gnmt", 0, 0, 0},       /* GNMT, small */
    {128, 1024, 1024, "gnmt", 1, 0, 0},     /* GNMT */
    {112, 2048, 1000, "resnet50", 0, 0, 0}, /* ResNet-50 classifier */
    {2048, 256, 256, "ncf", 0, 0, 0},       /* NCF, large batch */
    {1, 1024, 1024, "batch1", 1, 0, 0},     /* one example: matrix-vector work */
    {32, 67, 33, "odd", 1, 0, 0},           /* small and odd: every edge path */
    /* Far past the last-level cache: 64 MiB per BP1 and BP3 operand, 32 MiB
     * of weights for SGD. The streaming cases' DRAM row. */
    {2048, 1024, 8192, "dram", 0, 1, 0},
    /* A classifier's activation alone: with one input the product is one
     * fma per output, so the forward pass is the sigmoid or the softmax
     * (1000 classes, a batch of 256: 1 MiB of outputs, in L2). The row where
     * they meet the plain loop compiled with -ffast-math. */
    {256, 1, 1000, "activation", 0, 0, 1},
};
const size_t bench_shape_count = sizeof bench_shapes / sizeof bench_shapes[0];

/* The shapes cases are registered for: the table above, unless a sweep drew others. */
static const bench_shape *active = bench_shapes;
static size_t active_count = sizeof bench_shapes / sizeof bench_shapes[0];

void bench_use_shapes(const bench_shape *shapes, size_t count)
{
    active = shapes;
    active_count = count;
}

const bench_shape *bench_registered_shapes(size_t *count)
{
    *count = active_count;
    return active;
}

float *bench_alloc(size_t n)
{
    /* aligned_alloc wants a multiple of the alignment; at least one line. */
    size_t bytes = (n * sizeof(float) + 63u) & ~(size_t)63u;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* A 64-bit linear congruential step; the top 24 bits make a float in [0, 1). */
static float next_unit(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return (float)(*s >> 40) * (1.0f / 16777216.0f);
}

void bench_fill(float *p, size_t n, unsigned seed, float lo, float hi)
{
    uint64_t s = 0x9e3779b97f4a7c15u ^ seed;
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * next_unit(&s);
}

void bench_fill_onehot(float *y, size_t batch, size_t n, unsigned seed)
{
    uint64_t s = 0x243f6a8885a308d3u ^ seed;
    for (size_t r = 0; r < batch; r++) {
        size_t hot = (size_t)(next_unit(&s) * (float)n) % n;
        for (size_t j = 0; j < n; j++)
            y[r * n + j] = j == hot ? 1.0f : 0.0f;
    }
}

void bench_fill_probs(float *a, size_t batch, size_t n, unsigned seed)
{
    bench_fill(a, batch * n, seed, 0.05f, 1.0f);
    for (size_t r = 0; r < batch; r++) {
        float sum = 0.0f;
        for (size_t j = 0; j < n; j++)
            sum += a[r * n + j];
        for (size_t j = 0; j < n; j++)
            a[r * n + j] /= sum;
    }
}

void bench_fill_bits(float *y, size_t n, unsigned seed)
{
    uint64_t s = 0x13198a2e03707344u ^ seed;
    for (size_t i = 0; i < n; i++)
        y[i] = next_unit(&s) < 0.5f ? 0.0f : 1.0f;
}

int bench_close(const float *got, const float *want, size_t n, double tol, const char *what,
                char *why, size_t why_len)
{
    double scale = 0.0, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)want[i]) > scale)
            scale = fabs((double)want[i]);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= worst)) { /* also catches NaN */
            worst = d;
            at = i;
            if (isnan(d))
                break;
        }
    }
    if (worst <= tol * scale + 1e-30)
        return 1;
    bench_why(why, why_len,
              "%s differs from bpq: |diff| %.3g at %zu, %.3g of max|bpq| (tolerance %.0e)", what,
              worst, at, scale > 0.0 ? worst / scale : worst, tol);
    return 0;
}

void bench_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

const char *bench_act_name(bpq_act act)
{
    switch (act) {
    case BPQ_ACT_IDENTITY: return "identity";
    case BPQ_ACT_SIGMOID: return "sigmoid";
    case BPQ_ACT_TANH: return "tanh";
    case BPQ_ACT_RELU: return "relu";
    case BPQ_ACT_SOFTMAX: return "softmax";
    }
    return "unknown";
}

const char *bench_loss_name(bpq_loss loss)
{
    switch (loss) {
    case BPQ_LOSS_MSE: return "mse";
    case BPQ_LOSS_BCE: return "bce";
    case BPQ_LOSS_XENT: return "xent";
    }
    return "unknown";
}

int bench_select(int isa, char *why, size_t why_len)
{
    bpq_status st = bpq_isa_select((bpq_isa)isa);
    if (st == BPQ_OK)
        return 1;
    bench_why(why, why_len, "bpq_isa_select(%s): %s", bpq_isa_name((bpq_isa)isa),
              bpq_status_string(st));
    return 0;
}

/* Whether a case runs on a shape: the DRAM shape is for BP1, BP3 and SGD
 * only, the activation shape for the forward pass only. */
static int shape_applies(const char *case_id, const bench_shape *s)
{
    if (s->activation_only)
        return strncmp(case_id, "forward.", 8) == 0;
    if (!s->streaming_only)
        return 1;
    return strncmp(case_id, "bp1.", 4) == 0 || strcmp(case_id, "bp3") == 0 ||
           strcmp(case_id, "sgd") == 0;
}

/* "<case>/<batch>x<n_in>x<n_out>/<impl>" */
static void case_name(char *out, size_t len, const char *case_id, const bench_shape *s,
                      const char *impl)
{
    snprintf(out, len, "%s/%zux%zux%zu/%s", case_id, s->batch, s->n_in, s->n_out, impl);
}

void bench_register_bpq(const char *case_id, const bench_ops *ops, int variant, int in_short)
{
    for (size_t k = 0; k < active_count; k++) {
        if (!shape_applies(case_id, &active[k]))
            continue;
        for (int isa = BPQ_ISA_REFERENCE; isa <= BPQ_ISA_NEON; isa++) {
            if (!bpq_isa_supported((bpq_isa)isa))
                continue; /* registry.c says once which ISAs are skipped */
            char impl[32], name[160];
            snprintf(impl, sizeof impl, "bpq.%s", bpq_isa_name((bpq_isa)isa));
            case_name(name, sizeof name, case_id, &active[k], impl);
            bench_args args = {active[k], isa, variant};
            int flags = 0;
            if (isa == BPQ_ISA_REFERENCE)
                flags |= BENCH_SLOW; /* double precision, naive loops: never in the short run */
            else if (in_short && active[k].in_short)
                flags |= BENCH_SHORT;
            bench_add(name, ops, &args, flags);
        }
    }
}

void bench_register_peer(const char *case_id, const char *impl, const bench_ops *ops, int mode,
                         int variant, int in_short, int flags)
{
    for (size_t k = 0; k < active_count; k++) {
        if (!shape_applies(case_id, &active[k]))
            continue;
        if ((flags & BENCH_ACTIVATION_SHAPES) && !active[k].activation_only)
            continue;
        char name[160];
        case_name(name, sizeof name, case_id, &active[k], impl);
        bench_args args = {active[k], mode, variant};
        bench_add(name, ops, &args,
                  (flags & ~BENCH_ACTIVATION_SHAPES) |
                      (in_short && active[k].in_short ? BENCH_SHORT : 0));
    }
}

int bench_layer_init(bench_layer *L, const bench_shape *s, char *why, size_t why_len)
{
    const size_t B = s->batch, I = s->n_in, O = s->n_out;
    *L = (bench_layer){.batch = B, .n_in = I, .n_out = O};
    L->x = bench_alloc(B * I);
    L->w = bench_alloc(O * I);
    L->b = bench_alloc(O);
    L->a = bench_alloc(B * O);
    L->y = bench_alloc(B * O);
    L->d = bench_alloc(B * O);
    L->dx = bench_alloc(B * I);
    L->dw = bench_alloc(O * I);
    L->db = bench_alloc(O);
    if (!L->x || !L->w || !L->b || !L->a || !L->y || !L->d || !L->dx || !L->dw || !L->db) {
        bench_layer_free(L);
        bench_why(why, why_len, "out of memory");
        return 0;
    }
    const float scale = 1.0f / sqrtf((float)I);
    bench_fill(L->x, B * I, 1, 0.01f, 0.99f);
    bench_fill(L->w, O * I, 2, -scale, scale);
    bench_fill(L->b, O, 3, -0.1f, 0.1f);
    bench_fill(L->a, B * O, 4, 0.01f, 0.99f);
    bench_fill(L->y, B * O, 5, 0.0f, 1.0f);
    bench_fill(L->d, B * O, 6, -0.1f, 0.1f);
    memset(L->dx, 0, B * I * sizeof(float));
    memset(L->dw, 0, O * I * sizeof(float));
    memset(L->db, 0, O * sizeof(float));
    return 1;
}

void bench_layer_free(bench_layer *L)
{
    free(L->x);
    free(L->w);
    free(L->b);
    free(L->a);
    free(L->y);
    free(L->d);
    free(L->dx);
    free(L->dw);
    free(L->db);
    *L = (bench_layer){0};
}

bench_level bench_isa_level(int isa)
{
    switch (isa) {
    case BPQ_ISA_AVX2: return BENCH_LEVEL_AVX2;
    case BPQ_ISA_AVX512: return BENCH_LEVEL_AVX512;
    case BPQ_ISA_NEON: return BENCH_LEVEL_NEON;
    default: return BENCH_LEVEL_SCALAR;
    }
}

typedef struct bpq_ctx {
    bench_args args;
    bench_layer L;
    bench_bpq_call call;
    bpq_status status; /* the first failure of a call, or BPQ_OK */
} bpq_ctx;

void *bench_bpq_setup(const bench_args *args, bench_work *work, char *why, size_t why_len,
                      bench_bpq_prepare prepare, bench_bpq_call call, bench_bpq_describe describe)
{
    if (!bench_select(args->impl, why, why_len))
        return NULL;
    bpq_ctx *c = calloc(1, sizeof *c);
    if (!c || !bench_layer_init(&c->L, &args->shape, why, why_len)) {
        free(c);
        return NULL;
    }
    c->args = *args;
    c->call = call;
    c->status = BPQ_OK;
    if (prepare)
        prepare(&c->L, args->variant);
    describe(&c->L, args->variant, work);
    work->level = bench_isa_level(args->impl);
    return c;
}

void bench_bpq_warm(void *ctx, int call_once)
{
    bpq_ctx *c = ctx;
    bpq_isa_select((bpq_isa)c->args.impl); /* setup proved it is supported */
    if (call_once)
        bench_bpq_run(c);
}

void bench_bpq_run(void *ctx)
{
    bpq_ctx *c = ctx;
    bpq_status st = c->call(&c->L, c->args.variant);
    if (st != BPQ_OK && c->status == BPQ_OK)
        c->status = st;
}

int bench_bpq_verify(void *ctx, char *why, size_t why_len)
{
    bpq_ctx *c = ctx;
    if (c->status == BPQ_OK)
        return 1;
    bench_why(why, why_len, "bpq returned: %s", bpq_status_string(c->status));
    return 0;
}

void bench_bpq_teardown(void *ctx)
{
    bpq_ctx *c = ctx;
    bench_layer_free(&c->L);
    free(c);
}

/* NaN into an output, so a peer that fails to write it cannot pass the check. */
static void poison(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
}

/* The outputs a BENCH_OUT_* bit names, in bit order, and their lengths. */
enum { N_OUTS = 6 };
static float *out_ptr(const bench_layer *L, int k)
{
    float *const p[N_OUTS] = {L->a, L->d, L->dx, L->dw, L->db, L->w};
    return p[k];
}
static size_t out_len(const bench_layer *L, int k)
{
    const size_t B = L->batch, I = L->n_in, O = L->n_out;
    const size_t n[N_OUTS] = {B * O, B * O, B * I, O * I, O, O * I};
    return n[k];
}

typedef struct expect_entry {
    struct expect_entry *next;
    bench_bpq_call call;
    int variant;
    size_t batch, n_in, n_out;
    float *out[N_OUTS]; /* NULL where not kept */
    float loss;
} expect_entry;

static expect_entry *cache;

static expect_entry *cached(const bench_layer *L, bench_bpq_call call, int variant, unsigned outs)
{
    for (expect_entry *e = cache; e; e = e->next) {
        if (e->call != call || e->variant != variant || e->batch != L->batch ||
            e->n_in != L->n_in || e->n_out != L->n_out)
            continue;
        for (int k = 0; k < N_OUTS; k++)
            if ((outs >> k & 1u) && !e->out[k])
                return NULL;
        return e;
    }
    return NULL;
}

static void entry_free(expect_entry *e)
{
    for (int k = 0; k < N_OUTS; k++)
        free(e->out[k]);
    free(e);
}

/* Runs bpq once and keeps the outputs named by `outs`; L's weights are restored. */
static expect_entry *compute(bench_layer *L, bench_bpq_call call, int variant, unsigned outs,
                             char *why, size_t why_len)
{
    const size_t nw = L->n_out * L->n_in;
    expect_entry *e = calloc(1, sizeof *e);
    float *w_before = bench_alloc(nw);
    int ok = e && w_before;
    for (int k = 0; ok && k < N_OUTS; k++)
        if (outs >> k & 1u)
            ok = (e->out[k] = bench_alloc(out_len(L, k))) != NULL;
    if (!ok) {
        bench_why(why, why_len, "out of memory");
    } else {
        memcpy(w_before, L->w, nw * sizeof(float));
        ok = bench_select(BPQ_ISA_AUTO, why, why_len);
    }
    if (ok) {
        bpq_status st = call(L, variant);
        ok = st == BPQ_OK;
        if (!ok)
            bench_why(why, why_len, "bpq returned: %s", bpq_status_string(st));
    }
    if (ok) {
        for (int k = 0; k < N_OUTS; k++)
            if (e->out[k])
                memcpy(e->out[k], out_ptr(L, k), out_len(L, k) * sizeof(float));
        memcpy(L->w, w_before, nw * sizeof(float)); /* copied back: a peer may hold L->w */
        e->call = call;
        e->variant = variant;
        e->batch = L->batch;
        e->n_in = L->n_in;
        e->n_out = L->n_out;
        e->loss = L->loss;
        e->next = cache;
        cache = e;
    } else if (e) {
        entry_free(e);
        e = NULL;
    }
    free(w_before);
    return e;
}

int bench_expect_run(bench_expect *e, bench_layer *L, bench_bpq_call call, int variant,
                     unsigned outs, char *why, size_t why_len)
{
    const expect_entry *entry = cached(L, call, variant, outs);
    if (!entry)
        entry = compute(L, call, variant, outs, why, why_len);
    if (!entry)
        return 0;
    e->entry = entry;
    for (int k = 0; k < N_OUTS - 1; k++) /* not w: it is an input too */
        if (outs >> k & 1u)
            poison(out_ptr(L, k), out_len(L, k));
    L->loss = NAN;
    return 1;
}

int bench_expect_check(const bench_expect *e, const bench_layer *L, unsigned outs, double tol,
                       char *why, size_t why_len)
{
    static const char *const names[N_OUTS] = {"a", "delta", "dx", "dw", "db", "w"};
    for (int k = 0; k < N_OUTS; k++)
        if ((outs >> k & 1u) && !bench_close(out_ptr(L, k), e->entry->out[k], out_len(L, k), tol,
                                             names[k], why, why_len))
            return 0;
    return 1;
}

float bench_expect_loss(const bench_expect *e)
{
    return e->entry->loss;
}

void bench_release(void)
{
    while (cache) {
        expect_entry *next = cache->next;
        entry_free(cache);
        cache = next;
    }
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
