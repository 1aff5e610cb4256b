/* equation_cases.c - for the equation suites: variants, problems, double oracle, per-ISA tests. */
#include "equation_cases.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the equations and their variants ------------------------------------------ */

const char *const eq_names[N_EQ] = {"forward", "bp1", "bp2", "bp3", "bp4", "sgd"};
const int eq_ndims[N_EQ] = {3, 2, 3, 2, 3, 1};
const int eq_nvariants[N_EQ] = {5, 12, 4, 4, 4, 5};

const bpq_loss bp1_loss[6] = {BPQ_LOSS_MSE, BPQ_LOSS_MSE, BPQ_LOSS_MSE,
                              BPQ_LOSS_MSE, BPQ_LOSS_BCE, BPQ_LOSS_XENT};
const bpq_act bp1_act[6] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH,
                            BPQ_ACT_RELU,     BPQ_ACT_SIGMOID, BPQ_ACT_SOFTMAX};
const bpq_reduce reduces[4] = {BPQ_REDUCE_SUM, BPQ_REDUCE_MEAN,
                               BPQ_REDUCE_SUM | BPQ_REDUCE_ACCUMULATE,
                               BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE};
static const float lrs[5] = {0.1f, 0.5f, -0.25f, 0.0f, 1e20f};

const char *const act_names[5] = {"identity", "sigmoid", "tanh", "relu", "softmax"};

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- one generated problem --------------------------------------------------- */

/* Allocates input k with n floats. */
static float *input(problem *p, int k, size_t n)
{
    p->n_in = k + 1 > p->n_in ? k + 1 : p->n_in;
    return tu_alloc(&p->in[k], n, p->misalign);
}

void snapshot_inputs(problem *p)
{
    for (int k = 0; k < p->n_in; k++) {
        free(p->in_copy[k]);
        p->in_copy[k] = xcalloc(p->in[k].n, sizeof(float));
        memcpy(p->in_copy[k], p->in[k].p, p->in[k].n * sizeof(float));
    }
}

void make_problem(problem *p, int eq, const shape *sh, int var, size_t misalign, tu_rng *r)
{
    size_t d0 = sh->d[0], d1 = sh->d[1], d2 = sh->d[2];
    memset(p, 0, sizeof *p);
    p->eq = eq;
    p->var = var;
    p->sh = *sh;
    p->misalign = misalign;
    switch (eq) {
    case EQ_FORWARD:
        p->act = (bpq_act)var;
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1); /* x */
        tu_fill_sym(r, input(p, 1, d2 * d1), d2 * d1); /* w */
        tu_fill_sym(r, input(p, 2, d2), d2);           /* b */
        p->n_out = d0 * d2;
        break;
    case EQ_BP1:
        p->loss = bp1_loss[var / 2];
        p->act = bp1_act[var / 2];
        p->with_loss = var % 2;
        tu_fill_act_output(r, p->act, input(p, 0, d0 * d1), d0, d1); /* a */
        tu_fill_targets(r, p->loss, input(p, 1, d0 * d1), d0, d1);   /* y */
        p->n_out = d0 * d1;
        break;
    case EQ_BP2:
        p->act = (bpq_act)var;
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1);               /* delta_next */
        tu_fill_sym(r, input(p, 1, d1 * d2), d1 * d2);               /* w_next */
        tu_fill_act_output(r, p->act, input(p, 2, d0 * d2), d0, d2); /* a */
        p->n_out = d0 * d2;
        break;
    case EQ_BP3:
        p->red = reduces[var];
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1);
        p->n_out = d1;
        break;
    case EQ_BP4:
        p->red = reduces[var];
        tu_fill_sym(r, input(p, 0, d0 * d1), d0 * d1); /* delta */
        tu_fill_sym(r, input(p, 1, d0 * d2), d0 * d2); /* x */
        p->n_out = d1 * d2;
        break;
    default:
        p->lr = lrs[var];
        tu_fill_sym(r, input(p, 0, d0), d0); /* grad */
        p->n_out = d0;
        break;
    }
    if (eq == EQ_SGD || ((eq == EQ_BP3 || eq == EQ_BP4) && (p->red & BPQ_REDUCE_ACCUMULATE)))
        p->init = tu_fill_sym(r, xcalloc(p->n_out, sizeof(float)), p->n_out);
    snapshot_inputs(p);
    p->want = xcalloc(p->n_out + 1, sizeof(double));
    p->err = xcalloc(p->n_out + 1, sizeof(double));
    p->rerr = xcalloc(p->n_out + 1, sizeof(double));
}

void free_problem(problem *p)
{
    for (int k = 0; k < p->n_in; k++) {
        tu_free(&p->in[k]);
        free(p->in_copy[k]);
    }
    free(p->init);
    free(p->want);
    free(p->err);
    free(p->rerr);
}

/* ---- the oracle: exact results in double and how far each ISA may be from them ---- */

static double act_d(bpq_act act, double z)
{
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case BPQ_ACT_TANH:
        return tanh(z);
    case BPQ_ACT_RELU:
        return z > 0.0 ? z : 0.0;
    default:
        return z;
    }
}

