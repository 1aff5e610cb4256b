/* test_special_values.c - NaN/inf rules, sigmoid/tanh saturation, softmax extremes, per ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "equation_cases.h"

/*
 * One cmocka test per (rule, ISA), so an ISA this machine lacks shows up as
 * skipped. The equations' documented handling of NaN and infinity, checked
 * element by element; sigmoid and tanh over the whole range where they
 * saturate; and softmax rows of large logits. test_equations.c checks the
 * ordinary values, and that special values give the same bits on every ISA.
 */

#define ALL ((size_t)-1)
#define NONE ((size_t)-2)

/* Element (r, c) of a rows x cols output must be NaN exactly inside the block (er, ec). */
static void expect_nan_block(const char *what, const float *out, size_t rows, size_t cols,
                             size_t er, size_t ec)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            int want = er != NONE && (er == ALL || r == er) && (ec == ALL || c == ec);
            float v = out[r * cols + c];
            if ((isnan(v) != 0) != want)
                fail_msg("%s on %s: element (%zu, %zu) is %g, expected %s", what,
                         bpq_isa_name(bpq_isa_active()), r, c, (double)v,
                         want ? "NaN" : "a number");
        }
}

enum { NB = 3, NI = 5, NO = 19 };

static void nan_forward(tu_rng *r)
{
    float x[NB * NI], w[NO * NI], b[NO], a[NB * NO];
    tu_fill_sym(r, x, NB * NI);
    tu_fill_sym(r, b, NO);
    for (size_t i = 0; i < NO * NI; i++)
        w[i] = 0.25f + 0.5f * tu_open01(r) * (i % 2 ? 1.0f : -1.0f); /* never 0 */
    for (int act = 0; act <= BPQ_ACT_SOFTMAX; act++) {
        int rowwise = act == BPQ_ACT_SOFTMAX;
        float keep = x[1 * NI + 2];
        x[1 * NI + 2] = NAN; /* poisons every z of row 1 */
        assert_int_equal(bpq_forward(NB, NI, NO, x, w, b, (bpq_act)act, a), BPQ_OK);
        expect_nan_block("forward, NaN in x", a, NB, NO, 1, ALL);
        x[1 * NI + 2] = keep;

        keep = b[4];
        b[4] = NAN; /* poisons column 4; softmax spreads it over each row */
        assert_int_equal(bpq_forward(NB, NI, NO, x, w, b, (bpq_act)act, a), BPQ_OK);
        expect_nan_block("forward, NaN in b", a, NB, NO, ALL, rowwise ? ALL : 4);
        b[4] = keep;

        keep = x[2 * NI + 3];
        x[2 * NI + 3] = INFINITY; /* z of row 2 becomes +inf or -inf by the sign of w */
        assert_int_equal(bpq_forward(NB, NI, NO, x, w, b, (bpq_act)act, a), BPQ_OK);
        expect_nan_block("forward, inf in x", a, NB, NO, rowwise ? 2 : NONE, ALL);
        for (size_t j = 0; j < NO && !rowwise; j++) {
            int pos = w[j * NI + 3] > 0.0f;
            float v = a[2 * NO + j], want = pos ? INFINITY : -INFINITY;
            if (act == BPQ_ACT_SIGMOID)
                want = pos ? 1.0f : 0.0f;
            else if (act == BPQ_ACT_TANH)
                want = pos ? 1.0f : -1.0f;
            else if (act == BPQ_ACT_RELU)
                want = pos ? INFINITY : 0.0f;
            if (v != want)
                fail_msg("forward %s of +-inf on %s: got %g, want %g", act_names[act],
                         bpq_isa_name(bpq_isa_active()), (double)v, (double)want);
        }
        x[2 * NI + 3] = keep;
    }
}

static void nan_bp1(tu_rng *r)
{
    float a[NB * NO], y[NB * NO], d[NB * NO], loss;
    for (int pair = 0; pair < 6; pair++) {
        tu_fill_act_output(r, bp1_act[pair], a, NB, NO);
        tu_fill_targets(r, bp1_loss[pair], y, NB, NO);
        a[1 * NO + 7] = NAN;
        assert_int_equal(
            bpq_bp1_output_delta(NB, NO, bp1_loss[pair], bp1_act[pair], a, y, d, &loss), BPQ_OK);
        expect_nan_block("bp1, NaN in a", d, NB, NO, 1, 7);
        expect_nan_block("bp1 loss, NaN in a", &loss, 1, 1, ALL, ALL);
    }
}

