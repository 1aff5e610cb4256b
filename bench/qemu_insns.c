/* qemu_insns.c - one bpq call, repeated, with set-up fixed: what bench/qemu_insns.py counts instructions of. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpq.h"

/*
 *   qemu_insns CASE BATCH N_IN N_OUT REPS
 *
 * CASE is forward (sigmoid), bp1_mse, bp1_bce (both with sigmoid and the
 * loss value), bp2 (sigmoid), bp3, bp4 or sgd, on the layer shapes the
 * benchmark's cases use (bench/bp1.c and the rest): BP1 and BP3 on BATCH x
 * N_OUT, BP2 makes the input's error from the output's, SGD steps N_OUT x
 * N_IN weights. BP3 and BP4 sum over the batch.
 *
 * Under an instruction-counting emulator the count of a run with REPS = 0
 * is subtracted from one with REPS = R, so everything but the R calls must
 * execute the same instructions in both: the allocation, the fills, one
 * warm-up call, the checksum and the frees run whatever REPS is. The
 * warm-up call makes the library's one-time work (the dispatch choice,
 * the cache detection, malloc's first growth of the heap for a large GEMM
 * workspace) happen in both runs, so the difference is R calls in steady
 * state; the loop's own few instructions count as part of each call.
 * REPS's digits are read at a fixed cost each, and the caller gives 0 and
 * R in as many digits (00 and 10). No clock is read: this program
 * measures nothing by itself.
 */

typedef enum {
    CASE_FORWARD,
    CASE_BP1_MSE,
    CASE_BP1_BCE,
    CASE_BP2,
    CASE_BP3,
    CASE_BP4,
    CASE_SGD
} case_id;

static const char *const CASE_NAMES[] = {"forward", "bp1_mse", "bp1_bce", "bp2",
                                         "bp3",     "bp4",     "sgd"};
enum { N_CASES = sizeof CASE_NAMES / sizeof CASE_NAMES[0] };

static const float LR = 1e-4f; /* small, so repeated SGD steps stay far from overflow */

typedef struct {
    size_t batch, n_in, n_out;
    float *x, *w, *b, *a, *y, *d, *dx, *dw, *db, loss;
} layer;

/* splitmix64: the same numbers on every machine, so both ISAs see the same data. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi): 24 random bits make an exact float in [0, 1). */
static void fill(float *p, size_t n, uint64_t seed, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float u = (float)(next_u64(&seed) >> 40) * 0x1p-24f;
        p[i] = lo + (hi - lo) * u;
    }
}

/* 0 or 1, the targets binary cross-entropy wants. */
static void fill_bits(float *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(next_u64(&seed) >> 63);
}

/*
 * A decimal size into *v; 0 when the text is not one. Our own loop rather
 * than strtoull, whose path depends on the digits (a leading 0 takes an
 * extra test): here each digit costs the same whatever its value, so
 * REPS = 0 and REPS = R given in as many digits (0 and 3, 00 and 10) are
 * read with the same instructions.
 */
static int parse_size(const char *s, size_t *v)
{
    size_t u = 0;
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned d = (unsigned)(unsigned char)*s - '0';
        if (d > 9 || u > (SIZE_MAX - d) / 10)
            return 0;
        u = u * 10 + d;
    }
    *v = u;
    return 1;
}

/* r * c floats, NULL when the product overflows or memory runs out. */
static float *alloc_floats(size_t r, size_t c)
{
    if (c != 0 && r > SIZE_MAX / sizeof(float) / c)
        return NULL;
    return calloc(r * c, sizeof(float));
}

/* One function per case, called through a pointer (see main). */
static bpq_status call_forward(layer *L)
{
    return bpq_forward(L->batch, L->n_in, L->n_out, L->x, L->w, L->b, BPQ_ACT_SIGMOID, L->a);
}

static bpq_status call_bp1_mse(layer *L)
{
    return bpq_bp1_output_delta(L->batch, L->n_out, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, L->a, L->y,
                                L->d, &L->loss);
}

static bpq_status call_bp1_bce(layer *L)
{
    return bpq_bp1_output_delta(L->batch, L->n_out, BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, L->a, L->y,
                                L->d, &L->loss);
}

static bpq_status call_bp2(layer *L)
{
    return bpq_bp2_hidden_delta(L->batch, L->n_out, L->n_in, L->d, L->w, L->x, BPQ_ACT_SIGMOID,
                                L->dx);
}

static bpq_status call_bp3(layer *L)
{
    return bpq_bp3_bias_grad(L->batch, L->n_out, L->d, BPQ_REDUCE_SUM, L->db);
}

static bpq_status call_bp4(layer *L)
{
    return bpq_bp4_weight_grad(L->batch, L->n_out, L->n_in, L->d, L->x, BPQ_REDUCE_SUM, L->dw);
}

static bpq_status call_sgd(layer *L)
{
    return bpq_sgd_step(L->n_out * L->n_in, LR, L->dw, L->w);
}

/* In case_id's order. */
static bpq_status (*const CALLS[])(layer *) = {call_forward, call_bp1_mse, call_bp1_bce, call_bp2,
                                               call_bp3,     call_bp4,     call_sgd};

