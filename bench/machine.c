/* machine.c - measures this machine at start-up: FMA peak and cache/DRAM bandwidth per ISA level. */
#define _POSIX_C_SOURCE 200809L /* sysconf, clock_gettime with -std=c11 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "util.h"

/* The loops of peak.c, one set per level this build compiled it for. */
#define BENCH_PEAK_DECLARE(sfx)                                                                    \
    double bench_fma_loop_##sfx(long reps, float *sink);                                           \
    float bench_read_loop_##sfx(const void *buf, size_t n_vec, int passes);                        \
    void bench_update_loop_##sfx(void *param, const void *grad, size_t n_vec, int passes);         \
    void bench_set_loop_##sfx(void *buf, size_t n_vec, float value)

typedef struct peak_loops {
    bench_level level;
    size_t vec_bytes;
    double (*fma)(long, float *);
    float (*read)(const void *, size_t, int);
    void (*update)(void *, const void *, size_t, int);
    void (*set)(void *, size_t, float);
} peak_loops;

#define BENCH_PEAK_ENTRY(lvl, sfx, bytes)                                                          \
    {lvl, bytes, bench_fma_loop_##sfx, bench_read_loop_##sfx, bench_update_loop_##sfx,             \
     bench_set_loop_##sfx}

BENCH_PEAK_DECLARE(scalar);
#if defined(BENCH_HAVE_PEAK_AVX2)
BENCH_PEAK_DECLARE(avx2);
#endif
#if defined(BENCH_HAVE_PEAK_AVX512)
BENCH_PEAK_DECLARE(avx512);
#endif
#if defined(BENCH_HAVE_PEAK_NEON)
BENCH_PEAK_DECLARE(neon);
#endif

static const peak_loops all_loops[] = {
    BENCH_PEAK_ENTRY(BENCH_LEVEL_SCALAR, scalar, 16),
#if defined(BENCH_HAVE_PEAK_AVX2)
    BENCH_PEAK_ENTRY(BENCH_LEVEL_AVX2, avx2, 32),
#endif
#if defined(BENCH_HAVE_PEAK_AVX512)
    BENCH_PEAK_ENTRY(BENCH_LEVEL_AVX512, avx512, 64),
#endif
#if defined(BENCH_HAVE_PEAK_NEON)
    BENCH_PEAK_ENTRY(BENCH_LEVEL_NEON, neon, 16),
#endif
};
enum { N_LOOPS = sizeof all_loops / sizeof all_loops[0], N_CACHE = 4, N_STREAM = 2 };
static const char *const cache_names[N_CACHE] = {"L1", "L2", "L3", "DRAM"};
static const char *const stream_names[N_STREAM] = {"read", "update"};

/* Results, indexed like all_loops; 0 where not measured. */
static double peak_gflops[N_LOOPS];
/* Rounds of each level's FMA loop that take about BENCH_RECHECK_S, found at start-up. */
static long recheck_reps[N_LOOPS];
#define BENCH_RECHECK_S 0.003
static double bw_gbs[N_LOOPS][N_STREAM][N_CACHE];
static int measure_quick; /* bench_machine_measure's quick: also for the later measurements */
static size_t cache_bytes[N_CACHE]; /* capacity per level as used here; [3] is unused */
static size_t l3_reported;          /* the L3 as the system reports it, 0 if it does not */
static int emulated = -1;

const char *bench_level_name(bench_level level)
{
    switch (level) {
    case BENCH_LEVEL_SCALAR: return "scalar";
    case BENCH_LEVEL_AVX2: return "avx2";
    case BENCH_LEVEL_AVX512: return "avx512";
    case BENCH_LEVEL_NEON: return "neon";
    default: return "none";
    }
}

int bench_level_runs(bench_level level)
{
    switch (level) {
    case BENCH_LEVEL_SCALAR: return 1;
#if defined(__x86_64__)
    case BENCH_LEVEL_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case BENCH_LEVEL_AVX512: return __builtin_cpu_supports("avx512f");
#endif
#if defined(__aarch64__)
    case BENCH_LEVEL_NEON: return 1; /* every AArch64 CPU has Advanced SIMD */
#endif
    default: return 0;
    }
}

static int loop_index(bench_level level)
{
    for (int i = 0; i < N_LOOPS; i++)
        if (all_loops[i].level == level)
            return i;
    return -1;
}

/* ---- emulation ------------------------------------------------------------------------ */

void bench_set_emulated(void)
{
    emulated = 1;
}

/*
 * Under qemu-user the guest reads the host's /proc/cpuinfo, so an AArch64
 * binary that finds an x86 "vendor_id" line is emulated. BPQ_BENCH_EMULATED=1
 * says so explicitly (the build passes it when it runs through an emulator).
 */
int bench_emulated(void)
{
    if (emulated >= 0)
        return emulated;
    const char *env = getenv("BPQ_BENCH_EMULATED");
    emulated = env && env[0] && strcmp(env, "0") != 0;
#if !defined(__x86_64__) && !defined(__i386__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "vendor_id", 9) == 0)
                emulated = 1;
        fclose(f);
    }
#endif
    return emulated;
}

