/* bp2.c - AVX-512 BP2: D = (D_next W_next) * act'(A) as a blocked GEMM with act' fused. */
#include "avx512/gemm_p.h"
#include "kernels.h"

/* One example: floats of the on-stack row of running sums (8 KiB, L1). */
#define BPQ_BP2_COLS 2048
/* Rows folded per pass over the running sums: 8 FMAs per load and store of
 * a sum, 8 streams (AVX2's measured choice, kept). */
#define BPQ_BP2_ROWS 8

/* acc[0, 16 nvec) (+ a masked vector of `tail` lanes) += rows k0..k0+R-1 of
 * w (stride n, from column i0), each scaled by its dn[k], k ascending per
 * output. */
BPQ_AVX512_INLINE void bp2_gemv_rows(const int R, size_t k0, size_t n, size_t i0, size_t nvec,
                                     size_t tail, const float *dn, const float *w, float *acc) {
    const float *wr = w + k0 * n + i0;
    __m512 d[BPQ_BP2_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        d[r] = _mm512_set1_ps(dn[k0 + (size_t)r]);
    for (size_t v = 0; v < nvec; v++) {
        __m512 s = _mm512_load_ps(acc + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            s = _mm512_fmadd_ps(d[r], _mm512_loadu_ps(wr + (size_t)r * n + 16 * v), s);
        _mm512_store_ps(acc + 16 * v, s);
    }
    if (tail) {
        /* Lanes past the end read +0 and are never stored to delta. */
        const __mmask16 m = bpq_avx512_mask(tail);
        __m512 s = _mm512_load_ps(acc + 16 * nvec);
        for (int r = 0; r < R; r++)
            s = _mm512_fmadd_ps(d[r], _mm512_maskz_loadu_ps(m, wr + (size_t)r * n + 16 * nvec), s);
        _mm512_store_ps(acc + 16 * nvec, s);
    }
}

/*
 * One example: delta[i] = (sum_k dn[k] w[k, i]) * act'(a[i]). The rows of
 * w_next run along the outputs, so each weight is used once, in place:
 * eight rows at a time are folded into a row of running sums kept in L1
 * (delta may be a, so the sums cannot live in delta).
 */
__attribute__((noinline)) static void bp2_gemv(size_t n_next, size_t n, const float *dn,
                                               const float *w, const float *a, bpq_act act,
                                               float *delta) {
    _Alignas(64) float acc[BPQ_BP2_COLS];
    for (size_t i0 = 0; i0 < n; i0 += BPQ_BP2_COLS) {
        const size_t nb = n - i0 < BPQ_BP2_COLS ? n - i0 : BPQ_BP2_COLS;
        const size_t nvec = nb / 16, tail = nb % 16;
        for (size_t v = 0; v < (nb + 15) / 16; v++)
            _mm512_store_ps(acc + 16 * v, _mm512_setzero_ps());
        size_t k = 0;
        for (; k + BPQ_BP2_ROWS <= n_next; k += BPQ_BP2_ROWS)
            bp2_gemv_rows(BPQ_BP2_ROWS, k, n, i0, nvec, tail, dn, w, acc);
        for (; k < n_next; k++)
            bp2_gemv_rows(1, k, n, i0, nvec, tail, dn, w, acc);
        for (size_t v = 0; v < (nb + 15) / 16; v++) {
            const size_t cnt = v < nvec ? 16 : tail;
            __m512 g = _mm512_load_ps(acc + 16 * v);
            if (act != BPQ_ACT_IDENTITY) {
                const __m512 av = bpq_avx512_strip_load(a + i0 + 16 * v, cnt, 0);
                g = _mm512_mul_ps(g, bpq_avx512_dact(act, av));
            }
            bpq_avx512_strip_store(delta + i0 + 16 * v, cnt, 0, g);
        }
    }
}

/* One copy of the blocked GEMM per activation (see BPQ_GEMM_COPY). */
#define BPQ_BP2_GEMM(name, ACT)                                                                \
    BPQ_GEMM_COPY(name, BPQ_GEMM_BP2, g.act = ACT)
BPQ_BP2_GEMM(bp2_gemm_identity, BPQ_ACT_IDENTITY)
BPQ_BP2_GEMM(bp2_gemm_sigmoid, BPQ_ACT_SIGMOID)
BPQ_BP2_GEMM(bp2_gemm_tanh, BPQ_ACT_TANH)
BPQ_BP2_GEMM(bp2_gemm_relu, BPQ_ACT_RELU)
#undef BPQ_BP2_GEMM

void bpq_bp2_avx512(size_t batch, size_t n_next, size_t n, const float *delta_next,
                    const float *w_next, const float *a, bpq_act act, float *delta) {
    if (bpq_gemm_is_vector(BPQ_GEMM_BP2, batch, n_next)) {
        bp2_gemv(n_next, n, delta_next, w_next, a, act, delta);
        return;
    }
    bpq_gemm g = {.m = batch, .n = n, .k = n_next, .a = delta_next, .lda = n_next,
                  .b = w_next, .ldb = n, .c = delta, .ldc = n, .act_in = a, .act = act};
    switch (act) {
    case BPQ_ACT_SIGMOID: bp2_gemm_sigmoid(g); break;
    case BPQ_ACT_TANH: bp2_gemm_tanh(g); break;
    case BPQ_ACT_RELU: bp2_gemm_relu(g); break;
    default: bp2_gemm_identity(g); break; /* identity (softmax never reaches BP2) */
    }
}
