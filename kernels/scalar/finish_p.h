/* finish_p.h - scalar form of the canonical end of BP3/BP4: optional mean, optional accumulate. */
#ifndef BPQ_SCALAR_FINISH_P_H
#define BPQ_SCALAR_FINISH_P_H

#include <stddef.h>

/* Width of the on-stack accumulator rows that keep the scalar loops streaming. */
#define BPQ_SCALAR_BLOCK 256

/* out[i] = g[i] (/ batch) (+ out[i]) for i < count, in the order canon.h gives. */
/* [scalar-finish] */
static inline void bpq_s_finish(const float *g, size_t count, size_t batch, int mean,
                                int accumulate, float *out) {
    float fb = (float)batch;
    for (size_t i = 0; i < count; i++) {
        float v = mean ? g[i] / fb : g[i];
        out[i] = accumulate ? out[i] + v : v;
    }
}
/* [scalar-finish] */

#endif /* BPQ_SCALAR_FINISH_P_H */
