/* test_bad_input.c - every function with every kind of bad argument: status, memory untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bpq.h"
#include "testutil.h"

/*
 * All buffers live in one arena of random floats. Before each call the arena
 * is copied; a call that must fail has to leave every byte of it as it was,
 * so outputs (and inputs) are proven untouched. Sizes that overflow are
 * passed with the small real buffers: the library must reject them before
 * it reads anything.
 */

#define ARENA 4096
static float arena[ARENA], snap[ARENA];
#define A(off) (arena + (off))

static void arena_fill(const char *label)
{
    tu_rng r = tu_rng_make(tu_seed(), label, 0);
    tu_fill_sym(&r, arena, ARENA);
}

static void check(const char *call, int line, bpq_status got, bpq_status want)
{
    if (got != want)
        fail_msg("line %d: %s returned %d (%s), expected %d (%s)", line, call, (int)got,
                 bpq_status_string(got), (int)want, bpq_status_string(want));
    if (want != BPQ_OK && memcmp(arena, snap, sizeof arena) != 0)
        fail_msg("line %d: %s failed but wrote memory", line, call);
}

/* Snapshot, call, then check the status and, for a failure, that nothing changed. */
#define EXPECT(want, call)                                                                         \
    do {                                                                                           \
        memcpy(snap, arena, sizeof arena);                                                         \
        check(#call, __LINE__, (call), (want));                                                    \
    } while (0)

/* Sizes whose products overflow: as element counts (S2 * 3, HALF * HALF wraps to 0)
 * or only once multiplied by sizeof(float) (Q elements = 2^64 bytes on 64-bit). */
#define S2 (SIZE_MAX / 2)
#define HALF ((size_t)1 << (sizeof(size_t) * 4))
#define Q (SIZE_MAX / 4 + 1)
#define BIG SIZE_MAX

#define JUNK_ACT_1 ((bpq_act)5)
#define JUNK_ACT_2 ((bpq_act)-1)

/* Where the allowed-alias checks are, for their failure messages. */
static char g_where[64] = "";

static void same_bits(const char *what, const float *got, const float *want, size_t n)
{
    size_t i = tu_first_diff(got, want, n);
    if (i < n)
        fail_msg("%s on %s%s: element %zu is %a, the separate-buffer call gave %a", what,
                 bpq_isa_name(bpq_isa_active()), g_where, i, (double)got[i], (double)want[i]);
}

/* ---- forward: batch 3, n_in 4, n_out 5 --------------------------------------------- */

static void forward_args(void **state)
{
    float *x = A(1000), *w = A(1100), *b = A(1200), *a = A(1300);
    const size_t sizes[][3] = {{S2, 3, 1},      {HALF, HALF, 1}, {1, 3, S2},
                               {1, Q, 1},       {Q, 1, 1},       {1, 1, Q},
                               {HALF, 1, HALF}, {1, HALF, HALF}, {BIG, BIG, BIG}};
    (void)state;
    arena_fill("forward");
    EXPECT(BPQ_OK, bpq_forward(3, 4, 5, x, w, b, BPQ_ACT_SIGMOID, a));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_forward(3, 4, 5, NULL, w, b, BPQ_ACT_SIGMOID, a));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_forward(3, 4, 5, x, NULL, b, BPQ_ACT_SIGMOID, a));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_forward(3, 4, 5, x, w, NULL, BPQ_ACT_SIGMOID, a));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_forward(3, 4, 5, x, w, b, BPQ_ACT_SIGMOID, NULL));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_forward(0, 4, 5, x, w, b, BPQ_ACT_SIGMOID, a));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_forward(3, 0, 5, x, w, b, BPQ_ACT_SIGMOID, a));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_forward(3, 4, 0, x, w, b, BPQ_ACT_SIGMOID, a));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        EXPECT(BPQ_ERR_SIZE_OVERFLOW,
               bpq_forward(sizes[i][0], sizes[i][1], sizes[i][2], x, w, b, BPQ_ACT_RELU, a));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_forward(3, 4, 5, x, w, b, JUNK_ACT_1, a));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_forward(3, 4, 5, x, w, b, JUNK_ACT_2, a));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_forward(3, 4, 5, x, w, b, (bpq_act)99, a));
}

