/* bp3.c - NEON BP3: bias gradient, the error summed (or averaged) over the batch. */
#include "kernels.h"
#include "neon/math_p.h"

/*
 * canon.h fixes one chain of additions per column j:
 *     g[j] = ((+0 + d[0][j]) + d[1][j]) + ... + d[batch-1][j]
 * A vector holds 4 neighbouring columns, so adding a row's 4 values to it
 * advances 4 chains by one step each, which is exactly canonical. Strips of
 * up to 64 columns (16 q registers, 16 independent chains: enough for the
 * 4-cycle adds of 4 pipes on Neoverse V1) keep their sums in registers
 * while every row goes past; only the results go to memory.
 *
 * The last vector of a strip ends exactly at the strip's last column and
 * may overlap the one before it (the same columns computed twice with the
 * same operations), so every load is a whole one; only a strip narrower
 * than 4 columns reads lane by lane.
 */
#define BPQ_BP3_STRIP_VECS 16

#define BPQ_BP3_FLAT __attribute__((always_inline)) static inline

/* The canonical finish: g / batch (a true division), then out + g. */
BPQ_BP3_FLAT float32x4_t finish(int mean, int accumulate, float32x4_t fb, float32x4_t g,
                                float32x4_t out) {
    if (mean)
        g = vdivq_f32(g, fb);
    return accumulate ? vaddq_f32(out, g) : g;
}

/* One strip: columns [0, w) of d and out, 4 <= w <= 64 in V = ceil(w / 4)
 * vectors (V a constant after inlining), or w < 4 in one partial vector. */
BPQ_BP3_FLAT void strip(size_t batch, size_t n, const float *d, const int V, size_t w,
                        int mean, int accumulate, float *out) {
    const size_t last = (size_t)V - 1, last_at = w >= 4 ? w - 4 : 0;
    float32x4_t s[BPQ_BP3_STRIP_VECS];
#pragma GCC unroll 16
    for (int v = 0; v < V; v++)
        s[v] = vdupq_n_f32(0.0f); /* canon: every chain starts from +0 */
    for (const float *p = d, *end = d + batch * n; p != end; p += n) {
        if (w < 4) {
            s[0] = vaddq_f32(s[0], bpq_neon_load_first(p, w));
            continue;
        }
#pragma GCC unroll 16
        for (int v = 0; v < V; v++)
            s[v] = vaddq_f32(s[v], vld1q_f32(p + ((size_t)v < last ? 4 * (size_t)v : last_at)));
    }
    const float32x4_t fb = vdupq_n_f32((float)batch);
    if (w < 4) {
        const float32x4_t o = accumulate ? bpq_neon_load_first(out, w) : vdupq_n_f32(0.0f);
        bpq_neon_store_first(out, w, finish(mean, accumulate, fb, s[0], o));
        return;
    }
    /* With accumulate, all old values are read before any is stored: the
     * last vector may overlap the one before it. */
    float32x4_t o[BPQ_BP3_STRIP_VECS];
#pragma GCC unroll 16
    for (int v = 0; v < V; v++)
        o[v] = accumulate ? vld1q_f32(out + ((size_t)v < last ? 4 * (size_t)v : last_at))
                          : vdupq_n_f32(0.0f);
#pragma GCC unroll 16
    for (int v = 0; v < V; v++)
        vst1q_f32(out + ((size_t)v < last ? 4 * (size_t)v : last_at),
                  finish(mean, accumulate, fb, s[v], o[v]));
}

/* One copy of a strip per vector count, out of line so that each one gets
 * the whole register file. */
#define BPQ_BP3_STRIP(V)                                                                       \
    __attribute__((noinline)) static void strip_##V(size_t batch, size_t n, const float *d,   \
                                                    size_t w, int mean, int accumulate,        \
                                                    float *out) {                              \
        strip(batch, n, d, V, w, mean, accumulate, out);                                       \
    }
BPQ_BP3_STRIP(1) BPQ_BP3_STRIP(2) BPQ_BP3_STRIP(3) BPQ_BP3_STRIP(4)
BPQ_BP3_STRIP(5) BPQ_BP3_STRIP(6) BPQ_BP3_STRIP(7) BPQ_BP3_STRIP(8)
BPQ_BP3_STRIP(9) BPQ_BP3_STRIP(10) BPQ_BP3_STRIP(11) BPQ_BP3_STRIP(12)
BPQ_BP3_STRIP(13) BPQ_BP3_STRIP(14) BPQ_BP3_STRIP(15) BPQ_BP3_STRIP(16)
#undef BPQ_BP3_STRIP

typedef void (*strip_fn)(size_t, size_t, const float *, size_t, int, int, float *);
static const strip_fn strips[BPQ_BP3_STRIP_VECS] = {
    strip_1, strip_2,  strip_3,  strip_4,  strip_5,  strip_6,  strip_7,  strip_8,
    strip_9, strip_10, strip_11, strip_12, strip_13, strip_14, strip_15, strip_16};

/* Strips of 64 columns; the last one is left at least 4 wide (so it needs no
 * partial loads) unless n itself is narrower, and strips never overlap each
 * other (with accumulate, db would be added to twice). */
void bpq_bp3_neon(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                  float *db) {
    const size_t W = 4 * BPQ_BP3_STRIP_VECS;
    size_t j = 0;
    while (n - j > W) {
        const size_t ws = n - j - W >= 4 ? W : W / 2;
        strips[ws / 4 - 1](batch, n, delta + j, ws, mean, accumulate, db + j);
        j += ws;
    }
    const size_t ws = n - j;
    strips[(ws + 3) / 4 - 1](batch, n, delta + j, ws, mean, accumulate, db + j);
}
