/* math_p.h - AVX2+FMA lane-by-lane form of the canonical recipes of canon.h. */
#ifndef BPQ_AVX2_MATH_P_H
#define BPQ_AVX2_MATH_P_H

/*
 * Every function here computes, in each of the 8 lanes, exactly the IEEE
 * operations of the matching scalar function in kernels/scalar/math_p.h, so
 * results are bit-identical to it (NaN results are NaN; only their payload
 * may differ). Use only from files compiled with -mavx2 -mfma.
 *
 * Vector math (one __m256 in, one out):
 *   bpq_avx2_exp(x)  bpq_avx2_log(x)  bpq_avx2_sigmoid(z)  bpq_avx2_tanh(z)
 *   bpq_avx2_relu(z)  bpq_avx2_abs(x)
 *   bpq_avx2_act(act, z)    elementwise activation; identity and softmax give z
 *   bpq_avx2_dact(act, a)   act'(z) from the output a; identity (and softmax) give 1.
 *                           A delta is g * dact(a); for identity that product
 *                           equals g, so skipping it is also exact.
 * Tails (k = number of leading lanes, 0 <= k <= 8):
 *   bpq_avx2_mask(k)        lane mask for _mm256_maskload_ps (lanes past k read +0)
 *   bpq_avx2_tail_load(p, rem, &k0, &k1, &v0, &v1)  the last rem < 16 elements of
 *                           a row into two registers with their masks
 *   bpq_avx2_store_first(p, k, v)  stores lanes 0..k-1 with plain stores; use it
 *                           rather than _mm256_maskstore_ps wherever a later
 *                           load may touch the 32 bytes after p (next row):
 *                           such a load stalls until the masked store retires
 * Canonical 16-partial row sum (partials 0-7 in `lo`, 8-15 in `hi`; both
 * start at _mm256_setzero_ps(); element j of a row, counted from the row's
 * start, is added to lane j % 8 of lo when j % 16 < 8, else of hi; lanes past
 * the row's end add +0, which is exact because a partial is never -0):
 *   bpq_avx2_rowsum_finish(lo, hi)   the fixed final tree, returns the sum
 * Whole rows (n >= 1), in place, any alignment, never touching memory past row[n-1]:
 *   bpq_avx2_softmax_row(row, n)     same bits as scalar forward.c's softmax_row
 *   bpq_avx2_act_row(act, row, n)    row[j] = act(row[j]); softmax is not elementwise
 *                                    and is left alone (use softmax_row)
 */

#include <float.h>
#include <immintrin.h>
#include <stddef.h>

#include "bpq.h"
#include "canon.h"

static inline __m256 bpq_avx2_abs(__m256 x) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}

/* _mm256_max_ps(c, x) is "c > x ? c : x", which is exactly the canonical
 * "x < c ? c : x" for every x, NaN and signed zeros included; likewise
 * _mm256_min_ps(c, x) is "x > c ? c : x". */
