/* bp3.c - AVX2 BP3: bias gradient, the error summed (or averaged) over the batch. */
#include "avx2/math_p.h"
#include "kernels.h"
#include <stdint.h>

/*
 * The running sums of a panel of columns live in a small stack array that
 * stays in L1 while the panel's rows stream past in memory order, ROWS rows
 * per visit of each sum: (acc + d[r]) + d[r+1] + ... is the canonical order,
 * and the sums are loaded and stored once per ROWS rows, not once per row.
 * The first visit starts from +0 in a register instead of loading, and the
 * last one writes the finished gradient instead of storing the sums, so a
 * batch of at most ROWS rows never touches the array at all.
 */
#define BPQ_BP3_PANEL 1024 /* floats: 4 KB of sums */
#define BPQ_BP3_ROWS 8
#define BPQ_BP3_PREFETCH_BYTES (8u << 20) /* above this, assume delta is not in cache */

#define BPQ_BP3_FLAT __attribute__((always_inline)) static inline

/* The canonical finish of 8 sums: g / batch (a division), then out + g. */
BPQ_BP3_FLAT __m256 finish(__m256 g, __m256 fb, int mean, int accumulate, __m256 out) {
    if (mean)
        g = _mm256_div_ps(g, fb);
    return accumulate ? _mm256_add_ps(out, g) : g;
}

typedef struct bp3_ctx {
    size_t n;            /* row stride of delta */
    __m256 fb;           /* (float)batch */
    int mean, accumulate;
} bp3_ctx;

/* 8 columns (k of them real, the rest masked off) of rows [0, rows) of d:
 * starts from +0 or from *acc, and stores either the sums or, on the last
 * visit, the finished gradient (first k lanes) to out. */
BPQ_BP3_FLAT void chunk(const bp3_ctx *c, const float *d, size_t rows, size_t k, int first,
                        int last, int prefetch, float *acc, float *out) {
    const __m256i m = bpq_avx2_mask(k);
    if (prefetch && ((uintptr_t)d & 63) < 32) {
        /* the same columns of the next visit's rows, once per cache line */
#pragma GCC unroll 8
        for (size_t r = 0; r < rows; r++)
            _mm_prefetch((const char *)(d + (r + rows) * c->n), _MM_HINT_T0);
    }
    __m256 s = first ? _mm256_setzero_ps() : _mm256_load_ps(acc);
#pragma GCC unroll 8
    for (size_t r = 0; r < rows; r++) {
        const float *p = d + r * c->n;
        s = _mm256_add_ps(s, k == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m));
    }
    if (!last) {
        _mm256_store_ps(acc, s);
        return;
    }
    __m256 o = c->accumulate ? _mm256_maskload_ps(out, m) : _mm256_setzero_ps();
    bpq_avx2_store_first(out, k, finish(s, c->fb, c->mean, c->accumulate, o));
}

/* One visit of rows [0, rows) to a panel of w columns. */
BPQ_BP3_FLAT void visit(const bp3_ctx *c, const float *d, size_t rows, size_t w, int first,
                        int last, int prefetch, float *acc, float *out) {
    size_t j = 0;
    for (; j + 8 <= w; j += 8)
        chunk(c, d + j, rows, 8, first, last, prefetch, acc + j, out + j);
    if (j < w)
        chunk(c, d + j, rows, w - j, first, last, 0, acc + j, out + j);
}

/* All rows of one panel. The first and last visits get their own inlined
 * copies of the loops. With prefetch, a visit followed by a full one
 * prefetches its rows: that keeps DRAM streaming when rows are short and
 * the interleaved streams confuse the hardware prefetchers, but only costs
 * time when the data is in cache. */
static void panel(const bp3_ctx *c, size_t batch, const float *d, size_t w, int prefetch,
                  float *acc, float *out) {
    const size_t R = BPQ_BP3_ROWS, n = c->n;
    if (batch <= R) {
        visit(c, d, batch, w, 1, 1, 0, acc, out);
        return;
    }
    visit(c, d, R, w, 1, 0, 0, acc, out);
    size_t r = R;
    if (prefetch)
        for (; r + 2 * R < batch; r += R)
            visit(c, d + r * n, R, w, 0, 0, 1, acc, out);
    for (; r + R < batch; r += R)
        visit(c, d + r * n, R, w, 0, 0, 0, acc, out);
    visit(c, d + r * n, batch - r, w, 0, 1, 0, acc, out); /* 1..R rows */
}

void bpq_bp3_avx2(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                  float *db) {
    _Alignas(32) float acc[BPQ_BP3_PANEL];
    const bp3_ctx c = {n, _mm256_set1_ps((float)batch), mean, accumulate};
    const int prefetch = batch * n >= BPQ_BP3_PREFETCH_BYTES / sizeof(float);
    for (size_t j0 = 0; j0 < n; j0 += BPQ_BP3_PANEL) {
        size_t w = n - j0 < BPQ_BP3_PANEL ? n - j0 : BPQ_BP3_PANEL;
        panel(&c, batch, delta + j0, w, prefetch, acc, db + j0);
    }
}
