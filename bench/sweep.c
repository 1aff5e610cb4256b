/* sweep.c - --bpq_sweep: bpq and its peers side by side on layer shapes drawn from a seed. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime with -std=c11 */

#include "sweep.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alternate.h"
#include "util.h"

/*
 * The caps. A product may cost 4 GFLOP (about 40 ms at this machine's
 * one-core AVX2 peak; the layer case does two): the random space reaches
 * 550 GFLOP at 4096x8192x8192, which at the four rounds a large case still
 * gets would take minutes per shape. A layer's buffers may take 1.25 GiB:
 * all implementations of a case are set up at once, about five layers'
 * worth with bpq's kept result and oneDNN's reordered weights. Above
 * either cap the batch is cut, and the output says so.
 */
#define SWEEP_FLOP_BUDGET 4e9
#define SWEEP_LAYER_BYTES (1.25 * 1073741824.0)
/* Timing: 16 rounds of about 5 ms, cut to fit 0.4 s of CPU per case and
 * shape (but at least 4) when one call is long. */
static const bench_alternation full_rounds = {16, 4, 0.005, 0.4};
/* Smoke: two rounds of about a millisecond; does everything run and agree? */
static const bench_alternation smoke_rounds = {2, 2, 0.001, 0.0};

enum { MAX_CASES = 16, MAX_GIVEN = 64 };
static const char *const default_cases[] = {"forward.sigmoid", "bp2.sigmoid", "bp4",
                                            "layer.sigmoid"};

static struct {
    int on, seed_given, smoke, rounds, list_only;
    uint64_t seed;
    size_t count;
    char cases_arg[256], isa_arg[16], shapes_arg[1024], out[1024];
    const char *cases[MAX_CASES];
    size_t n_cases;
    int isa;            /* bpq's ISA compared */
    char isa_note[128]; /* when it is not the one asked for */
    bench_sweep_shape *shapes;
    bench_shape *plain; /* the same, as registration takes them */
    bench_sweep_space space;
    const char *space_note;
} S = {.count = 200, .isa_arg = "auto"};

/* The arguments after "--bpq_sweep" and friends; 1 taken, 0 not ours, -1 bad. */
static int take(const char *arg, const char *flag, char *dst, size_t len)
{
    const size_t n = strlen(flag);
    if (strncmp(arg, flag, n) != 0 || arg[n] != '=')
        return 0;
    if (strlen(arg + n + 1) >= len)
        return -1;
    strcpy(dst, arg + n + 1);
    return 1;
}

static int parse_uint(const char *text, uint64_t *v)
{
    char *end;
    if (!text[0] || text[0] == '-')
        return 0;
    *v = strtoull(text, &end, 0);
    return *end == 0;
}

int bench_sweep_flag(const char *arg)
{
    char num[32];
    uint64_t v;
    int r;
    if (strcmp(arg, "--bpq_sweep") == 0)
        return S.on = 1;
    if (strcmp(arg, "--bpq_sweep_list") == 0)
        return S.list_only = 1;
    if ((r = take(arg, "--bpq_sweep", num, sizeof num)) != 0) {
        S.on = S.seed_given = 1;
        return r > 0 && parse_uint(num, &S.seed) ? 1 : -1;
    }
    if ((r = take(arg, "--bpq_sweep_count", num, sizeof num)) != 0) {
        return r > 0 && parse_uint(num, &v) && v > 0 && v < 100000 ? (S.count = v, 1) : -1;
    }
    if ((r = take(arg, "--bpq_sweep_rounds", num, sizeof num)) != 0)
        return r > 0 && parse_uint(num, &v) && v > 0 && v <= 1000 ? (S.rounds = (int)v, 1) : -1;
    if ((r = take(arg, "--bpq_sweep_cases", S.cases_arg, sizeof S.cases_arg)) != 0)
        return r;
    if ((r = take(arg, "--bpq_sweep_isa", S.isa_arg, sizeof S.isa_arg)) != 0)
        return r;
    if ((r = take(arg, "--bpq_sweep_shapes", S.shapes_arg, sizeof S.shapes_arg)) != 0)
        return r;
    return take(arg, "--bpq_sweep_out", S.out, sizeof S.out);
}

int bench_sweep_on(void)
{
    return S.on;
}

int bench_sweep_list_only(void)
{
    return S.list_only;
}