static double dact_d(bpq_act act, double a)
{
    switch (act) {
    case BPQ_ACT_SIGMOID:
        return a * (1.0 - a);
    case BPQ_ACT_TANH:
        return 1.0 - a * a;
    case BPQ_ACT_RELU:
        return a > 0.0 ? 1.0 : 0.0;
    default:
        return 1.0;
    }
}

/* ln with the documented clamp at ln(FLT_MIN). */
static double log_clamped(double x) { return log(x < FLT_MIN ? FLT_MIN : x); }

/* A dot product of K terms: its float bound c (K + 2) u S plus denormal slack. */
static double gemm_err(size_t k, double s)
{
    return 2.0 * (double)(k + 2) * TU_U * s + (double)(k + 2) * TU_DENORM;
}

/* The same sum done in double by the reference, then rounded once. */
static double gemm_rerr(size_t k, double s, double want)
{
    return 2.0 * TU_U * fabs(want) + (double)k * 0x1p-52 * s + TU_DENORM;
}

static void oracle_forward(problem *p)
{
    size_t batch = p->sh.d[0], n_in = p->sh.d[1], n_out = p->sh.d[2];
    const float *x = p->in[0].p, *w = p->in[1].p, *b = p->in[2].p;
    double *z = xcalloc(n_out, sizeof(double)), *bz = xcalloc(n_out, sizeof(double));
    for (size_t r = 0; r < batch; r++) {
        double zmax = -INFINITY, bzmax = 0.0, rzmax = 0.0, sum = 0.0, spread = 0.0;
        for (size_t j = 0; j < n_out; j++) {
            double acc = b[j], s = fabs(b[j]);
            for (size_t i = 0; i < n_in; i++) {
                double t = (double)x[r * n_in + i] * (double)w[j * n_in + i];
                acc += t;
                s += fabs(t);
            }
            z[j] = acc;
            bz[j] = gemm_err(n_in, s);
            zmax = acc > zmax ? acc : zmax;
            bzmax = bz[j] > bzmax ? bz[j] : bzmax;
            rzmax = fmax(rzmax, (double)n_in * 0x1p-52 * s);
        }
        for (size_t j = 0; j < n_out; j++)
            sum += exp(z[j] - zmax);
        for (size_t j = 0; j < n_out; j++)
            spread += exp(z[j] - zmax) / sum * (z[j] - zmax);
        for (size_t j = 0; j < n_out; j++) {
            size_t o = r * n_out + j;
            double v;
            if (p->act == BPQ_ACT_SOFTMAX) {
                /* z_j - max is rounded to float before exp: relative error |z_j - max| u,
                 * and the sum carries the weighted mean of those; then exp, sum and divide. */
                v = exp(z[j] - zmax) / sum;
                p->err[o] =
                    v * (expm1(2.0 * bzmax) +
                         (fabs(z[j] - zmax) - spread + (double)n_out / 16.0 + 16.0) * TU_U) +
                    4.0 * TU_DENORM;
                p->rerr[o] = 2.0 * TU_U * v + 2.0 * rzmax * v + TU_DENORM;
            } else {
                double slope = p->act == BPQ_ACT_SIGMOID ? 0.25 : 1.0;
                double ulps = (p->act == BPQ_ACT_SIGMOID || p->act == BPQ_ACT_TANH) ? 8.0 : 0.0;
                v = act_d(p->act, z[j]);
                p->err[o] = slope * bz[j] + ulps * TU_U * fabs(v) + 4.0 * TU_DENORM;
                p->rerr[o] = 2.0 * TU_U * fabs(v) + slope * rzmax + TU_DENORM;
            }
            p->want[o] = v;
        }
    }
    free(z);
    free(bz);
}

static void oracle_bp1(problem *p)
{
    size_t batch = p->sh.d[0], n = p->sh.d[1];
    const float *a = p->in[0].p, *y = p->in[1].p;
    double total = 0.0, mag = 0.0;
    for (size_t e = 0; e < batch * n; e++) {
        double av = a[e], yv = y[e], v;
        if (p->loss == BPQ_LOSS_MSE) {
            v = (av - yv) * dact_d(p->act, av);
            p->err[e] = 6.0 * TU_U * fabs(v) + 4.0 * TU_DENORM;
            total += 0.5 * (av - yv) * (av - yv);
            mag += 0.5 * (av - yv) * (av - yv);
        } else {
            v = av - yv;
            p->err[e] = 2.0 * TU_U * fabs(v) + TU_DENORM;
            double t1 = yv * log_clamped(av);
            double t0 = p->loss == BPQ_LOSS_BCE ? (1.0 - yv) * log_clamped(1.0 - av) : 0.0;
            total -= t1 + t0;
            mag += fabs(t1) + fabs(t0);
        }
        p->want[e] = v;
        p->rerr[e] = 2.0 * TU_U * fabs(v) + TU_DENORM;
    }
    /* Loss: each term a few roundings (and a log), a 16-way row sum, one division. */
    double w = total / (double)batch;
    p->want[p->n_out] = w;
    p->err[p->n_out] = ((double)n + 16.0) * TU_U * mag / (double)batch +
                       (p->loss == BPQ_LOSS_MSE ? 0.0 : 8.0 * TU_U * (double)n) + 4.0 * TU_DENORM;
    p->rerr[p->n_out] = 2.0 * TU_U * fabs(w) + 0x1p-50 * mag + TU_DENORM;
}

