/* test_blocking.c - the GEMM driver's blocking paths, forced by small caches, bit for bit against scalar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/plan.h"
#include "testutil.h"

/*
 * The shared GEMM driver (kernels/gemm/driver.h) takes its block sizes from
 * the caches, so on this machine's large caches the sweep of
 * test_equations rarely runs several k blocks, M blocks or chunks of
 * columns at once. Block sizes never change results, so here the driver
 * is handed small caches (bpq_set_machine_caches) and every SIMD ISA must
 * still match scalar bit for bit on shapes that cross every kind of block
 * edge: k blocks (sums parked in the output, or in the workspace when BP2
 * writes delta over a or BP4 accumulates), M blocks, chunks, ragged and
 * narrow last strips, packed and unpacked A (row strides that are powers of
 * two), and, with the heap allocation made to fail, the stack fallback.
 */

/* aligned_alloc as the library sees it (-Wl,--wrap=aligned_alloc): fails on demand. */
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
static int g_fail_alloc;
static size_t g_failed;
void *__wrap_aligned_alloc(size_t alignment, size_t size) {
    if (g_fail_alloc) {
        g_failed++;
        return NULL;
    }
    return __real_aligned_alloc(alignment, size);
}

/* tiny: kc 16, mc 60, nc 32 for the AVX2 tile; small: kc 80, mc 96, nc 96. */
static const bpq_caches g_tiny = {64, 4u << 10, 8u << 10, 64u << 10, 4, 4, 8, 1};
static const bpq_caches g_small = {64, 16u << 10, 64u << 10, 256u << 10, 8, 8, 8, 1};

typedef struct config {
    const char *name;
    const bpq_caches *caches; /* NULL: the machine's */
    int fail_alloc;
} config;

static const config g_configs[] = {
    {"tiny caches", &g_tiny, 0},
    {"small caches", &g_small, 0},
    {"tiny caches, no heap", &g_tiny, 1},
    {"machine caches, no heap", NULL, 1},
    {"machine caches", NULL, 0},
};
#define N_CONFIGS (sizeof g_configs / sizeof g_configs[0])

/* Dimensions around the block edges of the configurations above. */
static const size_t g_dims[] = {1,  2,  3,  5,  6,  7,  13, 16, 17, 19, 31,  32,  33,  47,
                                48, 49, 61, 64, 65, 97, 100, 128, 129, 130, 200, 256, 257};
#define N_DIMS (sizeof g_dims / sizeof g_dims[0])
#define N_SHAPES 24

typedef struct shape3 {
    size_t m, n, k; /* GEMM terms: rows of the output, its columns, the sum's length */
} shape3;

static shape3 draw_shape(tu_rng *r, size_t i) {
    shape3 s = {g_dims[tu_below(r, N_DIMS)], g_dims[tu_below(r, N_DIMS)],
                g_dims[tu_below(r, N_DIMS)]};
    if (i == 0) /* one large enough for several chunks and M blocks with tiny caches */
        s.m = 130, s.n = 257, s.k = 100;
    if (i == 1) /* power-of-two strides: A packed because its rows pile into few sets */
        s.m = 65, s.n = 128, s.k = 256;
    if (i == 2) /* many strips: A packed for reuse */
        s.m = 31, s.n = 600, s.k = 40;
    return s;
}

/* One call of equation eq (0 forward, 1 BP2, 2 BP4) with variant v on isa;
 * returns the output buffer (caller frees). In-place BP2 writes over a copy of a. */
enum { EQ_FORWARD, EQ_BP2, EQ_BP4 };

typedef struct inputs {
    float *x, *w, *b, *a, *d, *old;
} inputs;

static void run_one(int eq, int v, const shape3 *s, const inputs *in, bpq_isa isa,
                    int fail_alloc, tu_buf *out) {
    static const bpq_act fwd[] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH, BPQ_ACT_RELU,
                                  BPQ_ACT_SOFTMAX};
    static const bpq_act hid[] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH, BPQ_ACT_RELU};
    static const bpq_reduce red[] = {BPQ_REDUCE_SUM, BPQ_REDUCE_MEAN,
                                     BPQ_REDUCE_SUM | BPQ_REDUCE_ACCUMULATE,
                                     BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE};
    const size_t n_out = s->m * s->n;
    float *o = tu_alloc(out, n_out, (size_t)v & 1);
    tu_select(isa);
    bpq_status st;
    if (eq != EQ_BP2 || v < 4)
        tu_poison(out);
    if (eq == EQ_BP4)
        memcpy(o, in->old, n_out * sizeof(float));
    else if (eq == EQ_BP2 && v >= 4)
        memcpy(o, in->a, n_out * sizeof(float));
    g_fail_alloc = fail_alloc; /* from here to the status, only bpq allocates */
    if (eq == EQ_FORWARD) {
        /* batch m, n_in k, n_out n */
        st = bpq_forward(s->m, s->k, s->n, in->x, in->w, in->b, fwd[v % 5], o);
    } else if (eq == EQ_BP2) {
        /* batch m, n_next k, n n: delta_next [m, k], w_next [k, n], a [m, n] */
        const int in_place = v >= 4;
        st = bpq_bp2_hidden_delta(s->m, s->k, s->n, in->d, in->w, in_place ? o : in->a,
                                  hid[v % 4], o);
    } else {
        /* batch k, n_out m, n_in n: delta [k, m], x [k, n], dw [m, n] */
        st = bpq_bp4_weight_grad(s->k, s->m, s->n, in->d, in->x, red[v % 4], o);
    }
    g_fail_alloc = 0;
    assert_int_equal(st, BPQ_OK);
    assert_true(tu_guards_ok(out));
}