static void forward_aliasing(void **state)
{
    float *x = A(1000), *w = A(1100), *b = A(1200); /* 12, 20 and 5 floats */
    float want[15];
    (void)state;
    arena_fill("forward alias");
    EXPECT(BPQ_OK, bpq_forward(3, 4, 5, x, w, b, BPQ_ACT_TANH, want));
    /* The output (15 floats) overlapping any input, by one float or wholly. */
    const ptrdiff_t bad[] = {1000, 1003,      1011, 1000 - 14, 1100,
                             1119, 1100 - 14, 1204, 1200 - 14, 1202};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(BPQ_ERR_ALIAS, bpq_forward(3, 4, 5, x, w, b, BPQ_ACT_TANH, A(bad[i])));
    /* Touching but not overlapping is fine, on either side of each input. */
    const ptrdiff_t fine[] = {1000 - 15, 1012, 1100 - 15, 1120, 1205};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        EXPECT(BPQ_OK, bpq_forward(3, 4, 5, x, w, b, BPQ_ACT_TANH, A(fine[i])));
        same_bits("forward next to an input", A(fine[i]), want, 15);
        arena_fill("forward alias");
    }
}

/* ---- BP1: batch 3, n 5 ---------------------------------------------------------------- */

static void bp1_args(void **state)
{
    float *a = A(1000), *y = A(1100), *d = A(1200), *loss = A(1300);
    const size_t sizes[][2] = {{S2, 3}, {HALF, HALF}, {Q, 1}, {1, Q}, {BIG, BIG}};
    const bpq_act not_sigmoid[] = {BPQ_ACT_IDENTITY, BPQ_ACT_TANH, BPQ_ACT_RELU, BPQ_ACT_SOFTMAX};
    const bpq_act not_softmax[] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH, BPQ_ACT_RELU};
    (void)state;
    arena_fill("bp1");
    EXPECT(BPQ_OK, bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, y, d, loss));
    EXPECT(BPQ_OK, bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, y, d, NULL));
    EXPECT(BPQ_ERR_NULL_POINTER,
           bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_TANH, NULL, y, d, loss));
    EXPECT(BPQ_ERR_NULL_POINTER,
           bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, NULL, d, loss));
    EXPECT(BPQ_ERR_NULL_POINTER,
           bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, y, NULL, loss));
    EXPECT(BPQ_ERR_ZERO_SIZE,
           bpq_bp1_output_delta(0, 5, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, y, d, loss));
    EXPECT(BPQ_ERR_ZERO_SIZE,
           bpq_bp1_output_delta(3, 0, BPQ_LOSS_MSE, BPQ_ACT_TANH, a, y, d, loss));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        EXPECT(BPQ_ERR_SIZE_OVERFLOW, bpq_bp1_output_delta(sizes[i][0], sizes[i][1], BPQ_LOSS_BCE,
                                                           BPQ_ACT_SIGMOID, a, y, d, loss));
    EXPECT(BPQ_ERR_BAD_ENUM,
           bpq_bp1_output_delta(3, 5, (bpq_loss)3, BPQ_ACT_SIGMOID, a, y, d, loss));
    EXPECT(BPQ_ERR_BAD_ENUM,
           bpq_bp1_output_delta(3, 5, (bpq_loss)-1, BPQ_ACT_SIGMOID, a, y, d, loss));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, JUNK_ACT_1, a, y, d, loss));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, JUNK_ACT_2, a, y, d, loss));
    EXPECT(BPQ_ERR_BAD_COMBINATION,
           bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_SOFTMAX, a, y, d, loss));
    for (size_t i = 0; i < 4; i++) {
        EXPECT(BPQ_ERR_BAD_COMBINATION,
               bpq_bp1_output_delta(3, 5, BPQ_LOSS_BCE, not_sigmoid[i], a, y, d, loss));
        EXPECT(BPQ_ERR_BAD_COMBINATION,
               bpq_bp1_output_delta(3, 5, BPQ_LOSS_XENT, not_softmax[i], a, y, d, NULL));
    }
}