void bench_sweep_announce(const char *argv0, int smoke)
{
    S.smoke = smoke;
    if (!S.seed_given) { /* from the clock, stirred: runs a second apart differ everywhere */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        S.seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        S.seed ^= S.seed >> 29;
        S.seed *= 0xbf58476d1ce4e5b9u;
        S.seed ^= S.seed >> 32;
    }
    printf("sweep: seed %" PRIu64 "\nsweep: repeat with:", S.seed);
    static const char *const env[] = {"OPENBLAS_CORETYPE", "ONEDNN_MAX_CPU_ISA", "BPQ_ISA"};
    for (size_t k = 0; k < sizeof env / sizeof env[0]; k++)
        if (getenv(env[k]))
            printf(" %s=%s", env[k], getenv(env[k]));
    printf(" %s --bpq_sweep=%" PRIu64, argv0, S.seed);
    if (S.shapes_arg[0])
        printf(" --bpq_sweep_shapes=%s", S.shapes_arg);
    else
        printf(" --bpq_sweep_count=%zu", S.count);
    if (S.cases_arg[0])
        printf(" --bpq_sweep_cases=%s", S.cases_arg);
    if (strcmp(S.isa_arg, "auto") != 0)
        printf(" --bpq_sweep_isa=%s", S.isa_arg);
    if (S.rounds)
        printf(" --bpq_sweep_rounds=%d", S.rounds);
    printf("%s\n", smoke ? " --bpq_mode=smoke" : "");
    fflush(stdout);
}

/* bpq's ISA named `name` or, when this build or CPU lacks it, the best one below it. */
static int choose_isa(const char *name)
{
    int asked = -1;
    for (int isa = BPQ_ISA_AUTO; isa <= BPQ_ISA_NEON; isa++)
        if (strcmp(name, bpq_isa_name((bpq_isa)isa)) == 0)
            asked = isa;
    if (asked < 0)
        return -1;
    if (asked == BPQ_ISA_AUTO) {
        bpq_isa_select(BPQ_ISA_AUTO);
        return (int)bpq_isa_active();
    }
    for (int isa = asked; isa >= BPQ_ISA_SCALAR; isa--)
        if (bpq_isa_supported((bpq_isa)isa)) {
            if (isa != asked)
                snprintf(S.isa_note, sizeof S.isa_note,
                         "bpq has no %s here (build or CPU): bpq.%s is compared instead", name,
                         bpq_isa_name((bpq_isa)isa));
            return isa;
        }
    return -1;
}

/* Splits a comma-separated list in place. */
static size_t split(char *text, const char **items, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(text, ","); tok && n < max; tok = strtok(NULL, ","))
        items[n++] = tok;
    return n;
}

/* --bpq_sweep_shapes=BxIxO,...: the given shapes, as they are. */
static int given_shapes(void)
{
    const char *items[MAX_GIVEN];
    const size_t n = split(S.shapes_arg, items, MAX_GIVEN);
    S.count = n;
    S.shapes = calloc(n ? n : 1, sizeof *S.shapes);
    for (size_t k = 0; S.shapes && k < n; k++) {
        size_t b, i, o;
        char end;
        if (sscanf(items[k], "%zux%zux%zu%c", &b, &i, &o, &end) != 3 || !b || !i || !o) {
            fprintf(stderr, "bench_bpq: --bpq_sweep_shapes: '%s' is not BxIxO\n", items[k]);
            return 0;
        }
        S.shapes[k] = (bench_sweep_shape){.shape = {b, i, o, "given", 0, 0, 0}, .drawn_batch = b};
    }
    return S.shapes != NULL && n > 0;
}

static void print_shapes(void)
{
    const bench_sweep_space *sp = &S.space;
    printf("sweep: %zu shapes; batch log-uniform in [1, %zu], n_in and n_out in [1, %zu]; "
           "caps: %.3g flop per product, %.3g GiB per layer\n",
           S.count, sp->max_batch, sp->max_n, sp->flop_budget, sp->layer_bytes / 1073741824.0);
    if (sp->l3_bytes > 0.0)
        printf("sweep: past-l3 shapes: weights over %.0f MiB, the L3 the system reports (the one "
               "counted for flushing: %.0f MiB)\n",
               sp->l3_bytes / 1048576.0, (double)bench_l3_bytes(1) / 1048576.0);
    if (S.space_note)
        printf("sweep: note: %s\n", S.space_note);
    if (S.isa_note[0])
        printf("sweep: note: %s\n", S.isa_note);
    printf("sweep: bpq compared: bpq.%s\n", bpq_isa_name((bpq_isa)S.isa));
    for (size_t k = 0; k < S.count; k++) {
        const bench_sweep_shape *s = &S.shapes[k];
        printf("sweep: shape %3zu %zux%zux%zu %s", k, s->shape.batch, s->shape.n_in,
               s->shape.n_out, s->shape.origin);
        if (s->cut)
            printf(" (batch cut from %zu: over the %s cap)", s->drawn_batch, s->cut);
        printf("\n");
    }
    fflush(stdout);
}

