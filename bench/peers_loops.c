/* peers_loops.c - peer cases for BP1, BP3, SGD and the activations: plain loops, plain and -ffast-math. */
#include <stdio.h>
#include <stdlib.h>

#include "cases.h"
#include "loops.h"

enum { EQ_BP1, EQ_BP3, EQ_SGD, EQ_FORWARD };

typedef struct loops_build {
    const char *impl; /* "<peer>.<level>" */
    bench_level level;
    const bench_loops *k;
} loops_build;

static const loops_build builds[] = {
    {"loops.scalar", BENCH_LEVEL_SCALAR, &bench_loops_plain},
#if defined(BENCH_HAVE_LOOPS_AVX2)
    {"loops-fastmath.avx2", BENCH_LEVEL_AVX2, &bench_loops_fastmath_avx2},
#endif
#if defined(BENCH_HAVE_LOOPS_AVX512)
    {"loops-fastmath.avx512", BENCH_LEVEL_AVX512, &bench_loops_fastmath_avx512},
#endif
#if defined(BENCH_HAVE_LOOPS_NEON)
    {"loops-fastmath.neon", BENCH_LEVEL_NEON, &bench_loops_fastmath_neon},
#endif
};

typedef struct loops_ctx {
    bench_layer L;
    const loops_build *build;
    int eq, variant;
} loops_ctx;

static void run(void *ctx)
{
    loops_ctx *c = ctx;
    bench_layer *L = &c->L;
    switch (c->eq) {
    case EQ_BP1:
        L->loss = c->build->k->output_delta(L->batch, L->n_out, c->variant, L->a, L->y, L->d);
        break;
    case EQ_BP3: c->build->k->bias_grad(L->batch, L->n_out, L->d, L->db); break;
    case EQ_FORWARD: /* the activation shapes only: n_in = 1 */
        c->build->k->forward1(L->batch, L->n_out, L->x, L->w, L->b, c->variant, L->a);
        break;
    default: c->build->k->sgd(L->n_out * L->n_in, BENCH_LR, L->dw, L->w); break;
    }
}

static void warm(void *ctx, int call_once)
{
    if (call_once)
        run(ctx);
}

static void teardown(void *ctx)
{
    loops_ctx *c = ctx;
    bench_layer_free(&c->L);
    free(c);
}

/* Runs bpq and the loops once from the same data and compares. */
static int check(loops_ctx *c, char *why, size_t why_len)
{
    static const bench_bpq_call calls[] = {bench_call_bp1, bench_call_bp3, bench_call_sgd,
                                           bench_call_forward};
    static const unsigned outs[] = {BENCH_OUT_D, BENCH_OUT_DB, BENCH_OUT_W, BENCH_OUT_A};
    bench_expect e;
    if (!bench_expect_run(&e, &c->L, calls[c->eq], c->variant, outs[c->eq], why, why_len))
        return 0;
    run(c);
    int ok = bench_expect_check(&e, &c->L, outs[c->eq], 1e-4, why, why_len);
    float want_loss = bench_expect_loss(&e);
    if (ok && c->eq == EQ_BP1) {
        /* The loops sum the loss in one float running over the whole batch:
         * each addition may lose u = 2^-24 of the running total, so after N
         * terms the sum is only good to about N u (a few percent on the DRAM
         * shape's 16M terms). The check allows that, and at least 5e-3. */
        double terms = (double)c->L.batch * (double)c->L.n_out;
        double tol = terms * 0x1p-24 > 5e-3 ? terms * 0x1p-24 : 5e-3;
        ok = bench_close(&c->L.loss, &want_loss, 1, tol, "loss", why, why_len);
    }
    return ok;
}

static void *setup_eq(const bench_args *args, bench_work *work, char *why, size_t why_len, int eq)
{
    loops_ctx *c = calloc(1, sizeof *c);
    if (!c || !bench_layer_init(&c->L, &args->shape, why, why_len)) {
        free(c);
        return NULL;
    }
    c->build = &builds[args->impl];
    c->eq = eq;
    c->variant = args->variant;
    if (eq == EQ_BP1)
        bench_prepare_bp1(&c->L, c->variant);
    if (eq == EQ_SGD)
        bench_prepare_sgd(&c->L, 0);
    if (!check(c, why, why_len)) {
        teardown(c);
        return NULL;
    }
    if (eq == EQ_BP1)
        bench_describe_bp1(&c->L, c->variant, work);
    else if (eq == EQ_FORWARD)
        bench_describe_forward(&c->L, c->variant, work);
    else if (eq == EQ_BP3)
        bench_describe_bp3(&c->L, 0, work);
    else
        bench_describe_sgd(&c->L, 0, work);
    work->level = c->build->level;
    return c;
}

static void *setup_bp1(const bench_args *a, bench_work *w, char *why, size_t n)
{
    return setup_eq(a, w, why, n, EQ_BP1);
}
static void *setup_bp3(const bench_args *a, bench_work *w, char *why, size_t n)
{
    return setup_eq(a, w, why, n, EQ_BP3);
}
static void *setup_sgd(const bench_args *a, bench_work *w, char *why, size_t n)
{
    return setup_eq(a, w, why, n, EQ_SGD);
}
static void *setup_forward(const bench_args *a, bench_work *w, char *why, size_t n)
{
    return setup_eq(a, w, why, n, EQ_FORWARD);
}

void bench_register_loops(void)
{
    static const bench_ops bp1 = {setup_bp1, warm, run, NULL, teardown};
    static const bench_ops bp3 = {setup_bp3, warm, run, NULL, teardown};
    static const bench_ops sgd = {setup_sgd, warm, run, NULL, teardown};
    static const bench_ops forward = {setup_forward, warm, run, NULL, teardown};
    static const bpq_loss losses[] = {BPQ_LOSS_MSE, BPQ_LOSS_BCE, BPQ_LOSS_XENT};
    for (int i = 0; i < (int)(sizeof builds / sizeof builds[0]); i++) {
        const loops_build *b = &builds[i];
        if (!bench_level_runs(b->level)) {
            printf("bench: skipping peer %s: this CPU lacks %s\n", b->impl,
                   bench_level_name(b->level));
            continue;
        }
        for (size_t k = 0; k < sizeof losses / sizeof losses[0]; k++) {
            char id[48];
            snprintf(id, sizeof id, "bp1.%s", bench_loss_name(losses[k]));
            bench_register_peer(id, b->impl, &bp1, i, losses[k], 0, 0);
        }
        bench_register_peer("bp3", b->impl, &bp3, i, 0, 0, 0);
        bench_register_peer("sgd", b->impl, &sgd, i, 0, 1, 0);
        /* The activation shapes only: there the product is trivial. */
        bench_register_peer("forward.sigmoid", b->impl, &forward, i, BPQ_ACT_SIGMOID, 0,
                            BENCH_ACTIVATION_SHAPES);
        bench_register_peer("forward.softmax", b->impl, &forward, i, BPQ_ACT_SOFTMAX, 0,
                            BENCH_ACTIVATION_SHAPES);
    }
}