/* FNV-1a over the bits of the case's output: printing it keeps the calls from being dropped. */
static uint64_t checksum(case_id c, const layer *L)
{
    const float *p;
    size_t n;
    uint64_t h = 0xcbf29ce484222325u;
    switch (c) {
    case CASE_FORWARD: p = L->a; n = L->batch * L->n_out; break;
    case CASE_BP2: p = L->dx; n = L->batch * L->n_in; break;
    case CASE_BP3: p = L->db; n = L->n_out; break;
    case CASE_BP4: p = L->dw; n = L->n_out * L->n_in; break;
    case CASE_SGD: p = L->w; n = L->n_out * L->n_in; break;
    default: p = L->d; n = L->batch * L->n_out; break; /* BP1 */
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &p[i], sizeof bits);
        h = (h ^ bits) * 0x100000001b3u;
    }
    if (c == CASE_BP1_MSE || c == CASE_BP1_BCE) {
        uint32_t bits;
        memcpy(&bits, &L->loss, sizeof bits);
        h = (h ^ bits) * 0x100000001b3u;
    }
    return h;
}

int main(int argc, char **argv)
{
    layer L = {0};
    case_id c = CASE_FORWARD;
    size_t reps = 0;
    int found = 0, rc = 1;
    bpq_status st;

    if (argc != 6) {
        fprintf(stderr, "usage: %s forward|bp1_mse|bp1_bce|bp2|bp3|bp4|sgd BATCH N_IN N_OUT REPS\n",
                argv[0]);
        return 2;
    }
    for (int i = 0; i < N_CASES; i++) {
        if (strcmp(argv[1], CASE_NAMES[i]) == 0) {
            c = (case_id)i;
            found = 1;
        }
    }
    found &= parse_size(argv[2], &L.batch) & parse_size(argv[3], &L.n_in) &
             parse_size(argv[4], &L.n_out) & parse_size(argv[5], &reps);
    if (!found || L.batch == 0 || L.n_in == 0 || L.n_out == 0) {
        fprintf(stderr, "%s: unknown case or bad size (sizes at least 1, REPS at least 0)\n",
                argv[0]);
        return 2;
    }

    /* Every buffer, whatever the case: the set-up is then the same for every case too. */
    L.x = alloc_floats(L.batch, L.n_in);
    L.w = alloc_floats(L.n_out, L.n_in);
    L.b = alloc_floats(L.n_out, 1);
    L.a = alloc_floats(L.batch, L.n_out);
    L.y = alloc_floats(L.batch, L.n_out);
    L.d = alloc_floats(L.batch, L.n_out);
    L.dx = alloc_floats(L.batch, L.n_in);
    L.dw = alloc_floats(L.n_out, L.n_in);
    L.db = alloc_floats(L.n_out, 1);
    if (!L.x || !L.w || !L.b || !L.a || !L.y || !L.d || !L.dx || !L.dw || !L.db) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        goto out;
    }
    /* x doubles as BP2's sigmoid output and a as BP1's, so both lie in (0, 1). */
    fill(L.x, L.batch * L.n_in, 1, 0.01f, 0.99f);
    fill(L.w, L.n_out * L.n_in, 2, -0.5f, 0.5f);
    fill(L.b, L.n_out, 3, -0.5f, 0.5f);
    fill(L.a, L.batch * L.n_out, 4, 0.01f, 0.99f);
    if (c == CASE_BP1_BCE)
        fill_bits(L.y, L.batch * L.n_out, 5);
    else
        fill(L.y, L.batch * L.n_out, 5, 0.0f, 1.0f);
    fill(L.d, L.batch * L.n_out, 6, -1.0f, 1.0f);
    fill(L.dw, L.n_out * L.n_in, 7, -1.0f, 1.0f);

    /*
     * The warm-up and the REPS calls (see the top of the file). The call goes
     * through a volatile pointer so that the compiler cannot copy the loop
     * once per case and thread its first trip differently from the others:
     * every trip, the first included, is then the same instructions, and the
     * runs differ by exactly REPS trips.
     */
    {
        bpq_status (*volatile fn)(layer *) = CALLS[c];
        for (size_t r = 0; r <= reps; r++) {
            st = fn(&L);
            if (st != BPQ_OK) {
                fprintf(stderr, "%s: %s: %s\n", argv[0], CASE_NAMES[c], bpq_status_string(st));
                goto out;
            }
        }
    }
    /* The checksum in a fixed 16 digits of our own: SGD's result depends on REPS, and
     * printf's conversion would take more steps for a value with fewer leading zeros. */
    {
        static const char HEX[] = "0123456789abcdef";
        char text[17];
        uint64_t h = checksum(c, &L);
        for (int i = 15; i >= 0; i--, h >>= 4)
            text[i] = HEX[h & 15];
        text[16] = '\0';
        printf("%s isa %s checksum %s\n", CASE_NAMES[c], bpq_isa_name(bpq_isa_active()), text);
    }
    rc = 0;
out:
    free(L.x);
    free(L.w);
    free(L.b);
    free(L.a);
    free(L.y);
    free(L.d);
    free(L.dx);
    free(L.dw);
    free(L.db);
    return rc;
}