int bench_sweep_prepare(void)
{
    S.isa = choose_isa(S.isa_arg);
    if (S.isa < 0) {
        fprintf(stderr, "bench_bpq: --bpq_sweep_isa=%s: not an ISA bpq can run here\n", S.isa_arg);
        return 0;
    }
    S.n_cases = S.cases_arg[0] ? split(S.cases_arg, S.cases, MAX_CASES) : 4;
    if (!S.cases_arg[0])
        memcpy(S.cases, default_cases, sizeof default_cases);
    if (!S.rounds)
        S.rounds = (S.smoke ? smoke_rounds : full_rounds).max_rounds;
    const double l3 = bench_l3_bytes(0) ? (double)bench_l3_bytes(0) : (double)bench_l3_bytes(1);
    if (S.smoke) /* small shapes only, none past the L3: seconds, not minutes */
        S.space = (bench_sweep_space){64, 256, 1e7, 64.0 * 1048576.0, 0.0};
    else
        S.space = (bench_sweep_space){4096, 8192, SWEEP_FLOP_BUDGET, SWEEP_LAYER_BYTES, l3};
    if (S.shapes_arg[0]) {
        if (!given_shapes())
            return 0;
    } else {
        S.shapes = calloc(S.count, sizeof *S.shapes);
        if (!S.shapes)
            return 0;
        S.space_note = bench_sweep_draw(S.seed, S.count, &S.space, S.shapes);
    }
    S.plain = calloc(S.count, sizeof *S.plain);
    if (!S.plain)
        return 0;
    for (size_t k = 0; k < S.count; k++)
        S.plain[k] = S.shapes[k].shape;
    bench_use_shapes(S.plain, S.count);
    print_shapes();
    return 1;
}

int bench_sweep_keeps(const char *name)
{
    const char *slash = strchr(name, '/'), *impl = strrchr(name, '/');
    if (!slash || !impl)
        return 0;
    int wanted = 0;
    for (size_t k = 0; k < S.n_cases; k++)
        wanted |= strlen(S.cases[k]) == (size_t)(slash - name) &&
                  strncmp(name, S.cases[k], (size_t)(slash - name)) == 0;
    if (!wanted || strncmp(impl + 1, "bpq.", 4) != 0)
        return wanted;
    return strcmp(impl + 5, bpq_isa_name((bpq_isa)S.isa)) == 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

static void json_header(FILE *f)
{
    const bench_sweep_space *sp = &S.space;
    fprintf(f, "{\"format\": \"bpq-sweep-run/1\", \"seed\": %" PRIu64 ", \"count\": %zu, ",
            S.seed, S.count);
    fprintf(f, "\"smoke\": %s, \"given\": %s, \"bpq_isa\": \"%s\", \"bpq_isa_asked\": ",
            S.smoke ? "true" : "false", S.shapes_arg[0] ? "true" : "false",
            bpq_isa_name((bpq_isa)S.isa));
    bench_json_string(f, S.isa_arg);
    fputs(", \"bpq_isa_note\": ", f);
    bench_json_string(f, S.isa_note);
    fprintf(f, ",\n \"l3_reported\": %zu, \"l3_counted\": %zu, \"space\": {\"max_batch\": %zu, "
               "\"max_n\": %zu, \"flop_budget\": %.6g, \"layer_bytes\": %.6g, \"l3_bytes\": %.6g",
            bench_l3_bytes(0), bench_l3_bytes(1), sp->max_batch, sp->max_n, sp->flop_budget,
            sp->layer_bytes, sp->l3_bytes);
    fputs(", \"note\": ", f);
    bench_json_string(f, S.space_note ? S.space_note : "");
    const bench_alternation *how = S.smoke ? &smoke_rounds : &full_rounds;
    fprintf(f, "},\n \"timing\": {\"max_rounds\": %d, \"min_rounds\": %d, \"round_seconds\": "
               "%g, \"group_seconds\": %g},\n \"shapes\": [",
            S.rounds, how->min_rounds < S.rounds ? how->min_rounds : S.rounds, how->round_seconds,
            how->group_seconds);
    for (size_t k = 0; k < S.count; k++) {
        const bench_sweep_shape *s = &S.shapes[k];
        fprintf(f, "%s\n  {\"index\": %zu, \"shape\": [%zu, %zu, %zu], \"kind\": \"%s\", "
                   "\"drawn_batch\": %zu, \"cut\": %s%s%s}",
                k ? "," : "", k, s->shape.batch, s->shape.n_in, s->shape.n_out, s->shape.origin,
                s->drawn_batch, s->cut ? "\"" : "", s->cut ? s->cut : "null", s->cut ? "\"" : "");
    }
    fputs("\n ],\n \"groups\": [", f);
}

static void json_group(FILE *f, int first, size_t k, const char *id, const bench_contender *v,
                       size_t n, double seconds)
{
    const bench_shape *s = &S.shapes[k].shape;
    fprintf(f, "%s\n  {\"index\": %zu, \"case\": ", first ? "" : ",", k);
    bench_json_string(f, id); /* as the user typed it */
    fprintf(f, ", \"shape\": [%zu, %zu, %zu], \"seconds\": %.3f, \"impls\": [", s->batch,
            s->n_in, s->n_out, seconds);
    for (size_t i = 0; i < n; i++) {
        const bench_contender *c = &v[i];
        fprintf(f, "%s{\"impl\": ", i ? ", " : "");
        bench_json_string(f, strrchr(c->c->name, '/') + 1);
        fprintf(f, ", \"rate\": %.6g, \"gemm\": %s, \"ok\": %s, \"rounds\": %d, \"calls\": %ld, "
                   "\"flushed\": %s, \"note\": ",
                c->timed ? c->rate : 0.0, c->work.flops > 0.0 ? "true" : "false",
                c->ok ? "true" : "false", c->rounds, c->calls, c->flushed ? "true" : "false");
        bench_json_string(f, c->note);
        fputs(", \"error\": ", f);
        if (c->ok)
            fputs("null", f);
        else
            bench_json_string(f, c->why);
        fputc('}', f);
    }
    fputs("]}", f);
    fflush(f);
}

/* One line per case and shape: bpq, the fastest peer, bpq's speed over it; then any failure. */
static int print_group(size_t k, const char *id, const bench_contender *v, size_t n)
{
    const bench_shape *s = &S.shapes[k].shape;
    const bench_contender *bpq = NULL, *peer = NULL;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const int mine = strstr(v[i].c->name, "/bpq.") != NULL;
        failed += !v[i].ok;
        if (!v[i].ok)
            continue;
        if (mine)
            bpq = &v[i];
        else if (!peer || v[i].best < peer->best)
            peer = &v[i];
    }
    char shape[48];
    snprintf(shape, sizeof shape, "%zux%zux%zu", s->batch, s->n_in, s->n_out);
    printf("[%3zu/%zu] %-15s %-17s %-7s", k + 1, S.count, id, shape, s->origin);
    if (bpq)
        printf(" %-9s %7.1f", strrchr(bpq->c->name, '/') + 1, bpq->rate);
    else
        printf(" %-9s %7s", "bpq", "-");
    if (peer)
        printf("  %-20s %7.1f", strrchr(peer->c->name, '/') + 1, peer->rate);
    if (bpq && peer)
        printf("  bpq/peer %.3f", peer->best / bpq->best);
    printf("\n");
    for (size_t i = 0; i < n; i++)
        if (!v[i].ok)
            printf("    FAILED %s: %s\n", v[i].c->name, v[i].why);
    if (!n)
        printf("    FAILED: no implementation is registered for %s\n", id);
    fflush(stdout);
    return failed + !n;
}

