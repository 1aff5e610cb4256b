/* gemm_plan.c - chapter 7: the GEMM driver's block sizes for the AVX2 tile on two sets of caches. */
#include <stdio.h>

#include "gemm/plan.h"

/*
 * Unlike the other examples this one looks inside the library: it runs the
 * plan of kernels/gemm/plan.h, the model that turns cache sizes into block
 * sizes, for caches given here rather than detected, so that it prints the
 * same on every machine. Nothing is multiplied or timed.
 *
 * The tile is AVX2's (kernels/avx2/gemm_p.h, pack_p.h, narrow_p.h,
 * microkernel_p.h): 6 rows of 16, no tile below 4 rows, 2 floats of slack
 * per packed group of A, a narrow path for a last strip of 1 to 3 columns
 * that borrows 2 x 128 x 16 floats, and wide tiles for blocks of 1 to 3
 * rows (1 x 96, 2 x 48, 3 x 32).
 */
enum { MR = 6, NR = 16, MIN_ROWS = 4, A_SLACK = 2, NARROW = 3, NARROW_WS = 2 * 128 * 16 };
enum { STACK_FLOATS = 12 * 1024 }; /* BPQ_GEMM_STACK_FLOATS of kernels/gemm/driver.h */

static size_t wide_panels(size_t m) { return m == 1 ? 6 : m == 2 ? 3 : m == 3 ? 2 : 1; }

/* What bpq_gemm_shape_of (gemm/driver.h) hands the plan for this call. */
static bpq_gemm_shape shape(int op, size_t m, size_t n, size_t k, size_t lda)
{
    bpq_gemm_shape s;
    s.op = op;
    s.m = m;
    s.n = n % NR <= NARROW ? n / NR * NR : n;
    s.k = k;
    s.n_full = n;
    s.lda = lda;
    s.mr = MR;
    s.nr = NR;
    s.min_rows = MIN_ROWS;
    s.a_slack = A_SLACK;
    s.narrow_ws = NARROW_WS;
    s.always_pack_a = 0;
    s.wide_cols = m <= 3 ? NR * wide_panels(m) : 0;
    return s;
}

static double kib(size_t floats) { return (double)floats * sizeof(float) / 1024.0; }

/* One call of a layer batch x n_in x n_out, as the kernels map it (gemm/gemm.h). */
static void row(const bpq_caches *c, const char *op_name, int op, size_t batch, size_t n_in,
                size_t n_out, size_t budget)
{
    bpq_gemm_shape s;
    if (op == BPQ_GEMM_FORWARD)
        s = shape(op, batch, n_out, n_in, n_in); /* X [batch, n_in] times W^T */
    else if (op == BPQ_GEMM_BP2)
        s = shape(op, batch, n_in, n_out, n_out); /* D_next [batch, n_out] times W [n_out, n_in] */
    else
        s = shape(op, n_out, n_in, batch, n_out); /* D^T [n_out, batch] times X [batch, n_in] */
    bpq_gemm_plan p;
    bpq_gemm_make_plan(c, &s, budget, &p);
    const size_t kblocks = (s.k + p.kc - 1) / p.kc;
    const size_t groups = (p.mc + MR - 1) / MR;
    char name[48];
    snprintf(name, sizeof name, "%s %zux%zux%zu%s", op_name, batch, n_in, n_out,
             budget ? " (stack)" : "");
    printf("%-26s %4zu %2zu %4zu %4zu %4zu  %-3s %-3s %-3s %6.1f %7.1f %7.1f %7.1f  %s\n", name,
           p.kc, kblocks, p.mc, p.nc, p.nb, p.pack_a ? "yes" : "no",
           p.b_in_place ? "yes" : "no", p.rows_inner ? "yes" : "no",
           kib(p.kc * NR), kib(p.pack_a ? groups * (MR * p.kc + A_SLACK) : 0),
           kib(kblocks > 1 ? groups * MR * p.nc : 0), kib(p.ws_floats),
           p.ws_floats <= STACK_FLOATS ? "stack" : "heap");
}

static void machine(const char *title, bpq_caches c)
{
    const size_t l1_use = c.l1 - c.l1 / c.l1_ways;
    printf("%s: L1 %zu KiB %u-way, L2 %zu KiB %u-way\n", title, c.l1 >> 10, c.l1_ways,
           c.l2 >> 10, c.l2_ways);
    const size_t fit = l1_use / (2 * (NR + MR) * sizeof(float));
    printf("  longest k block: %zu KiB of L1 in use / (2 x (16 + 6) x 4 bytes) = %zu -> %zu\n",
           l1_use >> 10, fit, fit / 16 * 16);
    printf("%-26s %4s %2s %4s %4s %4s  %-3s %-3s %-3s %6s %7s %7s %7s  %s\n", "call", "kc",
           "kb", "mc", "nc", "nb", "pkA", "Bip", "row", "panel", "A blk", "parked", "ws",
           "where");
    row(&c, "forward", BPQ_GEMM_FORWARD, 128, 1024, 1024, 0);
    row(&c, "bp2", BPQ_GEMM_BP2, 128, 1024, 1024, 0);
    row(&c, "bp4", BPQ_GEMM_BP4, 128, 1024, 1024, 0);
    row(&c, "bp4", BPQ_GEMM_BP4, 512, 1024, 1024, 0);
    row(&c, "bp4", BPQ_GEMM_BP4, 512, 1024, 1024, STACK_FLOATS);
    row(&c, "forward", BPQ_GEMM_FORWARD, 64, 784, 128, 0);
    row(&c, "bp4", BPQ_GEMM_BP4, 8, 2048, 2048, 0);
    row(&c, "forward", BPQ_GEMM_FORWARD, 2, 1024, 1024, 0);
    row(&c, "bp4", BPQ_GEMM_BP4, 64, 128, 10, 0);
    printf("\n");
}

int main(void)
{
    /* The sizes measured on the machine of bench/results/2026-11-28-amd-epyc.md, with the
     * associativity of its core (Zen 5), and the library's defaults for a CPU that
     * describes none of its caches (kernels/gemm/plan.c). */
    const bpq_caches report = {64, 48u << 10, 1u << 20, 32u << 20, 12, 16, 16, 1};
    machine("report's machine", report);
    machine("defaults", bpq_caches_default());
    printf("kb: k blocks; pkA: A packed; Bip: B read in place; row: rows outside the strips\n");
    printf("KiB: one B panel (L1), the packed A block and the parked sums (L2), the workspace\n");
    return 0;
}
