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

#else
/* ISO C forbids an empty translation unit. */
typedef int bpq_cpu_x86_unused;
#endif