static void nan_bp2(tu_rng *r)
{
    float dn[NB * NI], w[NI * NO], a[NB * NO], d[NB * NO];
    for (int act = 0; act < BPQ_ACT_SOFTMAX; act++) {
        tu_fill_sym(r, dn, NB * NI);
        tu_fill_sym(r, w, NI * NO);
        tu_fill_act_output(r, (bpq_act)act, a, NB, NO); /* relu: about half exact zeros */
        float keep = a[2 * NO + 5];
        a[2 * NO + 5] = NAN; /* act'(NaN) is NaN, except identity's constant 1 */
        assert_int_equal(bpq_bp2_hidden_delta(NB, NI, NO, dn, w, a, (bpq_act)act, d), BPQ_OK);
        expect_nan_block("bp2, NaN in a", d, NB, NO, act == BPQ_ACT_IDENTITY ? NONE : 2, 5);
        a[2 * NO + 5] = keep;

        keep = dn[0 * NI + 3];
        dn[0 * NI + 3] = NAN; /* g * act'(a) is a multiplication, so NaN * 0 is NaN too */
        assert_int_equal(bpq_bp2_hidden_delta(NB, NI, NO, dn, w, a, (bpq_act)act, d), BPQ_OK);
        expect_nan_block("bp2, NaN in delta_next", d, NB, NO, 0, ALL);
        dn[0 * NI + 3] = keep;

        w[4 * NO + 11] = NAN;
        assert_int_equal(bpq_bp2_hidden_delta(NB, NI, NO, dn, w, a, (bpq_act)act, d), BPQ_OK);
        expect_nan_block("bp2, NaN in w_next", d, NB, NO, ALL, 11);
    }
}

static void nan_bp34_sgd(tu_rng *r)
{
    float delta[NB * NO], x[NB * NI], db[NO], dw[NO * NI], grad[NO], param[NO];
    for (int v = 0; v < 4; v++) {
        tu_fill_sym(r, delta, NB * NO);
        tu_fill_sym(r, x, NB * NI);
        tu_fill_sym(r, db, NO);
        tu_fill_sym(r, dw, NO * NI);
        delta[1 * NO + 6] = NAN;
        assert_int_equal(bpq_bp3_bias_grad(NB, NO, delta, reduces[v], db), BPQ_OK);
        expect_nan_block("bp3, NaN in delta", db, 1, NO, ALL, 6);
        assert_int_equal(bpq_bp4_weight_grad(NB, NO, NI, delta, x, reduces[v], dw), BPQ_OK);
        expect_nan_block("bp4, NaN in delta", dw, NO, NI, 6, ALL);
        tu_fill_sym(r, delta, NB * NO);
        tu_fill_sym(r, dw, NO * NI);
        x[2 * NI + 1] = NAN;
        assert_int_equal(bpq_bp4_weight_grad(NB, NO, NI, delta, x, reduces[v], dw), BPQ_OK);
        expect_nan_block("bp4, NaN in x", dw, NO, NI, ALL, 1);
    }
    tu_fill_sym(r, grad, NO);
    tu_fill_sym(r, param, NO);
    grad[3] = NAN;
    param[8] = NAN;
    assert_int_equal(bpq_sgd_step(NO, 0.1f, grad, param), BPQ_OK);
    for (size_t i = 0; i < NO; i++)
        if ((isnan(param[i]) != 0) != (i == 3 || i == 8))
            fail_msg("sgd on %s: param[%zu] = %g", bpq_isa_name(bpq_isa_active()), i,
                     (double)param[i]);
}

static void nan_test(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    tu_rng r = tu_rng_make(tu_seed(), "nan", (uint64_t)isa);
    if (!bpq_isa_supported(isa))
        skip();
    tu_select(isa);
    nan_forward(&r);
    nan_bp1(&r);
    nan_bp2(&r);
    nan_bp34_sgd(&r);
}

