/* math_p.h - NEON (AArch64 Advanced SIMD) lane-by-lane form of the canonical recipes of canon.h. */
#ifndef BPQ_NEON_MATH_P_H
#define BPQ_NEON_MATH_P_H

/*
 * Every function here computes, in each of the 4 lanes, exactly the IEEE
 * operations of the matching scalar function in kernels/scalar/math_p.h,
 * so results are bit-identical to it (NaN results are NaN; only their
 * payload may differ). FMAs are written out (vfmaq_f32: c + a*b rounded
 * once); the build has -ffp-contract=off, so nothing else is fused.
 *
 * NaN. AArch64's FMAX/FMIN (vmaxq_f32, vminq_f32) return NaN when either
 * operand is NaN, where x86's maxps returns its second operand. canon.h's
 * clamps are written "x < c ? c : x", which passes a NaN x through, and
 * for a constant c that is never NaN this is exactly what FMAX/FMIN do:
 * so exp's, log's and tanh's clamps are plain vmaxq/vminq. Where canon.h
 * wants a select that does not follow FMAX (relu, its derivative, sigmoid's
 * z >= 0), compares and bit selects (vbslq) are used instead.
 *
 * Vector math (one float32x4_t in, one out):
 *   bpq_neon_exp  bpq_neon_log  bpq_neon_sigmoid  bpq_neon_tanh  bpq_neon_relu
 *   bpq_neon_act(act, z)   identity and softmax give z
 *   bpq_neon_dact(act, a)  act'(z) from the output a; identity gives 1
 * Partial vectors (0 <= k <= 4 leading lanes, nothing outside them touched):
 *   bpq_neon_load_first(p, k)   lanes past k read +0
 *   bpq_neon_store_first(p, k, v)
 * Canonical 16-partial row sum: four registers q0..q3 hold partials 0-3,
 * 4-7, 8-11, 12-15 (element j of a row goes to lane j % 4 of q[(j / 4) % 4]);
 *   bpq_neon_rowsum_finish(q0, q1, q2, q3)   the fixed final tree
 * Whole rows, in place, never touching memory past row[n-1]:
 *   bpq_neon_softmax_row(row, n)   bpq_neon_act_row(act, row, n)
 */

#include <arm_neon.h>
#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "bpq.h"
#include "canon.h"

#define BPQ_NEON_INLINE __attribute__((always_inline)) static inline

BPQ_NEON_INLINE float32x4_t bpq_neon_splat(float x) { return vdupq_n_f32(x); }

BPQ_NEON_INLINE float32x4_t bpq_neon_exp(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(BPQ_EXP_MIN)); /* x < MIN ? MIN : x; NaN stays */
    x = vminq_f32(x, vdupq_n_f32(BPQ_EXP_MAX)); /* x > MAX ? MAX : x; NaN stays */
    const float32x4_t shifter = vdupq_n_f32(BPQ_SHIFTER);
    const float32x4_t n =
        vsubq_f32(vfmaq_f32(shifter, x, vdupq_n_f32(BPQ_LOG2E)), shifter);
    float32x4_t r = vfmaq_f32(x, n, vdupq_n_f32(-BPQ_LN2_HI));
    r = vfmaq_f32(r, n, vdupq_n_f32(-BPQ_LN2_LO));
    float32x4_t p = vdupq_n_f32(BPQ_EXP_P6);
    p = vfmaq_f32(vdupq_n_f32(BPQ_EXP_P5), p, r);
    p = vfmaq_f32(vdupq_n_f32(BPQ_EXP_P4), p, r);
    p = vfmaq_f32(vdupq_n_f32(BPQ_EXP_P3), p, r);
    p = vfmaq_f32(vdupq_n_f32(BPQ_EXP_P2), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    /* n is an integer in [-150, 127], so the conversion is exact (a NaN
     * lane converts to 0; p is NaN there and stays NaN below). The
     * arithmetic shift is floor(k / 2). p lies in [0.7, 1.5] and k1 in
     * [-75, 63], so p * 2^k1 is a normal number and exact: adding k1 to p's
     * exponent field is that multiplication. Then * 2^k2 rounds once, as in
     * scalar. Branch-free: always the two steps. The exponent arithmetic
     * is done on unsigned lanes: GCC's vaddq_s32 is a C addition of signed
     * vectors, whose overflow (in NaN lanes of log) UBSan rightly reports. */
    const int32x4_t k = vcvtq_s32_f32(n);
    const int32x4_t k1 = vshrq_n_s32(k, 1);
    const uint32x4_t k2 = vreinterpretq_u32_s32(vsubq_s32(k, k1));
    const float32x4_t pk1 = vreinterpretq_f32_u32(
        vaddq_u32(vreinterpretq_u32_f32(p), vshlq_n_u32(vreinterpretq_u32_s32(k1), 23)));
    const float32x4_t s2 =
        vreinterpretq_f32_u32(vshlq_n_u32(vaddq_u32(k2, vdupq_n_u32(127)), 23));
    return vmulq_f32(pk1, s2);
}

