/* math_p.h - AVX-512 lane-by-lane form of the canonical recipes of canon.h. */
#ifndef BPQ_AVX512_MATH_P_H
#define BPQ_AVX512_MATH_P_H

/*
 * Operation for operation the AVX2 recipes of avx2/math_p.h (themselves the
 * scalar ones of scalar/math_p.h), 16 lanes wide: the same constants, the
 * same fmas, the same conversions, so every lane gives the scalar bits.
 * Selects are opmask blends; no approximate instruction (vrcp14, vrsqrt14,
 * vgetexp, vscalef, vfixupimm) is used, so nothing here needs a proof beyond
 * the scalar one. Use only from files compiled with the AVX-512 flags.
 *
 *   bpq_avx512_exp/log/sigmoid/tanh/relu/abs(x), act(act, z), dact(act, a)
 *   bpq_avx512_mask(k)             lanes 0..k-1 of a __mmask16 (k <= 16)
 *   bpq_avx512_rowsum_finish(p)    canon.h's fixed tree over the 16 partials
 *                                  held in one register (lane j = partial j)
 *   bpq_avx512_store_first(p, k, v) lanes 0..k-1 of v with plain stores
 *   bpq_avx512_softmax_row(row, n) bpq_avx512_act_row(act, row, n)
 * Masked loads never fault on the lanes they leave out, and masked stores
 * never write them, so tails need no scalar code.
 */

#include <float.h>
#include <immintrin.h>
#include <stddef.h>

#include "bpq.h"
#include "canon.h"

#define BPQ_AVX512_INLINE __attribute__((always_inline)) static inline

static inline __mmask16 bpq_avx512_mask(size_t k) {
    return k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << k) - 1u);
}

static inline __m512 bpq_avx512_abs(__m512 x) {
    return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x);
}

/* max(c, x) is "c > x ? c : x" on every x86 vector width, i.e. canon's
 * "x < c ? c : x" with NaN passing through; min likewise. */
static inline __m512 bpq_avx512_exp(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(BPQ_EXP_MIN), x);
    x = _mm512_min_ps(_mm512_set1_ps(BPQ_EXP_MAX), x);
    const __m512 shifter = _mm512_set1_ps(BPQ_SHIFTER);
    __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(BPQ_LOG2E), shifter), shifter);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-BPQ_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-BPQ_LN2_LO), r);
    __m512 p = _mm512_set1_ps(BPQ_EXP_P6);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BPQ_EXP_P5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BPQ_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BPQ_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BPQ_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    /* As in AVX2: n is an integer in [-150, 127] (exact conversion; NaN
     * gives INT_MIN). With every k >= -125, p * 2^k1 * 2^k2 is exact and
     * equals p with k added to its exponent field. Otherwise the two
     * canonical steps: the first exact, the second rounding once. */
    const __m512i k = _mm512_cvtps_epi32(n);
    if (_mm512_cmpgt_epi32_mask(_mm512_set1_epi32(-125), k) == 0)
        return _mm512_castsi512_ps(
            _mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(k, 23)));
    const __m512i k1 = _mm512_srai_epi32(k, 1);
    const __m512i k2 = _mm512_sub_epi32(k, k1);
    const __m512i pk1 = _mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(k1, 23));
    const __m512i s2 = _mm512_slli_epi32(_mm512_add_epi32(k2, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(_mm512_castsi512_ps(pk1), _mm512_castsi512_ps(s2));
}

static inline __m512 bpq_avx512_log(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(FLT_MIN), x);
    x = _mm512_min_ps(_mm512_set1_ps(FLT_MAX), x);
    /* The carry trick of avx2/math_p.h: adding 0x7fffff - B (B the mantissa
     * bits of SQRT2) carries into the exponent exactly when m > SQRT2. */
    const int sqrt2_bits = 0x3504f3;
    const int carry = 0x7fffff - sqrt2_bits;
    const __m512i t = _mm512_add_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(carry));
    const __m512i b = _mm512_and_si512(t, _mm512_set1_epi32(0x7fffff));
    const __m512 m =
        _mm512_castsi512_ps(_mm512_add_epi32(b, _mm512_set1_epi32(0x3f800000 - carry)));
    const __m512i k = _mm512_sub_epi32(_mm512_srli_epi32(t, 23), _mm512_set1_epi32(127));
    const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
    const __m512 s = _mm512_div_ps(f, _mm512_add_ps(_mm512_set1_ps(2.0f), f));
    const __m512 z = _mm512_mul_ps(s, s);
    const __m512 s2 = _mm512_add_ps(s, s);
    __m512 q = _mm512_set1_ps(BPQ_LOG_P2);
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(BPQ_LOG_P1));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(BPQ_LOG_P0));
    const __m512 l = _mm512_fmadd_ps(_mm512_mul_ps(s2, z), q, s2);
    const __m512 kf = _mm512_cvtepi32_ps(k);
    const __m512 res = _mm512_fmadd_ps(kf, _mm512_set1_ps(BPQ_LN2_HI),
                                       _mm512_fmadd_ps(kf, _mm512_set1_ps(BPQ_LN2_LO), l));
    /* NaN lanes were turned into numbers by the bit work: put x back. */
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), res, x);
}