static void bp1_aliasing(void **state)
{
    float *a = A(1000), *y = A(1100), *loss = A(1300); /* a, y and delta: 15 floats each */
    float want[15], want_loss;
    (void)state;
    arena_fill("bp1 alias");
    EXPECT(BPQ_OK,
           bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_IDENTITY, a, y, want, &want_loss));
    const ptrdiff_t bad[] = {1001, 1000 - 1, 1014, 1000 - 14, 1101, 1100 - 1, 1114, 1100 - 14};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(BPQ_ERR_ALIAS,
               bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_IDENTITY, a, y, A(bad[i]), loss));
    /* loss_out must overlap none of a, y and delta. */
    float *d = A(1200);
    const ptrdiff_t bad_loss[] = {1000, 1014, 1107, 1200, 1214};
    for (size_t i = 0; i < sizeof bad_loss / sizeof bad_loss[0]; i++)
        EXPECT(BPQ_ERR_ALIAS,
               bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_IDENTITY, a, y, d, A(bad_loss[i])));
    const ptrdiff_t fine[] = {1000 - 15, 1015, 1100 - 15, 1115};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        EXPECT(BPQ_OK, bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_IDENTITY, a, y, A(fine[i]),
                                            A(999 - 15)));
        same_bits("bp1 next to an input", A(fine[i]), want, 15);
        same_bits("bp1 loss next to an input", A(999 - 15), &want_loss, 1);
        arena_fill("bp1 alias");
    }
    const ptrdiff_t fine_loss[] = {999, 1015, 1099, 1115, 1199, 1215};
    for (size_t i = 0; i < sizeof fine_loss / sizeof fine_loss[0]; i++)
        EXPECT(BPQ_OK, bpq_bp1_output_delta(3, 5, BPQ_LOSS_MSE, BPQ_ACT_IDENTITY, a, y, d,
                                            A(fine_loss[i])));
}

/* ---- BP2: batch 3, n_next 4, n 5 ---------------------------------------------------------- */

static void bp2_args(void **state)
{
    float *dn = A(1000), *w = A(1100), *a = A(1200), *d = A(1300);
    const size_t sizes[][3] = {{S2, 3, 1},      {1, S2, 3},      {HALF, HALF, 1},
                               {HALF, 1, HALF}, {1, HALF, HALF}, {Q, 1, 1},
                               {1, Q, 1},       {1, 1, Q},       {BIG, BIG, BIG}};
    (void)state;
    arena_fill("bp2");
    EXPECT(BPQ_OK, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, BPQ_ACT_RELU, d));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp2_hidden_delta(3, 4, 5, NULL, w, a, BPQ_ACT_RELU, d));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp2_hidden_delta(3, 4, 5, dn, NULL, a, BPQ_ACT_RELU, d));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp2_hidden_delta(3, 4, 5, dn, w, NULL, BPQ_ACT_RELU, d));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, BPQ_ACT_RELU, NULL));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp2_hidden_delta(0, 4, 5, dn, w, a, BPQ_ACT_RELU, d));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp2_hidden_delta(3, 0, 5, dn, w, a, BPQ_ACT_RELU, d));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp2_hidden_delta(3, 4, 0, dn, w, a, BPQ_ACT_RELU, d));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        EXPECT(BPQ_ERR_SIZE_OVERFLOW, bpq_bp2_hidden_delta(sizes[i][0], sizes[i][1], sizes[i][2],
                                                           dn, w, a, BPQ_ACT_TANH, d));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, JUNK_ACT_1, d));
    EXPECT(BPQ_ERR_BAD_ENUM, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, JUNK_ACT_2, d));
    EXPECT(BPQ_ERR_BAD_COMBINATION, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, BPQ_ACT_SOFTMAX, d));
}

