/* peak.c - register-only FMA loop and stream loops, compiled once per ISA level to measure that level's peak. */
#include <stddef.h>

/*
 * The build compiles this file once per level with that level's -m flags,
 * -ffp-contract=fast (so `a * b + c` becomes one fused multiply-add where
 * the ISA has it) and -fno-tree-vectorize (so only the vectors written here
 * are used: the one-lane peak must stay one lane). It defines
 *   BENCH_PEAK_SUFFIX   the level's name, appended to every function (bench_fma_loop_avx2)
 *   BENCH_VEC_BYTES     the level's vector width in bytes
 *   BENCH_FMA_ONE_LANE  1 for the scalar level, whose peak is one lane
 *   BENCH_ACCUMULATORS  independent FMA chains: enough to cover latency x pipes
 * GCC vector extensions, not intrinsics: intrinsics live only in kernels/.
 */
#ifndef BENCH_PEAK_SUFFIX
#error "compile with -DBENCH_PEAK_SUFFIX=<level> and the level's flags"
#endif
#define BENCH_PASTE2(a, b) a##_##b
#define BENCH_PASTE(a, b) BENCH_PASTE2(a, b)
#define BENCH_PEAK_NAME(x) BENCH_PASTE(x, BENCH_PEAK_SUFFIX)

typedef float vec __attribute__((vector_size(BENCH_VEC_BYTES)));
#if BENCH_FMA_ONE_LANE
typedef float fma_t;
#else
typedef vec fma_t;
#endif

enum { LANES = BENCH_VEC_BYTES / sizeof(float), STREAM_UNROLL = 8 };

/* The sum of a vector's lanes (the result is only kept so no loop is optimised away). */
static float lane_sum(vec v)
{
    float s = 0.0f;
    for (int i = 0; i < (int)LANES; i++)
        s += v[i];
    return s;
}

/*
 * reps rounds of BENCH_ACCUMULATORS independent fused multiply-adds on
 * values in registers only. acc = acc * m + c converges to c / (1 - m), so
 * nothing overflows or goes subnormal. Returns the flops done; *sink gets
 * the result so the compiler must compute it.
 */
double BENCH_PEAK_NAME(bench_fma_loop)(long reps, float *sink)
{
    fma_t acc[BENCH_ACCUMULATORS];
    fma_t m, c;
#if BENCH_FMA_ONE_LANE
    m = 0.9999f;
    c = 0.0001f;
#else
    m = (vec){0} + 0.9999f;
    c = (vec){0} + 0.0001f;
#endif
    /* The starting values go through a volatile: from the constant m * 1,
     * the first step m * m + c rounds back to m itself, GCC proves that
     * chain constant and drops it from the loop, and the peak then counted
     * flops that were never done (11 FMAs per round of 12 at AVX2, 9% too
     * high). */
    volatile float seed = 1.0f;
    for (int k = 0; k < BENCH_ACCUMULATORS; k++)
        acc[k] = m * (seed * (float)k);
    for (long r = 0; r < reps; r++)
        for (int k = 0; k < BENCH_ACCUMULATORS; k++)
            acc[k] = acc[k] * m + c;
    fma_t total = acc[0];
    for (int k = 1; k < BENCH_ACCUMULATORS; k++)
        total += acc[k];
#if BENCH_FMA_ONE_LANE
    *sink = total;
    return 2.0 * (double)reps * BENCH_ACCUMULATORS;
#else
    *sink = lane_sum(total);
    return 2.0 * (double)reps * BENCH_ACCUMULATORS * LANES;
#endif
}

/*
 * Reads n_vec vectors `passes` times, summing into independent
 * accumulators so the adds never limit the rate. n_vec is a multiple of
 * STREAM_UNROLL. Buffers are only ever accessed as `vec`.
 */
float BENCH_PEAK_NAME(bench_read_loop)(const void *buf, size_t n_vec, int passes)
{
    const vec *p = buf;
    vec acc[STREAM_UNROLL] = {{0}};
    for (int pass = 0; pass < passes; pass++)
        for (size_t i = 0; i < n_vec; i += STREAM_UNROLL)
            for (int k = 0; k < STREAM_UNROLL; k++)
                acc[k] += p[i + k];
    vec total = acc[0];
    for (int k = 1; k < STREAM_UNROLL; k++)
        total += acc[k];
    return lane_sum(total);
}

/*
 * param = param + s * grad over n_vec vectors (a multiple of STREAM_UNROLL),
 * `passes` times: what an SGD step does to memory. Unrolled like the read
 * loop, so loop overhead does not cap the L1 rate.
 */
void BENCH_PEAK_NAME(bench_update_loop)(void *param, const void *grad, size_t n_vec, int passes)
{
    vec *p = param;
    const vec *g = grad;
    const vec s = (vec){0} + 1e-7f;
    for (int pass = 0; pass < passes; pass++)
        for (size_t i = 0; i < n_vec; i += STREAM_UNROLL)
            for (int k = 0; k < STREAM_UNROLL; k++)
                p[i + k] = p[i + k] + s * g[i + k];
}

/* Writes the same value into n_vec vectors (touches a buffer before it is measured). */
void BENCH_PEAK_NAME(bench_set_loop)(void *buf, size_t n_vec, float value)
{
    vec *p = buf;
    for (size_t i = 0; i < n_vec; i++)
        p[i] = (vec){0} + value;
}
