/* pack_p.h - AVX2 packing of GEMM operands into contiguous panels, and an 8x8 transpose. */
#ifndef BPQ_AVX2_PACK_P_H
#define BPQ_AVX2_PACK_P_H

#include <immintrin.h>
#include <stddef.h>

#include "avx2/math_p.h"
#include "gemm/gemm.h"

#define BPQ_AVX2_INLINE __attribute__((always_inline)) static inline

/* The driver's tile: 6 rows, and a block ends in no tile of fewer than 4
 * (a tile of r rows has 2 r chains; 2 FMA pipes of 4 cycles need 8). */
#define BPQ_AVX2_MR 6
#define BPQ_AVX2_NR 16
#define BPQ_AVX2_MIN_ROWS 4
static inline size_t bpq_avx2_tile_rows(size_t rem) {
    return bpq_gemm_tile_rows(rem, BPQ_AVX2_MR, BPQ_AVX2_MIN_ROWS);
}

/* Mask of the valid lanes of vector v (0 or 1) of a strip w columns wide. */
BPQ_AVX2_INLINE __m256i bpq_avx2_strip_mask(size_t w, int v) {
    size_t lo = 8 * (size_t)v;
    return bpq_avx2_mask(w <= lo ? 0 : (w - lo >= 8 ? 8 : w - lo));
}

/* Loads the w <= 16 valid floats of a strip row; lanes past w read as +0. */
BPQ_AVX2_INLINE __m256 bpq_avx2_strip_load(const float *p, size_t w, int v) {
    if (w >= 8 * (size_t)v + 8)
        return _mm256_loadu_ps(p + 8 * v);
    return _mm256_maskload_ps(p + 8 * v, bpq_avx2_strip_mask(w, v));
}

/* Stores the valid lanes of vector v of a strip row w columns wide. */
BPQ_AVX2_INLINE void bpq_avx2_strip_store(float *p, size_t w, int v, __m256 x) {
    if (w >= 8 * (size_t)v + 8)
        _mm256_storeu_ps(p + 8 * v, x);
    else
        _mm256_maskstore_ps(p + 8 * v, bpq_avx2_strip_mask(w, v), x);
}

/* src[0], src[ld], ..., src[(cnt - 1) ld] in lanes 0..cnt-1 (1 <= cnt <= 8),
 * +0 in the others, which are not read. Built in registers, not through
 * memory. */
BPQ_AVX2_INLINE __m256 bpq_avx2_load_column(const float *src, size_t ld, size_t cnt) {
#define BPQ_AVX2_LANE(l) ((l) < cnt ? src[(l) * ld] : 0.0f)
    return _mm256_set_ps(BPQ_AVX2_LANE(7), BPQ_AVX2_LANE(6), BPQ_AVX2_LANE(5), BPQ_AVX2_LANE(4),
                         BPQ_AVX2_LANE(3), BPQ_AVX2_LANE(2), BPQ_AVX2_LANE(1), src[0]);
#undef BPQ_AVX2_LANE
}

/* In-register transpose: on return r[t] holds element t of every input row. */
BPQ_AVX2_INLINE void bpq_avx2_transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
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
 * A chunk of a matrix whose rows already run along n (w_next in BP2, x in
 * BP4): kc rows of cols floats into ceil(cols / 16) panels, panel s at dst
 * + 16 kc s, dst[16 kc s + 16 k + n] = src[k ld + 16 s + n], +0 past cols.
 * Each row is read front to back across the whole chunk, a run long
 * enough for the prefetchers and one TLB entry per row (16 columns at a
 * time read one line of each row, a page apart when ld >= 1024). The zero
 * lanes only ever feed outputs that are not stored.
 */
BPQ_AVX2_INLINE void bpq_avx2_pack_rows(const float *src, size_t ld, size_t kc, size_t cols,
                                        float *dst) {
    if (cols == 16) { /* one full panel: the common case, without the loop over panels */
        for (size_t k = 0; k < kc; k++) {
            _mm256_store_ps(dst + 16 * k, _mm256_loadu_ps(src + k * ld));
            _mm256_store_ps(dst + 16 * k + 8, _mm256_loadu_ps(src + k * ld + 8));
        }
        return;
    }
    const size_t full = cols / 16, w = cols % 16, step = 16 * kc;
    const __m256i m0 = bpq_avx2_strip_mask(w, 0), m1 = bpq_avx2_strip_mask(w, 1);
    for (size_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + 16 * k;
        for (size_t p = 0; p < full; p++, s += 16, d += step) {
            _mm256_store_ps(d, _mm256_loadu_ps(s));
            _mm256_store_ps(d + 8, _mm256_loadu_ps(s + 8));
        }
        if (w) {
            _mm256_store_ps(d, _mm256_maskload_ps(s, m0));
            _mm256_store_ps(d + 8, _mm256_maskload_ps(s + 8, m1));
        }
    }
}

/*
 * dst[16 k + n] = src[n * ld + k] for k < kc, n < w (w <= 16), +0 for n >= w:
 * a strip of W^T for the forward pass, whose W rows run along k. Eight rows
 * at a time are read 8 floats wide and transposed in registers.
 */