static void bp2_aliasing(void **state)
{
    float *dn = A(1000), *w = A(1100), *a = A(1200); /* 12, 20, 15 floats; delta 15 */
    float want[15];
    (void)state;
    arena_fill("bp2 alias");
    EXPECT(BPQ_OK, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, BPQ_ACT_SIGMOID, want));
    const ptrdiff_t bad[] = {1000, 1011, 1000 - 14, 1100, 1119, 1100 - 14, 1201, 1200 - 1, 1214};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(BPQ_ERR_ALIAS, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, BPQ_ACT_SIGMOID, A(bad[i])));
    const ptrdiff_t fine[] = {1000 - 15, 1012, 1100 - 15, 1120, 1215};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        EXPECT(BPQ_OK, bpq_bp2_hidden_delta(3, 4, 5, dn, w, a, BPQ_ACT_SIGMOID, A(fine[i])));
        same_bits("bp2 next to an input", A(fine[i]), want, 15);
        arena_fill("bp2 alias");
    }
}

/* ---- BP3: batch 3, n 5;  BP4: batch 3, n_out 5, n_in 4 ------------------------------------- */

static const bpq_reduce junk_reduce[] = {(bpq_reduce)2,    (bpq_reduce)3,    (bpq_reduce)0x12,
                                         (bpq_reduce)0x20, (bpq_reduce)0x30, (bpq_reduce)0x100,
                                         (bpq_reduce)-1};
#define N_JUNK_REDUCE (sizeof junk_reduce / sizeof junk_reduce[0])

static void bp3_args(void **state)
{
    float *d = A(1000), *db = A(1100);
    const size_t sizes[][2] = {{S2, 3}, {HALF, HALF}, {Q, 1}, {1, Q}, {BIG, BIG}};
    (void)state;
    arena_fill("bp3");
    EXPECT(BPQ_OK, bpq_bp3_bias_grad(3, 5, d, BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE, db));
    EXPECT(BPQ_OK, bpq_bp3_bias_grad(3, 5, d, BPQ_REDUCE_ACCUMULATE, db));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp3_bias_grad(3, 5, NULL, BPQ_REDUCE_SUM, db));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp3_bias_grad(3, 5, d, BPQ_REDUCE_SUM, NULL));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp3_bias_grad(0, 5, d, BPQ_REDUCE_SUM, db));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp3_bias_grad(3, 0, d, BPQ_REDUCE_SUM, db));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        EXPECT(BPQ_ERR_SIZE_OVERFLOW,
               bpq_bp3_bias_grad(sizes[i][0], sizes[i][1], d, BPQ_REDUCE_SUM, db));
    for (size_t i = 0; i < N_JUNK_REDUCE; i++)
        EXPECT(BPQ_ERR_BAD_ENUM, bpq_bp3_bias_grad(3, 5, d, junk_reduce[i], db));
}

static void bp4_args(void **state)
{
    float *d = A(1000), *x = A(1100), *dw = A(1200);
    const size_t sizes[][3] = {{S2, 3, 1},      {1, S2, 3},      {HALF, HALF, 1},
                               {HALF, 1, HALF}, {1, HALF, HALF}, {Q, 1, 1},
                               {1, Q, 1},       {1, 1, Q},       {BIG, BIG, BIG}};
    (void)state;
    arena_fill("bp4");
    EXPECT(BPQ_OK, bpq_bp4_weight_grad(3, 5, 4, d, x, BPQ_REDUCE_MEAN, dw));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp4_weight_grad(3, 5, 4, NULL, x, BPQ_REDUCE_SUM, dw));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp4_weight_grad(3, 5, 4, d, NULL, BPQ_REDUCE_SUM, dw));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_bp4_weight_grad(3, 5, 4, d, x, BPQ_REDUCE_SUM, NULL));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp4_weight_grad(0, 5, 4, d, x, BPQ_REDUCE_SUM, dw));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp4_weight_grad(3, 0, 4, d, x, BPQ_REDUCE_SUM, dw));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_bp4_weight_grad(3, 5, 0, d, x, BPQ_REDUCE_SUM, dw));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        EXPECT(BPQ_ERR_SIZE_OVERFLOW, bpq_bp4_weight_grad(sizes[i][0], sizes[i][1], sizes[i][2], d,
                                                          x, BPQ_REDUCE_SUM, dw));
    for (size_t i = 0; i < N_JUNK_REDUCE; i++)
        EXPECT(BPQ_ERR_BAD_ENUM, bpq_bp4_weight_grad(3, 5, 4, d, x, junk_reduce[i], dw));
}

