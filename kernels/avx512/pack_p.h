/* pack_p.h - AVX-512 packing of GEMM operands into 32-wide panels and 12-row groups. */
#ifndef BPQ_AVX512_PACK_P_H
#define BPQ_AVX512_PACK_P_H

#include <immintrin.h>
#include <stddef.h>

#include "avx512/math_p.h"
#include "gemm/gemm.h"

/* The driver's tile (see gemm_p.h for why 12 x 32): a block ends in no
 * tile of fewer than 4 rows when avoidable (2 vectors a row: 8 chains). */
#define BPQ_AVX512_MR 12
#define BPQ_AVX512_NR 32
#define BPQ_AVX512_MIN_ROWS 4
static inline size_t bpq_avx512_tile_rows(size_t rem) {
    return bpq_gemm_tile_rows(rem, BPQ_AVX512_MR, BPQ_AVX512_MIN_ROWS);
}

/* Mask of the valid lanes of vector v of a row of w columns (16 per vector). */
BPQ_AVX512_INLINE __mmask16 bpq_avx512_strip_mask(size_t w, int v) {
    const size_t lo = 16 * (size_t)v;
    return bpq_avx512_mask(w <= lo ? 0 : w - lo);
}

/* Vector v of a strip row of w valid floats; lanes past w read +0 (and are
 * not read from memory, so a strip may end at the end of a mapping). */
BPQ_AVX512_INLINE __m512 bpq_avx512_strip_load(const float *p, size_t w, int v) {
    if (w >= 16 * (size_t)v + 16)
        return _mm512_loadu_ps(p + 16 * v);
    return _mm512_maskz_loadu_ps(bpq_avx512_strip_mask(w, v), p + 16 * v);
}

BPQ_AVX512_INLINE void bpq_avx512_strip_store(float *p, size_t w, int v, __m512 x) {
    if (w >= 16 * (size_t)v + 16)
        _mm512_storeu_ps(p + 16 * v, x);
    else
        _mm512_mask_storeu_ps(p + 16 * v, bpq_avx512_strip_mask(w, v), x);
}

/* In-register 8 x 8 transpose of ymm rows: on return r[t] holds element t
 * of every input row. (Shuffles within 128-bit lanes, then across them.) */
BPQ_AVX512_INLINE void bpq_avx512_transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/*
 * kc rows of B whose rows run along n (w_next in BP2, x in BP4), cols
 * floats each, into ceil(cols / 32) panels: panel s at dst + 32 kc s,
 * dst[32 kc s + 32 k + n] = src[k ld + 32 s + n], +0 past cols. Each row
 * is read front to back over the whole chunk (long runs for the
 * prefetchers and one TLB entry per row); the last panel's loads are
 * masked, so nothing past a row's cols is touched.
 */
BPQ_AVX512_INLINE void bpq_avx512_pack_rows(const float *src, size_t ld, size_t kc, size_t cols,
                                            float *dst) {
    if (cols == 32) {
        for (size_t k = 0; k < kc; k++) {
            _mm512_store_ps(dst + 32 * k, _mm512_loadu_ps(src + k * ld));
            _mm512_store_ps(dst + 32 * k + 16, _mm512_loadu_ps(src + k * ld + 16));
        }
        return;
    }
    const size_t full = cols / 32, w = cols % 32, step = 32 * kc;
    const __mmask16 m0 = bpq_avx512_strip_mask(w, 0), m1 = bpq_avx512_strip_mask(w, 1);
    for (size_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + 32 * k;
        for (size_t p = 0; p < full; p++, s += 32, d += step) {
            _mm512_store_ps(d, _mm512_loadu_ps(s));
            _mm512_store_ps(d + 16, _mm512_loadu_ps(s + 16));
        }
        if (w) {
            _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s));
            _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
        }
    }
}

/* Rows q < rows of src (ld apart) at k steps [k, k + 8) (masked to km),
 * +0 for the others, transposed: r[t] = step k + t of the 8 rows. */
BPQ_AVX512_INLINE void bpq_avx512_load8x8(const float *s, size_t ld, size_t rows, __mmask8 km,
                                          __m256 r[8]) {
    for (size_t q = 0; q < 8; q++)
        r[q] = q < rows ? _mm256_maskz_loadu_ps(km, s + q * ld) : _mm256_setzero_ps();
    bpq_avx512_transpose8(r);
}

/*
 * One panel of B = W^T for the forward pass: dst[32 k + n] = src[n ld + k]
 * for k < kc, n < w (w <= 32), +0 for n >= w. W's rows run along k, so 8
 * rows at a time are read 8 floats wide and transposed in registers.
 */
