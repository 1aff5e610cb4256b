/* math_p.h - scalar form of the canonical recipes of canon.h: exp, log, activations, row sums. */
#ifndef BPQ_SCALAR_MATH_P_H
#define BPQ_SCALAR_MATH_P_H

#include <float.h>
#include <stddef.h>
#include <math.h> /* fmaf only, where it is one instruction */
#include <stdint.h>
#include <string.h>

#include "bpq.h"
#include "canon.h"

/*
 * fma(a, b, c) rounded once. Where the compiler has a hardware fma
 * (__FP_FAST_FMAF, e.g. AArch64) fmaf is that one instruction. Elsewhere
 * (baseline x86-64) fmaf would be a libm call per element, so it is done
 * here exactly in double instead: a*b is exact in double, the sum's
 * rounding error is recovered with TwoSum, and the sum is rounded to odd
 * (truncate, then set the last bit if anything was lost). A value rounded
 * to odd with 53 bits rounds to float (24 bits) exactly as the exact sum
 * would, so the result equals a true fused multiply-add, bit for bit.
 */
/* [scalar-fma] */
static inline float bpq_s_fma(float a, float b, float c) {
#if defined(__FP_FAST_FMAF) || !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
    return fmaf(a, b, c);
#else
    double p = (double)a * (double)b;
    double s = p + (double)c;
    double pv = s - (double)c; /* TwoSum: s + err == p + c exactly */
    double cv = s - pv;
    double err = (p - pv) + ((double)c - cv);
    /* Branch-free so that the compiler can keep loops of it vectorised. */
    uint64_t inexact = (uint64_t)(err != 0.0 && s - s == 0.0);
    uint64_t overshot = inexact & (uint64_t)((err < 0.0) != (s < 0.0));
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    u = (u - overshot) | inexact; /* step |s| back one ulp if it overshot; sticky bit */
    memcpy(&s, &u, sizeof s);
    return (float)s;
#endif
}
/* [scalar-fma] */

static inline uint32_t bpq_s_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float bpq_s_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline float bpq_s_abs(float x) { return bpq_s_float(bpq_s_bits(x) & 0x7fffffffu); }

/* 2^k for -126 <= k <= 127, built in the exponent field. */
static inline float bpq_s_pow2i(int32_t k) { return bpq_s_float((uint32_t)(k + 127) << 23); }

static inline float bpq_s_exp(float x) {
    x = x < BPQ_EXP_MIN ? BPQ_EXP_MIN : x;
    x = x > BPQ_EXP_MAX ? BPQ_EXP_MAX : x;
    float n = bpq_s_fma(x, BPQ_LOG2E, BPQ_SHIFTER) - BPQ_SHIFTER;
    float r = bpq_s_fma(n, -BPQ_LN2_HI, x);
    r = bpq_s_fma(n, -BPQ_LN2_LO, r);
    float p = BPQ_EXP_P6;
    p = bpq_s_fma(p, r, BPQ_EXP_P5);
    p = bpq_s_fma(p, r, BPQ_EXP_P4);
    p = bpq_s_fma(p, r, BPQ_EXP_P3);
    p = bpq_s_fma(p, r, BPQ_EXP_P2);
    p = bpq_s_fma(p, r, 1.0f);
    p = bpq_s_fma(p, r, 1.0f);
    if (x != x) /* NaN: the integer conversion below would be undefined */
        return x;
    int32_t k = (int32_t)n;          /* exact: n is an integer in [-150, 127] */
    int32_t k1 = (k + 256) / 2 - 128; /* floor(k / 2) without shifting a negative */
    int32_t k2 = k - k1;
    return (p * bpq_s_pow2i(k1)) * bpq_s_pow2i(k2);
}