BPQ_NEON_INLINE float32x4_t bpq_neon_log(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(FLT_MIN));
    x = vminq_f32(x, vdupq_n_f32(FLT_MAX));
    /* After the clamps every non-NaN lane is a positive normal number.
     * Adding 0x7fffff - B, B the mantissa bits of SQRT2, carries into the
     * exponent exactly when the mantissa m is above SQRT2: the exponent
     * field is then scalar's k + 127 with its +1, and the low bits give
     * back m (halved when the carry happened, which is exact). */
    const uint32_t sqrt2_bits = 0x3504f3;
    const uint32_t carry = 0x7fffff - sqrt2_bits;
    const uint32x4_t t = vaddq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(carry));
    const uint32x4_t b = vandq_u32(t, vdupq_n_u32(0x7fffff));
    const float32x4_t m =
        vreinterpretq_f32_u32(vaddq_u32(b, vdupq_n_u32(0x3f800000 - carry)));
    /* t's exponent field is below 255 in every non-NaN lane, so k fits. */
    const int32x4_t k = vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(t, 23)), vdupq_n_s32(127));
    const float32x4_t f = vsubq_f32(m, vdupq_n_f32(1.0f));
    const float32x4_t s = vdivq_f32(f, vaddq_f32(vdupq_n_f32(2.0f), f));
    const float32x4_t z = vmulq_f32(s, s);
    const float32x4_t s2 = vaddq_f32(s, s);
    float32x4_t q = vdupq_n_f32(BPQ_LOG_P2);
    q = vfmaq_f32(vdupq_n_f32(BPQ_LOG_P1), q, z);
    q = vfmaq_f32(vdupq_n_f32(BPQ_LOG_P0), q, z);
    const float32x4_t l = vfmaq_f32(s2, vmulq_f32(s2, z), q);
    const float32x4_t kf = vcvtq_f32_s32(k);
    const float32x4_t res = vfmaq_f32(vfmaq_f32(l, kf, vdupq_n_f32(BPQ_LN2_LO)), kf,
                                      vdupq_n_f32(BPQ_LN2_HI));
    /* The bit manipulation turned NaN lanes into numbers: put x back. */
    return vbslq_f32(vceqq_f32(x, x), res, x);
}

BPQ_NEON_INLINE float32x4_t bpq_neon_sigmoid(float32x4_t z) {
    const float32x4_t e = bpq_neon_exp(vnegq_f32(vabsq_f32(z))); /* exp(-|z|) */
    const float32x4_t d = vaddq_f32(vdupq_n_f32(1.0f), e);
    const uint32x4_t pos = vcgeq_f32(z, vdupq_n_f32(0.0f)); /* false for NaN */
    return vdivq_f32(vbslq_f32(pos, vdupq_n_f32(1.0f), e), d);
}

/* Both branches are computed; the small one is kept where |z| < SMALL
 * (false for NaN, which therefore takes the large branch as in scalar). */
BPQ_NEON_INLINE float32x4_t bpq_neon_tanh(float32x4_t z) {
    const float32x4_t az = vabsq_f32(z);
    const float32x4_t w = vmulq_f32(z, z);
    float32x4_t p = vdupq_n_f32(BPQ_TANH_P4);
    p = vfmaq_f32(vdupq_n_f32(BPQ_TANH_P3), p, w);
    p = vfmaq_f32(vdupq_n_f32(BPQ_TANH_P2), p, w);
    p = vfmaq_f32(vdupq_n_f32(BPQ_TANH_P1), p, w);
    p = vfmaq_f32(vdupq_n_f32(BPQ_TANH_P0), p, w);
    const float32x4_t small = vfmaq_f32(z, vmulq_f32(z, w), p);
    const float32x4_t c = vminq_f32(az, vdupq_n_f32(BPQ_TANH_CLAMP));
    const float32x4_t e = bpq_neon_exp(vaddq_f32(c, c));
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t t = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, one)));
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    const float32x4_t large = vreinterpretq_f32_u32(
        vorrq_u32(vreinterpretq_u32_f32(t), vandq_u32(vreinterpretq_u32_f32(z), sign)));
    return vbslq_f32(vcltq_f32(az, vdupq_n_f32(BPQ_TANH_SMALL)), small, large);
}

