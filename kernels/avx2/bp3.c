/* bp3.c - AVX2 BP3: bias gradient, the error summed (or averaged) over the batch. */
#include "avx2/math_p.h"
#include "kernels.h"

/*
 * canon.h fixes one chain of additions per column j:
 *     g[j] = ((+0 + d[0][j]) + d[1][j]) + ... + d[batch-1][j]
 * A vector holds 8 neighbouring columns, so adding a row's 8 values to it
 * advances 8 of these chains by one step each, which is exactly canonical.
 * What is left to choose is the order in which the chains are advanced, and
 * two orders are used (both chosen by measuring the benchmark shapes):
 *
 * Strips: up to 64 columns (8 vectors) keep their sums in registers while
 * every row of the batch goes past. Nothing but the final result goes to
 * memory, and 8 independent chains hide the latency of the additions. Rows
 * of at most 64 columns are a single strip that reads memory in order. But
 * a strip of a longer row reads 256 bytes of each row and jumps to the next
 * row, and with the data in L2 that pattern ran at only ~60% of a plain
 * read stream (less with rows of 4 KB, which all fall into the same L1
 * sets). So strips are used when the rows are short or the data is small.
 *
 * Row blocks: everything else goes BLOCK rows at a time over a panel of up
 * to PANEL columns, each chunk of 8 columns loading its running sums from a
 * small array, adding the block's rows in order, and storing them back.
 * That reads BLOCK rows side by side, each from start to end, which the
 * hardware prefetchers follow. With data in L2, 4 rows per block measured
 * best: 3 about the same, 8 rows or strips 10-20% slower. Even so this
 * reaches only 60-80% of the plain read stream: reading several rows side
 * by side, with or without software prefetch, was never faster than that
 * in our measurements, nor were tiles of 16-128 columns summed in
 * registers over 4-32 rows, and one row at a time (loading and storing
 * every running sum once per row) was slower too.
 *
 * The last vector of a strip ends exactly at the strip's last column, and
 * may overlap the one before it instead of being loaded with a mask; only
 * rows of fewer than 8 columns need masked loads. The row-block path takes
 * whole vectors only and leaves the last 9-15 columns to a strip.
 */
#define BPQ_BP3_STRIP_VECS 8         /* strip width: 8 vectors, 64 columns */
#define BPQ_BP3_SMALL_BYTES (32u << 10) /* up to this much data the strips win */
#define BPQ_BP3_BLOCK 4              /* rows per visit of the running sums */
#define BPQ_BP3_PANEL 1024           /* columns per panel */
/* Data larger than this comes from DRAM, and there panels of up to 8192
 * columns read longer stretches of each row: 14-23% faster on 2048 x 8192
 * (bpq_ab). The running sums take 32 KB of stack, sized for these. */
#define BPQ_BP3_DRAM_BYTES ((size_t)32 << 20)
#define BPQ_BP3_PANEL_DRAM 8192

#define BPQ_BP3_FLAT __attribute__((always_inline)) static inline

typedef struct bp3_ctx {
    size_t batch, n; /* rows, and the row stride (= number of columns) */
    int mean, accumulate;
} bp3_ctx;

/* The canonical finish of 8 column sums: g / batch (a true division), then
 * out + g. fb is (float)batch. */
BPQ_BP3_FLAT __m256 finish(int mean, int accumulate, __m256 fb, __m256 g, __m256 out) {
    if (mean)
        g = _mm256_div_ps(g, fb);
    return accumulate ? _mm256_add_ps(out, g) : g;
}

/* Vector v of a strip's row at p: a plain load, except for the last vector
 * (v == last), which starts at last_at, or is masked when w < 8. */
BPQ_BP3_FLAT __m256 strip_load(const float *p, size_t v, size_t last, size_t last_at, size_t w,
                               __m256i m) {
    if (v < last)
        return _mm256_loadu_ps(p + 8 * v);
    return w >= 8 ? _mm256_loadu_ps(p + last_at) : _mm256_maskload_ps(p, m);
}

/* One strip: columns [0, w) of d and out, 1 <= w <= 64, for all rows of the
 * batch, in V = ceil(w / 8) vectors (V is a constant after inlining). When
 * w >= 8, vector v covers columns 8v .. 8v+7, except the last one, which
 * covers w-8 .. w-1: it may overlap the one before, whose columns it then
 * computes a second time with the same operations, so every load is a plain
 * full one. Only a strip narrower than 8 columns loads with a mask. */
