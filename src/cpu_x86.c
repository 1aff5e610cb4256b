/* cpu_x86.c - x86-64 feature detection: CPUID for the CPU, XGETBV for the OS. */
#if defined(__x86_64__)

#include <cpuid.h>

#include "cpu.h"

/* XCR0 bits: 1 SSE, 2 AVX (YMM high halves), 5 opmask, 6 ZMM0-15 high, 7 ZMM16-31. */
#define XCR0_YMM ((1u << 1) | (1u << 2))
#define XCR0_ZMM (XCR0_YMM | (1u << 5) | (1u << 6) | (1u << 7))

/*
 * Reads XCR0. Written as inline asm rather than _xgetbv() because that
 * intrinsic needs -mxsave, and src/ is compiled with baseline flags only.
 * Must only run when CPUID reports OSXSAVE, or it faults.
 */
static unsigned long long read_xcr0(void)
{
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

unsigned bpq_cpu_features(void)
{
    unsigned a, b, c, d;
    unsigned f = 0;

    /* Leaf 1: AVX, FMA, and whether the OS enabled XSAVE (so XGETBV works). */
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d))
        return 0;
    if (c & bit_AVX)
        f |= BPQ_CPU_AVX;
    if (c & bit_FMA)
        f |= BPQ_CPU_FMA;
    if (c & bit_OSXSAVE) {
        unsigned long long xcr0 = read_xcr0();
        if ((xcr0 & XCR0_YMM) == XCR0_YMM)
            f |= BPQ_CPU_OS_YMM;
        if ((xcr0 & XCR0_ZMM) == XCR0_ZMM)
            f |= BPQ_CPU_OS_ZMM;
    }

    /* Leaf 7: AVX2 and the AVX-512 subsets. __get_cpuid_count fails if the leaf is absent. */
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (b & bit_AVX2)
            f |= BPQ_CPU_AVX2;
        if (b & bit_AVX512F)
            f |= BPQ_CPU_AVX512F;
        if (b & bit_AVX512DQ)
            f |= BPQ_CPU_AVX512DQ;
        if (b & bit_AVX512BW)
            f |= BPQ_CPU_AVX512BW;
        if (b & bit_AVX512VL)
            f |= BPQ_CPU_AVX512VL;
    }
    return f;
}

/*
 * Caches from CPUID's deterministic cache leaf: 4 on Intel, 0x8000001D on
 * AMD (same layout). Each subleaf describes one cache: type (EAX 4:0, 0
 * ends the list), level (EAX 7:5), how many logical CPUs share it (EAX
 * 25:14, plus 1), line size, partitions and ways (EBX), sets (ECX). The
 * L3 counts as its share per sharer, since the other cores use the rest.
 */
static int read_cache_leaf(unsigned leaf, bpq_caches *out)
{
    unsigned a, b, c, d, i;
    int found = 0;
    for (i = 0; i < 16; i++) {
        if (!__get_cpuid_count(leaf, i, &a, &b, &c, &d))
            break;
        const unsigned type = a & 31, level = (a >> 5) & 7;
        if (type == 0)
            break;
        if (type == 2) /* instruction cache */
            continue;
        const size_t line = (b & 0xfff) + 1, parts = ((b >> 12) & 0x3ff) + 1;
        const unsigned ways = (b >> 22) + 1;
        const size_t size = line * parts * ways * ((size_t)c + 1);
        const size_t sharing = ((a >> 14) & 0xfff) + 1;
        if (level == 1) {
            out->l1 = size, out->l1_ways = ways, out->line = line;
        } else if (level == 2) {
            out->l2 = size, out->l2_ways = ways;
        } else if (level == 3) {
            out->l3 = size / sharing, out->l3_ways = ways;
        }
        found = 1;
    }
    return found;
}

void bpq_cpu_caches(bpq_caches *out)
{
    unsigned a, b, c, d;
    bpq_caches k = {0, 0, 0, 0, 0, 0, 0, 1};
    int found = 0;
    if (__get_cpuid(0, &a, &b, &c, &d) && a >= 4)
        found = read_cache_leaf(4, &k);
    if (!found && __get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x8000001Du)
        found = read_cache_leaf(0x8000001Du, &k);
    if (!found)
        k = bpq_caches_default();
    bpq_caches_sanitize(&k);
    *out = k;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int bpq_cpu_x86_unused;
#endif
