/* test_stack.c - every function, per ISA, on a thread with the 128 KiB of stack bpq.h asks for. */
#define _POSIX_C_SOURCE 200809L /* pthread_attr_setstacksize */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/*
 * bpq.h promises that the kernels need at most about 60 KiB of stack (a
 * 48 KiB workspace; larger ones come from the heap), so that a thread with
 * 128 KiB can call bpq.
 * Here each function runs, on its deepest paths (BP4 over several k blocks,
 * summing into dw or accumulating; the forward GEMM and the batch-1 GEMV;
 * BP2; BP1's loss on short and long rows; BP3; SGD), on a thread whose stack
 * the test provides, filled with a pattern beforehand; afterwards the lowest
 * byte that changed is the deepest the calls went, and that must leave a
 * quarter of the 128 KiB to the caller. A guard page alone would not do: a
 * frame larger than it jumps over it without a fault.
 */
#define STACK_BYTES (1024u * 1024u) /* room to measure an overrun, not the limit */
#ifdef __OPTIMIZE__
#define LIMIT_BYTES (96u * 1024u)
#else
/* Unoptimised (the sanitizer build), every inlined block keeps its own
 * stack slots: bpq.h gives this larger figure for such builds. */
#define LIMIT_BYTES (640u * 1024u)
#endif
#define PATTERN 0xa5

typedef struct job {
    bpq_isa isa;
    int failures;        /* calls that did not return BPQ_OK */
    char first[160];     /* the first of them */
} job;

static void expect_ok(job *j, bpq_status st, const char *what)
{
    if (st == BPQ_OK)
        return;
    if (j->failures++ == 0)
        snprintf(j->first, sizeof j->first, "%s: %s", what, bpq_status_string(st));
}

static void *calls(void *arg)
{
    job *j = arg;
    if (bpq_isa_select(j->isa) != BPQ_OK) {
        expect_ok(j, BPQ_ERR_ISA_UNAVAILABLE, "bpq_isa_select");
        return NULL;
    }
    enum { B = 300, NI = 1030, NO = 70 };
    tu_rng rng = tu_rng_make(tu_seed(), "stack", (uint64_t)j->isa);
    float *x = malloc(sizeof(float) * B * NI), *w = malloc(sizeof(float) * NO * NI);
    float *b = malloc(sizeof(float) * NO), *a = malloc(sizeof(float) * B * NO);
    float *y = malloc(sizeof(float) * B * NO), *d = malloc(sizeof(float) * B * NO);
    float *dx = malloc(sizeof(float) * B * NI), *dw = malloc(sizeof(float) * NO * NI);
    float *db = malloc(sizeof(float) * 2053), *big = malloc(sizeof(float) * 9 * 2053);
    float loss;
    if (!x || !w || !b || !a || !y || !d || !dx || !dw || !db || !big) {
        expect_ok(j, BPQ_ERR_SIZE_OVERFLOW, "out of memory in the test");
    } else {
        tu_fill_sym(&rng, x, (size_t)B * NI);
        tu_fill_sym(&rng, w, (size_t)NO * NI);
        tu_fill_sym(&rng, b, NO);
        tu_fill_sym(&rng, big, (size_t)9 * 2053);
        expect_ok(j, bpq_forward(B, NI, NO, x, w, b, BPQ_ACT_SIGMOID, a), "forward");
        expect_ok(j, bpq_forward(1, NI, NO, x, w, b, BPQ_ACT_SOFTMAX, a), "forward, batch 1");
        tu_fill_targets(&rng, BPQ_LOSS_XENT, y, B, NO);
        expect_ok(j, bpq_bp1_output_delta(B, NO, BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, a, y, d, &loss),
                  "bp1, long rows");
        expect_ok(j, bpq_bp1_output_delta(B * 7, 10, BPQ_LOSS_MSE, BPQ_ACT_SIGMOID, a, y, d, &loss),
                  "bp1, short rows");
        expect_ok(j, bpq_bp2_hidden_delta(B, NO, NI, d, w, x, BPQ_ACT_TANH, dx), "bp2");
        expect_ok(j, bpq_bp3_bias_grad(9, 2053, big, BPQ_REDUCE_MEAN, db), "bp3");
        expect_ok(j, bpq_bp4_weight_grad(B, NO, NI, d, x, BPQ_REDUCE_SUM, dw), "bp4");
        const bpq_reduce mean_acc = BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE;
        expect_ok(j, bpq_bp4_weight_grad(B, NO, NI, d, x, mean_acc, dw), "bp4, accumulating");
        expect_ok(j, bpq_sgd_step((size_t)NO * NI, 0.1f, dw, w), "sgd");
    }
    free(x), free(w), free(b), free(a), free(y), free(d), free(dx), free(dw), free(db), free(big);
    return NULL;
}

static void small_stack(void **state)
{
    bpq_isa isa = *(const bpq_isa *)*state;
    if (!bpq_isa_supported(isa))
        skip();
    job j = {isa, 0, ""};
    void *stack = NULL;
    assert_int_equal(posix_memalign(&stack, 4096, STACK_BYTES), 0);
    memset(stack, PATTERN, STACK_BYTES);
    pthread_attr_t attr;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstack(&attr, stack, STACK_BYTES), 0);
    assert_int_equal(pthread_create(&t, &attr, calls, &j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    /* The stack grows down from stack + STACK_BYTES. */
    const unsigned char *p = stack;
    size_t untouched = 0;
    while (untouched < STACK_BYTES && p[untouched] == PATTERN)
        untouched++;
    free(stack);
    const size_t used = STACK_BYTES - untouched;
    print_message("%s: %zu bytes of stack (thread start included)\n", bpq_isa_name(isa), used);
    if (j.failures)
        fail_msg("%d calls failed on %s; first: %s", j.failures, bpq_isa_name(isa), j.first);
    if (used > LIMIT_BYTES)
        fail_msg("%s used %zu bytes of stack, more than %u", bpq_isa_name(isa), used, LIMIT_BYTES);
}

int main(void)
{
    struct CMUnitTest tests[TU_N_ISAS];
    static char names[TU_N_ISAS][48];
    for (int i = 0; i < TU_N_ISAS; i++) {
        snprintf(names[i], sizeof names[i], "small_stack/%s", bpq_isa_name(tu_isas[i]));
        tests[i] = (struct CMUnitTest){names[i], small_stack, NULL, NULL, (void *)&tu_isas[i]};
    }
    return cmocka_run_group_tests_name("stack", tests, NULL, NULL);
}