static inline __m256 bpq_avx2_exp(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(BPQ_EXP_MIN), x);
    x = _mm256_min_ps(_mm256_set1_ps(BPQ_EXP_MAX), x);
    const __m256 shifter = _mm256_set1_ps(BPQ_SHIFTER);
    __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(BPQ_LOG2E), shifter), shifter);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-BPQ_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-BPQ_LN2_LO), r);
    __m256 p = _mm256_set1_ps(BPQ_EXP_P6);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BPQ_EXP_P5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BPQ_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BPQ_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BPQ_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* n is an integer in [-150, 127], so the conversion is exact; an
     * arithmetic shift is floor(k / 2). p lies in [0.7, 1.5] and k1 in
     * [-75, 63], so p * 2^k1 is a normal number and exact: adding k1 to p's
     * exponent field gives the same bits without a multiplication. Then
     * * 2^k2 rounds once, as in scalar. In a NaN lane the conversion gives
     * 0x80000000: k1 << 23 is 0, so p stays NaN, and 2^k2 is 1. */
    __m256i k = _mm256_cvtps_epi32(n);
    /* When every lane has k >= -125, p * 2^k is a normal number (p is at
     * least 0.7), so both canonical multiplications are exact and the
     * result is p with k added to its exponent field: the same bits in 2
     * operations instead of 7 (exp measured about 15% faster). Smaller k
     * (results near or below FLT_MIN) and NaN (k = INT_MIN) take the full
     * recipe below. */
    if (_mm256_movemask_ps(_mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_set1_epi32(-125), k))) == 0)
        return _mm256_castsi256_ps(
            _mm256_add_epi32(_mm256_castps_si256(p), _mm256_slli_epi32(k, 23)));
    __m256i k1 = _mm256_srai_epi32(k, 1);
    __m256i k2 = _mm256_sub_epi32(k, k1);
    __m256i pk1 = _mm256_add_epi32(_mm256_castps_si256(p), _mm256_slli_epi32(k1, 23));
    __m256i s2 = _mm256_slli_epi32(_mm256_add_epi32(k2, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(_mm256_castsi256_ps(pk1), _mm256_castsi256_ps(s2));
}

static inline __m256 bpq_avx2_log(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(FLT_MIN), x);
    x = _mm256_min_ps(_mm256_set1_ps(FLT_MAX), x);
    /* After the clamps every non-NaN lane is a positive normal number with
     * biased exponent e and mantissa bits b. Adding 0x800000 - 1 - B, B the
     * mantissa bits of SQRT2, carries into the exponent exactly when b > B,
     * i.e. when the mantissa m is above SQRT2: the exponent field of t is
     * then the canonical k + 127 (with its +1), and the low bits give back
     * b, from which m (halved when the carry happened) is rebuilt. */
    const int sqrt2_bits = 0x3504f3; /* mantissa bits of BPQ_SQRT2 */
    const int carry = 0x7fffff - sqrt2_bits;
    __m256i t = _mm256_add_epi32(_mm256_castps_si256(x), _mm256_set1_epi32(carry));
    __m256i b = _mm256_and_si256(t, _mm256_set1_epi32(0x7fffff));
    __m256 m = _mm256_castsi256_ps(_mm256_add_epi32(b, _mm256_set1_epi32(0x3f800000 - carry)));
    __m256i k = _mm256_sub_epi32(_mm256_srli_epi32(t, 23), _mm256_set1_epi32(127));
    __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
    __m256 s = _mm256_div_ps(f, _mm256_add_ps(_mm256_set1_ps(2.0f), f));
    __m256 z = _mm256_mul_ps(s, s);
    __m256 s2 = _mm256_add_ps(s, s);
    __m256 q = _mm256_set1_ps(BPQ_LOG_P2);
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(BPQ_LOG_P1));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(BPQ_LOG_P0));
    __m256 l = _mm256_fmadd_ps(_mm256_mul_ps(s2, z), q, s2);
    __m256 kf = _mm256_cvtepi32_ps(k);
    __m256 res = _mm256_fmadd_ps(kf, _mm256_set1_ps(BPQ_LN2_HI),
                                 _mm256_fmadd_ps(kf, _mm256_set1_ps(BPQ_LN2_LO), l));
    /* The bit manipulation turned NaN lanes into numbers: put x back. */
    return _mm256_blendv_ps(res, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static inline __m256 bpq_avx2_sigmoid(__m256 z) {
    __m256 e = bpq_avx2_exp(_mm256_or_ps(z, _mm256_set1_ps(-0.0f))); /* exp(-|z|) */
    __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), e);
    __m256 pos = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_div_ps(_mm256_blendv_ps(e, _mm256_set1_ps(1.0f), pos), d);
}

/* Both branches are computed and the small one is kept where |z| < SMALL
 * (false for NaN, which therefore takes the large branch as in scalar). */