static const int g_variants[3] = {5, 8, 4};
static const char *const g_eq_names[3] = {"forward", "bp2", "bp4"};

static void blocking(void **state) {
    const bpq_isa isa = *(const bpq_isa *)*state;
    if (!bpq_isa_supported(isa))
        skip();
    tu_rng r = tu_rng_make(tu_seed(), "blocking", (uint64_t)isa);
    for (size_t i = 0; i < N_SHAPES; i++) {
        const shape3 s = draw_shape(&r, i);
        const size_t big = (s.m > s.k ? s.m : s.k) * (s.n > s.k ? s.n : s.k) + s.m * s.k;
        tu_buf bx, bw, bb, ba, bd, bo;
        inputs in = {tu_fill_sym(&r, tu_alloc(&bx, big, 0), big),
                     tu_fill_sym(&r, tu_alloc(&bw, big, 1), big),
                     tu_fill_sym(&r, tu_alloc(&bb, s.n, 0), s.n),
                     tu_alloc(&ba, s.m * s.n, 0),
                     tu_fill_sym(&r, tu_alloc(&bd, big, 0), big),
                     tu_fill_sym(&r, tu_alloc(&bo, s.m * s.n, 0), s.m * s.n)};
        tu_fill_act_output(&r, BPQ_ACT_SIGMOID, in.a, s.m, s.n);
        for (int eq = 0; eq < 3; eq++)
            for (int v = 0; v < g_variants[eq]; v++) {
                tu_buf want;
                bpq_set_machine_caches(NULL);
                run_one(eq, v, &s, &in, BPQ_ISA_SCALAR, 0, &want);
                for (size_t c = 0; c < N_CONFIGS; c++) {
                    const config *cf = &g_configs[c];
                    tu_buf got;
                    bpq_set_machine_caches(cf->caches);
                    run_one(eq, v, &s, &in, isa, cf->fail_alloc, &got);
                    const size_t at = tu_first_diff(want.p, got.p, s.m * s.n);
                    if (at != s.m * s.n)
                        fail_msg("%s %s variant %d, M %zu N %zu K %zu, %s: element %zu is %a, "
                                 "scalar gives %a (seed %llu)",
                                 bpq_isa_name(isa), g_eq_names[eq], v, s.m, s.n, s.k, cf->name,
                                 at, (double)got.p[at], (double)want.p[at],
                                 (unsigned long long)tu_seed());
                    tu_free(&got);
                }
                tu_free(&want);
            }
        bpq_set_machine_caches(NULL);
        tu_free(&bx), tu_free(&bw), tu_free(&bb), tu_free(&ba), tu_free(&bd), tu_free(&bo);
    }
}

/* The stack fallback must really have run: some plan wanted the heap and was refused. */
static void fallback_taken(void **state) {
    (void)state;
    const bpq_isa isas[] = {BPQ_ISA_AVX2, BPQ_ISA_AVX512, BPQ_ISA_NEON};
    int any = 0;
    for (size_t i = 0; i < 3; i++)
        any |= bpq_isa_supported(isas[i]);
    if (!any)
        skip(); /* no SIMD ISA here: nothing plans with a heap workspace */
    if (g_failed == 0)
        fail_msg("no heap workspace was ever refused: the fallback path went untested");
}

int main(void) {
    static const bpq_isa isas[] = {BPQ_ISA_AVX2, BPQ_ISA_AVX512, BPQ_ISA_NEON};
    const struct CMUnitTest tests[] = {
        {"blocking_avx2", blocking, NULL, NULL, (void *)&isas[0]},
        {"blocking_avx512", blocking, NULL, NULL, (void *)&isas[1]},
        {"blocking_neon", blocking, NULL, NULL, (void *)&isas[2]},
        cmocka_unit_test(fallback_taken),
    };
    return cmocka_run_group_tests_name("GEMM blocking", tests, NULL, NULL);
}
