/* sgd.c - NEON SGD step: param = fma(-lr, grad, param), 4 lanes at a time. */
#include "kernels.h"
#include "neon/math_p.h"

/* param may be grad itself: each vector is loaded before its own store, and
 * no element is read after it has been written. vfmaq_n_f32(p, g, -lr) is
 * p + g * (-lr) rounded once: the canonical fma(-lr, grad, param). */
void bpq_sgd_neon(size_t n, float lr, const float *grad, float *param) {
    const float neg = -lr;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const float32x4_t p0 = vfmaq_n_f32(vld1q_f32(param + i), vld1q_f32(grad + i), neg);
        const float32x4_t p1 = vfmaq_n_f32(vld1q_f32(param + i + 4), vld1q_f32(grad + i + 4), neg);
        const float32x4_t p2 = vfmaq_n_f32(vld1q_f32(param + i + 8), vld1q_f32(grad + i + 8), neg);
        const float32x4_t p3 =
            vfmaq_n_f32(vld1q_f32(param + i + 12), vld1q_f32(grad + i + 12), neg);
        vst1q_f32(param + i, p0);
        vst1q_f32(param + i + 4, p1);
        vst1q_f32(param + i + 8, p2);
        vst1q_f32(param + i + 12, p3);
    }
    for (; i < n; i += 4) {
        const size_t cnt = n - i >= 4 ? 4 : n - i;
        bpq_neon_store_first(param + i, cnt,
                             vfmaq_n_f32(bpq_neon_load_first(param + i, cnt),
                                         bpq_neon_load_first(grad + i, cnt), neg));
    }
}
