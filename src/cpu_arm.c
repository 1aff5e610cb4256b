/* cpu_arm.c - AArch64 feature detection: Advanced SIMD is part of the base ISA. */
#if defined(__aarch64__)

#include "cpu.h"

/*
 * Every AArch64 CPU that runs a general-purpose OS has NEON (it carries the
 * floating-point registers), so there is nothing to ask the CPU or the OS.
 */
unsigned bpq_cpu_features(void) { return BPQ_CPU_NEON; }

#else
/* ISO C forbids an empty translation unit. */
typedef int bpq_cpu_arm_unused;
#endif
