/* dispatch.h - the active kernel table and the ISA choice, private to the library. */
#ifndef BPQ_DISPATCH_H
#define BPQ_DISPATCH_H

#include "bpq.h"
#include "kernels.h"

/*
 * The table every call goes through. The first call makes the one-time
 * choice (thread-safe); later calls are one acquire load. Never NULL.
 */
const bpq_kernels *bpq_active_kernels(void);

/*
 * The ISA the default choice gives for a BPQ_ISA value `cap` (NULL means
 * unset), on this build and CPU. Pure apart from the one-time CPU query, so
 * tests can check every cap in one process without touching the environment.
 */
bpq_isa bpq_isa_for_cap(const char *cap);

/* The CPU feature bits (cpu.h) detected at the one-time initialisation. */
unsigned bpq_cpu_detected(void);

#endif /* BPQ_DISPATCH_H */
