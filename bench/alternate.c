/* alternate.c - all implementations of a case and shape set up at once, calls alternated. */
#include "alternate.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static void set_up(bench_contender *k, double round_seconds)
{
    const bench_case *c = k->c;
    snprintf(k->why, sizeof k->why, "setup failed");
    k->ctx = c->ops.setup(&c->args, &k->work, k->why, sizeof k->why);
    if (!k->ctx)
        return;
    k->timed = 1;
    k->why[0] = 0;
    if (k->work.note)
        snprintf(k->note, sizeof k->note, "%s", k->work.note);
    /* Larger than the L3: each turn starts from flushed caches, or the dirty lines the
     * one before left are written back during the next one's time (bpq's BP1 on the DRAM
     * shape ran at half speed after the plain loop's ordinary stores). Only where the data
     * sits is asked: bench_bandwidth_gbs would measure a stream at each new DRAM footprint. */
    k->flushed = strcmp(bench_cache_holding(k->work.footprint), "DRAM") == 0;
    c->ops.warm(k->ctx, 1);
    const double t0 = bench_cpu_now();
    c->ops.run(k->ctx);
    const double one = bench_cpu_now() - t0;
    k->calls = 1000;
    if (one > 0.0) {
        const double n = round_seconds / one;
        k->calls = n < 1.0 ? 1 : (long)n;
    }
    k->best = 1e30;
}

/* One turn: the contender's calls, timed; it keeps its best. */
static void turn(bench_contender *k)
{
    k->c->ops.warm(k->ctx, 0); /* untimed: selects this case's ISA again */
    if (k->flushed)
        bench_evict_caches();
    const double t0 = bench_cpu_now();
    for (long i = 0; i < k->calls; i++)
        k->c->ops.run(k->ctx);
    const double per_call = (bench_cpu_now() - t0) / (double)k->calls;
    if (per_call < k->best)
        k->best = per_call;
    k->rounds++;
}

/* How many rounds fit the group's time, knowing what the first one took. */
static int rounds_for(const bench_alternation *how, double first_round)
{
    if (how->group_seconds <= 0.0 || first_round <= 0.0)
        return how->max_rounds;
    double fit = how->group_seconds / first_round;
    int r = fit >= how->max_rounds ? how->max_rounds : (int)fit;
    if (r % 2 && r < how->max_rounds)
        r++; /* as many rounds in each order */
    return r < how->min_rounds ? how->min_rounds : r;
}

void bench_alternate(bench_contender *v, size_t n, const bench_alternation *how)
{
    for (size_t i = 0; i < n; i++) {
        const bench_case *c = v[i].c;
        v[i] = (bench_contender){.c = c};
        set_up(&v[i], how->round_seconds);
    }
    int rounds = how->max_rounds;
    for (int r = 0; r < rounds; r++) {
        const double t0 = bench_cpu_now();
        for (size_t i = 0; i < n; i++) {
            bench_contender *k = &v[r % 2 ? n - 1 - i : i];
            if (k->ctx)
                turn(k);
        }
        if (r == 0)
            rounds = rounds_for(how, bench_cpu_now() - t0);
    }
    for (size_t i = 0; i < n; i++) {
        bench_contender *k = &v[i];
        if (!k->ctx)
            continue;
        k->ok = !k->c->ops.verify || k->c->ops.verify(k->ctx, k->why, sizeof k->why);
        k->rate = (k->work.flops > 0.0 ? k->work.flops : k->work.bytes) * 1e-9 / k->best;
        k->work.note = NULL; /* it pointed into the case's data */
        k->c->ops.teardown(k->ctx);
        k->ctx = NULL;
    }
    bench_release(); /* bpq's results for this shape's checks; the next group has another */
}

void bench_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* ---- --bpq_side_by_side ------------------------------------------------------------------- */

/* Length of a case name's "<case>/<shape>" part. */
static size_t group_len(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash ? (size_t)(slash - name) : strlen(name);
}

/* The reference and bpq's scalar path are slow, and not what is compared. */
static int compared(const bench_case *c, const char *text)
{
    return !(c->flags & BENCH_SLOW) && !strstr(c->name, "bpq.scalar") && strstr(c->name, text);
}

static void print_group(const bench_contender *v, size_t n, size_t glen, FILE *json, int *first)
{
    printf("%.*s\n", (int)glen, v[0].c->name);
    const bench_contender *bpq = NULL; /* bpq's fastest ISA: the one the others are compared with */
    for (size_t i = 0; i < n; i++)
        if (v[i].timed && strstr(v[i].c->name, "/bpq.") && (!bpq || v[i].best < bpq->best))
            bpq = &v[i];
    for (size_t i = 0; i < n; i++) {
        const bench_contender *k = &v[i];
        const char *impl = k->c->name + glen + 1;
        const int gemm = k->work.flops > 0.0;
        if (!k->timed) {
            printf("  %-24s ERROR: %s\n", impl, k->why);
        } else {
            printf("  %-24s %8.1f %s", impl, k->rate, gemm ? "GFLOP/s" : "GB/s");
            if (bpq && k != bpq)
                printf("   speed of %s / this: %.3f", bpq->c->name + glen + 1, k->best / bpq->best);
            printf("%s%s\n", k->ok ? "" : "   CHECK FAILED: ", k->ok ? "" : k->why);
        }
        if (!json)
            continue;
        fprintf(json, "%s\n  {\"name\": ", *first ? "" : ",");
        bench_json_string(json, k->c->name);
        fprintf(json, ", \"rate\": %.6g, \"gemm\": %s, \"ok\": %s", k->timed ? k->rate : 0.0,
                gemm ? "true" : "false", k->ok ? "true" : "false");
        if (!k->ok) {
            fputs(", \"error\": ", json);
            bench_json_string(json, k->why);
        }
        fputc('}', json);
        *first = 0;
    }
    fflush(stdout);
}

void bench_side_by_side(const char *text, const char *json_path)
{
    static const bench_alternation how = {16, 16, 0.005, 0.0};
    FILE *json = json_path && json_path[0] ? fopen(json_path, "w") : NULL;
    if (json_path && json_path[0] && !json)
        perror(json_path);
    if (json)
        fputs("[", json);
    int first = 1;
    const size_t count = bench_case_count();
    char *done = calloc(count ? count : 1, 1);
    bench_contender *v = calloc(count ? count : 1, sizeof *v);
    for (size_t a = 0; done && v && a < count; a++) {
        const bench_case *ca = bench_case_at(a);
        if (done[a] || !compared(ca, text))
            continue;
        const size_t glen = group_len(ca->name);
        size_t n = 0; /* this case and shape's implementations, in registration order */
        for (size_t b = a; b < count; b++) {
            const bench_case *cb = bench_case_at(b);
            if (!done[b] && compared(cb, text) && group_len(cb->name) == glen &&
                strncmp(ca->name, cb->name, glen) == 0) {
                done[b] = 1;
                v[n++].c = cb;
            }
        }
        bench_alternate(v, n, &how);
        print_group(v, n, glen, json, &first);
    }
    free(done);
    free(v);
    if (json) {
        fputs("\n]\n", json);
        fclose(json);
    }
}