static inline __m512 bpq_avx512_sigmoid(__m512 z) {
    const __m512 e = bpq_avx512_exp(_mm512_or_ps(z, _mm512_set1_ps(-0.0f))); /* exp(-|z|) */
    const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), e);
    const __mmask16 pos = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_div_ps(_mm512_mask_blend_ps(pos, e, _mm512_set1_ps(1.0f)), d);
}

/* Both branches, the small one kept where |z| < SMALL (false for NaN). */
static inline __m512 bpq_avx512_tanh(__m512 z) {
    const __m512 az = bpq_avx512_abs(z);
    const __m512 w = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(BPQ_TANH_P4);
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(BPQ_TANH_P3));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(BPQ_TANH_P2));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(BPQ_TANH_P1));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(BPQ_TANH_P0));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(z, w), p, z);
    const __m512 c = _mm512_min_ps(_mm512_set1_ps(BPQ_TANH_CLAMP), az);
    const __m512 e = bpq_avx512_exp(_mm512_add_ps(c, c));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t =
        _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    const __m512 large = _mm512_or_ps(t, _mm512_and_ps(z, _mm512_set1_ps(-0.0f)));
    const __mmask16 is_small = _mm512_cmp_ps_mask(az, _mm512_set1_ps(BPQ_TANH_SMALL), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, large, small);
}

/* z <= 0 ? +0 : z: keep the lanes where that test is false (z > 0 or NaN). */
static inline __m512 bpq_avx512_relu(__m512 z) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_NLE_UQ), z);
}

static inline __m512 bpq_avx512_act(bpq_act act, __m512 z) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return bpq_avx512_sigmoid(z);
    case BPQ_ACT_TANH:
        return bpq_avx512_tanh(z);
    case BPQ_ACT_RELU:
        return bpq_avx512_relu(z);
    default:
        return z;
    }
}

/* fma(-a, a, c) with the sign flipped by xor, as AVX2 writes it. */
static inline __m512 bpq_avx512_dact(bpq_act act, __m512 a) {
    const __m512 neg = _mm512_xor_ps(a, _mm512_set1_ps(-0.0f));
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return _mm512_fmadd_ps(neg, a, a);
    case BPQ_ACT_TANH:
        return _mm512_fmadd_ps(neg, a, _mm512_set1_ps(1.0f));
    case BPQ_ACT_RELU: {
        /* a > 0 ? 1 : (a <= 0 ? 0 : a): 1 where positive, a where NaN, else +0. */
        const __mmask16 pos = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ);
        const __mmask16 nan = _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
        return _mm512_mask_mov_ps(_mm512_maskz_mov_ps(nan, a), pos, _mm512_set1_ps(1.0f));
    }
    default:
        return _mm512_set1_ps(1.0f);
    }
}

