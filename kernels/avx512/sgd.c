/* sgd.c - AVX-512 SGD step: param = fma(-lr, grad, param), 16 lanes at a time. */
#include "avx512/math_p.h"
#include "kernels.h"

#include <stdint.h>

/* param may be grad itself: each vector is loaded before its own store and
 * nothing is read after it was written. A zmm store that straddles two
 * cache lines costs about twice, so the head up to param's next 64-byte
 * boundary is one masked vector and the main loop runs on that boundary.
 * The tail is one masked vector too. */
void bpq_sgd_avx512(size_t n, float lr, const float *grad, float *param) {
    const __m512 neg = _mm512_set1_ps(-lr);
    size_t i = 0;
    const size_t head = ((64 - ((uintptr_t)param & 63)) / sizeof(float)) & 15;
    if (head && n >= 16) {
        const __mmask16 k = bpq_avx512_mask(head);
        _mm512_mask_storeu_ps(param, k,
                              _mm512_fmadd_ps(neg, _mm512_maskz_loadu_ps(k, grad),
                                              _mm512_maskz_loadu_ps(k, param)));
        i = head;
    }
    for (; i + 64 <= n; i += 64) {
        const __m512 p0 = _mm512_fmadd_ps(neg, _mm512_loadu_ps(grad + i), _mm512_loadu_ps(param + i));
        const __m512 p1 = _mm512_fmadd_ps(neg, _mm512_loadu_ps(grad + i + 16),
                                          _mm512_loadu_ps(param + i + 16));
        const __m512 p2 = _mm512_fmadd_ps(neg, _mm512_loadu_ps(grad + i + 32),
                                          _mm512_loadu_ps(param + i + 32));
        const __m512 p3 = _mm512_fmadd_ps(neg, _mm512_loadu_ps(grad + i + 48),
                                          _mm512_loadu_ps(param + i + 48));
        _mm512_storeu_ps(param + i, p0);
        _mm512_storeu_ps(param + i + 16, p1);
        _mm512_storeu_ps(param + i + 32, p2);
        _mm512_storeu_ps(param + i + 48, p3);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(param + i, _mm512_fmadd_ps(neg, _mm512_loadu_ps(grad + i),
                                                    _mm512_loadu_ps(param + i)));
    if (i < n) {
        const __mmask16 k = bpq_avx512_mask(n - i);
        _mm512_mask_storeu_ps(param + i, k,
                              _mm512_fmadd_ps(neg, _mm512_maskz_loadu_ps(k, grad + i),
                                              _mm512_maskz_loadu_ps(k, param + i)));
    }
}
