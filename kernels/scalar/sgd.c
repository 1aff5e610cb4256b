/* sgd.c - scalar SGD step: param = fma(-lr, grad, param). */
#include "kernels.h"
#include "scalar/math_p.h"

void bpq_sgd_scalar(size_t n, float lr, const float *grad, float *param) {
    /* [scalar-sgd] */
    float neg = -lr;
    for (size_t i = 0; i < n; i++)
        param[i] = bpq_s_fma(neg, grad[i], param[i]);
    /* [scalar-sgd] */
}