static inline __m256 bpq_avx2_tanh(__m256 z) {
    __m256 az = bpq_avx2_abs(z);
    __m256 w = _mm256_mul_ps(z, z);
    __m256 p = _mm256_set1_ps(BPQ_TANH_P4);
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(BPQ_TANH_P3));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(BPQ_TANH_P2));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(BPQ_TANH_P1));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(BPQ_TANH_P0));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(z, w), p, z);
    __m256 c = _mm256_min_ps(_mm256_set1_ps(BPQ_TANH_CLAMP), az);
    __m256 e = bpq_avx2_exp(_mm256_add_ps(c, c));
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    __m256 large = _mm256_or_ps(t, _mm256_and_ps(z, _mm256_set1_ps(-0.0f)));
    __m256 is_small = _mm256_cmp_ps(az, _mm256_set1_ps(BPQ_TANH_SMALL), _CMP_LT_OQ);
    return _mm256_blendv_ps(large, small, is_small);
}

/* z <= 0 ? +0 : z: keep the lanes where that test is false (z > 0 or NaN). */
static inline __m256 bpq_avx2_relu(__m256 z) {
    return _mm256_and_ps(_mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_NLE_UQ), z);
}

static inline __m256 bpq_avx2_act(bpq_act act, __m256 z) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return bpq_avx2_sigmoid(z);
    case BPQ_ACT_TANH:
        return bpq_avx2_tanh(z);
    case BPQ_ACT_RELU:
        return bpq_avx2_relu(z);
    default:
        return z;
    }
}

/* fma(-a, a, c) written as such: _mm256_fnmadd_ps(a, a, c) rounds the same
 * on hardware but valgrind emulates it with the wrong sign for an exact zero
 * (-0 for a = 1), which would fail the bitwise tests under valgrind. */
static inline __m256 bpq_avx2_dact(bpq_act act, __m256 a) {
    const __m256 neg = _mm256_xor_ps(a, _mm256_set1_ps(-0.0f));
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return _mm256_fmadd_ps(neg, a, a);
    case BPQ_ACT_TANH:
        return _mm256_fmadd_ps(neg, a, _mm256_set1_ps(1.0f));
    case BPQ_ACT_RELU: {
        /* a > 0 ? 1 : (a <= 0 ? 0 : a): 1 where positive, a where NaN, else +0. */
        __m256 pos = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ);
        __m256 nan = _mm256_cmp_ps(a, a, _CMP_UNORD_Q);
        return _mm256_or_ps(_mm256_and_ps(pos, _mm256_set1_ps(1.0f)), _mm256_and_ps(nan, a));
    }
    default:
        return _mm256_set1_ps(1.0f);
    }
}