static inline float bpq_s_log(float x) {
    x = x < FLT_MIN ? FLT_MIN : x;
    x = x > FLT_MAX ? FLT_MAX : x;
    if (x != x)
        return x;
    uint32_t u = bpq_s_bits(x);
    int32_t k = (int32_t)(u >> 23) - 127;
    float m = bpq_s_float((u & 0x007fffffu) | 0x3f800000u);
    if (m > BPQ_SQRT2) {
        m = m * 0.5f;
        k = k + 1;
    }
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float s2 = s + s;
    float q = BPQ_LOG_P2;
    q = bpq_s_fma(q, z, BPQ_LOG_P1);
    q = bpq_s_fma(q, z, BPQ_LOG_P0);
    float l = bpq_s_fma(s2 * z, q, s2);
    float kf = (float)k;
    return bpq_s_fma(kf, BPQ_LN2_HI, bpq_s_fma(kf, BPQ_LN2_LO, l));
}

/* [scalar-sigmoid] */
static inline float bpq_s_sigmoid(float z) {
    float e = bpq_s_exp(-bpq_s_abs(z));
    float d = 1.0f + e;
    return (z >= 0.0f ? 1.0f : e) / d;
}
/* [scalar-sigmoid] */

static inline float bpq_s_tanh(float z) {
    float az = bpq_s_abs(z);
    if (az < BPQ_TANH_SMALL) {
        float w = z * z;
        float p = BPQ_TANH_P4;
        p = bpq_s_fma(p, w, BPQ_TANH_P3);
        p = bpq_s_fma(p, w, BPQ_TANH_P2);
        p = bpq_s_fma(p, w, BPQ_TANH_P1);
        p = bpq_s_fma(p, w, BPQ_TANH_P0);
        return bpq_s_fma(z * w, p, z);
    }
    float c = az > BPQ_TANH_CLAMP ? BPQ_TANH_CLAMP : az;
    float e = bpq_s_exp(c + c);
    float t = 1.0f - 2.0f / (e + 1.0f);
    return bpq_s_float(bpq_s_bits(t) | (bpq_s_bits(z) & 0x80000000u));
}

static inline float bpq_s_relu(float z) { return z <= 0.0f ? 0.0f : z; }

/* Elementwise activation; softmax is a row operation and is handled by the caller. */
static inline float bpq_s_act(bpq_act act, float z) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return bpq_s_sigmoid(z);
    case BPQ_ACT_TANH:
        return bpq_s_tanh(z);
    case BPQ_ACT_RELU:
        return bpq_s_relu(z);
    default:
        return z;
    }
}

/* act'(z) expressed through the output a = act(z). */
/* [scalar-dact] */
static inline float bpq_s_dact(bpq_act act, float a) {
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return bpq_s_fma(-a, a, a);
    case BPQ_ACT_TANH:
        return bpq_s_fma(-a, a, 1.0f);
    case BPQ_ACT_RELU:
        return a > 0.0f ? 1.0f : (a <= 0.0f ? 0.0f : a);
    default:
        return 1.0f;
    }
}
/* [scalar-dact] */

/* The canonical 16-partial row sum, fed one element at a time. */
typedef struct bpq_s_rowsum {
    float p[BPQ_CANON_ROW_LANES];
} bpq_s_rowsum;

static inline void bpq_s_rowsum_init(bpq_s_rowsum *s) {
    for (int i = 0; i < BPQ_CANON_ROW_LANES; i++)
        s->p[i] = 0.0f;
}

/* [scalar-rowsum] */
static inline float bpq_s_rowsum_finish(bpq_s_rowsum *s) {
    for (int w = BPQ_CANON_ROW_LANES / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            s->p[i] = s->p[i] + s->p[i + w];
    return s->p[0];
}
/* [scalar-rowsum] */

/* Softmax of one row in place, as canon.h orders it: max, exp, 16-partial sum, divide. */
/* [scalar-softmax] */
static inline void bpq_s_softmax_row(float *row, size_t n) {
    float m = row[0];
    for (size_t j = 1; j < n; j++)
        m = row[j] > m ? row[j] : m;
    bpq_s_rowsum sum;
    bpq_s_rowsum_init(&sum);
    for (size_t j = 0; j < n; j++) {
        row[j] = bpq_s_exp(row[j] - m);
        sum.p[j % BPQ_CANON_ROW_LANES] += row[j];
    }
    float s = bpq_s_rowsum_finish(&sum);
    for (size_t j = 0; j < n; j++)
        row[j] = row[j] / s;
}
/* [scalar-softmax] */

#endif /* BPQ_SCALAR_MATH_P_H */
