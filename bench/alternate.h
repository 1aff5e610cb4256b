/* alternate.h - every implementation of one case and shape timed in alternation. */
#ifndef BPQ_BENCH_ALTERNATE_H
#define BPQ_BENCH_ALTERNATE_H

#include <stdio.h>

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Google Benchmark times implementations one after the other, so a change
 * of the shared machine's clock between them shows up as a difference of
 * speed. Here every implementation of a case and shape is set up at once
 * and their calls alternate over rounds, the order reversed every other
 * round; each keeps its best round.
 */

/* How a group is timed. */
typedef struct bench_alternation {
    int max_rounds;       /* rounds when time allows */
    int min_rounds;       /* never fewer, whatever group_seconds says */
    double round_seconds; /* each turn makes as many calls as take about this long (at least 1) */
    double group_seconds; /* 0, or the CPU time a group should take: after the first round the
                           * rounds are cut (to min_rounds at least) to fit it */
} bench_alternation;

/* One implementation of the group: its case in, its results out. */
typedef struct bench_contender {
    const bench_case *c;
    int timed;         /* set up, and its calls timed */
    int ok;            /* timed, and its result check and every call passed */
    char why[256];     /* why not ok: the setup's reason (a peer differing from bpq), or verify's */
    char note[128];    /* the case's label note (the kernel a peer used), copied before teardown */
    bench_work work;   /* its note is NULL after the run: use note */
    int flushed;       /* data larger than the L3: the caches were flushed before each turn */
    long calls;        /* calls per turn */
    int rounds;        /* rounds run */
    double best;       /* seconds per call of the best round */
    double rate;       /* GFLOP/s (work.flops > 0) or GB/s of the best round */
    void *ctx;         /* the case's data while the group runs */
} bench_contender;

/*
 * Sets up every contender, times them in alternation, checks and tears
 * them down, then frees bpq's results kept for the peers' checks (they
 * belong to this group's shape). Contenders whose setup fails are left
 * with timed = 0 and the reason in why.
 */
void bench_alternate(bench_contender *v, size_t n, const bench_alternation *how);

/*
 * --bpq_side_by_side=TEXT: every case and shape whose name contains TEXT,
 * 16 rounds of about 5 ms, printing each implementation's rate and bpq's
 * speed over it; json_path (NULL: none) receives the rates for report.py.
 */
void bench_side_by_side(const char *text, const char *json_path);

/* Writes s as a JSON string, quotes included. */
void bench_json_string(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* BPQ_BENCH_ALTERNATE_H */
