/* bp1_collapse.c - chapter 4: BP1's general form, and why sigmoid+BCE and softmax+CE give a - y. */
#include <stdio.h>

#include <bpq.h>

static int check(bpq_status st, const char *what)
{
    if (st != BPQ_OK)
        fprintf(stderr, "bp1_collapse: %s: %s\n", what, bpq_status_string(st));
    return st == BPQ_OK;
}

/* Sigmoid outputs for a few pre-activations, through bpq_forward (x = 1, w = z, b = 0). */
static int sigmoid_of(const float *z, size_t n, float *a)
{
    const float one = 1.0f, zero = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (!check(bpq_forward(1, 1, 1, &one, &z[i], &zero, BPQ_ACT_SIGMOID, &a[i]), "forward"))
            return 0;
    return 1;
}

static int sigmoid_bce(void)
{
    const float z[4] = {-3.0f, 0.0f, 2.0f, 4.5f}, y[4] = {0.0f, 1.0f, 1.0f, 0.0f};
    float a[4], delta[4];
    if (!sigmoid_of(z, 4, a) ||
        !check(bpq_bp1_output_delta(1, 4, BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, a, y, delta, NULL), "bp1"))
        return 0;
    printf("sigmoid + binary cross-entropy: the general form, term by term, in double\n");
    printf("%8s %3s %29s %16s %9s %10s\n", "a", "y", "dC/da = (a - y) / (a (1 - a))",
           "act' = a (1 - a)", "product", "bpq delta");
    for (int i = 0; i < 4; i++) {
        double av = a[i], yv = y[i];
        double dcda = -yv / av + (1.0 - yv) / (1.0 - av); /* derivative of the BCE term */
        double slope = av * (1.0 - av);
        printf("%8.4f %3g %29.4f %16.4f %9.4f %10.4f\n", av, yv, dcda, slope, dcda * slope,
               (double)delta[i]);
    }
    return 1;
}

static int softmax_xent(void)
{
    /* Three classes; the right answer is class 2. bpq_forward with x = 1 and w = z gives
     * the softmax of z in one row. */
    const float one = 1.0f, z[3] = {2.0f, 1.0f, 0.1f}, b[3] = {0, 0, 0}, y[3] = {0, 0, 1};
    float a[3], delta[3];
    if (!check(bpq_forward(1, 1, 3, &one, z, b, BPQ_ACT_SOFTMAX, a), "forward") ||
        !check(bpq_bp1_output_delta(1, 3, BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, a, y, delta, NULL),
               "bp1"))
        return 0;
    printf("softmax + cross-entropy: delta_j = sum_k dC/da_k * da_k/dz_j, in double\n");
    printf("%3s %8s %4s %38s %10s %10s\n", "j", "a_j", "y_j",
           "sum_k (-y_k / a_k) a_k ([k = j] - a_j)", "a_j - y_j", "bpq delta");
    for (int j = 0; j < 3; j++) {
        double sum = 0.0;
        for (int k = 0; k < 3; k++) {
            double dcda = -(double)y[k] / (double)a[k];
            double dadz = (double)a[k] * ((k == j) - (double)a[j]); /* softmax's Jacobian */
            sum += dcda * dadz;
        }
        printf("%3d %8.4f %4g %38.4f %10.4f %10.4f\n", j, (double)a[j], (double)y[j], sum,
               (double)a[j] - (double)y[j], (double)delta[j]);
    }
    return 1;
}

/* The movie again: a confident wrong answer, scored by MSE and by BCE. */
static int saturation(void)
{
    const float z[3] = {4.5f, 7.0f, 10.0f}, y[3] = {0, 0, 0};
    float a[3], mse[3], bce[3];
    if (!sigmoid_of(z, 3, a) ||
        !check(bpq_bp1_output_delta(1, 3, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, a, y, mse, NULL), "mse") ||
        !check(bpq_bp1_output_delta(1, 3, BPQ_LOSS_BCE, BPQ_ACT_SIGMOID, a, y, bce, NULL), "bce"))
        return 0;
    printf("a confident wrong answer (target 0): the error signal under each loss\n");
    printf("%6s %8s %28s %16s\n", "z", "a", "MSE delta (a - y) a (1 - a)", "BCE delta a - y");
    for (int i = 0; i < 3; i++)
        printf("%6.1f %8.5f %28.6f %16.6f\n", (double)z[i], (double)a[i], (double)mse[i],
               (double)bce[i]);
    return 1;
}

int main(void)
{
    if (!sigmoid_bce())
        return 1;
    if (!softmax_xent())
        return 1;
    return saturation() ? 0 : 1;
}
