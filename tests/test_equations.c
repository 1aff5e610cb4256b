/* test_equations.c - each equation on each ISA vs the double reference and, bitwise, vs scalar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "equation_cases.h"

/*
 * One cmocka test per (equation, ISA), so an ISA this machine lacks shows up
 * as skipped. Each test runs the equation over the shape sweep with every
 * variant (activation, loss pair, reduction, learning rate) and checks:
 *   - reference ISA: within about one ulp of the double oracle (equation_cases.c);
 *   - float ISAs: within the data-scaled bound of the reference output;
 *   - float ISAs other than scalar: the same bits as scalar (NaN == NaN),
 *     also with NaN, inf, zeros of both signs and denormals in the inputs;
 *   - everywhere: status OK, inputs unchanged, guard zones intact, and every
 *     output element written (outputs start as NaN).
 * The NaN/inf rules, saturation and extreme softmax rows are test_special_values.c.
 */

/* ---- shapes ----------------------------------------------------------------- */

#define MAX_SHAPES 200

/*
 * Dimensions are, per equation: forward (batch, n_in, n_out), bp1 (batch, n),
 * bp2 (batch, n_next, n), bp3 (batch, n), bp4 (batch, n_out, n_in), sgd (n).
 * The last one is the dimension kernels vectorise over. The sweep varies one
 * dimension at a time over 1..33 and around 48, 64, 96 and 128 (tile sizes
 * and their neighbours), then mixes of odd and power-of-two sizes, then
 * shapes past the cache blocks SIMD kernels use (the GEMM driver's k
 * blocks, which are 256 on a 48 KiB L1 with the AVX2 tile; its other
 * blocks are cache-sized and test_blocking.c forces them small; BP3's
 * 1024-wide panels, the batch-1 GEMV's 1024-step passes, BP1's short-row
 * loss path), then a few random odd shapes from the seed.
 */
static size_t make_shapes(int eq, shape *out)
{
    static const size_t base3[3] = {5, 7, 19}, base2[2] = {5, 19};
    static const size_t edges[] = {47, 48, 49, 63, 64, 65, 96, 127, 128, 129};
    static const size_t mixes[][3] = {
        {37, 61, 127}, {61, 127, 37},  {127, 37, 61},  {255, 3, 33},   {3, 255, 17},  {1, 255, 255},
        {16, 16, 16},  {32, 32, 32},   {64, 64, 64},   {128, 16, 128}, {8, 128, 64},  {17, 47, 49},
        {33, 63, 65},  {2, 129, 1000}, {250, 300, 20}, {130, 70, 131}, {100, 97, 20}, {7, 257, 19},
        {245, 9, 21},  {3, 520, 40},   {2, 1030, 9},   {6, 1, 1100},   {490, 3, 70},
        /* batch 1 (forward's GEMV): skewed lanes handing blocks over, two
         * and three passes, leftover inputs and rows */
        {1, 1024, 70}, {1, 2050, 40},  {1, 1030, 33},  {1, 341, 100},  {1, 3072, 40},
        /* BP1's short-row loss path (16-term groups over several chunks,
         * rows under 8) and BP3's row blocks over two panels */
        {45, 7, 60},   {300, 11, 5},   {9, 5, 2053},
        /* BP2 of 1 to 4 outputs per row over long chains, which the GEMM
         * driver runs transposed (gemm/driver.h, bpq_gemm_transposes) */
        {40, 150, 1},  {70, 300, 2},   {33, 129, 4}};
    int nd = eq_ndims[eq];
    const size_t *base = nd == 3 ? base3 : base2;
    size_t count = 0;
    tu_rng rng = tu_rng_make(tu_seed(), "shapes", (uint64_t)eq);

    for (int dim = 0; dim < nd; dim++) {
        for (size_t s = 1; s <= 33 + sizeof edges / sizeof edges[0]; s++) {
            shape sh = {{1, 1, 1}};
            for (int k = 0; k < nd; k++)
                sh.d[k] = nd == 1 ? 1 : base[k];
            sh.d[dim] = s <= 33 ? s : edges[s - 34];
            out[count++] = sh;
        }
    }
    for (size_t m = 0; m < sizeof mixes / sizeof mixes[0]; m++) {
        shape sh = {{mixes[m][0], mixes[m][1], mixes[m][2]}};
        if (nd == 2)
            sh.d[1] = mixes[m][2];
        if (nd == 1)
            sh.d[0] = mixes[m][0] * mixes[m][1] + 1;
        out[count++] = sh;
    }
    for (int r = 0; r < 4; r++) {
        shape sh = {{1, 1, 1}};
        for (int k = 0; k < nd; k++)
            sh.d[k] = 1 + 2 * (size_t)tu_below(&rng, nd == 1 ? 500 : 50);
        out[count++] = sh;
    }
    return count;
}

/* ---- running a problem on one ISA --------------------------------------------- */

typedef struct outputs {
    tu_buf out, loss;
} outputs;