/* z <= 0 ? +0 : z: clear the lanes where that test holds (not NaN, not z > 0). */
BPQ_NEON_INLINE float32x4_t bpq_neon_relu(float32x4_t z) {
    const uint32x4_t le = vcleq_f32(z, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(z), le));
}

BPQ_NEON_INLINE float32x4_t bpq_neon_act(bpq_act act, float32x4_t z) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return bpq_neon_sigmoid(z);
    case BPQ_ACT_TANH:
        return bpq_neon_tanh(z);
    case BPQ_ACT_RELU:
        return bpq_neon_relu(z);
    default:
        return z;
    }
}

/* fma(-a, a, c) as canon.h writes it: c + (-a) * a, rounded once. */
BPQ_NEON_INLINE float32x4_t bpq_neon_dact(bpq_act act, float32x4_t a) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return vfmaq_f32(a, vnegq_f32(a), a);
    case BPQ_ACT_TANH:
        return vfmaq_f32(vdupq_n_f32(1.0f), vnegq_f32(a), a);
    case BPQ_ACT_RELU: {
        /* a > 0 ? 1 : (a <= 0 ? 0 : a): 1 where positive, a where NaN, else +0. */
        const uint32x4_t pos = vcgtq_f32(a, vdupq_n_f32(0.0f));
        const uint32x4_t num = vceqq_f32(a, a);
        const uint32x4_t one = vreinterpretq_u32_f32(vdupq_n_f32(1.0f));
        return vreinterpretq_f32_u32(
            vorrq_u32(vandq_u32(pos, one), vbicq_u32(vreinterpretq_u32_f32(a), num)));
    }
    default:
        return vdupq_n_f32(1.0f);
    }
}

/* Lanes 0..k-1 from p (k <= 4), +0 in the others; reads nothing past p[k-1]. */
BPQ_NEON_INLINE float32x4_t bpq_neon_load_first(const float *p, size_t k) {
    if (k >= 4)
        return vld1q_f32(p);
    float32x4_t v = vdupq_n_f32(0.0f);
    if (k >= 1)
        v = vld1q_lane_f32(p, v, 0);
    if (k >= 2)
        v = vld1q_lane_f32(p + 1, v, 1);
    if (k >= 3)
        v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}

/* Stores lanes 0..k-1 of v to p (k <= 4), writing nothing else. */
BPQ_NEON_INLINE void bpq_neon_store_first(float *p, size_t k, float32x4_t v) {
    if (k >= 4) {
        vst1q_f32(p, v);
        return;
    }
    if (k & 2) {
        vst1_f32(p, vget_low_f32(v));
        if (k & 1)
            vst1q_lane_f32(p + 2, v, 2);
        return;
    }
    if (k & 1)
        vst1q_lane_f32(p, v, 0);
}

/* Mask of lanes 0..k-1 (k <= 4). */
BPQ_NEON_INLINE uint32x4_t bpq_neon_mask(size_t k) {
    static const uint32_t idx[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(idx), vdupq_n_u32((uint32_t)k));
}

BPQ_NEON_INLINE float32x4_t bpq_neon_and(float32x4_t v, uint32x4_t m) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m));
}

/* The fixed tree of canon.h: p[i] += p[i+w] for w = 8, 4, 2, 1. */
/* [neon-rowsum] */
BPQ_NEON_INLINE float bpq_neon_rowsum_finish(float32x4_t q0, float32x4_t q1, float32x4_t q2,
                                             float32x4_t q3) {
    const float32x4_t s8a = vaddq_f32(q0, q2); /* w = 8: partials 0-3 and 4-7 */
    const float32x4_t s8b = vaddq_f32(q1, q3);
    const float32x4_t s4 = vaddq_f32(s8a, s8b);                     /* w = 4 */
    const float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4)); /* w = 2 */
    return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);              /* w = 1 */
}
/* [neon-rowsum] */