BPQ_AVX512_INLINE void bpq_avx512_pack_trans(const float *src, size_t ld, size_t kc, size_t w,
                                             float *dst) {
    for (size_t g = 0; g < 4; g++) {
        const size_t rows = w <= 8 * g ? 0 : (w - 8 * g >= 8 ? 8 : w - 8 * g);
        float *d = dst + 8 * g;
        const float *s = src + 8 * g * ld;
        if (rows == 0) {
            for (size_t k = 0; k < kc; k++)
                _mm256_store_ps(d + 32 * k, _mm256_setzero_ps());
            continue;
        }
        __m256 r[8];
        size_t k = 0;
        if (rows == 8) {
            for (; k + 8 <= kc; k += 8) {
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++)
                    r[q] = _mm256_loadu_ps(s + q * ld + k);
                bpq_avx512_transpose8(r);
#pragma GCC unroll 8
                for (int t = 0; t < 8; t++)
                    _mm256_store_ps(d + 32 * (k + t), r[t]);
            }
        } else {
            for (; k + 8 <= kc; k += 8) {
                bpq_avx512_load8x8(s + k, ld, rows, 0xff, r);
                for (int t = 0; t < 8; t++)
                    _mm256_store_ps(d + 32 * (k + t), r[t]);
            }
        }
        if (k < kc) {
            bpq_avx512_load8x8(s + k, ld, rows, (__mmask8)((1u << (kc - k)) - 1u), r);
            for (size_t t = 0; t < kc - k; t++)
                _mm256_store_ps(d + 32 * (k + t), r[t]);
        }
    }
}

/*
 * A for BP4, A[m, k] = src[k ld + m] (a block of columns of delta), one
 * group per tile as bpq_avx512_tile_rows cuts the block: group g at dst +
 * 12 kc g, k step k of it at + 12 k, read by the microkernel with lda 12.
 * Each row of delta is read once, contiguously (rows outer). Loads and
 * stores are masked: nothing past the block's columns is read, and no
 * slack is needed after a group.
 */
BPQ_AVX512_INLINE void bpq_avx512_pack_cols12(const float *src, size_t ld, size_t kc,
                                              size_t cols, size_t avail, float *dst) {
    (void)avail;
    const size_t gs = BPQ_AVX512_MR * kc;
    for (size_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + BPQ_AVX512_MR * k;
        for (size_t c = 0, r; c < cols; c += r, d += gs) {
            r = bpq_avx512_tile_rows(cols - c);
            _mm512_mask_storeu_ps(d, 0x0fff, _mm512_maskz_loadu_ps(bpq_avx512_mask(r), s + c));
        }
    }
}

/*
 * A for forward and BP2, A[m, k] = src[m lda + k] (rows along k), in the
 * layout of bpq_avx512_pack_cols12. A group's rows 0-7 and 8-11 are each
 * read 8 k steps at a time and transposed in registers; step k's 12
 * values are stored as 8 + 4 (lanes for rows past the group are +0).
 */
BPQ_AVX512_INLINE void bpq_avx512_pack_rows12(const float *src, size_t lda, size_t kc,
                                              size_t rows, float *dst) {
    const size_t gs = BPQ_AVX512_MR * kc;
    for (size_t r0 = 0, n; r0 < rows; r0 += n, dst += gs) {
        n = bpq_avx512_tile_rows(rows - r0);
        const float *s = src + r0 * lda;
        const size_t lo = n < 8 ? n : 8, hi = n > 8 ? n - 8 : 0;
        __m256 a[8], b[8];
        size_t k = 0;
        if (n == 12) {
            for (; k + 8 <= kc; k += 8) {
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++)
                    a[q] = _mm256_loadu_ps(s + (size_t)q * lda + k);
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++)
                    b[q] = _mm256_loadu_ps(s + (size_t)(q + 8) * lda + k);
                b[4] = b[5] = b[6] = b[7] = _mm256_setzero_ps();
                bpq_avx512_transpose8(a);
                bpq_avx512_transpose8(b);
#pragma GCC unroll 8
                for (int t = 0; t < 8; t++) {
                    _mm256_storeu_ps(dst + 12 * (k + (size_t)t), a[t]);
                    _mm_storeu_ps(dst + 12 * (k + (size_t)t) + 8, _mm256_castps256_ps128(b[t]));
                }
            }
        }
        for (; k < kc; k += 8) {
            const size_t steps = kc - k < 8 ? kc - k : 8;
            const __mmask8 km = (__mmask8)((1u << steps) - 1u);
            bpq_avx512_load8x8(s + k, lda, lo, km, a);
            bpq_avx512_load8x8(hi ? s + 8 * lda + k : s + k, lda, hi, km, b);
            for (size_t t = 0; t < steps; t++) {
                _mm256_storeu_ps(dst + 12 * (k + t), a[t]);
                _mm_storeu_ps(dst + 12 * (k + t) + 8, _mm256_castps256_ps128(b[t]));
            }
        }
    }
}

#endif /* BPQ_AVX512_PACK_P_H */
