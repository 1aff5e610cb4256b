/* main.c - an outside program using the installed bpq: the guide's movie example, one SGD step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <bpq.h>

static int failures = 0;

/* Compares with a relative tolerance: the float path is a few ulp from the
 * exact value, but 1 - a near a = 0.989 loses about 7 bits to cancellation. */
static void expect(const char *what, float got, double want)
{
    double err = fabs((double)got - want);
    int good = err <= 1e-4 * fabs(want) + 1e-7;
    printf("  %-22s %.6f (expected %.6f) %s\n", what, (double)got, want, good ? "ok" : "WRONG");
    if (!good)
        failures++;
}

static void check(bpq_status st, const char *what)
{
    if (st != BPQ_OK) {
        printf("  %s failed: %s\n", what, bpq_status_string(st));
        failures++;
    }
}

int main(void)
{
    char header_version[32];
    snprintf(header_version, sizeof header_version, "%d.%d.%d", BPQ_VERSION_MAJOR,
             BPQ_VERSION_MINOR, BPQ_VERSION_PATCH);
    printf("bpq %s (header %s), active ISA: %s\n", bpq_version(), header_version,
           bpq_isa_name(bpq_isa_active()));
    if (strcmp(bpq_version(), header_version) != 0) {
        printf("  library and header versions differ\n");
        failures++;
    }

    /* One neuron rating a movie: 8 units of action, 3 of comedy; the viewer
     * hated it (target 0). Expected values are the exact (double) ones. */
    const float x[2] = {8.0f, 3.0f}, y[1] = {0.0f};
    float w[2] = {0.7f, 0.3f}, b[1] = {-2.0f};
    float a[1], delta[1], loss, dw[2], db[1], dx[2];

    check(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_SIGMOID, a), "bpq_forward");
    check(bpq_bp1_output_delta(1, 1, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, a, y, delta, &loss),
          "bpq_bp1_output_delta");
    check(bpq_bp3_bias_grad(1, 1, delta, BPQ_REDUCE_MEAN, db), "bpq_bp3_bias_grad");
    check(bpq_bp4_weight_grad(1, 1, 2, delta, x, BPQ_REDUCE_MEAN, dw), "bpq_bp4_weight_grad");
    /* BP2 with the inputs seen as an identity layer: the error each input receives. */
    check(bpq_bp2_hidden_delta(1, 1, 2, delta, w, x, BPQ_ACT_IDENTITY, dx),
          "bpq_bp2_hidden_delta");
    check(bpq_sgd_step(2, 0.1f, dw, w), "bpq_sgd_step");
    check(bpq_sgd_step(1, 0.1f, db, b), "bpq_sgd_step");
    if (failures)
        return 1;

    expect("output a", a[0], 0.98901305736940681);
    expect("loss 1/2 a^2", loss, 0.48907341382359076);
    expect("delta (BP1)", delta[0], 0.010746843079656308);
    expect("dC/dw_action (BP4)", dw[0], 0.085974744637250466);
    expect("dC/dw_comedy (BP4)", dw[1], 0.032240529238968925);
    expect("dC/db (BP3)", db[0], 0.010746843079656308);
    expect("error at action (BP2)", dx[0], 0.7 * 0.010746843079656308);
    expect("w_action after step", w[0], 0.69140252553627491);
    expect("w_comedy after step", w[1], 0.29677594707610309);

    /* A bad call must be refused, not crash. */
    if (bpq_forward(1, 2, 1, NULL, w, b, BPQ_ACT_SIGMOID, a) != BPQ_ERR_NULL_POINTER) {
        printf("  NULL input was not refused\n");
        failures++;
    }

    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