int bench_sweep_run(void)
{
    FILE *json = S.out[0] ? fopen(S.out, "w") : NULL;
    if (S.out[0] && !json) {
        perror(S.out);
        return 1;
    }
    if (json)
        json_header(json);
    bench_alternation how = S.smoke ? smoke_rounds : full_rounds;
    how.max_rounds = S.rounds;
    if (how.min_rounds > S.rounds)
        how.min_rounds = S.rounds;
    const size_t total = bench_case_count();
    bench_contender *v = calloc(total ? total : 1, sizeof *v);
    const double t0 = bench_now();
    int failures = 0, first = 1;
    printf("[shape] %-15s %-17s %-7s %-9s %7s  %-20s %7s\n", "case", "BxIxO", "kind", "bpq",
           "rate", "fastest peer", "rate");
    for (size_t k = 0; v && k < S.count; k++) {
        const bench_shape *s = &S.shapes[k].shape;
        for (size_t c = 0; c < S.n_cases; c++) {
            char prefix[96];
            const int len = snprintf(prefix, sizeof prefix, "%s/%zux%zux%zu/", S.cases[c],
                                     s->batch, s->n_in, s->n_out);
            size_t n = 0;
            for (size_t i = 0; i < total; i++)
                if (strncmp(bench_case_at(i)->name, prefix, (size_t)len) == 0)
                    v[n++].c = bench_case_at(i);
            const double g0 = bench_now();
            bench_alternate(v, n, &how);
            const double took = bench_now() - g0;
            failures += print_group(k, S.cases[c], v, n);
            if (json)
                json_group(json, first, k, S.cases[c], v, n, took);
            first = 0;
        }
    }
    const double seconds = bench_now() - t0;
    printf("sweep: %zu shapes x %zu cases in %.0f s; %d failed implementation(s)\n", S.count,
           S.n_cases, seconds, failures);
    if (json) {
        fprintf(json, "\n ],\n \"seconds\": %.1f, \"failures\": %d}\n", seconds, failures);
        fclose(json);
    }
    const int ran = v != NULL;
    free(v);
    free(S.shapes);
    free(S.plain);
    return ran ? 0 : 1;
}
