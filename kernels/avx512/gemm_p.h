/* gemm_p.h - AVX-512 binding of the shared GEMM driver: its 12x32 tile and packing, then the driver. */
#ifndef BPQ_AVX512_GEMM_P_H
#define BPQ_AVX512_GEMM_P_H

/*
 * The loop nest, block sizes and packing decisions are the shared
 * driver's (gemm/driver.h, gemm/plan.c). What AVX-512 brings to it:
 *
 * The tile (microkernel_p.h, tile_p.h): 12 x 32 outputs in 24 zmm
 * accumulators. Intel cores with two 512-bit FMA units (Skylake-SP to
 * Sapphire Rapids) and Zen 4/5 issue 2 FMAs a cycle at 4 cycles' latency:
 * at least 8 independent chains. Each output is one chain in ascending k
 * (canon.h), so chains can only come from more outputs; 24 leave room for
 * load and broadcast jitter. Registers: 24 accumulators + 2 B vectors + 1
 * broadcast = 27 of 32 (a 14 x 32 tile, 28 + 3 = 31, would leave too
 * little for addresses the compiler keeps in vectors, and 14 divides
 * batches badly). A k step is 24 FMAs (12 cycles at 2 a cycle) against 2
 * vector loads and 12 broadcast loads: 14 loads in 12 cycles, within the
 * 2-3 load ports. The alternatives with 24 chains: 8 x 48 (3 B + 8
 * broadcasts, 11 loads) and 6 x 64 (4 + 6 = 10 loads) load less per
 * step but waste more lanes on ragged last strips (n = 1000 leaves 40 of
 * 48 or 40 of 64 columns in the last strip, against 8 of 32) and need a
 * panel of B 1.5-2x as wide in L1, shortening kc. 12 x 32 is AVX2's
 * 6 x 16 tile with both dimensions doubled, so packing and edges keep the
 * same shapes.
 *
 * Edges: a ragged last strip (n % 32 columns) is one or two vectors with
 * masked loads and stores (__mmask16), so there is no narrow path
 * (BPQ_GEMM_NARROW 0): a mask costs nothing in a zmm instruction, where
 * AVX2 needed maskload/maskstore or a separate path down the rows.
 *
 * Packing (pack_p.h): B panels of kc x 32 (forward: W^T transposed 8 x 8
 * in registers; BP2, BP4: rows copied), A in groups of 12 rows along k.
 */

#include "avx512/pack_p.h"
#include "avx512/tile_p.h"

#define BPQ_GEMM_MR BPQ_AVX512_MR
#define BPQ_GEMM_NR BPQ_AVX512_NR
#define BPQ_GEMM_MIN_ROWS BPQ_AVX512_MIN_ROWS
#define BPQ_GEMM_A_SLACK 0 /* packing stores are masked: nothing spills past a group */
#define BPQ_GEMM_ALWAYS_PACK_A 0 /* broadcasts read A in place just as well */
#define BPQ_GEMM_NARROW 0        /* masked edges instead, see above */
#define BPQ_GEMM_NARROW_WS 0
#define BPQ_GEMM_WIDE_ROWS BPQ_AVX512_WIDE_ROWS
#define BPQ_GEMM_WIDE_PANELS(mr) BPQ_AVX512_WIDE_PANELS(mr)
#define BPQ_GEMM_TILE bpq_avx512_tile_any
#define BPQ_GEMM_PACK_B_ROWS bpq_avx512_pack_rows
#define BPQ_GEMM_PACK_B_TRANS bpq_avx512_pack_trans
#define BPQ_GEMM_PACK_A_ROWS bpq_avx512_pack_rows12
#define BPQ_GEMM_PACK_A_COLS bpq_avx512_pack_cols12
/* With NARROW 0 every column is in a strip and the driver never calls this. */
#define BPQ_GEMM_NARROW_RUN(op, g, r0, r1, j0, ws) ((void)0)
#define BPQ_GEMM_SOFTMAX_ROW bpq_avx512_softmax_row

#include "gemm/driver.h"

#endif /* BPQ_AVX512_GEMM_P_H */
