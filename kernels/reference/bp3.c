/* bp3.c - reference BP3 in double: db = sum (or mean) over the batch of delta. */
#include "kernels.h"
#include "reference/ref_p.h"

void bpq_bp3_reference(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                       float *db) {
    /* [ref-bp3] */
    for (size_t j = 0; j < n; j++) {
        double g = 0.0;
        for (size_t r = 0; r < batch; r++)
            g += delta[r * n + j];
        db[j] = bpq_r_finish(g, batch, mean, accumulate, db[j]);
    }
    /* [ref-bp3] */
}
