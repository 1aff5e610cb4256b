/* gemm_p.h - AVX2 binding of the shared GEMM driver: its tile, packing and narrow path, then the driver. */
#ifndef BPQ_AVX2_GEMM_P_H
#define BPQ_AVX2_GEMM_P_H

/*
 * The loop nest, the block sizes and the packing decisions are the shared
 * driver's (gemm/driver.h, gemm/plan.c). What AVX2 brings to it:
 *
 * The tile (microkernel_p.h, tile_p.h): 6 x 16 outputs in 12 ymm
 * accumulators. Every AVX2 core since Haswell issues 2 FMAs per cycle at 4
 * cycles' latency, so at least 8 independent chains are needed; 12 leave
 * slack for load jitter, and 12 accumulators + 2 B vectors + 1 broadcast
 * fit in the 16 ymm registers without spilling. A k step is 12 FMAs (6
 * cycles) against 2 vector loads and 6 broadcasts, well inside the load
 * ports. (4 x 24 has the same 12 chains but 3 B loads per step, and a
 * 24-wide strip wastes more lanes on edges such as n = 1000; 6 x 16
 * measured as fast.) BP2 and BP4 finish their sums straight from the
 * registers (act', mean, accumulate fused); the forward pass finishes them
 * from a scratch tile in L1, since its activation inlined for every tile
 * shape made the code too big for the instruction cache.
 *
 * Packing (pack_p.h): B panels of kc x 16 (forward: W^T transposed 8 x 8 in
 * registers; BP2, BP4: rows copied a whole chunk at a time), A in groups
 * of 6 rows interleaved along k (BP4: columns of delta; forward and BP2:
 * rows transposed in registers).
 *
 * The narrow path (narrow_p.h): a last strip of 1 to 3 columns would spend
 * 8 lanes on them, so they are vectorised down the rows instead.
 */

#include "avx2/narrow_p.h"
#include "avx2/pack_p.h"
#include "avx2/tile_p.h"

#define BPQ_GEMM_MR BPQ_AVX2_MR
#define BPQ_GEMM_NR BPQ_AVX2_NR
#define BPQ_GEMM_MIN_ROWS BPQ_AVX2_MIN_ROWS
#define BPQ_GEMM_A_SLACK 2 /* see BPQ_AVX2_COLS6_STRIDE */
#define BPQ_GEMM_ALWAYS_PACK_A 0 /* broadcasts read A in place just as well */
#define BPQ_GEMM_NARROW BPQ_AVX2_NARROW
#define BPQ_GEMM_NARROW_WS (2 * BPQ_AVX2_NARROW_KT * 16)
#define BPQ_GEMM_WIDE_ROWS BPQ_AVX2_WIDE_ROWS
#define BPQ_GEMM_WIDE_PANELS(mr) BPQ_AVX2_WIDE_PANELS(mr)
#define BPQ_GEMM_TILE bpq_avx2_tile_any
#define BPQ_GEMM_PACK_B_ROWS bpq_avx2_pack_rows
#define BPQ_GEMM_PACK_B_TRANS bpq_avx2_pack_trans
#define BPQ_GEMM_PACK_A_ROWS bpq_avx2_pack_rows6
#define BPQ_GEMM_PACK_A_COLS bpq_avx2_pack_cols6
#define BPQ_GEMM_NARROW_RUN bpq_avx2_narrow
#define BPQ_GEMM_SOFTMAX_ROW bpq_avx2_softmax_row

#include "gemm/driver.h"

#endif /* BPQ_AVX2_GEMM_P_H */