/* ---- caches ------------------------------------------------------------------------------ */

/* Size in bytes of the data or unified cache of `level` from sysfs, or 0. */
static size_t sysfs_cache(int level)
{
    for (int idx = 0; idx < 8; idx++) {
        char path[96], buf[64];
        int lvl = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        FILE *f = fopen(path, "r");
        if (!f)
            return 0;
        if (fscanf(f, "%d", &lvl) != 1)
            lvl = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        f = fopen(path, "r");
        if (!f || !fgets(buf, sizeof buf, f))
            buf[0] = 0;
        if (f)
            fclose(f);
        if (lvl != level || strncmp(buf, "Instruction", 11) == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        f = fopen(path, "r");
        size_t kib = 0;
        if (f) {
            if (fscanf(f, "%zuK", &kib) != 1)
                kib = 0;
            fclose(f);
        }
        return kib * 1024u;
    }
    return 0;
}

static size_t cache_size(int level)
{
    long v = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    v = sysconf(level == 1   ? _SC_LEVEL1_DCACHE_SIZE
                : level == 2 ? _SC_LEVEL2_CACHE_SIZE
                             : _SC_LEVEL3_CACHE_SIZE);
#endif
    if (v > 0)
        return (size_t)v;
    return sysfs_cache(level);
}

/*
 * Cache capacities as this benchmark uses them. Guesses stand in for what
 * the system does not say. L3 is capped at 32 MiB because virtual machines
 * and big server parts report the whole socket's L3, of which one core's
 * share (one CCX or slice group) is far smaller.
 */
static void find_caches(void)
{
    static const size_t guess[3] = {32u << 10, 512u << 10, 8u << 20};
    const size_t l3_cap = (size_t)32 << 20;
    for (int l = 0; l < 3; l++) {
        size_t s = cache_size(l + 1);
        cache_bytes[l] = s ? s : guess[l];
        char key[32], val[48];
        snprintf(key, sizeof key, "cache.L%d", l + 1);
        snprintf(val, sizeof val, "%zu%s", s ? s : guess[l], s ? "" : " (assumed)");
        bench_context(key, val);
    }
    l3_reported = cache_size(3);
    if (cache_bytes[2] > l3_cap)
        cache_bytes[2] = l3_cap;
    if (cache_bytes[2] < 2 * cache_bytes[1])
        cache_bytes[2] = 2 * cache_bytes[1]; /* no real L3: its row measures little */
    char val[32];
    snprintf(val, sizeof val, "%zu", cache_bytes[2]);
    bench_context("cache.L3.used", val);
}

size_t bench_l3_bytes(int as_counted)
{
    return as_counted ? cache_bytes[2] : l3_reported;
}

static int cache_of(double footprint)
{
    for (int c = 0; c < 3; c++)
        if (footprint <= (double)cache_bytes[c])
            return c;
    return 3;
}

/* ---- which CPU -------------------------------------------------------------------------- */

/* The CPU's model name (x86), or implementer and part numbers (AArch64), into the context. */
static void describe_cpu(void)
{
    char model[128] = "", impl[32] = "", part[32] = "", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *value = colon + 1 + (colon[1] == ' ');
        value[strcspn(value, "\n")] = 0;
        if (!model[0] && strncmp(line, "model name", 10) == 0)
            snprintf(model, sizeof model, "%s", value);
        else if (!impl[0] && strncmp(line, "CPU implementer", 15) == 0)
            snprintf(impl, sizeof impl, "%s", value);
        else if (!part[0] && strncmp(line, "CPU part", 8) == 0)
            snprintf(part, sizeof part, "%s", value);
    }
    if (f)
        fclose(f);
    if (!model[0] && impl[0])
        snprintf(model, sizeof model, "arm implementer %s part %s", impl, part);
    bench_context("cpu.model", model[0] ? model : "unknown");
#if defined(__x86_64__)
    bench_context("cpu.arch", "x86_64");
#elif defined(__aarch64__)
    bench_context("cpu.arch", "aarch64");
#else
    bench_context("cpu.arch", "other");
#endif
}

