/* roofline.c - chapter 11: work, least traffic and the speed limit they set, per benchmark case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A kernel that does F flops and must move at least B bytes cannot run faster than
 * min(peak, F / B * bandwidth): the roofline. F / B is its arithmetic intensity. This
 * program prints both for the benchmark's shapes; given a machine's FMA peak (GFLOP/s)
 * and the read bandwidth (GB/s) of the cache level or memory the data sits in, it also
 * prints the limit. Nothing is timed here: the measured rates are bench_report's.
 */

typedef struct level {
    const char *name;
    double bytes, gbs, update_gbs; /* capacity counted for the data; read and update bandwidth */
} level;

/* The smallest level whose capacity holds `bytes`. */
static const level *home(const level *lv, int n, double bytes)
{
    for (int i = 0; i < n - 1; i++)
        if (bytes <= lv[i].bytes)
            return &lv[i];
    return &lv[n - 1];
}

/* One case: its work and least traffic, and with a machine given, the limit they set:
 * in GFLOP/s for the products, in GB/s for the elementwise kernels. */
static void row(const char *kernel, const char *shape, double flops, double bytes,
                double footprint, int gemm, int update, double peak, const level *lv, int n)
{
    double intensity = flops / bytes;
    printf("%-20s %-14s %9.3g %9.3g %7.2f", kernel, shape, flops, bytes, intensity);
    if (peak > 0) {
        const level *l = home(lv, n, footprint);
        double gbs = update ? l->update_gbs : l->gbs;
        double memory_bound = intensity * gbs;
        if (gemm)
            printf("  %-5s %6.1f GFLOP/s  %s", l->name, memory_bound < peak ? memory_bound : peak,
                   memory_bound < peak ? "memory" : "FMA peak");
        else
            printf("  %-5s %6.1f GB/s     %s", l->name, gbs,
                   memory_bound < peak ? "memory" : "FMA peak");
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    /* --peak P, then for each level (l1, l2, l3, dram) --<level> read GB/s,
     * --<level>-update GB/s (p = p + s g, as SGD does) and --<level>-bytes capacity. */
    double peak = 0;
    level lv[4] = {{"L1", 48e3, 0, 0}, {"L2", 1e6, 0, 0}, {"L3", 32e6, 0, 0}, {"DRAM", 0, 0, 0}};
    for (int i = 1; i + 1 < argc; i += 2) {
        double v = strtod(argv[i + 1], NULL);
        if (!strcmp(argv[i], "--peak"))
            peak = v;
        for (int k = 0; k < 4; k++) {
            char name[16], size[24], update[24];
            static const char *const names[4] = {"l1", "l2", "l3", "dram"};
            snprintf(name, sizeof name, "--%s", names[k]);
            snprintf(size, sizeof size, "%s-bytes", name);
            snprintf(update, sizeof update, "%s-update", name);
            if (!strcmp(argv[i], update))
                lv[k].update_gbs = v;
            if (!strcmp(argv[i], name))
                lv[k].gbs = v;
            if (!strcmp(argv[i], size))
                lv[k].bytes = v;
        }
    }
    if (peak > 0) {
        /* Below this many flops per byte, a kernel cannot reach the peak from that level. */
        printf("ridge points (peak / bandwidth), flop/B:");
        for (int k = 0; k < 4; k++)
            printf("  %s %.2f", lv[k].name, peak / lv[k].gbs);
        printf("\n");
    }
    printf("%-20s %-14s %9s %9s %7s", "kernel", "shape", "flops", "bytes", "flop/B");
    if (peak > 0)
        printf("  %-5s %-14s  %s", "data", "limit", "set by");
    printf("\n");

    /* GEMM-shaped: 2 flops per multiply-add; bytes: each operand read once, the result
     * written once (4 bytes per float). */
    static const struct { const char *name; double m, k, n; } gemm[] = {
        {"64x784x128", 64, 784, 128},     {"128x1024x1024", 128, 1024, 1024},
        {"112x2048x1000", 112, 2048, 1000}, {"2048x256x256", 2048, 256, 256},
        {"32x67x33", 32, 67, 33},         {"1x1024x1024", 1, 1024, 1024}};
    for (size_t s = 0; s < sizeof gemm / sizeof gemm[0]; s++) {
        double b = gemm[s].m, i = gemm[s].k, o = gemm[s].n, f = 2 * b * i * o;
        double rd = 4 * (b * i + o * i + o + b * o), r2 = 4 * (b * o + o * i + 2 * b * i);
        double r4 = 4 * (b * o + b * i + o * i);
        row("forward", gemm[s].name, f, rd, rd, 1, 0, peak, lv, 4);
        row("BP2", gemm[s].name, f, r2, r2, 1, 0, peak, lv, 4);
        row("BP4", gemm[s].name, f, r4, r4, 1, 0, peak, lv, 4);
    }
    /* Elementwise, per element: BP1 (MSE, sigmoid) reads a and y and writes delta, about
     * 4 flops; BP3 reads delta, 1 add; SGD reads grad and param and writes param, 1 fma.
     * Cases as the benchmark names them (batch x n_in x n_out): BP1 and BP3 work on
     * batch x n_out, SGD on the n_out x n_in weights. */
    static const struct { const char *name; double batch, n_in, n_out; } flat[] = {
        {"128x512x512", 128, 512, 512}, {"2048x1024x8192", 2048, 1024, 8192}};
    for (size_t s = 0; s < sizeof flat / sizeof flat[0]; s++) {
        double e = flat[s].batch * flat[s].n_out, ew = flat[s].n_in * flat[s].n_out;
        row("BP1 (MSE, sigmoid)", flat[s].name, 4 * e, 12 * e, 12 * e, 0, 0, peak, lv, 4);
        row("BP3", flat[s].name, e, 4 * e + 4 * flat[s].n_out, 4 * e, 0, 0, peak, lv, 4);
        row("SGD", flat[s].name, 2 * ew, 12 * ew, 8 * ew, 0, 1, peak, lv, 4);
    }
    return 0;
}
