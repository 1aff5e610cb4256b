/* sweep_shapes.c - the sweep's layer shapes from a 64-bit seed, their cost capped. */
#include <math.h>

#include "sweep.h"

/* splitmix64: small, and the same numbers on every machine and compiler. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* In [0, 1), from the top 53 bits. */
static double next_unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1p-53;
}

/* An integer log-uniform in [lo, hi]: the floor of a real log-uniform in [lo, hi + 1). */
static size_t log_uniform(uint64_t *s, size_t lo, size_t hi)
{
    if (hi <= lo)
        return lo;
    const double a = log((double)lo), b = log((double)hi + 1.0);
    const size_t v = (size_t)floor(exp(a + (b - a) * next_unit(s)));
    return v < lo ? lo : v > hi ? hi : v;
}

/* The power of two nearest v in log terms, at most `max` (itself rounded down to one). */
static size_t nearest_pow2(size_t v, size_t max)
{
    size_t p = (size_t)1 << (int)lround(log2((double)v));
    while (p > max)
        p >>= 1;
    return p;
}

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

double bench_sweep_layer_bytes(size_t batch, size_t n_in, size_t n_out)
{
    const double B = (double)batch, I = (double)n_in, O = (double)n_out;
    /* x, dx: B I; a, y, d: B O; w, dw: O I; b, db: O */
    return 4.0 * (2.0 * B * I + 3.0 * B * O + 2.0 * O * I + 2.0 * O);
}

/* The largest batch (at least 1) within both budgets for n_in, n_out; *why: which one binds. */
static size_t batch_fit(const bench_sweep_space *sp, size_t n_in, size_t n_out, const char **why)
{
    const double I = (double)n_in, O = (double)n_out;
    const double by_flops = floor(sp->flop_budget / (2.0 * I * O));
    const double by_memory =
        floor((sp->layer_bytes / 4.0 - 2.0 * O * I - 2.0 * O) / (2.0 * I + 3.0 * O));
    const double fit = by_flops < by_memory ? by_flops : by_memory;
    *why = by_flops < by_memory ? "flops" : "memory";
    return fit < 1.0 ? 1 : fit > 1e15 ? (size_t)1e15 : (size_t)fit;
}

/* One shape of the regular space; every fourth with each dimension a power of two. */
static void draw_regular(uint64_t *s, const bench_sweep_space *sp, int pow2, bench_sweep_shape *o)
{
    size_t b = log_uniform(s, 1, sp->max_batch);
    size_t i = log_uniform(s, 1, sp->max_n);
    size_t n = log_uniform(s, 1, sp->max_n);
    if (pow2) {
        b = nearest_pow2(b, sp->max_batch);
        i = nearest_pow2(i, sp->max_n);
        n = nearest_pow2(n, sp->max_n);
    }
    *o = (bench_sweep_shape){.shape = {b, i, n, pow2 ? "pow2" : "random", 0, 0, 0},
                             .drawn_batch = b};
    const char *why;
    const size_t fit = batch_fit(sp, i, n, &why);
    if (b > fit) {
        o->shape.batch = pow2 ? pow2_floor(fit) : fit;
        o->cut = why;
    }
}

/*
 * Weights of 1.02-1.15 times the L3 (of the memory cap's most, if that is
 * smaller), split between n_in and n_out; the batch log-uniform up to what
 * the budgets allow, since most past-L3 batches of the regular space would
 * be cut to the same few values.
 */
static void draw_past_l3(uint64_t *s, const bench_sweep_space *sp, double max_weights,
                         bench_sweep_shape *o)
{
    double lo = 1.02 * sp->l3_bytes / 4.0, hi = 1.15 * sp->l3_bytes / 4.0; /* floats */
    if (hi > max_weights)
        hi = max_weights;
    if (lo > hi)
        lo = hi;
    const double w = lo * pow(hi / lo, next_unit(s));
    double in_lo = w / 65536.0 > 1024.0 ? w / 65536.0 : 1024.0;
    double in_hi = w / 1024.0 < 65536.0 ? w / 1024.0 : 65536.0;
    if (in_lo > in_hi)
        in_lo = in_hi = sqrt(w);
    const size_t i = log_uniform(s, (size_t)ceil(in_lo), (size_t)in_hi);
    const size_t n = (size_t)ceil(w / (double)i);
    const char *why;
    size_t fit = batch_fit(sp, i, n, &why);
    if (fit > sp->max_batch)
        fit = sp->max_batch;
    const size_t b = log_uniform(s, 1, fit);
    *o = (bench_sweep_shape){.shape = {b, i, n, "past-l3", 0, 0, 0}, .drawn_batch = b};
}

static int repeats(const bench_sweep_shape *out, size_t k)
{
    for (size_t j = 0; j < k; j++)
        if (out[j].shape.batch == out[k].shape.batch && out[j].shape.n_in == out[k].shape.n_in &&
            out[j].shape.n_out == out[k].shape.n_out)
            return 1;
    return 0;
}

const char *bench_sweep_draw(uint64_t seed, size_t count, const bench_sweep_space *sp,
                             bench_sweep_shape *out)
{
    /* Weights and their gradient take most of a past-L3 layer; a little is left for the rest. */
    const double max_weights = 0.95 * sp->layer_bytes / 8.0;
    const char *note = NULL;
    if (sp->l3_bytes > 0.0 && 1.02 * sp->l3_bytes / 4.0 > max_weights)
        note = "the L3 is too large for the memory cap: past-l3 shapes have weights at the cap, "
               "below the L3";
    for (size_t k = 0; k < count; k++) {
        uint64_t s = seed ^ (0xd1b54a32d192ed03u * (uint64_t)(k + 1)); /* shape k's own stream */
        next_u64(&s);
        const int past = sp->l3_bytes > 0.0 && k % 50 == 12, pow2 = k % 4 == 1;
        for (int tries = 0; tries < 64; tries++) { /* a repeat is drawn again */
            if (past)
                draw_past_l3(&s, sp, max_weights, &out[k]);
            else
                draw_regular(&s, sp, pow2, &out[k]);
            if (!repeats(out, k))
                break;
        }
    }
    return note;
}
