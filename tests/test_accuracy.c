/* test_accuracy.c - measures bpq's own exp, log, sigmoid, tanh and softmax against double libm. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "scalar/math_p.h"

/*
 * The canonical functions of kernels/scalar/math_p.h are what every ISA
 * computes, bit for bit (the equation and golden-hash suites prove the SIMD
 * paths equal them). Here they are swept over a dense grid of float inputs
 * and compared with libm in double. The bounds asserted are the ones
 * documented in include/bpq.h; the measured maxima are printed so that the
 * README and the header can quote them.
 *
 * BPQ_ACCURACY_STRIDE (environment) sets the step between the float bit
 * patterns tried; 1 tries every float in the range.
 */

/* Size of one ulp of float at the magnitude of v (denormal spacing at the bottom). */
static double ulp_at(double v) {
    double av = fabs(v);
    if (av < 0x1p-126)
        return 0x1p-149;
    int e;
    frexp(av, &e); /* av = m 2^e, m in [0.5, 1) */
    return ldexp(1.0, e - 24);
}

typedef struct sweep_result {
    double max_ulp;
    float worst_input;
    size_t count;
    int nonfinite; /* results that were inf or NaN for finite input */
} sweep_result;

static uint32_t stride_from_env(void) {
    const char *s = getenv("BPQ_ACCURACY_STRIDE");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (uint32_t)v : 263u;
}

/* Visits the floats of [lo, hi] (both finite, lo < hi) by bit pattern. */
static sweep_result sweep(float (*f)(float), double (*exact)(double), float lo, float hi) {
    sweep_result res = {0.0, 0.0f, 0, 0};
    uint32_t stride = stride_from_env();
    for (int sign = 0; sign < 2; sign++) {
        /* Positive floats of the range, then negative ones, each by magnitude. */
        float top = sign ? -lo : hi;
        float bottom = sign ? (hi < 0 ? -hi : 0.0f) : (lo > 0 ? lo : 0.0f);
        if (top < bottom)
            continue;
        for (uint32_t u = bpq_s_bits(bottom); u <= bpq_s_bits(top); u += stride) {
            float x = bpq_s_float(u | (sign ? 0x80000000u : 0u));
            float got = f(x);
            double want = exact((double)x);
            res.count++;
            if (!isfinite(got)) {
                res.nonfinite++;
                continue;
            }
            double err = fabs((double)got - want) / ulp_at(want);
            if (err > res.max_ulp) {
                res.max_ulp = err;
                res.worst_input = x;
            }
        }
    }
    return res;
}

static double exact_exp(double x) { return exp(x); }
static double exact_sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }
static double exact_tanh(double z) { return tanh(z); }
static double exact_log(double x) { return log(x); }

static void report(const char *name, sweep_result r) {
    printf("[ accuracy ] %-8s max error %.3f ulp at x = %.9g (%zu inputs)\n", name, r.max_ulp,
           (double)r.worst_input, r.count);
}

static void test_exp(void **state) {
    (void)state;
    /* Every argument bpq's kernels pass to exp lies in [-104, 88]. */
    sweep_result r = sweep(bpq_s_exp, exact_exp, -104.0f, 88.0f);
    report("exp", r);
    assert_int_equal(r.nonfinite, 0);
    assert_true(r.max_ulp <= 2.0);
}

static void test_sigmoid(void **state) {
    (void)state;
    sweep_result r = sweep(bpq_s_sigmoid, exact_sigmoid, -100.0f, 100.0f);
    report("sigmoid", r);
    assert_int_equal(r.nonfinite, 0);
    assert_true(r.max_ulp <= 3.0);
}

static void test_tanh(void **state) {
    (void)state;
    sweep_result r = sweep(bpq_s_tanh, exact_tanh, -100.0f, 100.0f);
    report("tanh", r);
    assert_int_equal(r.nonfinite, 0);
    assert_true(r.max_ulp <= 2.0);
}

static void test_log(void **state) {
    (void)state;
    sweep_result r = sweep(bpq_s_log, exact_log, FLT_MIN, FLT_MAX);
    report("log", r);
    assert_int_equal(r.nonfinite, 0);
    assert_true(r.max_ulp <= 2.0);
}