static void prepare(const problem *p, outputs *o)
{
    tu_alloc(&o->out, p->n_out, p->misalign);
    if (p->init != NULL)
        memcpy(o->out.p, p->init, p->n_out * sizeof(float));
    else
        tu_poison(&o->out);
    tu_alloc(&o->loss, 1, 0);
    tu_poison(&o->loss);
}

static void release(outputs *o)
{
    tu_free(&o->out);
    tu_free(&o->loss);
}

static bpq_status call(const problem *p, outputs *o)
{
    const size_t *d = p->sh.d;
    const float *in[3] = {p->in[0].p, p->in[1].p, p->in[2].p};
    switch (p->eq) {
    case EQ_FORWARD:
        return bpq_forward(d[0], d[1], d[2], in[0], in[1], in[2], p->act, o->out.p);
    case EQ_BP1:
        return bpq_bp1_output_delta(d[0], d[1], p->loss, p->act, in[0], in[1], o->out.p,
                                    p->with_loss ? o->loss.p : NULL);
    case EQ_BP2:
        return bpq_bp2_hidden_delta(d[0], d[1], d[2], in[0], in[1], in[2], p->act, o->out.p);
    case EQ_BP3:
        return bpq_bp3_bias_grad(d[0], d[1], in[0], p->red, o->out.p);
    case EQ_BP4:
        return bpq_bp4_weight_grad(d[0], d[1], d[2], in[0], in[1], p->red, o->out.p);
    default:
        return bpq_sgd_step(d[0], p->lr, in[0], o->out.p);
    }
}

/* Failures are printed (a few per test) and counted; the test fails at its end. */
typedef struct tally {
    int failures, printed;
    bpq_isa isa;
} tally;


static void describe(const problem *p, char *buf, size_t cap)
{
    static const char *const red_names[4] = {"sum", "mean", "sum+acc", "mean+acc"};
    static const char *const loss_names[3] = {"mse", "bce", "xent"};
    char var[48];
    switch (p->eq) {
    case EQ_FORWARD:
    case EQ_BP2:
        snprintf(var, sizeof var, "%s", act_names[p->act]);
        break;
    case EQ_BP1:
        snprintf(var, sizeof var, "%s+%s%s", loss_names[p->loss], act_names[p->act],
                 p->with_loss ? "+loss_out" : "");
        break;
    case EQ_BP3:
    case EQ_BP4:
        snprintf(var, sizeof var, "%s", red_names[p->var]);
        break;
    default:
        snprintf(var, sizeof var, "lr=%g", (double)p->lr);
        break;
    }
    snprintf(buf, cap, "%s %s shape=%zux%zux%zu misalign=%zu", eq_names[p->eq], var, p->sh.d[0],
             p->sh.d[1], p->sh.d[2], p->misalign);
}

static void failure(tally *t, const problem *p, const char *what, size_t idx, double got,
                    double want, double bound)
{
    char desc[160];
    t->failures++;
    if (t->printed++ >= 8)
        return;
    describe(p, desc, sizeof desc);
    print_error("FAIL seed=%#llx isa=%s %s: %s index=%zu got=%.9g (%a) want=%.9g (%a) bound=%.3g\n",
                (unsigned long long)tu_seed(), bpq_isa_name(t->isa), desc, what, idx, got, got,
                want, want, bound);
}

/* Runs p on isa into o; checks status, guards and that inputs are unchanged. */
static int run_on(tally *t, const problem *p, bpq_isa isa, outputs *o)
{
    prepare(p, o);
    tu_select(isa);
    bpq_status st = call(p, o);
    if (st != BPQ_OK) {
        failure(t, p, bpq_status_string(st), 0, 0.0, 0.0, 0.0);
        return 0;
    }
    if (!tu_guards_ok(&o->out) || !tu_guards_ok(&o->loss))
        failure(t, p, "guard zone overwritten", 0, 0.0, 0.0, 0.0);
    if (!p->with_loss && !isnan(o->loss.p[0]))
        failure(t, p, "loss written though loss_out was NULL", 0, 0.0, 0.0, 0.0);
    for (int k = 0; k < p->n_in; k++)
        if (memcmp(p->in[k].p, p->in_copy[k], p->in[k].n * sizeof(float)) != 0 ||
            !tu_guards_ok(&p->in[k]))
            failure(t, p, "an input was written", (size_t)k, 0.0, 0.0, 0.0);
    return 1;
}

static int close_to(float got, double target, double tol)
{
    if (isnan(got) || isnan(target))
        return 0; /* no NaN is expected in these sweeps */
    return (double)got == target || fabs((double)got - target) <= tol;
}

/* got within tol of target, element by element; the loss, if any, last. */
static void compare(tally *t, const problem *p, const outputs *o, const double *target,
                    const double *tol1, const double *tol2, const char *what)
{
    for (size_t i = 0; i <= p->n_out; i++) {
        if (i == p->n_out && !p->with_loss)
            break;
        float got = i < p->n_out ? o->out.p[i] : o->loss.p[0];
        double tol = tol1[i] + (tol2 ? tol2[i] : 0.0);
        if (!close_to(got, target[i], tol))
            failure(t, p, i < p->n_out ? what : "loss", i, got, target[i], tol);
    }
}

