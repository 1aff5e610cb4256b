/* canon.h - the canonical constants and operation order every float ISA must follow. */
#ifndef BPQ_CANON_H
#define BPQ_CANON_H

/*
 * Every float output of bpq is produced by exactly the sequence of IEEE-754
 * operations written down here, on every ISA. Each operation is correctly
 * rounded (add, sub, mul, div, fma, compare, select, exponent bit tricks),
 * so the same sequence gives the same bits on scalar, AVX2, AVX-512 and NEON.
 * A SIMD kernel may reorder *independent* work freely (which outputs it
 * computes first, how it tiles, what it keeps in registers) but never the
 * operations that produce one output element.
 *
 * kernels/scalar/math_p.h is the executable form of this file: one scalar
 * function per recipe below. The SIMD kernels mirror it lane by lane.
 *
 * Notation: fma(a, b, c) = a*b + c rounded once. "x < c ? c : x" selects are
 * written so that a NaN x passes through unchanged (every comparison with
 * NaN is false), which is how NaN in gives NaN out everywhere.
 *
 * ---- GEMM-shaped outputs ---------------------------------------------------
 * forward  z[r,j]  acc = b[j];  for i = 0..n_in-1:   acc = fma(x[r,i], w[j,i], acc)
 * BP2      g[r,i]  acc = +0;    for k = 0..n_next-1: acc = fma(dn[r,k], w[k,i], acc)
 *          delta[r,i] = acc * act'(a[r,i])
 * BP4      g[j,i]  acc = +0;    for r = 0..batch-1:  acc = fma(d[r,j], x[r,i], acc)
 * BP3      g[j]    acc = +0;    for r = 0..batch-1:  acc = acc + d[r,j]
 * BP3/BP4 finish: mean: g = g / (float)batch;  accumulate: out = out + g.
 * Cache blocking carries the running accumulator across blocks of the sum
 * index; it never adds partial sums of blocks together.
 *
 * ---- activations, from z ---------------------------------------------------
 * identity  z
 * relu      z <= 0 ? +0 : z                       (NaN stays NaN, -0 gives +0)
 * sigmoid   e = exp(-|z|); d = 1 + e; s = (z >= 0 ? 1 : e) / d
 * tanh      |z| < TANH_SMALL:  w = z*z; p = poly(w, TANH_P4..TANH_P0); t = fma(z*w, p, z)
 *           else:  c = min(|z|, TANH_CLAMP); e = exp(c + c); t = 1 - 2 / (e + 1);
 *                  t = t with the sign bit of z
 * softmax   per row: m = max of the row (any NaN or +inf makes the row NaN, so
 *           which max a NaN-aware instruction returns does not matter);
 *           e_j = exp(z_j - m); S = rowsum(e); a_j = e_j / S
 * poly(w, c_n..c_0) is Horner from the highest coefficient: p = c_n;
 * p = fma(p, w, c_k) for k = n-1 down to 0.
 *
 * ---- derivatives, from the output a ----------------------------------------
 * identity 1; sigmoid fma(-a, a, a); tanh fma(-a, a, 1);
 * relu     a > 0 ? 1 : (a <= 0 ? 0 : a)           (NaN stays NaN)
 * A delta is always g * act'(a), one multiplication (also for identity).
 *
 * ---- exp(x) ------------------------------------------------------------------
 * x = x < EXP_MIN ? EXP_MIN : x;  x = x > EXP_MAX ? EXP_MAX : x
 * n = fma(x, LOG2E, SHIFTER) - SHIFTER        (round to nearest integer)
 * r = fma(n, -LN2_HI, x);  r = fma(n, -LN2_LO, r)
 * p = poly(r, EXP_P6..EXP_P2, 1, 1)
 * k = (int)n;  k1 = floor(k / 2);  k2 = k - k1
 * result = (p * 2^k1) * 2^k2     (two steps so results below FLT_MIN round once)
 * Every x gives a finite result: exp(x) = 0 for x <= -104, exp(88) at most.
 *
 * ---- log(x), for losses only ---------------------------------------------
 * x = x < FLT_MIN ? FLT_MIN : x;  x = x > FLT_MAX ? FLT_MAX : x
 * k = exponent of x;  m = mantissa in [1, 2);  if m > SQRT2: m = m * 0.5, k = k + 1
 * f = m - 1;  s = f / (2 + f);  z = s * s;  s2 = s + s
 * q = poly(z, LOG_P2..LOG_P0);  l = fma(s2 * z, q, s2)
 * result = fma(k, LN2_HI, fma(k, LN2_LO, l));  NaN x returns x.
 *
 * ---- row sums (softmax denominator, per-row loss) ----------------------------
 * 16 partial sums, all +0: element j of the row is added to partial j mod 16,
 * in ascending j. Then a fixed tree: for w = 8, 4, 2, 1: p[i] = p[i] + p[i+w]
 * for i < w. The result is p[0]. AVX-512 keeps the partials in one register,
 * AVX2 in two, NEON in four.
 *
 * ---- loss values (bpq_bp1_output_delta's loss_out) ------------------------
 * per element:  MSE  t = ((a - y) * (a - y)) * 0.5
 *               BCE  t = -fma(y, log(a), (1 - y) * log(1 - a))
 *               XENT t = -(y * log(a))
 * per row: rowsum(t); over rows, in double, ascending; loss = (float)(sum / batch).
 * MSE/BCE/XENT deltas: MSE (a - y) * act'(a); BCE and XENT a - y.
 */