/* Saturation: huge arguments give the limits, never inf or NaN. */
static void test_saturation(void **state) {
    (void)state;
    const float big[] = {100.0f, 1e4f, 1e30f, FLT_MAX, INFINITY};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        assert_true(bpq_s_sigmoid(big[i]) == 1.0f);
        assert_true(bpq_s_sigmoid(-big[i]) == 0.0f || big[i] == 100.0f);
        assert_true(bpq_s_tanh(big[i]) == 1.0f);
        assert_true(bpq_s_tanh(-big[i]) == -1.0f);
        assert_true(isfinite(bpq_s_exp(big[i])));
        assert_true(bpq_s_exp(-big[i]) >= 0.0f);
    }
    /* sigmoid(-100) is a denormal near 3.7e-44, not a flushed 0. */
    assert_true(bpq_s_sigmoid(-100.0f) > 0.0f);
    assert_true(isnan(bpq_s_sigmoid(NAN)) && isnan(bpq_s_tanh(NAN)) && isnan(bpq_s_exp(NAN)));
    assert_true(isnan(bpq_s_relu(NAN)) && isnan(bpq_s_log(NAN)));
}

/* Softmax rows of random logits as wide as [-100, 100], against double. */
static void test_softmax(void **state) {
    (void)state;
    enum { N = 67, ROWS = 4000 };
    float row[N];
    double z[N];
    uint64_t s = 0x9e3779b97f4a7c15u;
    double worst = 0.0, worst_rel = 0.0;
    for (int t = 0; t < ROWS; t++) {
        double spread = (t % 4 == 0) ? 100.0 : (t % 4 == 1 ? 10.0 : (t % 4 == 2 ? 1.0 : 0.01));
        for (int j = 0; j < N; j++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            row[j] = (float)(((double)(s >> 11) * 0x1p-53 * 2.0 - 1.0) * spread);
            z[j] = row[j];
        }
        bpq_s_softmax_row(row, N); /* the recipe kernels/scalar/forward.c runs */
        double zmax = z[0], dsum = 0.0;
        for (int j = 1; j < N; j++)
            zmax = z[j] > zmax ? z[j] : zmax;
        for (int j = 0; j < N; j++)
            dsum += exp(z[j] - zmax);
        for (int j = 0; j < N; j++) {
            double want = exp(z[j] - zmax) / dsum;
            float got = row[j];
            assert_true(isfinite(got));
            double err = fabs((double)got - want) / ulp_at(want);
            /* z_j - max is rounded to float before exp, an error of up to
             * |z_j - max| u that every float softmax has; count in those units. */
            double rel = want > 0x1p-126 ? fabs((double)got - want) / want : 0.0;
            double units = rel / ((1.0 + fabs(z[j] - zmax)) * 0x1p-24);
            worst = err > worst ? err : worst;
            worst_rel = units > worst_rel ? units : worst_rel;
        }
    }
    printf("[ accuracy ] softmax  max relative error %.3f (1 + |z_j - max|) u; %.1f ulp at worst"
           " (%d rows of %d)\n", worst_rel, worst, ROWS, N);
    /* exp (2 ulp) + the 16-partial sum of N terms + one division. */
    assert_true(worst_rel <= 8.0);
}

/* bpq_s_fma must equal a true fused multiply-add (libm's fmaf) bit for bit. */
static void test_fma_emulation(void **state) {
    (void)state;
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 0x1p-149f, -0x1p-149f, FLT_MIN,
                                    FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN, 0x1p-75f,
                                    0x1.fffffep-1f, 3.0f, 0x1p+64f};
    const size_t ns = sizeof special / sizeof special[0];
    uint64_t s = 0x243f6a8885a308d3u;
    size_t mismatches = 0, tried = 0;
    for (size_t t = 0; t < 4000000; t++) {
        float v[3];
        for (int k = 0; k < 3; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            uint32_t u = (uint32_t)(s >> 32);
            if ((s & 15) == 0)
                v[k] = special[(s >> 8) % ns];
            else if ((s & 15) < 4) /* near 1, where cancellation is common */
                v[k] = bpq_s_float((u & 0x80ffffffu) | 0x3f000000u);
            else
                v[k] = bpq_s_float(u);
        }
        /* c = -(a*b) rounded, so the sum cancels to the product's rounding error. */
        if ((s & 0x30) == 0x30)
            v[2] = -(v[0] * v[1]);
        float got = bpq_s_fma(v[0], v[1], v[2]);
        float want = fmaf(v[0], v[1], v[2]);
        tried++;
        if (isnan(want) ? !isnan(got) : bpq_s_bits(got) != bpq_s_bits(want)) {
            if (mismatches++ < 5)
                printf("fma(%a, %a, %a): got %a want %a\n", (double)v[0], (double)v[1],
                       (double)v[2], (double)got, (double)want);
        }
    }
    printf("[ accuracy ] fma      %zu mismatches in %zu triples\n", mismatches, tried);
    assert_int_equal(mismatches, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp),        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_tanh),       cmocka_unit_test(test_log),
        cmocka_unit_test(test_saturation), cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_fma_emulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
