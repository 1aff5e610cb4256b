/* gemm.h - what the shared GEMM driver and every ISA's microkernel agree on: the call, its ops, tiles. */
#ifndef BPQ_GEMM_H
#define BPQ_GEMM_H

/*
 * The three GEMM-shaped kernels all compute, per output element,
 *     acc = init;  for k ascending: acc = fma(A[m,k], B[k,n], acc);  out = finish(acc)
 * and differ only in where A and B come from and what the finish does:
 *
 *            M       N      K       A[m,k]               B[k,n]            init
 *   forward  batch   n_out  n_in    x[m, k]              w[n, k] (W^T)     b[n]
 *   BP2      batch   n      n_next  delta_next[m, k]     w_next[k, n]      +0
 *   BP4      n_out   n_in   batch   delta[k, m]          x[k, n]           +0
 *
 * Vectors run along n (the contiguous index of every output), never along
 * k, so each lane is one output's own fma chain in ascending k: the bits of
 * kernels/scalar by construction, whatever the ISA and whatever the
 * blocking. This header holds no intrinsics: it is included by the driver
 * (gemm/driver.h) and by each ISA's tile and packing code.
 */

#include <stddef.h>

#include "bpq.h"

enum { BPQ_GEMM_FORWARD, BPQ_GEMM_BP2, BPQ_GEMM_BP4 };

/* Where a tile's fma chains start: from sums parked by the previous k block
 * (row m at tile + ldt m), from +0, or from the bias (every row). */
enum { BPQ_GEMM_INIT_TILE, BPQ_GEMM_INIT_ZERO, BPQ_GEMM_INIT_BIAS };

/* One GEMM-shaped call, in the terms of the table above. */
typedef struct bpq_gemm {
    size_t m, n, k;
    const float *a; /* forward/BP2: A[m,k] = a[m lda + k]; BP4: A[m,k] = a[k lda + m] */
    size_t lda;
    const float *b; /* forward: B[k,n] = b[n ldb + k]; BP2/BP4: B[k,n] = b[k ldb + n] */
    size_t ldb;
    float *c; /* output, C[m,n] = c[m ldc + n] */
    size_t ldc;
    const float *bias;    /* forward: [n] */
    const float *act_in;  /* BP2: a, same layout as c (may be c itself) */
    bpq_act act;          /* forward and BP2 */
    int mean, accumulate; /* BP4 */
    size_t batch;         /* BP4: the divisor of the mean */
    int trans_c;          /* BP4 run as dW^T = x^T delta: C[m,n] = c[n ldc + m] (driver.h) */
} bpq_gemm;

/*
 * Rows of the next tile when rem rows of an M block are left: mr, except
 * that a block does not end in a tile of fewer than min_rows rows when
 * that can be avoided (the last two tiles then share the rows, the first
 * one taking the odd row). A tile of r rows has r * (vectors per row) fma
 * chains, and min_rows is what keeps the FMA pipes busy (AVX2, mr = 6,
 * min_rows = 4: 7 = 4 + 3, 8 = 4 + 4, 9 = 5 + 4).
 */
static inline size_t bpq_gemm_tile_rows(size_t rem, size_t mr, size_t min_rows) {
    if (rem <= mr)
        return rem;
    if (rem - mr >= min_rows)
        return mr;
    return (rem + 1) / 2;
}

/* Splits n into the fewest blocks of at most max, of near-equal size rounded
 * up to a multiple of unit (so only the last block has a ragged edge). */
static inline size_t bpq_gemm_split(size_t n, size_t max, size_t unit) {
    if (max < unit)
        max = unit;
    if (n <= max) { /* one block: the common case of small calls, without a division */
        size_t b = (n + unit - 1) / unit * unit;
        return b > max ? max / unit * unit : b;
    }
    size_t blocks = (n + max - 1) / max;
    size_t b = (n + blocks - 1) / blocks;
    b = (b + unit - 1) / unit * unit;
    return b > max ? max / unit * unit : b;
}

/*
 * Whether call g of op is matrix-vector work, which every ISA gives its own
 * path (nothing to reuse, so nothing is packed): one example for the
 * forward pass and BP2 (a GEMV), a batch of one for BP4 (an outer product).
 */
static inline int bpq_gemm_is_vector(int op, size_t m, size_t k) {
    return op == BPQ_GEMM_BP4 ? k == 1 : m == 1;
}

#endif /* BPQ_GEMM_H */
