/* bp3.c - AVX-512 BP3: bias gradient, the error summed (or averaged) over the batch. */
#include "avx512/math_p.h"
#include "kernels.h"

/*
 * canon.h fixes one chain of additions per column j, over the batch in
 * ascending order: a vector holds 16 neighbouring columns and adding a
 * row's 16 values advances 16 chains by one step each. The two orders of
 * avx2/bp3.c, 16 lanes wide:
 *
 * Strips: up to 128 columns (8 zmm) keep their sums in registers while
 * every row goes past; used when a row is one strip (n <= 128, so memory
 * is read in order) or the data is small. The last vector of a strip is
 * masked: a masked load of the row's tail costs what a full one does and
 * touches nothing past it, so there is no overlapping vector as in AVX2.
 *
 * Row blocks: otherwise BLOCK rows at a time over a panel of up to PANEL
 * columns, each vector's running sum loaded from a small array, the
 * block's rows added in order, stored back: BLOCK rows side by side, each
 * read front to back, which the prefetchers follow. The row-block path
 * takes whole vectors and leaves the last n % 16 columns to a strip.
 */
#define BPQ_BP3_STRIP_VECS 8             /* strip width: 8 vectors, 128 columns */
#define BPQ_BP3_SMALL_BYTES (32u << 10) /* up to this much data the strips win */
#define BPQ_BP3_BLOCK 4                 /* rows per visit of the running sums */
#define BPQ_BP3_PANEL 1024              /* columns per panel */
#define BPQ_BP3_DRAM_BYTES ((size_t)32 << 20)
#define BPQ_BP3_PANEL_DRAM 8192 /* from DRAM, longer stretches of each row (32 KB of sums) */

typedef struct bp3_ctx {
    size_t batch, n; /* rows, and the row stride (= number of columns) */
    int mean, accumulate;
} bp3_ctx;

/* The canonical finish: g / batch (a true division), then out + g. */
BPQ_AVX512_INLINE __m512 finish(int mean, int accumulate, __m512 fb, __m512 g, __m512 out) {
    if (mean)
        g = _mm512_div_ps(g, fb);
    return accumulate ? _mm512_add_ps(out, g) : g;
}

/* Vector v of a strip's row at p: plain, or masked for the last one. */
BPQ_AVX512_INLINE __m512 strip_load(const float *p, size_t v, size_t last, __mmask16 m) {
    return v < last ? _mm512_loadu_ps(p + 16 * v) : _mm512_maskz_loadu_ps(m, p + 16 * v);
}

/* One strip: columns [0, w) of d and out, 1 <= w <= 128, all rows, in V =
 * ceil(w / 16) vectors (a constant after inlining). */