static void compare_bits(tally *t, const problem *p, const outputs *a, const outputs *b,
                         const char *what)
{
    size_t i = tu_first_diff(a->out.p, b->out.p, p->n_out);
    if (i < p->n_out)
        failure(t, p, what, i, a->out.p[i], b->out.p[i], 0.0);
    if (p->with_loss && !tu_same(a->loss.p[0], b->loss.p[0]))
        failure(t, p, what, p->n_out, a->loss.p[0], b->loss.p[0], 0.0);
}

/* Sprinkles special values over every input and the initial output. */
static void inject_specials(problem *p, tu_rng *r)
{
    for (int k = 0; k < p->n_in; k++)
        tu_sprinkle_specials(r, p->in[k].p, p->in[k].n);
    if (p->init != NULL)
        tu_sprinkle_specials(r, p->init, p->n_out);
    snapshot_inputs(p);
}

/* ---- the per-(equation, ISA) tests -------------------------------------------- */

typedef struct eq_case {
    int eq;
    bpq_isa isa;
} eq_case;

static void equation_test(void **state)
{
    const eq_case *c = *state;
    tally t = {0, 0, c->isa};
    shape shapes[MAX_SHAPES];
    size_t ns;

    if (!bpq_isa_supported(c->isa))
        skip();
    ns = make_shapes(c->eq, shapes);
    for (size_t s = 0; s < ns && t.failures < 50; s++) {
        for (int v = 0; v < eq_nvariants[c->eq]; v++) {
            problem p;
            outputs ref, got, sc;
            tu_rng r = tu_rng_make(tu_seed(), eq_names[c->eq], s * 64 + (size_t)v);
            make_problem(&p, c->eq, &shapes[s], v, (s + (size_t)v) % 4 == 3 ? 0 : 1, &r);
            oracle(&p);
            if (run_on(&t, &p, BPQ_ISA_REFERENCE, &ref)) {
                if (c->isa == BPQ_ISA_REFERENCE) {
                    compare(&t, &p, &ref, p.want, p.rerr, NULL, "reference vs oracle");
                } else if (run_on(&t, &p, c->isa, &got)) {
                    double *refd = xcalloc(p.n_out + 1, sizeof(double));
                    for (size_t i = 0; i < p.n_out; i++)
                        refd[i] = ref.out.p[i];
                    refd[p.n_out] = ref.loss.p[0];
                    compare(&t, &p, &got, refd, p.err, p.rerr, "vs reference");
                    free(refd);
                    if (c->eq == EQ_SGD) /* documented as exactly fma(-lr, grad, param) */
                        for (size_t i = 0; i < p.n_out; i++) {
                            float want = fmaf(-p.lr, p.in[0].p[i], p.init[i]);
                            if (!tu_same(got.out.p[i], want))
                                failure(&t, &p, "vs fmaf", i, got.out.p[i], want, 0.0);
                        }
                    /* [bits-vs-scalar] */
                    if (c->isa != BPQ_ISA_SCALAR && run_on(&t, &p, BPQ_ISA_SCALAR, &sc)) {
                        compare_bits(&t, &p, &got, &sc, "bits differ from scalar");
                        release(&sc);
                    }
                    /* [bits-vs-scalar] */
                    release(&got);
                }
                release(&ref);
            }
            /* Special values: no bound to check against, but every float ISA agrees with scalar. */
            if (c->isa != BPQ_ISA_REFERENCE) {
                inject_specials(&p, &r);
                if (run_on(&t, &p, BPQ_ISA_SCALAR, &sc)) {
                    if (c->isa != BPQ_ISA_SCALAR && run_on(&t, &p, c->isa, &got)) {
                        compare_bits(&t, &p, &got, &sc, "bits differ from scalar (specials)");
                        release(&got);
                    }
                    release(&sc);
                }
            }
            free_problem(&p);
        }
    }
    if (t.failures)
        fail_msg("%d failures on %s (seed %#llx; BPQ_TEST_SEED reruns it)", t.failures,
                 bpq_isa_name(c->isa), (unsigned long long)tu_seed());
}

int main(void)
{
    static eq_case cases[N_EQ][TU_N_ISAS];
    static isa_test_name names[N_EQ][TU_N_ISAS];
    struct CMUnitTest tests[N_EQ * TU_N_ISAS];

    for (int e = 0; e < N_EQ; e++) {
        void *states[TU_N_ISAS];
        for (int i = 0; i < TU_N_ISAS; i++) {
            cases[e][i] = (eq_case){e, tu_isas[i]};
            states[i] = &cases[e][i];
        }
        per_isa_tests(tests + e * TU_N_ISAS, names[e], eq_names[e], equation_test, states);
    }
    print_seed("test_equations");
    return cmocka_run_group_tests_name("equations", tests, NULL, NULL);
}
