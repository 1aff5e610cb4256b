/* bp1.c - AVX-512 BP1: the output error, for now AVX2's kernel (see below). */
#include "kernels.h"

/* BP1 reads a and y and writes delta once: bound by memory, not by the
 * vector width. AVX2's kernel (avx2/bp1.c: row sums, non-temporal stores
 * for outputs past the caches) gives the canonical bits, so it serves
 * here too until a zmm version measures faster. */
void bpq_bp1_avx512(size_t batch, size_t n, bpq_loss loss, bpq_act act, const float *a,
                    const float *y, float *delta, float *loss_out) {
    bpq_bp1_avx2(batch, n, loss, act, a, y, delta, loss_out);
}
