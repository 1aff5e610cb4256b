/* cpu.h - run-time CPU feature bits, private to the library front end. */
#ifndef BPQ_CPU_H
#define BPQ_CPU_H

/*
 * One bit per feature as the CPU reports it, plus two bits for what the
 * operating system saves on a context switch. An instruction set is usable
 * only when the CPU has it AND the OS saves its registers, hence the
 * BPQ_CPU_NEEDS_* masks below, which dispatch.c tests with (f & m) == m.
 */
enum {
    BPQ_CPU_AVX = 1u << 0,
    BPQ_CPU_FMA = 1u << 1,
    BPQ_CPU_AVX2 = 1u << 2,
    BPQ_CPU_AVX512F = 1u << 3,
    BPQ_CPU_AVX512DQ = 1u << 4,
    BPQ_CPU_AVX512BW = 1u << 5,
    BPQ_CPU_AVX512VL = 1u << 6,
    BPQ_CPU_OS_YMM = 1u << 7, /* XCR0 has the SSE and AVX state bits (1, 2) */
    BPQ_CPU_OS_ZMM = 1u << 8, /* ... and opmask, ZMM0-15 high, ZMM16-31 (5, 6, 7) */
    BPQ_CPU_NEON = 1u << 9
};

#define BPQ_CPU_NEEDS_AVX2 (BPQ_CPU_AVX | BPQ_CPU_FMA | BPQ_CPU_AVX2 | BPQ_CPU_OS_YMM)

/* The AVX-512 kernels are compiled with -mfma and may use AVX2 forms too. */
#define BPQ_CPU_NEEDS_AVX512                                                                   \
    (BPQ_CPU_NEEDS_AVX2 | BPQ_CPU_AVX512F | BPQ_CPU_AVX512DQ | BPQ_CPU_AVX512BW |             \
     BPQ_CPU_AVX512VL | BPQ_CPU_OS_ZMM)

#include "gemm/plan.h" /* bpq_caches */

#if defined(__x86_64__) || defined(__aarch64__)
/* Queries the CPU (and OS) now; cheap, but dispatch.c calls it only once. */
unsigned bpq_cpu_features(void);
/* The data caches of the core (sanitized, defaults where unknown); once too. */
void bpq_cpu_caches(bpq_caches *out);
#else
/* Other targets run the portable paths only. */
static inline unsigned bpq_cpu_features(void) { return 0; }
static inline void bpq_cpu_caches(bpq_caches *out) { *out = bpq_caches_default(); }
#endif

#endif /* BPQ_CPU_H */