/* ---- measuring ---------------------------------------------------------------------------- */

/* Keeps the loops' results alive, so the compiler cannot drop them. */
static volatile float sink;

/* Best rate (flop/s) of `tries` timed runs of at least `seconds` each. */
static double fma_rate(const peak_loops *L, double seconds, int tries)
{
    float out = 0.0f;
    long reps = 1000;
    for (;;) { /* finds the length; ramps the clock up too */
        double s = bench_cpu_now();
        L->fma(reps, &out);
        if (bench_cpu_now() - s >= seconds || reps > (1L << 40))
            break;
        reps *= 2;
    }
    double best = 0.0;
    for (int t = 0; t < tries; t++) {
        double s = bench_cpu_now();
        double flops = L->fma(reps, &out);
        double rate = flops / (bench_cpu_now() - s);
        if (rate > best)
            best = rate;
    }
    sink = out;
    return best;
}

static double stream_rate(const peak_loops *L, int stream, void *buf, size_t bytes, double seconds,
                          int tries)
{
    size_t unit = L->vec_bytes * 8 * 2; /* whole unrolled steps in each half */
    bytes -= bytes % unit;
    size_t n_read = bytes / L->vec_bytes, n_half = n_read / 2;
    char *half = (char *)buf + n_half * L->vec_bytes;
    double best = 0.0;
    int passes = 1;
    for (int t = 0; t < tries; t++) {
        for (;;) {
            double s = bench_cpu_now();
            if (stream == BENCH_STREAM_READ)
                sink = sink + L->read(buf, n_read, passes);
            else
                L->update(buf, half, n_half, passes);
            double dt = bench_cpu_now() - s;
            if (dt < seconds && passes < (1 << 24)) {
                passes *= 2;
                continue;
            }
            /* read: every byte once; update: read both halves, write one */
            double moved = stream == BENCH_STREAM_READ ? (double)bytes : 1.5 * (double)bytes;
            double rate = moved * passes / dt;
            if (rate > best)
                best = rate;
            break;
        }
    }
    return best;
}

void bench_machine_measure(int quick)
{
    measure_quick = quick;
    describe_cpu();
    find_caches();
    const double fma_s = quick ? 0.004 : 0.03, bw_s = quick ? 0.003 : 0.02;
    const int tries = quick ? 2 : 4;
    /*
     * Working sets: half of L1 and of L2; for L3, four times L2 (the size of
     * the larger cases' weights: the L3 rate falls as a set grows towards
     * the L3's size, and the cases are held to the better rate); for DRAM,
     * eight times the L3.
     */
    size_t sizes[N_CACHE] = {cache_bytes[0] / 2, cache_bytes[1] / 2, 4 * cache_bytes[1], 0};
    if (sizes[1] < 4 * cache_bytes[0])
        sizes[1] = 4 * cache_bytes[0];
    if (sizes[2] > cache_bytes[2] / 2)
        sizes[2] = cache_bytes[2] / 2;
    sizes[3] = 8 * cache_bytes[2] > ((size_t)64 << 20) ? 8 * cache_bytes[2] : (size_t)64 << 20;
    void *buf = aligned_alloc(64, sizes[3]);
    if (!buf)
        fprintf(stderr, "bench: no memory for the DRAM bandwidth buffer; skipped\n");

    char levels[64] = "";
    for (int i = 0; i < N_LOOPS; i++) {
        const peak_loops *L = &all_loops[i];
        if (!bench_level_runs(L->level))
            continue;
        strcat(strcat(levels, levels[0] ? "," : ""), bench_level_name(L->level));
        if (buf)
            L->set(buf, sizes[3] / L->vec_bytes, 1.0f); /* touch every page once */
        peak_gflops[i] = 1e-9 * fma_rate(L, fma_s, tries);
        float out = 0.0f;
        const double per_round = L->fma(1, &out);
        sink = out;
        recheck_reps[i] = (long)(BENCH_RECHECK_S * peak_gflops[i] * 1e9 / per_round) + 1;
        char key[64], val[64];
        snprintf(key, sizeof key, "peak.%s.gflops", bench_level_name(L->level));
        snprintf(val, sizeof val, "%.2f", peak_gflops[i]);
        bench_context(key, val);
        for (int st = 0; st < N_STREAM; st++) {
            for (int c = 0; c < N_CACHE && buf; c++) {
                bw_gbs[i][st][c] = 1e-9 * stream_rate(L, st, buf, sizes[c], bw_s, tries);
                snprintf(key, sizeof key, "bw.%s.%s.%s", bench_level_name(L->level),
                         stream_names[st], cache_names[c]);
                snprintf(val, sizeof val, "%.2f", bw_gbs[i][st][c]);
                bench_context(key, val);
            }
        }
    }
    bench_context("levels", levels);
    free(buf);
}

