/* gemv_p.h - NEON forward pass for one example (GEMV): W read in place, transposed 4 x 4 in registers. */
#ifndef BPQ_NEON_GEMV_P_H
#define BPQ_NEON_GEMV_P_H

/*
 * z[j] = b[j] + sum_i x[i] w[j, i], i ascending, one fma per step. Packing
 * W^T would cost as much as the product, so W (row-major, n_out x n_in) is
 * read in place: a vector holds 4 outputs (its lanes are 4 rows of W), and
 * 4 loads of 4 inputs of those rows, transposed in registers, give the 4
 * columns, each taken with one lane-indexed fma against x[i..i+3]. An
 * output's steps are one dependent chain, so 32 rows (8 vectors, 8
 * independent chains: 2 FMA pipes x 4 cycles on Neoverse N1) go side by
 * side. Rows past the last block of 32 go 4 at a time, a last 1-3 with
 * the missing rows read as +0 and never stored; the last n_in % 4 inputs
 * are added at the end, in order, column by column.
 */

#include <arm_neon.h>
#include <stddef.h>

#include "neon/math_p.h"
#include "neon/pack_p.h"

/* 4 steps (inputs i..i+3) of G vectors of 4 rows; vector v holds rows
 * p + 4 v n .. p + (4 v + 3) n, of which `rows` exist in the last one. */
BPQ_NEON_INLINE void bpq_neon_gemv_step(const int G, const float *p, size_t n, size_t last_rows,
                                        float32x4_t xv, float32x4_t acc[8]) {
#pragma GCC unroll 8
    for (int v = 0; v < G; v++) {
        float32x4_t r[4];
        const size_t rows = v == G - 1 ? last_rows : 4;
#pragma GCC unroll 4
        for (size_t q = 0; q < 4; q++)
            r[q] = q < rows ? vld1q_f32(p + (4 * (size_t)v + q) * n) : vdupq_n_f32(0.0f);
        bpq_neon_transpose4(r);
        acc[v] = vfmaq_laneq_f32(acc[v], r[0], xv, 0);
        acc[v] = vfmaq_laneq_f32(acc[v], r[1], xv, 1);
        acc[v] = vfmaq_laneq_f32(acc[v], r[2], xv, 2);
        acc[v] = vfmaq_laneq_f32(acc[v], r[3], xv, 3);
    }
}

/* Rows [j, j + 4 (G - 1) + last_rows) of the product, all of n_in. */
BPQ_NEON_INLINE void bpq_neon_gemv_rows(const int G, size_t n_in, const float *x,
                                        const float *w, const float *b, size_t last_rows,
                                        float *a) {
    float32x4_t acc[8];
#pragma GCC unroll 8
    for (int v = 0; v < G; v++)
        acc[v] = bpq_neon_load_first(b + 4 * v, v == G - 1 ? last_rows : 4);
    const size_t n4 = n_in / 4 * 4;
    for (size_t i = 0; i < n4; i += 4)
        bpq_neon_gemv_step(G, w + i, n_in, last_rows, vld1q_f32(x + i), acc);
    for (size_t i = n4; i < n_in; i++) {
        const float32x4_t xi = vdupq_n_f32(x[i]);
        for (int v = 0; v < G; v++) {
            const size_t rows = v == G - 1 ? last_rows : 4;
            float col[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (size_t q = 0; q < rows; q++)
                col[q] = w[(4 * (size_t)v + q) * n_in + i];
            acc[v] = vfmaq_f32(acc[v], vld1q_f32(col), xi);
        }
    }
    for (int v = 0; v < G; v++)
        bpq_neon_store_first(a + 4 * v, v == G - 1 ? last_rows : 4, acc[v]);
}

__attribute__((noinline)) static void bpq_neon_gemv_32(size_t n_in, const float *x,
                                                       const float *w, const float *b,
                                                       float *a) {
    bpq_neon_gemv_rows(8, n_in, x, w, b, 4, a);
}

__attribute__((noinline)) static void bpq_neon_gemv_4(size_t n_in, const float *x,
                                                      const float *w, const float *b,
                                                      size_t rows, float *a) {
    bpq_neon_gemv_rows(1, n_in, x, w, b, rows, a);
}

/* a = act(W x + b) for one example. */
static void bpq_neon_gemv(size_t n_in, size_t n_out, const float *x, const float *w,
                          const float *b, bpq_act act, float *a) {
    size_t j = 0;
    for (; j + 32 <= n_out; j += 32)
        bpq_neon_gemv_32(n_in, x, w + j * n_in, b + j, a + j);
    for (; j < n_out; j += 4)
        bpq_neon_gemv_4(n_in, x, w + j * n_in, b + j, n_out - j < 4 ? n_out - j : 4, a + j);
    if (act == BPQ_ACT_SOFTMAX)
        bpq_neon_softmax_row(a, n_out);
    else
        bpq_neon_act_row(act, a, n_out);
}

#endif /* BPQ_NEON_GEMV_P_H */