/* sigmoid and tanh for z in [-100, 100] and beyond: finite, in range, a few ulp from exact. */
static void saturation_test(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    static const float extra[] = {INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e30f, -1e30f,
                                  88.0f,    -88.0f,    104.0f,  -104.0f,  0.0f,  -0.0f};
    enum { GRID = 12801, RANDOM = 4000, NX = sizeof extra / sizeof extra[0] };
    const size_t n = GRID + RANDOM + NX;
    float *z = xcalloc(n, sizeof(float)), *a = xcalloc(n, sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    tu_rng r = tu_rng_make(tu_seed(), "saturation", 0);

    if (!bpq_isa_supported(isa)) {
        free(z);
        free(a);
        skip();
    }
    tu_select(isa);
    for (size_t i = 0; i < GRID; i++)
        z[i] = (float)((int)i - GRID / 2) / 64.0f; /* -100 .. 100 step 1/64, exact */
    for (size_t i = 0; i < RANDOM; i++)
        z[GRID + i] = 100.0f * tu_sym(&r);
    memcpy(z + GRID + RANDOM, extra, sizeof extra);
    /* One input, weight 1, bias 0: z reaches the activation exactly. */
    for (int act = BPQ_ACT_SIGMOID; act <= BPQ_ACT_TANH; act++) {
        double lo = act == BPQ_ACT_SIGMOID ? 0.0 : -1.0;
        assert_int_equal(bpq_forward(n, 1, 1, z, &one, &zero, (bpq_act)act, a), BPQ_OK);
        for (size_t i = 0; i < n; i++) {
            double want =
                act == BPQ_ACT_SIGMOID ? 1.0 / (1.0 + exp(-(double)z[i])) : tanh((double)z[i]);
            double tol = 8.0 * TU_U * fabs(want) + 4.0 * TU_DENORM;
            if (!isfinite(a[i]) || a[i] < lo || a[i] > 1.0 || fabs(a[i] - want) > tol)
                fail_msg("%s(%.9g) on %s = %.9g (%a), want %.9g within %.3g", act_names[act],
                         (double)z[i], bpq_isa_name(isa), (double)a[i], (double)a[i], want, tol);
        }
    }
    free(z);
    free(a);
}

/* Softmax rows with logits as large as +-100: finite, in [0, 1], summing to 1, close to exact. */
static void softmax_extremes_test(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    static const size_t widths[] = {1, 2, 3, 7, 16, 17, 33, 100, 1000};
    const float one = 1.0f;
    tu_rng r = tu_rng_make(tu_seed(), "softmax", 0);
    float *w, *b, *a;
    double *want;

    if (!bpq_isa_supported(isa))
        skip();
    tu_select(isa);
    w = xcalloc(1000, sizeof(float));
    b = xcalloc(1000, sizeof(float));
    a = xcalloc(1000, sizeof(float));
    want = xcalloc(1000, sizeof(double));
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        size_t n = widths[wi];
        for (int pattern = 0; pattern < 6; pattern++) {
            size_t hot = tu_below(&r, (uint32_t)n);
            for (size_t j = 0; j < n; j++) {
                float v = 0.0f;
                switch (pattern) {
                case 0:
                    v = 100.0f;
                    break;
                case 1:
                    v = -100.0f;
                    break;
                case 2:
                    v = j % 2 ? -100.0f : 100.0f;
                    break;
                case 3:
                    v = j == hot ? 100.0f : -100.0f;
                    break;
                case 4:
                    v = 100.0f * tu_sym(&r);
                    break;
                default:
                    v = n == 1 ? 0.0f : -100.0f + 200.0f * (float)j / (float)(n - 1);
                    break;
                }
                w[j] = v; /* x = 1, w = logits, b = 0: z = logits exactly */
            }
            assert_int_equal(bpq_forward(1, 1, n, &one, w, b, BPQ_ACT_SOFTMAX, a), BPQ_OK);
            double m = -INFINITY, sum = 0.0, spread = 0.0, total = 0.0;
            for (size_t j = 0; j < n; j++)
                m = w[j] > m ? w[j] : m;
            for (size_t j = 0; j < n; j++)
                sum += exp(w[j] - m);
            for (size_t j = 0; j < n; j++) {
                want[j] = exp(w[j] - m) / sum;
                spread += want[j] * (m - w[j]);
            }
            for (size_t j = 0; j < n; j++) {
                double tol = want[j] * ((m - w[j]) + spread + (double)n / 16.0 + 16.0) * TU_U +
                             4.0 * TU_DENORM;
                total += a[j];
                if (!isfinite(a[j]) || a[j] < 0.0f || a[j] > 1.0f || fabs(a[j] - want[j]) > tol)
                    fail_msg("softmax width %zu pattern %d on %s: a[%zu] = %.9g, want %.9g "
                             "within %.3g (seed %#llx)",
                             n, pattern, bpq_isa_name(isa), j, (double)a[j], want[j], tol,
                             (unsigned long long)tu_seed());
            }
            if (fabs(total - 1.0) > ((double)n + 16.0) * TU_U)
                fail_msg("softmax width %zu pattern %d on %s sums to %.9g", n, pattern,
                         bpq_isa_name(isa), total);
        }
    }
    free(w);
    free(b);
    free(a);
    free(want);
}

int main(void)
{
    enum { N_RULES = 3 };
    static void (*const rule_fn[N_RULES])(void **) = {nan_test, saturation_test,
                                                      softmax_extremes_test};
    static const char *const rule_names[N_RULES] = {"nan_rules", "saturation",
                                                    "softmax_extremes"};
    static isa_test_name names[N_RULES][TU_N_ISAS];
    struct CMUnitTest tests[N_RULES * TU_N_ISAS];

    for (int s = 0; s < N_RULES; s++)
        per_isa_tests(tests + s * TU_N_ISAS, names[s], rule_names[s], rule_fn[s], NULL);
    print_seed("test_special_values");
    return cmocka_run_group_tests_name("special_values", tests, NULL, NULL);
}