double bench_peak_gflops(bench_level level)
{
    int i = loop_index(level);
    return i < 0 ? 0.0 : peak_gflops[i];
}

void bench_evict_caches(void)
{
    static volatile unsigned char *junk; /* kept for the whole run */
    static size_t bytes;
    if (!junk) {
        bytes = 4 * cache_bytes[2];
        unsigned char *p = malloc(bytes);
        if (!p)
            return;
        /* Written once, so that every page is its own memory: untouched
         * (calloc'd) pages all map the kernel's one zero page, and reading
         * them would evict nothing. */
        memset(p, 1, bytes);
        junk = p;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < bytes; i += 64)
        sum += junk[i];
    junk[0] = (unsigned char)sum; /* written: the compiler must read them all */
}

double bench_peak_recheck(bench_level level)
{
    int i = loop_index(level);
    if (i < 0 || recheck_reps[i] == 0)
        return 0.0;
    float out = 0.0f;
    double best = 0.0;
    for (int t = 0; t < 2; t++) {
        double s = bench_cpu_now();
        double flops = all_loops[i].fma(recheck_reps[i], &out);
        double rate = flops / (bench_cpu_now() - s);
        if (rate > best)
            best = rate;
    }
    sink = out;
    return 1e-9 * best;
}

/*
 * DRAM-sized cases are held to the stream loop run on a buffer of their own
 * footprint, measured the first time it is asked for: the L3 this code sees
 * can be larger than the one counted (a shared L3 of hundreds of MiB here),
 * and repeated calls on a 64 MiB case then find part of it there, while the
 * start-up DRAM row reads 256 MiB. Against that row BP3 and SGD showed
 * 110-157% of "DRAM" bandwidth.
 */
enum { N_SIZED = 24 };
static struct {
    int loop, stream;
    size_t bytes;
    double gbs;
} sized[N_SIZED];
static int n_sized;

static double dram_rate_at(int i, int stream, size_t bytes)
{
    for (int k = 0; k < n_sized; k++)
        if (sized[k].loop == i && sized[k].stream == stream && sized[k].bytes == bytes)
            return sized[k].gbs;
    const peak_loops *L = &all_loops[i];
    void *buf = n_sized < N_SIZED ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
    if (!buf)
        return bw_gbs[i][stream][3];
    L->set(buf, bytes / L->vec_bytes, 1.0f);
    const double gbs = 1e-9 * stream_rate(L, stream, buf, bytes, measure_quick ? 0.003 : 0.02,
                                          measure_quick ? 2 : 4);
    free(buf);
    sized[n_sized].loop = i;
    sized[n_sized].stream = stream;
    sized[n_sized].bytes = bytes;
    sized[n_sized++].gbs = gbs;
    return gbs;
}

const char *bench_cache_holding(double footprint)
{
    return cache_names[cache_of(footprint)];
}

double bench_bandwidth_gbs(bench_level level, bench_stream stream, double footprint,
                           const char **where)
{
    int c = cache_of(footprint);
    if (where)
        *where = cache_names[c];
    int i = loop_index(level);
    if (i < 0)
        return 0.0;
    if (c == 3 && bw_gbs[i][stream][3] > 0.0)
        return dram_rate_at(i, stream, (size_t)footprint);
    return bw_gbs[i][stream][c];
}