static void bp34_aliasing(void **state)
{
    float *d = A(1000), *x = A(1100); /* delta 15, x 12; db 5, dw 20 */
    float want_db[5], want_dw[20];
    (void)state;
    arena_fill("bp34 alias");
    EXPECT(BPQ_OK, bpq_bp3_bias_grad(3, 5, d, BPQ_REDUCE_SUM, want_db));
    EXPECT(BPQ_OK, bpq_bp4_weight_grad(3, 5, 4, d, x, BPQ_REDUCE_SUM, want_dw));
    const ptrdiff_t bad3[] = {1000, 1010, 1014, 1000 - 4};
    for (size_t i = 0; i < sizeof bad3 / sizeof bad3[0]; i++)
        EXPECT(BPQ_ERR_ALIAS, bpq_bp3_bias_grad(3, 5, d, BPQ_REDUCE_SUM, A(bad3[i])));
    const ptrdiff_t bad4[] = {1000, 1014, 1000 - 19, 1100, 1111, 1100 - 19};
    for (size_t i = 0; i < sizeof bad4 / sizeof bad4[0]; i++)
        EXPECT(BPQ_ERR_ALIAS, bpq_bp4_weight_grad(3, 5, 4, d, x, BPQ_REDUCE_SUM, A(bad4[i])));
    const ptrdiff_t fine3[] = {1015, 1000 - 5};
    for (size_t i = 0; i < sizeof fine3 / sizeof fine3[0]; i++) {
        EXPECT(BPQ_OK, bpq_bp3_bias_grad(3, 5, d, BPQ_REDUCE_SUM, A(fine3[i])));
        same_bits("bp3 next to delta", A(fine3[i]), want_db, 5);
        arena_fill("bp34 alias");
    }
    const ptrdiff_t fine4[] = {1015, 1000 - 20, 1112, 1100 - 20};
    for (size_t i = 0; i < sizeof fine4 / sizeof fine4[0]; i++) {
        EXPECT(BPQ_OK, bpq_bp4_weight_grad(3, 5, 4, d, x, BPQ_REDUCE_SUM, A(fine4[i])));
        same_bits("bp4 next to an input", A(fine4[i]), want_dw, 20);
        arena_fill("bp34 alias");
    }
}

/* ---- SGD: n 6 --------------------------------------------------------------------------- */

static void sgd_args(void **state)
{
    float *g = A(1000), *p = A(1100);
    const float bad_lr[] = {NAN, -NAN, INFINITY, -INFINITY};
    const float good_lr[] = {0.0f, -0.0f, -1.5f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f};
    (void)state;
    arena_fill("sgd");
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_sgd_step(6, 0.1f, NULL, p));
    EXPECT(BPQ_ERR_NULL_POINTER, bpq_sgd_step(6, 0.1f, g, NULL));
    EXPECT(BPQ_ERR_ZERO_SIZE, bpq_sgd_step(0, 0.1f, g, p));
    EXPECT(BPQ_ERR_SIZE_OVERFLOW, bpq_sgd_step(Q, 0.1f, g, p));
    EXPECT(BPQ_ERR_SIZE_OVERFLOW, bpq_sgd_step(S2, 0.1f, g, p));
    EXPECT(BPQ_ERR_SIZE_OVERFLOW, bpq_sgd_step(BIG, 0.1f, g, p));
    for (size_t i = 0; i < sizeof bad_lr / sizeof bad_lr[0]; i++)
        EXPECT(BPQ_ERR_BAD_VALUE, bpq_sgd_step(6, bad_lr[i], g, p));
    for (size_t i = 0; i < sizeof good_lr / sizeof good_lr[0]; i++)
        EXPECT(BPQ_OK, bpq_sgd_step(6, good_lr[i], g, p));
}

static void sgd_aliasing(void **state)
{
    float *g = A(1000);
    float want[6];
    (void)state;
    arena_fill("sgd alias");
    memcpy(want, A(1100), sizeof want);
    EXPECT(BPQ_OK, bpq_sgd_step(6, 0.25f, g, want));
    const ptrdiff_t bad[] = {1001, 1005, 1000 - 1, 1000 - 5};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(BPQ_ERR_ALIAS, bpq_sgd_step(6, 0.25f, g, A(bad[i])));
    const ptrdiff_t fine[] = {1006, 1000 - 6};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        memcpy(A(fine[i]), A(1100), sizeof want);
        EXPECT(BPQ_OK, bpq_sgd_step(6, 0.25f, g, A(fine[i])));
        same_bits("sgd next to grad", A(fine[i]), want, 6);
        arena_fill("sgd alias");
    }
}

