/* equation_cases.h - for the equation suites: variants, problems, double oracle, per-ISA tests. */
#ifndef BPQ_EQUATION_CASES_H
#define BPQ_EQUATION_CASES_H

/* cmocka.h needs these three first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "bpq.h"
#include "testutil.h"

/* ---- the equations and their variants ------------------------------------------ */

enum { EQ_FORWARD, EQ_BP1, EQ_BP2, EQ_BP3, EQ_BP4, EQ_SGD, N_EQ };
extern const char *const eq_names[N_EQ];
extern const int eq_ndims[N_EQ];     /* how many of shape.d each equation uses */
extern const int eq_nvariants[N_EQ]; /* activations, loss pairs, reductions, learning rates */

/* BP1's (loss, activation) pairs, and BP3/BP4's reductions. */
extern const bpq_loss bp1_loss[6];
extern const bpq_act bp1_act[6];
extern const bpq_reduce reduces[4];

extern const char *const act_names[5];

/* calloc that never returns NULL (exits on out-of-memory) and accepts n == 0. */
void *xcalloc(size_t n, size_t size);

/* ---- one generated problem and its exact answer ---------------------------------- */

typedef struct shape {
    size_t d[3];
} shape;

typedef struct problem {
    int eq, var;
    shape sh;
    size_t misalign;
    /* decoded variant */
    bpq_act act;
    bpq_loss loss;
    bpq_reduce red;
    float lr;
    int with_loss;
    /* inputs, and copies to prove they were not written */
    int n_in;
    tu_buf in[3];
    float *in_copy[3];
    /* the main output: its size and, for accumulate and sgd, its initial contents */
    size_t n_out;
    float *init;
    /* per output element (and the loss last): exact value, float-ISA bound, reference bound */
    double *want, *err, *rerr;
} problem;

/* Draws the inputs of variant var of equation eq on shape sh from r. */
void make_problem(problem *p, int eq, const shape *sh, int var, size_t misalign, tu_rng *r);
void free_problem(problem *p);

/* Copies the inputs again after they were changed on purpose. */
void snapshot_inputs(problem *p);

/* Fills want, err and rerr: the exact results in double and how far each ISA may be from them. */
void oracle(problem *p);

/* ---- one cmocka test per ISA ------------------------------------------------------ */

typedef char isa_test_name[48];

/* Fills tests[0 .. TU_N_ISAS) with fn named "<prefix>/<isa>", its state states[i], or
 * &tu_isas[i] if states is NULL. names must outlive the tests. The test itself skips
 * an ISA this machine lacks. */
void per_isa_tests(struct CMUnitTest *tests, isa_test_name *names, const char *prefix,
                   CMUnitTestFunction fn, void *const *states);

/* The line each suite prints first, so a failure can be rerun with the same seed. */
void print_seed(const char *suite);

#endif /* BPQ_EQUATION_CASES_H */
