/* ab.c - two builds of libbpq in one process, their calls interleaved: which one is faster. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpq.h"

/*
 * On a shared machine two runs made one after the other can differ by 5-15%
 * in either direction, which hides the few percent a kernel change is
 * about. Here both builds (say, the library of main and that of a branch)
 * are loaded with dlopen(RTLD_LOCAL), so each keeps its own symbols, and
 * their calls alternate in rounds (ABBA order) on the same buffers: a
 * neighbour slows both alike. The verdict is the ratio of the best rounds
 * and of the mean rounds; CPU time of this process, one thread.
 *
 *   bpq_ab OLD.so NEW.so forward|bp2|bp3|bp4 BATCH N_IN N_OUT [ACT]
 *
 * ACT is a bpq_act number (default 1, sigmoid). Both builds must give the
 * same bits (they follow one canonical order); the tool says so.
 */

typedef bpq_status (*forward_fn)(size_t, size_t, size_t, const float *, const float *,
                                 const float *, bpq_act, float *);
typedef bpq_status (*bp2_fn)(size_t, size_t, size_t, const float *, const float *, const float *,
                             bpq_act, float *);
typedef bpq_status (*bp3_fn)(size_t, size_t, const float *, bpq_reduce, float *);
typedef bpq_status (*bp4_fn)(size_t, size_t, size_t, const float *, const float *, bpq_reduce,
                             float *);

typedef struct build {
    void *lib;
    forward_fn forward;
    bp2_fn bp2;
    bp3_fn bp3;
    bp4_fn bp4;
} build;

enum { ROUNDS = 40 };

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t n, uint32_t seed) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "bpq_ab: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) { /* values in (0, 1): any activation's output */
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) + 1) * 0x1p-24f;
    }
    return p;
}

static int load(const char *path, build *b) {
    b->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!b->lib) {
        fprintf(stderr, "bpq_ab: %s\n", dlerror());
        return 0;
    }
    /* POSIX: a data pointer from dlsym converts to a function pointer. */
    *(void **)&b->forward = dlsym(b->lib, "bpq_forward");
    *(void **)&b->bp2 = dlsym(b->lib, "bpq_bp2_hidden_delta");
    *(void **)&b->bp3 = dlsym(b->lib, "bpq_bp3_bias_grad");
    *(void **)&b->bp4 = dlsym(b->lib, "bpq_bp4_weight_grad");
    if (!b->forward || !b->bp2 || !b->bp3 || !b->bp4) {
        fprintf(stderr, "bpq_ab: %s lacks a bpq function\n", path);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: bpq_ab OLD.so NEW.so forward|bp2|bp3|bp4 BATCH N_IN N_OUT [ACT]\n");
        return 2;
    }
    build b[2];
    if (!load(argv[1], &b[0]) || !load(argv[2], &b[1]))
        return 2;
    const char *op = argv[3];
    const size_t B = strtoul(argv[4], NULL, 10), I = strtoul(argv[5], NULL, 10),
                 O = strtoul(argv[6], NULL, 10);
    const bpq_act act = argc > 7 ? (bpq_act)atoi(argv[7]) : BPQ_ACT_SIGMOID;
    const int fwd = !strcmp(op, "forward"), bp2 = !strcmp(op, "bp2"), bp3 = !strcmp(op, "bp3");
    if (!fwd && !bp2 && !bp3 && strcmp(op, "bp4")) {
        fprintf(stderr, "bpq_ab: unknown equation %s\n", op);
        return 2;
    }
    float *x = filled(B * I, 1), *w = filled(O * I, 2), *bias = filled(O, 3);
    float *d = filled(B * O, 4), *a = filled(B * I, 5);
    const size_t out_n = fwd ? B * O : bp2 ? B * I : bp3 ? O : O * I;
    float *out[2] = {filled(out_n, 6), filled(out_n, 6)};

    /* Enough calls per round for about 3 MFLOP (or 1M elements for BP3). */
    const double work = bp3 ? (double)B * (double)O : 2.0 * (double)B * (double)I * (double)O;
    const long calls = 1 + (long)((bp3 ? 1e6 : 3e6) / (work > 0 ? work : 1));
    double best[2] = {1e30, 1e30}, sum[2] = {0, 0};
    for (int round = 0; round < ROUNDS; round++)
        for (int k = 0; k < 2; k++) {
            const int i = round % 2 ? 1 - k : k; /* ABBA: neither always goes first */
            bpq_status st = BPQ_OK;
            const double t0 = cpu_seconds();
            for (long c = 0; c < calls && st == BPQ_OK; c++) {
                if (fwd)
                    st = b[i].forward(B, I, O, x, w, bias, act, out[i]);
                else if (bp2)
                    st = b[i].bp2(B, O, I, d, w, a, act, out[i]);
                else if (bp3)
                    st = b[i].bp3(B, O, d, BPQ_REDUCE_SUM, out[i]);
                else
                    st = b[i].bp4(B, O, I, d, x, BPQ_REDUCE_SUM, out[i]);
            }
            const double t = (cpu_seconds() - t0) / (double)calls;
            if (st != BPQ_OK) {
                fprintf(stderr, "bpq_ab: %s returned %d\n", argv[1 + i], (int)st);
                return 2;
            }
            sum[i] += t;
            best[i] = t < best[i] ? t : best[i];
        }
    const int same = memcmp(out[0], out[1], out_n * sizeof(float)) == 0;
    const char *unit = bp3 ? "GB/s" : "GFLOP/s";
    const double scale = bp3 ? 4.0 * (double)B * (double)O : work;
    printf("%s %zux%zux%zu: old %.1f, new %.1f %s (best rounds); new/old: best %.3f, mean %.3f; "
           "outputs %s\n",
           op, B, I, O, scale / best[0] * 1e-9, scale / best[1] * 1e-9, unit, best[0] / best[1],
           sum[0] / sum[1], same ? "bit-identical" : "DIFFER");
    for (int i = 0; i < 2; i++)
        free(out[i]);
    free(x), free(w), free(bias), free(d), free(a);
    dlclose(b[0].lib), dlclose(b[1].lib);
    return same ? 0 : 1;
}