#define BPQ_CANON_ROW_LANES 16

/* exp: argument clamp, range reduction by ln 2 split in two parts. */
#define BPQ_EXP_MIN (-104.0f)
#define BPQ_EXP_MAX 88.0f
#define BPQ_LOG2E 0x1.715476p+0f
#define BPQ_SHIFTER 0x1.8p+23f /* adding then subtracting it rounds to an integer */
#define BPQ_LN2_HI 0x1.62e4p-1f /* few mantissa bits, so n * LN2_HI is exact */
#define BPQ_LN2_LO 0x1.7f7d1cp-20f

/* exp(r) ~ 1 + r + r^2 (P2 + r (P3 + r (P4 + r (P5 + r P6)))) on |r| <= ln2 / 2.
 * Fitted for this project (weighted least squares toward minimax, relative
 * error 3.7e-9 before rounding the coefficients to float). */
#define BPQ_EXP_P2 0x1.fffffep-2f
#define BPQ_EXP_P3 0x1.555492p-3f
#define BPQ_EXP_P4 0x1.555682p-5f
#define BPQ_EXP_P5 0x1.1239b2p-7f
#define BPQ_EXP_P6 0x1.6bd8fep-10f

/* tanh(z) ~ z + z^3 P(z^2) below TANH_SMALL (relative fit error 4.5e-9). */
#define BPQ_TANH_SMALL 0.625f
#define BPQ_TANH_CLAMP 9.5f /* 1 - tanh(9.5) is below half an ulp of 1 */
#define BPQ_TANH_P0 (-0x1.555534p-2f)
#define BPQ_TANH_P1 0x1.110754p-3f
#define BPQ_TANH_P2 (-0x1.b84182p-5f)
#define BPQ_TANH_P3 0x1.5244c4p-6f
#define BPQ_TANH_P4 (-0x1.765cd6p-8f)

/* log(1 + f) = 2s + 2s z Q(z), s = f / (2 + f), z = s^2 <= 0.0295 (fit error 8e-10). */
#define BPQ_SQRT2 0x1.6a09e6p+0f
#define BPQ_LOG_P0 0x1.55557ap-2f
#define BPQ_LOG_P1 0x1.995efcp-3f
#define BPQ_LOG_P2 0x1.31dd32p-3f

#endif /* BPQ_CANON_H */
