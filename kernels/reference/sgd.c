/* sgd.c - reference SGD step in double: param = param - lr * grad. */
#include "kernels.h"

void bpq_sgd_reference(size_t n, float lr, const float *grad, float *param) {
    /* [ref-sgd] */
    for (size_t i = 0; i < n; i++)
        param[i] = (float)((double)param[i] - (double)lr * (double)grad[i]);
    /* [ref-sgd] */
}
