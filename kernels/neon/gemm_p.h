/* gemm_p.h - NEON binding of the shared GEMM driver: its 8x12 tile and packing, then the driver. */
#ifndef BPQ_NEON_GEMM_P_H
#define BPQ_NEON_GEMM_P_H

/*
 * The loop nest, the block sizes and the packing decisions are the shared
 * driver's (gemm/driver.h, gemm/plan.c). What NEON brings to it:
 *
 * The tile (microkernel_p.h, tile_p.h): 8 x 12 outputs in 24 q
 * accumulators, lane-indexed FMAs against packed A; the register budget and
 * the loads and FMAs per k step are in microkernel_p.h. BP2 and BP4 finish
 * their sums straight from the registers (act', mean, accumulate fused);
 * the forward pass finishes them from the scratch tile.
 *
 * Packing (pack_p.h): B panels of kc x 12 (forward: W^T transposed 4 x 4
 * in registers; BP2, BP4: rows copied), A always packed in groups of 8
 * rows interleaved along k (the lane FMAs take A's 8 rows of one k step
 * as two vectors), padded with +0 to 8 rows.
 *
 * No narrow path and no wide tiles (NARROW 0, WIDE_ROWS 0: the driver
 * compiles neither). A ragged last strip costs at most 3 vectors of a
 * 12-wide tile, against AVX2's 16; batch 1 has paths of its own (GEMV,
 * outer product), so the blocks of 1-3 rows that wide tiles serve on AVX2
 * are rare here. Both are left for when there is hardware to measure on.
 */

#include "neon/math_p.h"
#include "neon/pack_p.h"
#include "neon/tile_p.h"

#define BPQ_GEMM_MR BPQ_NEON_MR
#define BPQ_GEMM_NR BPQ_NEON_NR
#define BPQ_GEMM_MIN_ROWS BPQ_NEON_MIN_ROWS
#define BPQ_GEMM_A_SLACK 0       /* the packers write exactly 8 floats per k step */
#define BPQ_GEMM_ALWAYS_PACK_A 1 /* lane FMAs need A's rows of a k step side by side */
#define BPQ_GEMM_NARROW 0
#define BPQ_GEMM_NARROW_WS 0
#define BPQ_GEMM_WIDE_ROWS 0
#define BPQ_GEMM_WIDE_PANELS(mr) 1
#define BPQ_GEMM_TILE bpq_neon_tile_any
#define BPQ_GEMM_PACK_B_ROWS bpq_neon_pack_rows
#define BPQ_GEMM_PACK_B_TRANS bpq_neon_pack_trans
#define BPQ_GEMM_PACK_A_ROWS bpq_neon_pack_rows8
#define BPQ_GEMM_PACK_A_COLS bpq_neon_pack_cols8
#define BPQ_GEMM_SOFTMAX_ROW bpq_neon_softmax_row

#include "gemm/driver.h"

#endif /* BPQ_NEON_GEMM_P_H */