/* Loads up to 16 floats (rem < 16, the end of a row) into four registers,
 * lanes past rem reading +0, with their lane masks. */
BPQ_NEON_INLINE void bpq_neon_tail_load(const float *p, size_t rem, float32x4_t v[4],
                                        uint32x4_t m[4]) {
    for (size_t t = 0; t < 4; t++) {
        const size_t lo = 4 * t, cnt = rem <= lo ? 0 : (rem - lo >= 4 ? 4 : rem - lo);
        v[t] = bpq_neon_load_first(p + lo, cnt);
        m[t] = bpq_neon_mask(cnt);
    }
}

BPQ_NEON_INLINE void bpq_neon_tail_store(float *p, size_t rem, const float32x4_t v[4]) {
    for (size_t t = 0; 4 * t < rem; t++)
        bpq_neon_store_first(p + 4 * t, rem - 4 * t >= 4 ? 4 : rem - 4 * t, v[t]);
}

/* Softmax of one row in place, as canon.h orders it: max, exp, 16-partial
 * sum, divide. The row is read twice (max, then exponentials stored and
 * read back for the division); its last n % 16 elements stay in registers. */
static inline void bpq_neon_softmax_row(float *row, size_t n) {
    const size_t full = n & ~(size_t)15, rem = n - full;
    float32x4_t t[4];
    uint32x4_t k[4];
    bpq_neon_tail_load(row + full, rem, t, k);

    /* The maximum: any order gives the same value except for the sign of a
     * zero maximum, which cannot change z - m; a NaN or +inf makes every
     * output NaN whichever max is taken (canon.h). Lanes past the end take
     * row[0], which is in the row anyway. */
    const float32x4_t first = vdupq_n_f32(row[0]);
    float32x4_t m[4];
    for (int q = 0; q < 4; q++)
        m[q] = vbslq_f32(k[q], t[q], first);
    for (size_t j = 0; j < full; j += 16)
        for (int q = 0; q < 4; q++)
            m[q] = vmaxq_f32(m[q], vld1q_f32(row + j + 4 * (size_t)q));
    const float32x4_t mx = vdupq_n_f32(vmaxvq_f32(vmaxq_f32(vmaxq_f32(m[0], m[1]),
                                                            vmaxq_f32(m[2], m[3]))));

    /* e_j = exp(z_j - m) into the 16 partials; lanes past the end add +0. */
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f),
                        vdupq_n_f32(0.0f)};
    for (size_t j = 0; j < full; j += 16)
        for (int q = 0; q < 4; q++) {
            const float32x4_t e = bpq_neon_exp(vsubq_f32(vld1q_f32(row + j + 4 * (size_t)q), mx));
            vst1q_f32(row + j + 4 * (size_t)q, e);
            s[q] = vaddq_f32(s[q], e);
        }
    for (int q = 0; q < 4; q++) {
        t[q] = bpq_neon_and(bpq_neon_exp(vsubq_f32(t[q], mx)), k[q]);
        s[q] = vaddq_f32(s[q], t[q]);
    }
    const float32x4_t sum = vdupq_n_f32(bpq_neon_rowsum_finish(s[0], s[1], s[2], s[3]));

    /* a_j = e_j / S: a true division. */
    for (size_t j = 0; j < full; j += 4)
        vst1q_f32(row + j, vdivq_f32(vld1q_f32(row + j), sum));
    for (int q = 0; q < 4; q++)
        t[q] = vdivq_f32(t[q], sum);
    bpq_neon_tail_store(row + full, rem, t);
}

/* row[j] = act(row[j]); softmax is a row operation and is left alone. */
static inline void bpq_neon_act_row(bpq_act act, float *row, size_t n) {
    if (act == BPQ_ACT_IDENTITY || act == BPQ_ACT_SOFTMAX)
        return;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const float32x4_t v0 = bpq_neon_act(act, vld1q_f32(row + j));
        const float32x4_t v1 = bpq_neon_act(act, vld1q_f32(row + j + 4));
        vst1q_f32(row + j, v0);
        vst1q_f32(row + j + 4, v1);
    }
    for (; j < n; j += 4) {
        const size_t cnt = n - j >= 4 ? 4 : n - j;
        bpq_neon_store_first(row + j, cnt, bpq_neon_act(act, bpq_neon_load_first(row + j, cnt)));
    }
}

#endif /* BPQ_NEON_MATH_P_H */
