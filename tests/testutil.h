/* testutil.h - helpers shared by the suites: seeded PRNG, guarded buffers, compares, hashes. */
#ifndef BPQ_TESTUTIL_H
#define BPQ_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "bpq.h"

/* Unit roundoff of float, and the spacing of denormal floats. */
#define TU_U 0x1p-24
#define TU_DENORM 0x1p-149

/* Sentinel floats kept before and after every guarded buffer. */
#define TU_GUARD_PRE 16
#define TU_GUARD_POST 64

/* ---- seeds and random numbers ---------------------------------------------
 * Integer arithmetic only, and floats made by exact conversions of small
 * integers scaled by powers of two, so every machine (x86-64 and AArch64
 * under qemu alike) draws bit-identical inputs from the same seed. */

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

/* The run's seed: BPQ_TEST_SEED (decimal or 0x hex) if set, else a fixed default. */
uint64_t tu_seed(void);

/* A generator for one labelled stream, independent of every other label/index. */
tu_rng tu_rng_make(uint64_t seed, const char *label, uint64_t index);

uint64_t tu_next(tu_rng *r);              /* splitmix64 */
uint32_t tu_below(tu_rng *r, uint32_t n); /* uniform in [0, n), n >= 1 */
float tu_sym(tu_rng *r);                  /* [-1, 1) on a grid of 2^-23 */
float tu_open01(tu_rng *r);               /* (0, 1) on a grid of 2^-24 */

/* ---- inputs for the equations (same draws on every machine) ---- */

float *tu_fill_sym(tu_rng *r, float *p, size_t n); /* tu_sym() each; returns p */

/* [rows, n] values the activation can output (softmax: rows of positive
 * fractions summing to about 1), so derivatives taken from them mean something. */
void tu_fill_act_output(tu_rng *r, bpq_act act, float *a, size_t rows, size_t n);

/* [rows, n] targets that suit the loss: any for MSE, 0/1/fractions for BCE,
 * one-hot or soft label rows for XENT. */
void tu_fill_targets(tu_rng *r, bpq_loss loss, float *y, size_t rows, size_t n);

/* Overwrites about 1 in 24 elements (at least one) with NaN, infinities,
 * signed zeros, denormals, extremes and exp's clamp points. */
void tu_sprinkle_specials(tu_rng *r, float *p, size_t n);

/* ---- guarded buffers --------------------------------------------------------
 * Layout: 64-byte aligned block | TU_GUARD_PRE + misalign sentinel floats |
 * n data floats | TU_GUARD_POST sentinel floats. misalign (in floats) makes
 * the data pointer deliberately unaligned; 0 keeps it 64-byte aligned. */

typedef struct tu_buf {
    float *raw;
    float *p; /* the data */
    size_t n;
    size_t pre; /* sentinel floats before p */
} tu_buf;

float *tu_alloc(tu_buf *b, size_t n, size_t misalign); /* exits on out-of-memory */
void tu_free(tu_buf *b);
void tu_fill(tu_buf *b, uint32_t bits); /* every data float set to this bit pattern */
void tu_poison(tu_buf *b);              /* every data float set to a quiet NaN */
int tu_guards_ok(const tu_buf *b);      /* 1 if no sentinel was overwritten */

/* The NaN used for poisoning; its payload is unusual so a copied poison stands out. */
#define TU_POISON_BITS 0x7fc0bad0u

/* ---- bit-level comparison and hashing ---------------------------------------- */

uint32_t tu_bits(float x);
float tu_from_bits(uint32_t u);

/* Same bits, or both NaN (NaN payloads may differ between CPU families). */
int tu_same(float a, float b);

/* Index of the first element where tu_same() fails, or n. */
size_t tu_first_diff(const float *a, const float *b, size_t n);

/* 64-bit FNV-1a over the little-endian bytes of each float, every NaN hashed as 0x7fc00000. */
#define TU_FNV_BASIS 0xcbf29ce484222325u
uint64_t tu_fnv(uint64_t h, const float *p, size_t n);

/* ---- ISAs ----------------------------------------------------------------------- */

/* Every concrete ISA, BPQ_ISA_REFERENCE .. BPQ_ISA_NEON. */
#define TU_N_ISAS 5
extern const bpq_isa tu_isas[TU_N_ISAS];

/* Select an ISA the caller knows is supported; a failure fails the test. */
void tu_select(bpq_isa isa);

/* Size of one float ulp at the magnitude of v (denormal spacing near 0). */
double tu_ulp(double v);

#endif /* BPQ_TESTUTIL_H */
