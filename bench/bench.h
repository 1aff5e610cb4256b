/* bench.h - the small C interface between the benchmark cases and the C++ shim over Google Benchmark. */
#ifndef BPQ_BENCH_H
#define BPQ_BENCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A case is five plain C functions and a few numbers; the shim (shim.cc)
 * turns each into a Google Benchmark entry. Nothing of C++ crosses this line.
 *
 * Names are "<case>/<shape>/<impl>", for example
 * "bp2.sigmoid/128x1024x1024/bpq.avx2" or "forward.sigmoid/64x784x128/openblas.avx2".
 * <impl> is "bpq.<isa>" for bpq, "<peer>.<level>" for a peer, where <level>
 * is the instruction-set level the peer really ran at (see bench_level).
 */

/* Instruction-set levels a peak is measured for; the values are bpq_isa's. */
typedef enum bench_level {
    BENCH_LEVEL_NONE = 0, /* unknown: no percent of peak is given */
    BENCH_LEVEL_SCALAR = 2,
    BENCH_LEVEL_AVX2 = 3,
    BENCH_LEVEL_AVX512 = 4,
    BENCH_LEVEL_NEON = 5
} bench_level;

/* Which stream-style bandwidth a case is compared with. */
typedef enum bench_stream {
    BENCH_STREAM_READ = 0,  /* mostly reads (a reduction, or weights read once) */
    BENCH_STREAM_UPDATE = 1 /* two reads and one write per element (p = p + s g) */
} bench_stream;

/* The work one call does, filled in by a case's setup. */
typedef struct bench_work {
    double flops;     /* 2 batch n_in n_out per GEMM-like product; 0 for elementwise work */
    double bytes;     /* every operand read or written once: the least traffic possible */
    double footprint; /* bytes of all buffers touched: tells which cache level holds them */
    bench_stream stream;
    bench_level level; /* whose peak and bandwidth the rates are compared with */
    const char *note;  /* NULL, or a word for the label (e.g. "gemv": the call a peer used) */
} bench_work;

/* A shape, as (batch, n_in, n_out), with a short tag saying where it comes from. */
typedef struct bench_shape {
    size_t batch, n_in, n_out;
    const char *origin;
    int in_short;       /* part of the short run */
    int streaming_only;  /* only for BP1, BP3 and SGD (its products would take minutes) */
    int activation_only; /* only for the forward pass: n_in = 1, the activation is the work */
} bench_shape;

/* Arguments a case's functions receive. */
typedef struct bench_args {
    bench_shape shape;
    int impl;    /* bpq_isa for bpq's cases; a peer's own choice (e.g. blocked weights) */
    int variant; /* what the case varies: an activation, a loss, a peer's mode */
} bench_args;

/*
 * The functions of a case. setup allocates and fills the data, checks the
 * result once (a peer against bpq) and describes the work; it returns NULL
 * and writes a reason into `why` to skip the case. warm runs, untimed,
 * before each timed batch of iterations: it selects the ISA and, if
 * call_once, makes one call to warm the caches (smoke runs skip that call).
 * run is the timed body: one call. verify (may be NULL) runs after the
 * timed calls and returns 0 with a reason if any of them failed (bpq's calls
 * return a status; checking it inside the timed loop would cost a branch,
 * and checking it in setup a whole extra call). teardown frees everything.
 */
typedef struct bench_ops {
    void *(*setup)(const bench_args *args, bench_work *work, char *why, size_t why_len);
    void (*warm)(void *ctx, int call_once);
    void (*run)(void *ctx);
    int (*verify)(void *ctx, char *why, size_t why_len);
    void (*teardown)(void *ctx);
} bench_ops;

/* Flags of a registered case. */
enum {
    BENCH_SLOW = 1,  /* the double-precision reference: as few iterations as possible */
    BENCH_SHORT = 2, /* part of the short run (the demo's) */
    BENCH_PEER = 4,  /* a library peer (OpenBLAS, oneDNN): its kernels follow the environment */
    BENCH_ACTIVATION_SHAPES = 8 /* a peer that runs on the activation-only shapes alone */
};

/* Implemented by the shim: adds one case (the shim copies everything). */
void bench_add(const char *name, const bench_ops *ops, const bench_args *args, int flags);

/* Implemented by the shim: one key and value for the run's context (JSON and console). */
void bench_context(const char *key, const char *value);

/* A registered case, as the shim keeps it (the runs that time cases side by side walk them). */
typedef struct bench_case {
    const char *name; /* "<case>/<shape>/<impl>" */
    bench_ops ops;
    bench_args args;
    int flags;
} bench_case;

/* Implemented by the shim: the registered cases, in the order they were added. */
size_t bench_case_count(void);
const bench_case *bench_case_at(size_t k);

/* ---- machine.c: the machine, measured at start-up ---------------------------------------- */

/* Measures every level's FMA peak and bandwidths; quick = less accuracy, for smoke runs. */
void bench_machine_measure(int quick);
/* Peak GFLOP/s of a level (FMA in registers), 0 if not measured. */
double bench_peak_gflops(bench_level level);
/* The level's FMA peak measured again, now (two runs of about 3 ms, the
 * better one): the clock of a shared machine drifts by several percent
 * over a run, so a case is held to the peak measured next to it as well. */
double bench_peak_recheck(bench_level level);
/*
 * Seconds of CPU time this thread has used: what the start-up measurements
 * time, like the cases (the process's CPU time), so that another program
 * sharing the core does not lower the peak.
 */
double bench_cpu_now(void);
/* The last-level cache in bytes: as the system reports it (0: not said), or as this
 * benchmark counts it (at most 32 MiB, see machine.c: one core's share of a big L3). */
size_t bench_l3_bytes(int as_counted);
/* Reads a buffer of four times the L3 (allocated at the first call), which
 * writes back and evicts whatever the last case left in the caches. */
void bench_evict_caches(void);
/*
 * Bandwidth in GB/s that `level`'s stream loop reached in the cache level
 * where `footprint` bytes sit; *where receives "L1", "L2", "L3" or "DRAM".
 */
double bench_bandwidth_gbs(bench_level level, bench_stream stream, double footprint,
                           const char **where);
/* "L1", "L2", "L3" or "DRAM": the cache level that holds `footprint` bytes (nothing measured). */
const char *bench_cache_holding(double footprint);
/* Whether the CPU can run code of this level (bpq's own support is asked of bpq). */
int bench_level_runs(bench_level level);
/* Lower-case name of a level: "scalar", "avx2", "avx512", "neon" or "none". */
const char *bench_level_name(bench_level level);
/* Whether this process runs under an emulator (its times then mean nothing). */
int bench_emulated(void);
void bench_set_emulated(void);

/* ---- registry.c: every case file's registration ---------------------------------------- */
void bench_register_all(void);
/* Frees what the cases keep between them (bpq's results the peers are checked against). */
void bench_release(void);

#ifdef __cplusplus
}
#endif

#endif /* BPQ_BENCH_H */