BPQ_AVX512_INLINE void strip(const bp3_ctx *c, const float *d, int V, size_t w, float *out) {
    const size_t n = c->n, last = (size_t)V - 1;
    const __mmask16 m = bpq_avx512_mask(w - 16 * last);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0,
           s7 = s0; /* canon: every chain starts from +0 */
#pragma GCC unroll 2
    for (const float *p = d, *end = d + c->batch * n; p != end; p += n) {
        s0 = _mm512_add_ps(s0, strip_load(p, 0, last, m));
        if (V > 1)
            s1 = _mm512_add_ps(s1, strip_load(p, 1, last, m));
        if (V > 2)
            s2 = _mm512_add_ps(s2, strip_load(p, 2, last, m));
        if (V > 3)
            s3 = _mm512_add_ps(s3, strip_load(p, 3, last, m));
        if (V > 4)
            s4 = _mm512_add_ps(s4, strip_load(p, 4, last, m));
        if (V > 5)
            s5 = _mm512_add_ps(s5, strip_load(p, 5, last, m));
        if (V > 6)
            s6 = _mm512_add_ps(s6, strip_load(p, 6, last, m));
        if (V > 7)
            s7 = _mm512_add_ps(s7, strip_load(p, 7, last, m));
    }
    const __m512 sums[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    const __m512 fb = _mm512_set1_ps((float)c->batch);
    for (size_t v = 0; v <= last; v++) {
        const __mmask16 k = v < last ? (__mmask16)0xffff : m;
        const __m512 o = c->accumulate ? _mm512_maskz_loadu_ps(k, out + 16 * v) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(out + 16 * v, k, finish(c->mean, c->accumulate, fb, sums[v], o));
    }
}

/* Columns [0, w) as strips of at most 128 columns, each with a constant
 * vector count. */
static void strips(const bp3_ctx *c, const float *d, size_t w, float *out) {
    const size_t W = 16 * BPQ_BP3_STRIP_VECS;
    for (size_t j = 0; j < w; j += W) {
        const size_t ws = w - j < W ? w - j : W;
        switch ((ws + 15) / 16) {
        case 1: strip(c, d + j, 1, ws, out + j); break;
        case 2: strip(c, d + j, 2, ws, out + j); break;
        case 3: strip(c, d + j, 3, ws, out + j); break;
        case 4: strip(c, d + j, 4, ws, out + j); break;
        case 5: strip(c, d + j, 5, ws, out + j); break;
        case 6: strip(c, d + j, 6, ws, out + j); break;
        case 7: strip(c, d + j, 7, ws, out + j); break;
        default: strip(c, d + j, 8, ws, out + j); break;
        }
    }
}

/* h rows of d added to the running sums of columns [0, w) of a panel, w a
 * multiple of 16; the first block starts from +0, the last one finishes
 * into out. */
BPQ_AVX512_INLINE void block(const bp3_ctx *c, const float *d, size_t h, size_t w, int first,
                             int last, float *sums, float *out) {
    const size_t n = c->n;
    const __m512 fb = _mm512_set1_ps((float)c->batch);
    for (size_t j = 0; j < w; j += 16) {
        __m512 s = first ? _mm512_setzero_ps() : _mm512_load_ps(sums + j);
        const float *p = d + j;
        for (size_t r = 0; r < h; r++, p += n)
            s = _mm512_add_ps(s, _mm512_loadu_ps(p));
        if (last) {
            const __m512 o = c->accumulate ? _mm512_loadu_ps(out + j) : _mm512_setzero_ps();
            _mm512_storeu_ps(out + j, finish(c->mean, c->accumulate, fb, s, o));
        } else {
            _mm512_store_ps(sums + j, s);
        }
    }
}

/* All rows over columns [0, w) of a panel, BLOCK rows at a time. */
static void panel(const bp3_ctx *c, const float *d, size_t w, float *out) {
    _Alignas(64) float sums[BPQ_BP3_PANEL_DRAM];
    const size_t B = BPQ_BP3_BLOCK, batch = c->batch, n = c->n;
    size_t r = 0;
    if (batch > B) {
        block(c, d, B, w, 1, 0, sums, out);
        for (r = B; r + B < batch; r += B)
            block(c, d + r * n, B, w, 0, 0, sums, out);
    }
    block(c, d + r * n, batch - r, w, r == 0, 1, sums, out);
}

void bpq_bp3_avx512(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                    float *db) {
    /* Rows of fewer than 64 columns, or not a whole number of vectors,
     * measured faster with AVX2's kernel on an Intel Xeon (family 6, model
     * 167; side by side: 64x128x10 1.25x, 32x67x33 1.13x, 112x2048x1000
     * 1.10x): its strips end in a full overlapping vector, where a zmm
     * strip's last vector is a masked load, and its row blocks leave the
     * last columns to strips of 16 rather than a masked vector. Same bits. */
    if (n < 64 || n % 16 != 0) {
        bpq_bp3_avx2(batch, n, delta, mean, accumulate, db);
        return;
    }
    const bp3_ctx c = {batch, n, mean, accumulate};
    if (n <= 16 * BPQ_BP3_STRIP_VECS || batch * n <= BPQ_BP3_SMALL_BYTES / sizeof(float)) {
        strips(&c, delta, n, db);
        return;
    }
    const size_t nb = n & ~(size_t)15;
    const size_t pw =
        batch * n > BPQ_BP3_DRAM_BYTES / sizeof(float) ? BPQ_BP3_PANEL_DRAM : BPQ_BP3_PANEL;
    for (size_t j = 0; j < nb; j += pw)
        panel(&c, delta + j, nb - j < pw ? nb - j : pw, db + j);
    if (nb < n)
        strips(&c, delta + nb, n - nb, db + nb);
}