static void oracle_bp2(problem *p)
{
    size_t batch = p->sh.d[0], n_next = p->sh.d[1], n = p->sh.d[2];
    const float *dn = p->in[0].p, *w = p->in[1].p, *a = p->in[2].p;
    for (size_t r = 0; r < batch; r++)
        for (size_t i = 0; i < n; i++) {
            double g = 0.0, s = 0.0;
            for (size_t k = 0; k < n_next; k++) {
                double t = (double)dn[r * n_next + k] * (double)w[k * n + i];
                g += t;
                s += fabs(t);
            }
            double d = dact_d(p->act, a[r * n + i]), v = g * d;
            size_t o = r * n + i;
            p->want[o] = v;
            p->err[o] = gemm_err(n_next, s) * fabs(d) + 4.0 * TU_U * fabs(v) + 2.0 * TU_DENORM;
            p->rerr[o] = gemm_rerr(n_next, s * fabs(d), v);
        }
}

/*
 * BP3 and BP4 share the sum over the batch of a[r * sa] * b[r * sb] (b NULL: of a alone),
 * then optional mean (one division), optional accumulate (one add) into output o.
 */
static void batch_sum(problem *p, size_t o, size_t batch, const float *a, size_t sa,
                      const float *b, size_t sb)
{
    int mean = (p->red & BPQ_REDUCE_MEAN) != 0, acc = (p->red & BPQ_REDUCE_ACCUMULATE) != 0;
    double g = 0.0, s = 0.0;
    for (size_t r = 0; r < batch; r++) {
        double t = b != NULL ? (double)a[r * sa] * (double)b[r * sb] : (double)a[r * sa];
        g += t;
        s += fabs(t);
    }
    double scale = mean ? 1.0 / (double)batch : 1.0;
    double v = g * scale, w = acc ? (double)p->init[o] + v : v;
    p->want[o] = w;
    p->err[o] = gemm_err(batch, s) * scale + 2.0 * TU_U * fabs(v) + 4.0 * TU_U * fabs(w);
    p->rerr[o] = gemm_rerr(batch, s * scale, w);
}

static void oracle_bp3(problem *p)
{
    size_t batch = p->sh.d[0], n = p->sh.d[1];
    const float *delta = p->in[0].p;
    for (size_t j = 0; j < n; j++)
        batch_sum(p, j, batch, delta + j, n, NULL, 0);
}

static void oracle_bp4(problem *p)
{
    size_t batch = p->sh.d[0], n_out = p->sh.d[1], n_in = p->sh.d[2];
    const float *delta = p->in[0].p, *x = p->in[1].p;
    for (size_t j = 0; j < n_out; j++)
        for (size_t i = 0; i < n_in; i++)
            batch_sum(p, j * n_in + i, batch, delta + j, n_out, x + i, n_in);
}

static void oracle_sgd(problem *p)
{
    const float *g = p->in[0].p;
    for (size_t i = 0; i < p->n_out; i++) {
        /* lr * g is exact in double; the subtraction rounds once in double. */
        double v = (double)p->init[i] - (double)p->lr * (double)g[i];
        p->want[i] = v;
        p->err[i] = TU_U * fabs(v) + TU_DENORM; /* correctly rounded */
        p->rerr[i] = 2.0 * TU_U * fabs(v) + TU_DENORM;
    }
}

void oracle(problem *p)
{
    switch (p->eq) {
    case EQ_FORWARD:
        oracle_forward(p);
        break;
    case EQ_BP1:
        oracle_bp1(p);
        break;
    case EQ_BP2:
        oracle_bp2(p);
        break;
    case EQ_BP3:
        oracle_bp3(p);
        break;
    case EQ_BP4:
        oracle_bp4(p);
        break;
    default:
        oracle_sgd(p);
        break;
    }
}

/* ---- one cmocka test per ISA ------------------------------------------------------ */

void per_isa_tests(struct CMUnitTest *tests, isa_test_name *names, const char *prefix,
                   CMUnitTestFunction fn, void *const *states)
{
    for (int i = 0; i < TU_N_ISAS; i++) {
        snprintf(names[i], sizeof names[i], "%s/%s", prefix, bpq_isa_name(tu_isas[i]));
        tests[i] = (struct CMUnitTest){names[i], fn, NULL, NULL,
                                       states != NULL ? states[i] : (void *)&tu_isas[i]};
    }
}

void print_seed(const char *suite)
{
    printf("%s: seed %#llx (set BPQ_TEST_SEED to change it)\n", suite,
           (unsigned long long)tu_seed());
}