BPQ_BP3_FLAT void strip(const bp3_ctx *c, const float *d, int V, size_t w, float *out) {
    const size_t n = c->n, last = (size_t)V - 1, last_at = w >= 8 ? w - 8 : 0;
    const __m256i m = bpq_avx2_mask(w);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0,
           s7 = s0; /* canon: every chain starts from +0 */
    /* The sums are named registers, not an array, so that they stay in
     * registers; the tests on V vanish after inlining. Two rows per trip
     * halve the loop overhead, which shows with short rows (n <= 16, one or
     * two additions a row: 20-40% faster). */
#pragma GCC unroll 2
    for (const float *p = d, *end = d + c->batch * n; p != end; p += n) {
        s0 = _mm256_add_ps(s0, strip_load(p, 0, last, last_at, w, m));
        if (V > 1)
            s1 = _mm256_add_ps(s1, strip_load(p, 1, last, last_at, w, m));
        if (V > 2)
            s2 = _mm256_add_ps(s2, strip_load(p, 2, last, last_at, w, m));
        if (V > 3)
            s3 = _mm256_add_ps(s3, strip_load(p, 3, last, last_at, w, m));
        if (V > 4)
            s4 = _mm256_add_ps(s4, strip_load(p, 4, last, last_at, w, m));
        if (V > 5)
            s5 = _mm256_add_ps(s5, strip_load(p, 5, last, last_at, w, m));
        if (V > 6)
            s6 = _mm256_add_ps(s6, strip_load(p, 6, last, last_at, w, m));
        if (V > 7)
            s7 = _mm256_add_ps(s7, strip_load(p, 7, last, last_at, w, m));
    }
    const __m256 sums[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    const __m256 fb = _mm256_set1_ps((float)c->batch);
    const int mean = c->mean, acc = c->accumulate;
    if (w < 8) {
        __m256 o = acc ? _mm256_maskload_ps(out, m) : _mm256_setzero_ps();
        bpq_avx2_store_first(out, w, finish(mean, acc, fb, s0, o));
        return;
    }
    /* With accumulate, read all old values before storing any: the last
     * vector may overlap the one before it. */
    __m256 o[8];
    for (size_t v = 0; v <= last; v++)
        o[v] = acc ? _mm256_loadu_ps(out + (v < last ? 8 * v : last_at)) : _mm256_setzero_ps();
    for (size_t v = 0; v <= last; v++)
        _mm256_storeu_ps(out + (v < last ? 8 * v : last_at), finish(mean, acc, fb, sums[v], o[v]));
}

/* Columns [0, w) of d and out as strips of at most 64 columns, each with a
 * vector count that is a compile-time constant. No strip is narrower than 8
 * columns unless w itself is, so strips never overlap each other (with
 * accumulate, two overlapping strips would add to db twice). */
static void strips(const bp3_ctx *c, const float *d, size_t w, float *out) {
    const size_t W = 8 * BPQ_BP3_STRIP_VECS;
    size_t j = 0;
    while (w - j > W) {
        size_t ws = w - j - W >= 8 ? W : W / 2; /* leave at least 8 for the last strip */
        if (ws == W)
            strip(c, d + j, BPQ_BP3_STRIP_VECS, W, out + j);
        else
            strip(c, d + j, BPQ_BP3_STRIP_VECS / 2, W / 2, out + j);
        j += ws;
    }
    const size_t ws = w - j;
    d += j;
    out += j;
    switch ((ws + 7) / 8) {
    case 1: strip(c, d, 1, ws, out); break;
    case 2: strip(c, d, 2, ws, out); break;
    case 3: strip(c, d, 3, ws, out); break;
    case 4: strip(c, d, 4, ws, out); break;
    case 5: strip(c, d, 5, ws, out); break;
    case 6: strip(c, d, 6, ws, out); break;
    case 7: strip(c, d, 7, ws, out); break;
    default: strip(c, d, 8, ws, out); break;
    }
}

/* h rows of d (h = BLOCK, a constant after inlining, or fewer) added to the
 * running sums of columns [0, w) of a panel, w a multiple of 8. The first
 * block starts from +0 instead of loading the sums; the last one finishes
 * them into out instead of storing them. */
BPQ_BP3_FLAT void block(const bp3_ctx *c, const float *d, size_t h, size_t w, int first,
                        int last, float *sums, float *out) {
    const size_t n = c->n;
    const __m256 fb = _mm256_set1_ps((float)c->batch);
    for (size_t j = 0; j < w; j += 8) {
        __m256 s = first ? _mm256_setzero_ps() : _mm256_load_ps(sums + j);
        const float *p = d + j;
        for (size_t r = 0; r < h; r++, p += n)
            s = _mm256_add_ps(s, _mm256_loadu_ps(p));
        if (last) {
            __m256 o = c->accumulate ? _mm256_loadu_ps(out + j) : _mm256_setzero_ps();
            _mm256_storeu_ps(out + j, finish(c->mean, c->accumulate, fb, s, o));
        } else {
            _mm256_store_ps(sums + j, s);
        }
    }
}

/* All rows over columns [0, w) of a panel, w a multiple of 8, BLOCK rows at a time. */
static void panel(const bp3_ctx *c, const float *d, size_t w, float *out) {
    _Alignas(32) float sums[BPQ_BP3_PANEL_DRAM];
    const size_t B = BPQ_BP3_BLOCK, batch = c->batch, n = c->n;
    size_t r = 0;
    if (batch > B) { /* the first block, then the middle ones, all full */
        block(c, d, B, w, 1, 0, sums, out);
        for (r = B; r + B < batch; r += B)
            block(c, d + r * n, B, w, 0, 0, sums, out);
    }
    /* the last block: 1..BLOCK rows, and also the first when batch <= BLOCK */
    block(c, d + r * n, batch - r, w, r == 0, 1, sums, out);
}

void bpq_bp3_avx2(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                  float *db) {
    const bp3_ctx c = {batch, n, mean, accumulate};
    if (n <= 8 * BPQ_BP3_STRIP_VECS || batch * n <= BPQ_BP3_SMALL_BYTES / sizeof(float)) {
        strips(&c, delta, n, db);
        return;
    }
    /* The row-block path takes whole vectors, and the strips the last 9..15
     * columns when n is not a multiple of 8 (so that they need no mask). */
    const size_t nb = n % 8 == 0 ? n : (n & ~(size_t)7) - 8;
    const size_t pw =
        batch * n > BPQ_BP3_DRAM_BYTES / sizeof(float) ? BPQ_BP3_PANEL_DRAM : BPQ_BP3_PANEL;
    for (size_t j = 0; j < nb; j += pw)
        panel(&c, delta + j, nb - j < pw ? nb - j : pw, db + j);
    if (nb < n)
        strips(&c, delta + nb, n - nb, db + nb);
}