BPQ_AVX2_INLINE void bpq_avx2_pack_trans(const float *src, size_t ld, size_t kc, size_t w,
                                         float *dst) {
    for (size_t g = 0; g < 2; g++) {
        size_t rows = w <= 8 * g ? 0 : (w - 8 * g >= 8 ? 8 : w - 8 * g);
        float *d = dst + 8 * g;
        const float *s = src + 8 * g * ld;
        if (rows == 0) {
            for (size_t k = 0; k < kc; k++)
                _mm256_store_ps(d + 16 * k, _mm256_setzero_ps());
            continue;
        }
        __m256 r[8];
        size_t k = 0;
        if (rows == 8) {
            for (; k + 8 <= kc; k += 8) {
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++)
                    r[q] = _mm256_loadu_ps(s + q * ld + k);
                bpq_avx2_transpose8(r);
#pragma GCC unroll 8
                for (int t = 0; t < 8; t++)
                    _mm256_store_ps(d + 16 * (k + t), r[t]);
            }
        } else {
            for (; k + 8 <= kc; k += 8) {
                for (size_t q = 0; q < 8; q++)
                    r[q] = q < rows ? _mm256_loadu_ps(s + q * ld + k) : _mm256_setzero_ps();
                bpq_avx2_transpose8(r);
                for (int t = 0; t < 8; t++)
                    _mm256_store_ps(d + 16 * (k + t), r[t]);
            }
        }
        if (k < kc) {
            const __m256i km = bpq_avx2_mask(kc - k);
            for (size_t q = 0; q < 8; q++)
                r[q] = q < rows ? _mm256_maskload_ps(s + q * ld + k, km) : _mm256_setzero_ps();
            bpq_avx2_transpose8(r);
            for (size_t t = 0; t < kc - k; t++)
                _mm256_store_ps(d + 16 * (k + t), r[t]);
        }
    }
}

/*
 * Packs A for BP4, where A[m, k] = src[k * ld + m] (a block of columns of
 * delta), one group per tile as bpq_avx2_tile_rows cuts the block: group
 * g at dst + g (6 kc + 2), k step k of it at + 6 k, so the microkernel
 * reads it with lda = 6. Rows are walked in the outer loop so that each
 * row of delta is read once, contiguously: with a power-of-two row length
 * the rows share one L1 set, so a column-wise walk would fetch each line
 * from L2 several times. avail = columns that exist to the right of src
 * in its row; a full 8-float load is used only where it stays inside.
 * Each store writes 8 floats: the extra ones land in the next k slot,
 * written later, or in the 2 floats of slack after each group, and are
 * never read.
 */
#define BPQ_AVX2_COLS6_STRIDE(kc) (6 * (kc) + 2)

BPQ_AVX2_INLINE void bpq_avx2_pack_cols6(const float *src, size_t ld, size_t kc, size_t cols,
                                         size_t avail, float *dst) {
    const size_t gs = BPQ_AVX2_COLS6_STRIDE(kc);
    for (size_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + 6 * k;
        for (size_t c = 0, r; c < cols; c += r, d += gs) {
            r = bpq_avx2_tile_rows(cols - c);
            __m256 v = c + 8 <= avail ? _mm256_loadu_ps(s + c)
                                      : _mm256_maskload_ps(s + c, bpq_avx2_mask(r));
            _mm256_storeu_ps(d, v);
        }
    }
}

/*
 * Packs A for forward and BP2, where A[m, k] = src[m * lda + k] (rows of x
 * or delta_next along k), in the layout of bpq_avx2_pack_cols6: group g of
 * up to 6 rows at dst + g (6 kc + 2), k step k at + 6 k. Eight k steps of
 * a group are 6 rows read 8 floats wide and transposed in registers; each
 * column is then stored 8 floats wide at 6 apart, in ascending k, so a
 * store's last 2 floats are overwritten by the next one (or land in the
 * group's slack).
 */
BPQ_AVX2_INLINE void bpq_avx2_pack_rows6(const float *src, size_t lda, size_t kc, size_t rows,
                                         float *dst) {
    const size_t gs = BPQ_AVX2_COLS6_STRIDE(kc);
    for (size_t r0 = 0, n; r0 < rows; r0 += n, dst += gs) {
        n = bpq_avx2_tile_rows(rows - r0);
        const float *s = src + r0 * lda;
        __m256 r[8];
        size_t k = 0;
        if (n == 6) {
            for (; k + 8 <= kc; k += 8) {
#pragma GCC unroll 6
                for (int q = 0; q < 6; q++)
                    r[q] = _mm256_loadu_ps(s + (size_t)q * lda + k);
                r[6] = r[7] = _mm256_setzero_ps();
                bpq_avx2_transpose8(r);
#pragma GCC unroll 8
                for (int t = 0; t < 8; t++)
                    _mm256_storeu_ps(dst + 6 * (k + (size_t)t), r[t]);
            }
        } else {
            for (; k + 8 <= kc; k += 8) {
                for (size_t q = 0; q < 8; q++)
                    r[q] = q < n ? _mm256_loadu_ps(s + q * lda + k) : _mm256_setzero_ps();
                bpq_avx2_transpose8(r);
                for (size_t t = 0; t < 8; t++)
                    _mm256_storeu_ps(dst + 6 * (k + t), r[t]);
            }
        }
        if (k < kc) {
            const __m256i km = bpq_avx2_mask(kc - k);
            for (size_t q = 0; q < 8; q++)
                r[q] = q < n ? _mm256_maskload_ps(s + q * lda + k, km) : _mm256_setzero_ps();
            bpq_avx2_transpose8(r);
            for (size_t t = 0; t < kc - k; t++)
                _mm256_storeu_ps(dst + 6 * (k + t), r[t]);
        }
    }
}

#endif /* BPQ_AVX2_PACK_P_H */
