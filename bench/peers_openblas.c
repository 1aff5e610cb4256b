/* peers_openblas.c - peer cases: OpenBLAS (sgemm, or gemv/ger at batch 1) plus the plain loops users write. */
#include <cblas.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "loops.h"

enum { EQ_FORWARD, EQ_BP2, EQ_BP4, EQ_LAYER, EQ_SGD };

typedef struct blas_ctx {
    bench_layer L;
    int eq, act;
} blas_ctx;

static bench_level g_level; /* the level of the kernels OpenBLAS picked (its core) */
static char g_impl[32];     /* "openblas.<level>" */

/* Which ISA level an OpenBLAS core name stands for (the names of its DYNAMIC_ARCH cores). */
static bench_level core_level(const char *core)
{
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2[] = {"haswell", "zen", "excavator"};
    char low[64];
    size_t n = 0;
    for (; core && core[n] && n + 1 < sizeof low; n++)
        low[n] = (char)tolower((unsigned char)core[n]);
    low[n] = 0;
    for (size_t i = 0; i < sizeof avx512 / sizeof avx512[0]; i++)
        if (strcmp(low, avx512[i]) == 0)
            return BENCH_LEVEL_AVX512;
    for (size_t i = 0; i < sizeof avx2 / sizeof avx2[0]; i++)
        if (strcmp(low, avx2[i]) == 0)
            return BENCH_LEVEL_AVX2;
#if defined(__aarch64__)
    return BENCH_LEVEL_NEON; /* every AArch64 core OpenBLAS has uses Advanced SIMD or better */
#else
    return BENCH_LEVEL_NONE;
#endif
}

/*
 * Sizes are nb, ni, no: complex.h, which cblas.h includes, defines I.
 * X W^T: sgemm; at batch 1 a matrix-vector product, the call a user would pick.
 */
static void x_wt(const bench_layer *L, float *z)
{
    const int nb = (int)L->batch, ni = (int)L->n_in, no = (int)L->n_out;
    if (nb == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, no, ni, 1.0f, L->w, ni, L->x, 1, 0.0f, z, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, no, ni, 1.0f, L->x, ni, L->w, ni,
                    0.0f, z, no);
}

/* dx = (d W) * act'(x) */
static void bp2(bench_layer *L, int act)
{
    const int nb = (int)L->batch, ni = (int)L->n_in, no = (int)L->n_out;
    if (nb == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, no, ni, 1.0f, L->w, ni, L->d, 1, 0.0f, L->dx, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, ni, no, 1.0f, L->d, no, L->w, ni,
                    0.0f, L->dx, ni);
    bench_loops_plain.dact_mul(L->batch * L->n_in, act, L->x, L->dx);
}

/* dW = d^T x; at batch 1 an outer product (ger adds, so dW is cleared first). */
static void bp4(bench_layer *L)
{
    const int nb = (int)L->batch, ni = (int)L->n_in, no = (int)L->n_out;
    if (nb == 1) {
        memset(L->dw, 0, L->n_out * L->n_in * sizeof(float));
        cblas_sger(CblasRowMajor, no, ni, 1.0f, L->d, 1, L->x, 1, L->dw, ni);
    } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, nb, 1.0f, L->d, no, L->x, ni,
                    0.0f, L->dw, ni);
    }
}

static void run(void *ctx)
{
    blas_ctx *c = ctx;
    bench_layer *L = &c->L;
    switch (c->eq) {
    case EQ_FORWARD:
        x_wt(L, L->a);
        bench_loops_plain.bias_act(L->batch, L->n_out, L->b, c->act, L->a);
        break;
    case EQ_BP2: bp2(L, c->act); break;
    case EQ_BP4: bp4(L); break;
    case EQ_LAYER:
        bp2(L, LOOPS_SIGMOID);
        bench_loops_plain.bias_grad(L->batch, L->n_out, L->d, L->db);
        bp4(L);
        break;
    default: cblas_saxpy((int)(L->n_out * L->n_in), -BENCH_LR, L->dw, 1, L->w, 1); break;
    }
}

static void warm(void *ctx, int call_once)
{
    if (call_once)
        run(ctx);
}

static void teardown(void *ctx)
{
    blas_ctx *c = ctx;
    bench_layer_free(&c->L);
    free(c);
}

