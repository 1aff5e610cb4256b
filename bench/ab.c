/* ab.c - two builds of libbpq in one process, their calls interleaved: which one is faster. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
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
 *   bpq_ab OLD.so NEW.so forward|bp1|bp2|bp3|bp4 BATCH N_IN N_OUT [ACT]
 *
 * ACT is an activation, by name (identity, sigmoid, tanh, relu, softmax) or
 * bpq_act number (default sigmoid); for bp1 it is the loss instead (mse,
 * bce, xent or the bpq_loss number; default mse, with sigmoid; BCE goes
 * with sigmoid, XENT with softmax and one-hot labels), on BATCH x N_OUT,
 * with the loss value. Anything else is refused: a name read as a number
 * would silently time the wrong case. Both
 * builds must give the same bits (they follow one canonical order); the
 * tool says so.
 */

typedef bpq_status (*forward_fn)(size_t, size_t, size_t, const float *, const float *,
                                 const float *, bpq_act, float *);
typedef bpq_status (*bp1_fn)(size_t, size_t, bpq_loss, bpq_act, const float *, const float *,
                             float *, float *);
typedef bpq_status (*bp2_fn)(size_t, size_t, size_t, const float *, const float *, const float *,
                             bpq_act, float *);
typedef bpq_status (*bp3_fn)(size_t, size_t, const float *, bpq_reduce, float *);
typedef bpq_status (*bp4_fn)(size_t, size_t, size_t, const float *, const float *, bpq_reduce,
                             float *);

typedef struct build {
    void *lib;
    forward_fn forward;
    bp1_fn bp1;
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

/* The index of s in names[0..count), given as the name or as its number;
 * -1 when it is neither. */
static int pick(const char *s, const char *const *names, int count) {
    for (int i = 0; i < count; i++)
        if (!strcmp(s, names[i]))
            return i;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 0 && v < count ? (int)v : -1;
}

/* A dimension: a positive decimal number, or 0 when s is not one. */
static size_t dimension(const char *s) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *s && !*end && s[0] != '-' ? (size_t)v : 0;
}

