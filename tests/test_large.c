/* test_large.c - arrays larger than the caches: every ISA's streaming paths against scalar, bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/*
 * Some kernels change how they write once their operands are far larger
 * than the last-level cache (AVX2 BP1 switches to non-temporal stores above
 * 64 MiB for a, y and delta together). The sweep in test_equations never
 * gets there: its shapes are small enough to run under valgrind. Here one
 * BP1 shape of 3 x 23 MiB is run on each ISA and compared bit for bit with
 * scalar, for every loss (with and without the loss value), with delta
 * misaligned by one float, and with delta written over a. BP3 (AVX2 reads
 * longer panels of rows above 32 MiB) is run the same way on 37 MiB of
 * delta, in every reduction, with rows that end in a ragged strip.
 */

enum { BATCH = 700, N = 8192 }; /* 5.7 M elements, 23 MiB per array */

/* The combinations BP1 accepts, and whether to ask for the loss. */
static const struct {
    bpq_loss loss;
    bpq_act act;
    int with_loss;
} combos[] = {
    {BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, 1}, {BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, 0},
    {BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, 1}, {BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, 0},
    {BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, 1},  {BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, 0},
};

/* BP1 of one combination on isa, delta misaligned by `misalign` floats (or
 * written over a copy of a when in_place), into out; returns the loss. */
static float run_bp1(bpq_isa isa, size_t c, const float *a, const float *y, size_t misalign,
                     int in_place, tu_buf *out) {
    const size_t count = (size_t)BATCH * N;
    float *d = tu_alloc(out, count, misalign);
    if (in_place)
        memcpy(d, a, count * sizeof(float));
    float loss = -1.0f;
    tu_select(isa);
    assert_int_equal(bpq_bp1_output_delta(BATCH, N, combos[c].loss, combos[c].act,
                                          in_place ? d : a, y, d,
                                          combos[c].with_loss ? &loss : NULL),
                     BPQ_OK);
    assert_true(tu_guards_ok(out));
    return loss;
}

static void large_bp1(void **state) {
    const bpq_isa isa = *(const bpq_isa *)*state;
    if (!bpq_isa_supported(isa))
        skip();
    const size_t count = (size_t)BATCH * N;
    tu_buf ab, yb;
    float *a = tu_alloc(&ab, count, 0), *y = tu_alloc(&yb, count, 0);
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        tu_rng r = tu_rng_make(tu_seed(), "large_bp1", c);
        tu_fill_act_output(&r, combos[c].act, a, BATCH, N);
        tu_fill_targets(&r, combos[c].loss, y, BATCH, N);
        for (int variant = 0; variant < 2; variant++) { /* misaligned, then in place */
            const size_t misalign = variant == 0 ? 1 : 0;
            tu_buf want, got;
            float lw = run_bp1(BPQ_ISA_SCALAR, c, a, y, misalign, variant, &want);
            float lg = run_bp1(isa, c, a, y, misalign, variant, &got);
            size_t at = tu_first_diff(want.p, got.p, count);
            if (at != count)
                fail_msg("%s, combination %zu, %s: delta[%zu] is %a, scalar gives %a",
                         bpq_isa_name(isa), c, variant ? "in place" : "misaligned", at,
                         (double)got.p[at], (double)want.p[at]);
            if (!tu_same(lw, lg))
                fail_msg("%s, combination %zu: loss %a, scalar gives %a", bpq_isa_name(isa), c,
                         (double)lg, (double)lw);
            tu_free(&want);
            tu_free(&got);
        }
    }
    tu_free(&ab);
    tu_free(&yb);
}

enum { BP3_BATCH = 1000, BP3_N = 9221 }; /* 9.2 M elements, 37 MiB; panels of 8192 + 1016 */

static void large_bp3(void **state) {
    const bpq_isa isa = *(const bpq_isa *)*state;
    if (!bpq_isa_supported(isa))
        skip();
    static const bpq_reduce reds[4] = {BPQ_REDUCE_SUM, BPQ_REDUCE_MEAN,
                                       BPQ_REDUCE_SUM | BPQ_REDUCE_ACCUMULATE,
                                       BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE};
    const size_t count = (size_t)BP3_BATCH * BP3_N;
    tu_buf db;
    float *d = tu_alloc(&db, count, 1);
    tu_rng r = tu_rng_make(tu_seed(), "large_bp3", 0);
    tu_fill_act_output(&r, BPQ_ACT_TANH, d, BP3_BATCH, BP3_N); /* values in (-1, 1) */
    for (int v = 0; v < 4; v++) {
        tu_buf want, got;
        float *w = tu_alloc(&want, BP3_N, 0), *g = tu_alloc(&got, BP3_N, 0);
        tu_fill_act_output(&r, BPQ_ACT_TANH, w, 1, BP3_N); /* the old db, for accumulate */
        memcpy(g, w, BP3_N * sizeof(float));
        tu_select(BPQ_ISA_SCALAR);
        assert_int_equal(bpq_bp3_bias_grad(BP3_BATCH, BP3_N, d, reds[v], w), BPQ_OK);
        tu_select(isa);
        assert_int_equal(bpq_bp3_bias_grad(BP3_BATCH, BP3_N, d, reds[v], g), BPQ_OK);
        assert_true(tu_guards_ok(&got));
        size_t at = tu_first_diff(w, g, BP3_N);
        if (at != BP3_N)
            fail_msg("%s, reduction %d: db[%zu] is %a, scalar gives %a", bpq_isa_name(isa), v,
                     at, (double)g[at], (double)w[at]);
        tu_free(&want);
        tu_free(&got);
    }
    tu_free(&db);
}

int main(void) {
    static const bpq_isa isas[] = {BPQ_ISA_AVX2, BPQ_ISA_AVX512, BPQ_ISA_NEON};
    const struct CMUnitTest tests[] = {
        {"large_bp1_avx2", large_bp1, NULL, NULL, (void *)&isas[0]},
        {"large_bp1_avx512", large_bp1, NULL, NULL, (void *)&isas[1]},
        {"large_bp1_neon", large_bp1, NULL, NULL, (void *)&isas[2]},
        {"large_bp3_avx2", large_bp3, NULL, NULL, (void *)&isas[0]},
        {"large_bp3_avx512", large_bp3, NULL, NULL, (void *)&isas[1]},
        {"large_bp3_neon", large_bp3, NULL, NULL, (void *)&isas[2]},
    };
    return cmocka_run_group_tests_name("large arrays", tests, NULL, NULL);
}
