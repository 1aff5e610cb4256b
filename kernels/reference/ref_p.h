/* ref_p.h - double-precision activations and derivatives for the reference (oracle) path. */
#ifndef BPQ_REFERENCE_REF_P_H
#define BPQ_REFERENCE_REF_P_H

#include <float.h>
#include <math.h>

#include "bpq.h"

/* The reference path is the literal equations in double with libm: it is
 * the yardstick the float paths are measured against, not one of them. */
static inline double bpq_r_act(bpq_act act, double z) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case BPQ_ACT_TANH:
        return tanh(z);
    case BPQ_ACT_RELU:
        return z <= 0.0 ? 0.0 : z; /* NaN stays NaN, like the float paths */
    default:
        return z;
    }
}

/* [ref-dact] */
static inline double bpq_r_dact(bpq_act act, double a) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return a * (1.0 - a);
    case BPQ_ACT_TANH:
        return 1.0 - a * a;
    case BPQ_ACT_RELU:
        return a > 0.0 ? 1.0 : (a <= 0.0 ? 0.0 : a);
    default:
        return 1.0;
    }
}
/* [ref-dact] */

/* ln x with the same clamp as the float paths: at least ln(FLT_MIN). */
static inline double bpq_r_log(double x) {
    if (x != x)
        return x;
    return log(x < FLT_MIN ? FLT_MIN : (x > FLT_MAX ? FLT_MAX : x));
}

/* out = g (/ batch) (+ out), in double, rounded once to float. */
/* [ref-finish] */
static inline float bpq_r_finish(double g, size_t batch, int mean, int accumulate, float out) {
    double v = mean ? g / (double)batch : g;
    return (float)(accumulate ? (double)out + v : v);
}
/* [ref-finish] */

#endif /* BPQ_REFERENCE_REF_P_H */