/* ---- the exact aliases the API allows, on every ISA --------------------------------------- */

static const bpq_loss pair_loss[6] = {BPQ_LOSS_MSE, BPQ_LOSS_MSE, BPQ_LOSS_MSE,
                                      BPQ_LOSS_MSE, BPQ_LOSS_BCE, BPQ_LOSS_XENT};
static const bpq_act pair_act[6] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH,
                                    BPQ_ACT_RELU,     BPQ_ACT_SIGMOID, BPQ_ACT_SOFTMAX};

/* In place must equal out of place, in shapes that reach every vector path and tail. */
static void allowed_alias_shape(tu_rng *r, size_t R, size_t N, size_t NN)
{
    enum { MR = 7, MN = 67, MNN = 40 };
    float a[MR * MN], y[MR * MN], io[MR * MN], want[MR * MN], g[MR * MN], loss, want_loss;
    float dn[MR * MNN], w[MNN * MN];
    const size_t bytes = sizeof(float) * R * N;

    snprintf(g_where, sizeof g_where, " (shape %zux%zux%zu)", R, N, NN);

    for (int pair = 0; pair < 6; pair++) {
        tu_fill_act_output(r, pair_act[pair], a, R, N);
        tu_fill_targets(r, pair_loss[pair], y, R, N);
        assert_int_equal(
            bpq_bp1_output_delta(R, N, pair_loss[pair], pair_act[pair], a, y, want, &want_loss),
            BPQ_OK);
        memcpy(io, a, bytes); /* delta == a */
        assert_int_equal(
            bpq_bp1_output_delta(R, N, pair_loss[pair], pair_act[pair], io, y, io, &loss), BPQ_OK);
        same_bits("bp1 with delta == a", io, want, R * N);
        same_bits("bp1 loss with delta == a", &loss, &want_loss, 1);
        memcpy(io, y, bytes); /* delta == y */
        assert_int_equal(
            bpq_bp1_output_delta(R, N, pair_loss[pair], pair_act[pair], a, io, io, &loss), BPQ_OK);
        same_bits("bp1 with delta == y", io, want, R * N);
        same_bits("bp1 loss with delta == y", &loss, &want_loss, 1);
        memcpy(io, a, bytes); /* a == y: inputs may share memory */
        assert_int_equal(
            bpq_bp1_output_delta(R, N, pair_loss[pair], pair_act[pair], a, a, want, NULL), BPQ_OK);
        assert_int_equal(
            bpq_bp1_output_delta(R, N, pair_loss[pair], pair_act[pair], a, io, g, NULL), BPQ_OK);
        same_bits("bp1 with a == y", want, g, R * N);
    }
    for (int act = 0; act < BPQ_ACT_SOFTMAX; act++) { /* BP2 with delta == a */
        tu_fill_sym(r, dn, R * NN);
        tu_fill_sym(r, w, NN * N);
        tu_fill_act_output(r, (bpq_act)act, a, R, N);
        assert_int_equal(bpq_bp2_hidden_delta(R, NN, N, dn, w, a, (bpq_act)act, want), BPQ_OK);
        memcpy(io, a, bytes);
        assert_int_equal(bpq_bp2_hidden_delta(R, NN, N, dn, w, io, (bpq_act)act, io), BPQ_OK);
        same_bits("bp2 with delta == a", io, want, R * N);
    }
    /* forward with x == w (two inputs; needs R <= NN): same as separate copies. */
    tu_fill_sym(r, w, NN * N);
    memcpy(g, w, bytes);
    assert_int_equal(bpq_forward(R, N, NN, w, w, y, BPQ_ACT_RELU, dn), BPQ_OK);
    assert_int_equal(bpq_forward(R, N, NN, g, w, y, BPQ_ACT_RELU, io), BPQ_OK);
    same_bits("forward with x == w", dn, io, R * NN);
    /* SGD with param == grad: p - lr p. */
    tu_fill_sym(r, g, R * N);
    memcpy(io, g, bytes);
    memcpy(want, g, bytes);
    assert_int_equal(bpq_sgd_step(R * N, 0.75f, g, want), BPQ_OK);
    assert_int_equal(bpq_sgd_step(R * N, 0.75f, io, io), BPQ_OK);
    same_bits("sgd with param == grad", io, want, R * N);
}