static void *setup_eq(const bench_args *args, bench_work *work, char *why, size_t why_len, int eq)
{
    static const bench_bpq_call calls[] = {bench_call_forward, bench_call_bp2, bench_call_bp4,
                                           bench_call_layer, bench_call_sgd};
    static const bench_bpq_describe describes[] = {bench_describe_forward, bench_describe_bp2,
                                                   bench_describe_bp4, bench_describe_layer,
                                                   bench_describe_sgd};
    static const unsigned outs[] = {BENCH_OUT_A, BENCH_OUT_DX, BENCH_OUT_DW,
                                    BENCH_OUT_DX | BENCH_OUT_DB | BENCH_OUT_DW, BENCH_OUT_W};
    blas_ctx *c = calloc(1, sizeof *c);
    if (!c || !bench_layer_init(&c->L, &args->shape, why, why_len)) {
        free(c);
        return NULL;
    }
    c->eq = eq;
    c->act = args->variant;
    if (eq == EQ_SGD)
        bench_prepare_sgd(&c->L, 0);
    bench_expect e;
    if (!bench_expect_run(&e, &c->L, calls[eq], c->act, outs[eq], why, why_len)) {
        teardown(c);
        return NULL;
    }
    run(c);
    if (!bench_expect_check(&e, &c->L, outs[eq], 1e-4, why, why_len)) {
        teardown(c);
        return NULL;
    }
    describes[eq](&c->L, c->act, work);
    work->level = g_level;
    if (eq == EQ_SGD)
        work->note = "saxpy";
    else if (c->L.batch == 1)
        work->note = eq == EQ_BP4 ? "ger" : eq == EQ_LAYER ? "gemv+ger" : "gemv";
    else
        work->note = "sgemm";
    return c;
}

#define SETUP(name, eq)                                                                            \
    static void *name(const bench_args *a, bench_work *w, char *why, size_t n)                     \
    {                                                                                              \
        return setup_eq(a, w, why, n, eq);                                                         \
    }
SETUP(setup_forward, EQ_FORWARD)
SETUP(setup_bp2, EQ_BP2)
SETUP(setup_bp4, EQ_BP4)
SETUP(setup_layer, EQ_LAYER)
SETUP(setup_sgd, EQ_SGD)

void bench_register_openblas(void)
{
    /* One thread, like bpq; the run's script also sets OPENBLAS_NUM_THREADS=1. */
    openblas_set_num_threads(1);
    const char *core = openblas_get_corename();
    g_level = core_level(core);
    snprintf(g_impl, sizeof g_impl, "openblas.%s", bench_level_name(g_level));
    bench_context("openblas.core", core ? core : "unknown");
    bench_context("openblas.config", openblas_get_config());
    bench_context("openblas.level", bench_level_name(g_level));

    static const bench_ops forward = {setup_forward, warm, run, NULL, teardown};
    static const bench_ops bp2_ops = {setup_bp2, warm, run, NULL, teardown};
    static const bench_ops bp4_ops = {setup_bp4, warm, run, NULL, teardown};
    static const bench_ops layer = {setup_layer, warm, run, NULL, teardown};
    static const bench_ops sgd = {setup_sgd, warm, run, NULL, teardown};
    bench_register_peer("forward.sigmoid", g_impl, &forward, 0, LOOPS_SIGMOID, 1, BENCH_PEER);
    bench_register_peer("forward.softmax", g_impl, &forward, 0, LOOPS_SOFTMAX, 0, BENCH_PEER);
    static const int acts[] = {LOOPS_IDENTITY, LOOPS_SIGMOID, LOOPS_TANH, LOOPS_RELU};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char id[48];
        snprintf(id, sizeof id, "bp2.%s", bench_act_name((bpq_act)acts[i]));
        bench_register_peer(id, g_impl, &bp2_ops, 0, acts[i], acts[i] == LOOPS_SIGMOID, BENCH_PEER);
    }
    bench_register_peer("bp4", g_impl, &bp4_ops, 0, 0, 1, BENCH_PEER);
    bench_register_peer("layer.sigmoid", g_impl, &layer, 0, 0, 1, BENCH_PEER);
    bench_register_peer("sgd", g_impl, &sgd, 0, 0, 1, BENCH_PEER);
}