/* Every buffer 64-byte aligned, whatever malloc gives. */
static float *filled(size_t n, uint32_t seed) {
    float *p = aligned_alloc(64, ((n ? n : 1) * sizeof *p + 63) / 64 * 64);
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
    *(void **)&b->bp1 = dlsym(b->lib, "bpq_bp1_output_delta");
    *(void **)&b->bp2 = dlsym(b->lib, "bpq_bp2_hidden_delta");
    *(void **)&b->bp3 = dlsym(b->lib, "bpq_bp3_bias_grad");
    *(void **)&b->bp4 = dlsym(b->lib, "bpq_bp4_weight_grad");
    if (!b->forward || !b->bp1 || !b->bp2 || !b->bp3 || !b->bp4) {
        fprintf(stderr, "bpq_ab: %s lacks a bpq function\n", path);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr,
                "usage: bpq_ab OLD.so NEW.so forward|bp1|bp2|bp3|bp4 BATCH N_IN N_OUT"
                " [ACT | bp1: LOSS]\n");
        return 2;
    }
    build b[2];
    if (!load(argv[1], &b[0]) || !load(argv[2], &b[1]))
        return 2;
    const char *op = argv[3];
    const size_t B = dimension(argv[4]), I = dimension(argv[5]), O = dimension(argv[6]);
    const int fwd = !strcmp(op, "forward"), bp1 = !strcmp(op, "bp1"), bp2 = !strcmp(op, "bp2"),
              bp3 = !strcmp(op, "bp3");
    if (!fwd && !bp1 && !bp2 && !bp3 && strcmp(op, "bp4")) {
        fprintf(stderr, "bpq_ab: unknown equation %s\n", op);
        return 2;
    }
    if (!B || !I || !O) {
        fprintf(stderr, "bpq_ab: BATCH, N_IN and N_OUT must be positive numbers\n");
        return 2;
    }
    static const char *const acts[] = {"identity", "sigmoid", "tanh", "relu", "softmax"};
    static const char *const losses[] = {"mse", "bce", "xent"};
    const int choice = argc <= 7 ? (bp1 ? BPQ_LOSS_MSE : BPQ_ACT_SIGMOID)
                       : bp1     ? pick(argv[7], losses, 3)
                                 : pick(argv[7], acts, 5);
    if (choice < 0) {
        fprintf(stderr, "bpq_ab: unknown %s %s\n", bp1 ? "loss" : "activation", argv[7]);
        return 2;
    }
    const bpq_loss loss = bp1 ? (bpq_loss)choice : BPQ_LOSS_MSE;
    const bpq_act act = bp1 ? (loss == BPQ_LOSS_XENT ? BPQ_ACT_SOFTMAX : BPQ_ACT_SIGMOID)
                            : (bpq_act)choice;
    float *x = filled(B * I, 1), *w = filled(O * I, 2), *bias = filled(O, 3);
    float *d = filled(B * O, 4), *a = filled(B * I, 5), *y = filled(B * O, 7);
    /* Inputs, weights, bias and deltas centred on 0 and scaled so that a sum
     * of n_in products stays near 1: from (0, 1) the sums grew with n_in,
     * sigmoid and tanh saturated to exactly 1 and any two builds "agreed". */
    const float spread = 2.0f / sqrtf((float)(I > O ? I : O));
    for (size_t i = 0; i < B * I; i++)
        x[i] = (x[i] - 0.5f) * 2.0f;
    for (size_t i = 0; i < O * I; i++)
        w[i] = (w[i] - 0.5f) * spread;
    for (size_t i = 0; i < O; i++)
        bias[i] -= 0.5f;
    for (size_t i = 0; !bp1 && i < B * O; i++)
        d[i] = (d[i] - 0.5f) * spread;
    for (size_t i = 0; bp1 && loss != BPQ_LOSS_MSE && i < B * O; i++) /* labels */
        y[i] = loss == BPQ_LOSS_BCE ? (float)(y[i] < 0.5f) : (float)(i % O == (i / O * 7) % O);
    const size_t out_n = fwd || bp1 ? B * O : bp2 ? B * I : bp3 ? O : O * I;
    /* Both builds write the same buffer: with one each, the two outputs sat
     * at different distances from the inputs, and that alone (4 KiB
     * aliasing of loads with stores) made the same BP1 code run 4-15%
     * faster in one slot. Each build's last output is copied out, untimed. */
    float *out = filled(out_n, 6), *kept[2] = {filled(out_n, 6), filled(out_n, 6)};
    float lossv[2] = {0.0f, 0.0f};

    /* Enough calls per round for about 3 MFLOP (or 1M elements for BP1 and BP3). */
    const int elementwise = bp1 || bp3;
    const double work = elementwise ? (double)B * (double)O : 2.0 * (double)B * (double)I * (double)O;
    const long calls = 1 + (long)((elementwise ? 1e6 : 3e6) / (work > 0 ? work : 1));
    double best[2] = {1e30, 1e30}, sum[2] = {0, 0};
    for (int round = 0; round < ROUNDS; round++)
        for (int k = 0; k < 2; k++) {
            const int i = round % 2 ? 1 - k : k; /* ABBA: neither always goes first */
            bpq_status st = BPQ_OK;
            const double t0 = cpu_seconds();
            for (long c = 0; c < calls && st == BPQ_OK; c++) {
                if (fwd)
                    st = b[i].forward(B, I, O, x, w, bias, act, out);
                else if (bp1)
                    st = b[i].bp1(B, O, loss, act, d, y, out, &lossv[i]);
                else if (bp2)
                    st = b[i].bp2(B, O, I, d, w, a, act, out);
                else if (bp3)
                    st = b[i].bp3(B, O, d, BPQ_REDUCE_SUM, out);
                else
                    st = b[i].bp4(B, O, I, d, x, BPQ_REDUCE_SUM, out);
            }
            const double t = (cpu_seconds() - t0) / (double)calls;
            memcpy(kept[i], out, out_n * sizeof(float));
            if (st != BPQ_OK) {
                fprintf(stderr, "bpq_ab: %s returned %d\n", argv[1 + i], (int)st);
                return 2;
            }
            sum[i] += t;
            best[i] = t < best[i] ? t : best[i];
        }
    const int same = memcmp(kept[0], kept[1], out_n * sizeof(float)) == 0 &&
                     memcmp(&lossv[0], &lossv[1], sizeof lossv[0]) == 0;
    const char *unit = elementwise ? "GB/s" : "GFLOP/s";
    /* bytes: BP3 reads delta; BP1 reads a and y and writes delta */
    const double scale = elementwise ? (bp1 ? 12.0 : 4.0) * (double)B * (double)O : work;
    printf("%s %zux%zux%zu: old %.1f, new %.1f %s (best rounds); new/old: best %.3f, mean %.3f; "
           "outputs %s\n",
           op, B, I, O, scale / best[0] * 1e-9, scale / best[1] * 1e-9, unit, best[0] / best[1],
           sum[0] / sum[1], same ? "bit-identical" : "DIFFER");
    for (int i = 0; i < 2; i++)
        free(kept[i]);
    free(out);
    free(x), free(w), free(bias), free(d), free(a), free(y);
    dlclose(b[0].lib), dlclose(b[1].lib);
    return same ? 0 : 1;
}