/* Lanes 0..k-1 set (all-ones), the rest clear. */
static inline __m256i bpq_avx2_mask(size_t k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Stores lanes 0..k-1 of v to p (0 <= k <= 8) with plain stores of 4, 2
 * and 1 floats. Preferred over _mm256_maskstore_ps: a later load that
 * overlaps the 32 bytes a masked store spans, even only its masked-off
 * lanes (say the start of the next row), waits until that store has left
 * the core, which made a loop over short rows about 4x slower. */
static inline void bpq_avx2_store_first(float *p, size_t k, __m256 v) {
    if (k >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 x = _mm256_castps256_ps128(v);
    if (k & 4) {
        _mm_storeu_ps(p, x);
        x = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (k & 2) {
        _mm_storel_epi64((__m128i *)(void *)p, _mm_castps_si128(x));
        x = _mm_movehl_ps(x, x);
        p += 2;
    }
    if (k & 1)
        _mm_store_ss(p, x);
}

/* The fixed tree of canon.h: p[i] += p[i+w] for w = 8, 4, 2, 1. */
static inline float bpq_avx2_rowsum_finish(__m256 lo, __m256 hi) {
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
    return _mm_cvtss_f32(s1);
}

/* Loads the last n % 16 elements of a row (those after its last full group
 * of 16) into two registers, lanes past the end reading +0. */
static inline void bpq_avx2_tail_load(const float *p, size_t rem, __m256i *k0, __m256i *k1,
                                      __m256 *v0, __m256 *v1) {
    *k0 = bpq_avx2_mask(rem < 8 ? rem : 8);
    *k1 = bpq_avx2_mask(rem > 8 ? rem - 8 : 0);
    *v0 = _mm256_maskload_ps(p, *k0);
    *v1 = _mm256_maskload_ps(p + 8, *k1);
}

/* The row is read from memory twice: once for the maximum, once for the
 * exponentials, which are stored and read back for the division. Its last
 * n % 16 elements are kept in registers all along instead, loaded once with
 * masks and stored once, so short rows cost one pass. */
static inline void bpq_avx2_softmax_row(float *row, size_t n) {
    const size_t full = n & ~(size_t)15, rem = n - full;
    __m256i k0, k1;
    __m256 t0, t1;
    bpq_avx2_tail_load(row + full, rem, &k0, &k1, &t0, &t1);

    /* The row maximum. Any order gives the same value except for the sign of
     * a zero maximum, which cannot change z - m: z - (+0) and z - (-0) differ
     * only for z = -0, and exp(+0) = exp(-0) = 1. A NaN or +inf makes every
     * output NaN whichever lanes the NaN-unaware max keeps. Lanes past the
     * end take row[0], which is in the row anyway. */
    const __m256 first = _mm256_set1_ps(row[0]);
    __m256 m0 = _mm256_blendv_ps(first, t0, _mm256_castsi256_ps(k0));
    __m256 m1 = _mm256_blendv_ps(first, t1, _mm256_castsi256_ps(k1));
    for (size_t j = 0; j < full; j += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(row + j));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(row + j + 8));
    }
    m0 = _mm256_max_ps(m0, m1);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const __m256 m = _mm256_broadcastss_ps(h);

    /* e_j = exp(z_j - m), summed into the 16 canonical partials; lanes past
     * the end are cleared so that they add +0. */
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (size_t j = 0; j < full; j += 16) {
        __m256 e0 = bpq_avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(row + j), m));
        __m256 e1 = bpq_avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(row + j + 8), m));
        _mm256_storeu_ps(row + j, e0);
        _mm256_storeu_ps(row + j + 8, e1);
        lo = _mm256_add_ps(lo, e0);
        hi = _mm256_add_ps(hi, e1);
    }
    t0 = _mm256_and_ps(bpq_avx2_exp(_mm256_sub_ps(t0, m)), _mm256_castsi256_ps(k0));
    t1 = _mm256_and_ps(bpq_avx2_exp(_mm256_sub_ps(t1, m)), _mm256_castsi256_ps(k1));
    lo = _mm256_add_ps(lo, t0);
    hi = _mm256_add_ps(hi, t1);
    const __m256 s = _mm256_set1_ps(bpq_avx2_rowsum_finish(lo, hi));

    /* a_j = e_j / S: a true division, as canon.h says. */
    for (size_t j = 0; j < full; j += 16) {
        _mm256_storeu_ps(row + j, _mm256_div_ps(_mm256_loadu_ps(row + j), s));
        _mm256_storeu_ps(row + j + 8, _mm256_div_ps(_mm256_loadu_ps(row + j + 8), s));
    }
    if (rem)
        bpq_avx2_store_first(row + full, rem < 8 ? rem : 8, _mm256_div_ps(t0, s));
    if (rem > 8)
        bpq_avx2_store_first(row + full + 8, rem - 8, _mm256_div_ps(t1, s));
}

static inline void bpq_avx2_act_row(bpq_act act, float *row, size_t n) {
    if (act == BPQ_ACT_IDENTITY || act == BPQ_ACT_SOFTMAX)
        return;
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 v0 = bpq_avx2_act(act, _mm256_loadu_ps(row + j));
        __m256 v1 = bpq_avx2_act(act, _mm256_loadu_ps(row + j + 8));
        _mm256_storeu_ps(row + j, v0);
        _mm256_storeu_ps(row + j + 8, v1);
    }
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(row + j, bpq_avx2_act(act, _mm256_loadu_ps(row + j)));
    if (j < n) {
        __m256i k = bpq_avx2_mask(n - j);
        bpq_avx2_store_first(row + j, n - j, bpq_avx2_act(act, _mm256_maskload_ps(row + j, k)));
    }
}

#endif /* BPQ_AVX2_MATH_P_H */