static void allowed_alias(void **state)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {5, 37, 19}, {3, 67, 40}, {7, 16, 33}};
    bpq_isa isa = *(const bpq_isa *)*state;
    tu_rng r = tu_rng_make(tu_seed(), "allowed alias", 0);
    if (!bpq_isa_supported(isa))
        skip();
    tu_select(isa);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        allowed_alias_shape(&r, shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* ---- strings and version ----------------------------------------------------------------- */

static void status_strings(void **state)
{
    const char *s[BPQ_ERR_ISA_UNAVAILABLE + 1];
    const int unknown[] = {9, 100, -1};
    (void)state;
    for (int i = 0; i <= BPQ_ERR_ISA_UNAVAILABLE; i++) {
        s[i] = bpq_status_string((bpq_status)i);
        assert_non_null(s[i]);
        assert_true(s[i][0] != '\0');
        for (int j = 0; j < i; j++)
            if (strcmp(s[i], s[j]) == 0)
                fail_msg("statuses %d and %d share the text \"%s\"", i, j, s[i]);
    }
    for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
        const char *t = bpq_status_string((bpq_status)unknown[u]);
        assert_non_null(t);
        for (int j = 0; j <= BPQ_ERR_ISA_UNAVAILABLE; j++)
            if (strcmp(t, s[j]) == 0)
                fail_msg("unknown status %d reads as status %d: \"%s\"", unknown[u], j, t);
    }
}

static void isa_names(void **state)
{
    static const char *const want[] = {"auto", "reference", "scalar", "avx2", "avx512", "neon"};
    (void)state;
    for (int i = 0; i <= BPQ_ISA_NEON; i++)
        assert_string_equal(bpq_isa_name((bpq_isa)i), want[i]);
    assert_string_equal(bpq_isa_name((bpq_isa)6), "unknown");
    assert_string_equal(bpq_isa_name((bpq_isa)-1), "unknown");
    assert_string_equal(bpq_isa_name((bpq_isa)1000), "unknown");
}

static void version(void **state)
{
    char want[64];
    (void)state;
    snprintf(want, sizeof want, "%d.%d.%d", BPQ_VERSION_MAJOR, BPQ_VERSION_MINOR,
             BPQ_VERSION_PATCH);
    assert_non_null(bpq_version());
    assert_string_equal(bpq_version(), want);
}

int main(void)
{
    static char names[TU_N_ISAS][40];
    struct CMUnitTest tests[11 + TU_N_ISAS] = {
        cmocka_unit_test(forward_args),  cmocka_unit_test(forward_aliasing),
        cmocka_unit_test(bp1_args),      cmocka_unit_test(bp1_aliasing),
        cmocka_unit_test(bp2_args),      cmocka_unit_test(bp2_aliasing),
        cmocka_unit_test(bp3_args),      cmocka_unit_test(bp4_args),
        cmocka_unit_test(bp34_aliasing), cmocka_unit_test(sgd_args),
        cmocka_unit_test(sgd_aliasing),
    };
    for (int i = 0; i < TU_N_ISAS; i++) {
        snprintf(names[i], sizeof names[i], "allowed_alias/%s", bpq_isa_name(tu_isas[i]));
        tests[11 + i] =
            (struct CMUnitTest){names[i], allowed_alias, NULL, NULL, (void *)&tu_isas[i]};
    }
    const struct CMUnitTest tail[] = {cmocka_unit_test(status_strings), cmocka_unit_test(isa_names),
                                      cmocka_unit_test(version)};
    int failed = cmocka_run_group_tests_name("bad_input", tests, NULL, NULL);
    return failed + cmocka_run_group_tests_name("strings", tail, NULL, NULL);
}