/* Stores lanes 0..k-1 of v to p (k <= 16) with plain stores of 8, 4, 2
 * and 1 floats. Used where a later load soon reads near p (the next row
 * of a short-row loop): a load that overlaps the 64 bytes a masked store
 * spans, even only its masked-off lanes, cannot take its data from that
 * store and waits until the store has left the core. */
static inline void bpq_avx512_store_first(float *p, size_t k, __m512 v) {
    if (k >= 16) {
        _mm512_storeu_ps(p, v);
        return;
    }
    __m256 y = _mm512_castps512_ps256(v);
    if (k & 8) {
        _mm256_storeu_ps(p, y);
        y = _mm512_extractf32x8_ps(v, 1);
        p += 8;
    }
    __m128 x = _mm256_castps256_ps128(y);
    if (k & 4) {
        _mm_storeu_ps(p, x);
        x = _mm256_extractf128_ps(y, 1);
        p += 4;
    }
    if (k & 2) {
        _mm_storel_pi((__m64 *)(void *)p, x);
        x = _mm_movehl_ps(x, x);
        p += 2;
    }
    if (k & 1)
        _mm_store_ss(p, x);
}

/* The fixed tree of canon.h: p[i] += p[i+w] for w = 8, 4, 2, 1. */
static inline float bpq_avx512_rowsum_finish(__m512 p) {
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(p), _mm512_extractf32x8_ps(p, 1));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
    return _mm_cvtss_f32(s1);
}

/* Softmax of one row in place: the maximum (any order gives the same
 * z - m, see avx2/math_p.h), e_j = exp(z_j - m) stored and summed into the
 * 16 canonical partials (element j into lane j % 16: a vector of 16
 * elements from the row's start is exactly one step of every partial),
 * then e_j / S. The last n % 16 elements stay in a register all along. */
static inline void bpq_avx512_softmax_row(float *row, size_t n) {
    const size_t full = n & ~(size_t)15, rem = n - full;
    const __mmask16 km = bpq_avx512_mask(rem);
    __m512 t = _mm512_maskz_loadu_ps(km, row + full);
    /* lanes past the end take row[0], which is in the row anyway */
    __m512 mx = _mm512_mask_blend_ps(km, _mm512_set1_ps(row[0]), t);
    for (size_t j = 0; j < full; j += 16)
        mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
    const __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(mx), _mm512_extractf32x8_ps(mx, 1));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const __m512 m = _mm512_broadcastss_ps(h);

    __m512 acc = _mm512_setzero_ps();
    for (size_t j = 0; j < full; j += 16) {
        const __m512 e = bpq_avx512_exp(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
        _mm512_storeu_ps(row + j, e);
        acc = _mm512_add_ps(acc, e);
    }
    /* lanes past the end add +0 (a partial is never -0, so this is exact) */
    t = _mm512_maskz_mov_ps(km, bpq_avx512_exp(_mm512_sub_ps(t, m)));
    acc = _mm512_add_ps(acc, t);
    const __m512 s = _mm512_set1_ps(bpq_avx512_rowsum_finish(acc));
    for (size_t j = 0; j < full; j += 16)
        _mm512_storeu_ps(row + j, _mm512_div_ps(_mm512_loadu_ps(row + j), s));
    if (rem) /* plain stores: the next row's loads would wait on a masked one */
        bpq_avx512_store_first(row + full, rem, _mm512_div_ps(t, s));
}

static inline void bpq_avx512_act_row(bpq_act act, float *row, size_t n) {
    if (act == BPQ_ACT_IDENTITY || act == BPQ_ACT_SOFTMAX)
        return;
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(row + j, bpq_avx512_act(act, _mm512_loadu_ps(row + j)));
    if (j < n) {
        const __mmask16 k = bpq_avx512_mask(n - j);
        _mm512_mask_storeu_ps(row + j, k, bpq_avx512_act(act, _mm512_maskz_loadu_ps(k, row + j)));
    }
}

#endif /* BPQ_AVX512_MATH_P_H */
