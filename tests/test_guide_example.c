/* test_guide_example.c - the guide's movie example (forward, BP1, BP4, SGD) on every ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "bpq.h"
#include "testutil.h"

/*
 * The guide predicts whether someone likes a movie from its action (8) and
 * comedy (3) scores with weights 0.7 and 0.3, bias -2 and a sigmoid; the
 * person hated it (target 0). It prints, to three digits: pre-activation
 * 4.5, prediction 0.989, sigmoid slope 0.0109, gradient for the action
 * weight 0.086 (= 0.989 * 0.0109 * 8), and 0.691 for that weight after one
 * step with learning rate 0.1. Each value is checked to half a unit in the
 * last digit the guide prints.
 */

/* |got - printed| within half a unit of the printed value's last digit. */
static void expect_digits(const char *what, double got, double printed, double last_digit)
{
    if (!(fabs(got - printed) <= 0.5 * last_digit))
        fail_msg("%s on %s: got %.6f, the guide prints %g", what, bpq_isa_name(bpq_isa_active()),
                 got, printed);
}

static void movie_example(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    const float x[2] = {8.0f, 3.0f}; /* action, comedy */
    float w[2] = {0.7f, 0.3f};
    const float b[1] = {-2.0f};
    const float y[1] = {0.0f};
    float z[1], a[1], delta[1], dw[2], db[1], loss;

    if (!bpq_isa_supported(isa))
        skip();
    tu_select(isa);

    /* Forward: the pre-activation alone (identity), then the sigmoid prediction. */
    assert_int_equal(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_IDENTITY, z), BPQ_OK);
    expect_digits("pre-activation", z[0], 4.5, 0.1);
    assert_int_equal(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_SIGMOID, a), BPQ_OK);
    expect_digits("prediction", a[0], 0.989, 0.001);

    /* BP1 with MSE: delta = (a - y) sigmoid'(z) = error * slope; the error is a - 0. */
    assert_int_equal(bpq_bp1_output_delta(1, 1, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, a, y, delta, &loss),
                     BPQ_OK);
    expect_digits("error", (double)a[0] - (double)y[0], 0.989, 0.001);
    expect_digits("sigmoid slope", delta[0] / a[0], 0.0109, 0.0001);

    /* [guide-backward] */
    /* BP3 and BP4, summed over the batch of one: db = delta, dW = delta x. */
    assert_int_equal(bpq_bp3_bias_grad(1, 1, delta, BPQ_REDUCE_SUM, db), BPQ_OK);
    assert_true(db[0] == delta[0]);
    assert_int_equal(bpq_bp4_weight_grad(1, 1, 2, delta, x, BPQ_REDUCE_SUM, dw), BPQ_OK);
    expect_digits("action weight gradient", dw[0], 0.086, 0.001);
    assert_true(dw[1] > 0.0f && dw[1] < dw[0]); /* comedy is blamed less: 3 < 8 */

    /* The step moves each weight against its gradient. */
    assert_int_equal(bpq_sgd_step(2, 0.1f, dw, w), BPQ_OK);
    expect_digits("updated action weight", w[0], 0.691, 0.001);
    assert_true(w[1] < 0.3f);
    /* [guide-backward] */
}

int main(void)
{
    struct CMUnitTest tests[TU_N_ISAS];
    static char names[TU_N_ISAS][48];
    for (int i = 0; i < TU_N_ISAS; i++) {
        snprintf(names[i], sizeof names[i], "movie_example/%s", bpq_isa_name(tu_isas[i]));
        tests[i] = (struct CMUnitTest){names[i], movie_example, NULL, NULL, (void *)&tu_isas[i]};
    }
    return cmocka_run_group_tests_name("guide_example", tests, NULL, NULL);
}
