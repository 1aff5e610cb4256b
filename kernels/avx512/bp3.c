/* bp3.c - AVX-512 BP3: the bias gradient, for now AVX2's kernel (see below). */
#include "kernels.h"

/* BP3 is one pass of additions over delta, bound by memory; AVX2's kernel
 * (avx2/bp3.c) gives the canonical bits, so it serves here too until a zmm
 * version measures faster. */
void bpq_bp3_avx512(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                    float *db) {
    bpq_bp3_avx2(batch, n, delta, mean, accumulate, db);
}
