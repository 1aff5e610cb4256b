/* test_golden.c - golden hashes of scalar outputs that every float ISA must reproduce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpq.h"
#include "testutil.h"

/*
 * Usage:  test_golden <hashes.txt>           check every float ISA against the file
 *         test_golden --write <hashes.txt>   rewrite the file from the scalar ISA
 *
 * Each entry runs one equation on inputs drawn from a fixed seed (integer
 * generator, exact conversions: the same floats on x86-64 and AArch64) and
 * hashes the output bytes with FNV-1a, every NaN counted as 0x7fc00000. A
 * missing file, a missing entry or an entry the binary no longer produces
 * is a failure, so the test cannot pass by having nothing to compare.
 */

#define GOLDEN_SEED 0x676f6c64656e3031u /* fixed forever: BPQ_TEST_SEED must not move it */
#define MAX_ENTRIES 512

static const char *const act_names[5] = {"identity", "sigmoid", "tanh", "relu", "softmax"};
static const char *const red_names[4] = {"sum", "mean", "sum+acc", "mean+acc"};
static const bpq_reduce reduces[4] = {BPQ_REDUCE_SUM, BPQ_REDUCE_MEAN,
                                      BPQ_REDUCE_SUM | BPQ_REDUCE_ACCUMULATE,
                                      BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE};
static const bpq_loss bp1_loss[6] = {BPQ_LOSS_MSE, BPQ_LOSS_MSE, BPQ_LOSS_MSE,
                                     BPQ_LOSS_MSE, BPQ_LOSS_BCE, BPQ_LOSS_XENT};
static const bpq_act bp1_act[6] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH,
                                   BPQ_ACT_RELU,     BPQ_ACT_SIGMOID, BPQ_ACT_SOFTMAX};
static const char *const bp1_names[6] = {"mse+identity", "mse+sigmoid", "mse+tanh",
                                         "mse+relu",     "bce+sigmoid", "xent+softmax"};

/* Odd sizes, sizes past 33, tile multiples and shapes past the SIMD cache blocks; the last
 * dimension is the vectorised one. */
static const size_t shapes3[][3] = {{1, 1, 1},    {3, 5, 7},      {4, 16, 16},
                                    {33, 17, 40}, {37, 61, 127},  {64, 128, 48},
                                    {5, 300, 33}, {250, 300, 20}, {130, 70, 131}};
static const size_t shapes2[][2] = {{1, 1},     {3, 7},     {33, 40}, {37, 127},
                                    {16, 1000}, {300, 129}, {6, 1100}};
static const size_t sgd_sizes[] = {1, 7, 33, 1000, 4099};
static const float sgd_lrs[] = {0.1f, -0.25f, 3e-3f};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- producing the entries -------------------------------------------------------- */

typedef void (*visit_fn)(const char *name, uint64_t hash, void *ctx);

/* Buffers of one entry. Inputs are filled in a fixed order, then specials if asked. */
typedef struct entry {
    tu_rng r;
    int specials;
    float *buf[4];
    size_t len[4];
    int n;
} entry;

static float *sym_input(entry *e, size_t n)
{
    float *p = calloc(n, sizeof(float));
    if (p == NULL)
        exit(2);
    e->buf[e->n] = tu_fill_sym(&e->r, p, n);
    e->len[e->n++] = n;
    return p;
}

static float *output(size_t n)
{
    float *p = malloc(n * sizeof(float));
    if (p == NULL)
        exit(2);
    for (size_t i = 0; i < n; i++)
        p[i] = tu_from_bits(TU_POISON_BITS);
    return p;
}

/* Specials go into every input after all of them are drawn. */
static void finish_inputs(entry *e)
{
    for (int k = 0; k < e->n && e->specials; k++)
        tu_sprinkle_specials(&e->r, e->buf[k], e->len[k]);
}

static void free_entry(entry *e)
{
    for (int k = 0; k < e->n; k++)
        free(e->buf[k]);
}

static entry start(const char *name, int specials)
{
    entry e;
    memset(&e, 0, sizeof e);
    e.r = tu_rng_make(GOLDEN_SEED, name, 0);
    e.specials = specials;
    return e;
}

static void run_entries(visit_fn visit, void *ctx)
{
    char name[96];
    for (int sp = 0; sp < 2; sp++) {
        const char *tag = sp ? "/specials" : "";
        for (size_t s = 0; s < COUNT(shapes3); s++) {
            size_t d0 = shapes3[s][0], d1 = shapes3[s][1], d2 = shapes3[s][2];
            for (int act = 0; act < 5; act++) { /* forward (batch, n_in, n_out) */
                snprintf(name, sizeof name, "forward/%s/%zux%zux%zu%s", act_names[act], d0, d1, d2,
                         tag);
                entry e = start(name, sp);
                float *x = sym_input(&e, d0 * d1), *w = sym_input(&e, d2 * d1),
                      *b = sym_input(&e, d2);
                float *a = output(d0 * d2);
                finish_inputs(&e);
                assert_int_equal(bpq_forward(d0, d1, d2, x, w, b, (bpq_act)act, a), BPQ_OK);
                visit(name, tu_fnv(TU_FNV_BASIS, a, d0 * d2), ctx);
                free(a);
                free_entry(&e);
            }
            for (int act = 0; act < 4; act++) { /* bp2 (batch, n_next, n) */
                snprintf(name, sizeof name, "bp2/%s/%zux%zux%zu%s", act_names[act], d0, d1, d2,
                         tag);
                entry e = start(name, sp);
                float *dn = sym_input(&e, d0 * d1), *w = sym_input(&e, d1 * d2);
                float *a = sym_input(&e, d0 * d2), *d = output(d0 * d2);
                tu_fill_act_output(&e.r, (bpq_act)act, a, d0, d2);
                finish_inputs(&e);
                assert_int_equal(bpq_bp2_hidden_delta(d0, d1, d2, dn, w, a, (bpq_act)act, d),
                                 BPQ_OK);
                visit(name, tu_fnv(TU_FNV_BASIS, d, d0 * d2), ctx);
                free(d);
                free_entry(&e);
            }
            for (int v = 0; v < 4; v++) { /* bp4 (batch, n_out, n_in) */
                snprintf(name, sizeof name, "bp4/%s/%zux%zux%zu%s", red_names[v], d0, d1, d2, tag);
                entry e = start(name, sp);
                float *d = sym_input(&e, d0 * d1), *x = sym_input(&e, d0 * d2);
                float *dw = sym_input(&e, d1 * d2); /* initial contents, used by accumulate */
                finish_inputs(&e);
                assert_int_equal(bpq_bp4_weight_grad(d0, d1, d2, d, x, reduces[v], dw), BPQ_OK);
                visit(name, tu_fnv(TU_FNV_BASIS, dw, d1 * d2), ctx);
                free_entry(&e);
            }
        }
        for (size_t s = 0; s < COUNT(shapes2); s++) {
            size_t d0 = shapes2[s][0], d1 = shapes2[s][1];
            for (int pair = 0; pair < 6; pair++) { /* bp1 (batch, n), with the loss */
                snprintf(name, sizeof name, "bp1/%s/%zux%zu%s", bp1_names[pair], d0, d1, tag);
                entry e = start(name, sp);
                float *a = sym_input(&e, d0 * d1), *y = sym_input(&e, d0 * d1);
                float *d = output(d0 * d1 + 1);
                tu_fill_act_output(&e.r, bp1_act[pair], a, d0, d1);
                tu_fill_targets(&e.r, bp1_loss[pair], y, d0, d1);
                finish_inputs(&e);
                assert_int_equal(bpq_bp1_output_delta(d0, d1, bp1_loss[pair], bp1_act[pair], a, y,
                                                      d, d + d0 * d1),
                                 BPQ_OK);
                visit(name, tu_fnv(TU_FNV_BASIS, d, d0 * d1 + 1), ctx);
                free(d);
                free_entry(&e);
            }
            for (int v = 0; v < 4; v++) { /* bp3 (batch, n) */
                snprintf(name, sizeof name, "bp3/%s/%zux%zu%s", red_names[v], d0, d1, tag);
                entry e = start(name, sp);
                float *d = sym_input(&e, d0 * d1), *db = sym_input(&e, d1);
                finish_inputs(&e);
                assert_int_equal(bpq_bp3_bias_grad(d0, d1, d, reduces[v], db), BPQ_OK);
                visit(name, tu_fnv(TU_FNV_BASIS, db, d1), ctx);
                free_entry(&e);
            }
        }
        for (size_t s = 0; s < COUNT(sgd_sizes); s++)
            for (size_t l = 0; l < COUNT(sgd_lrs); l++) {
                size_t n = sgd_sizes[s];
                snprintf(name, sizeof name, "sgd/lr=%g/%zu%s", (double)sgd_lrs[l], n, tag);
                entry e = start(name, sp);
                float *g = sym_input(&e, n), *p = sym_input(&e, n);
                finish_inputs(&e);
                assert_int_equal(bpq_sgd_step(n, sgd_lrs[l], g, p), BPQ_OK);
                visit(name, tu_fnv(TU_FNV_BASIS, p, n), ctx);
                free_entry(&e);
            }
    }
}

/* ---- the golden file ------------------------------------------------------------------ */

typedef struct golden {
    const char *path;
    const char *load_error; /* NULL when the file was read */
    size_t count;
    char name[MAX_ENTRIES][96];
    uint64_t hash[MAX_ENTRIES];
} golden;

static golden g_file;

static void load(golden *gf, const char *path)
{
    char line[256];
    FILE *f = fopen(path, "r");
    gf->path = path;
    if (f == NULL) {
        gf->load_error = "cannot open the golden file";
        return;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char nm[96];
        unsigned long long h;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%95s %llx", nm, &h) != 2 || gf->count == MAX_ENTRIES) {
            gf->load_error = "malformed or too many lines in the golden file";
            break;
        }
        strcpy(gf->name[gf->count], nm);
        gf->hash[gf->count++] = (uint64_t)h;
    }
    fclose(f);
    if (gf->load_error == NULL && gf->count == 0)
        gf->load_error = "the golden file has no entries";
}

typedef struct check_ctx {
    bpq_isa isa;
    unsigned char seen[MAX_ENTRIES];
    int failures, produced;
} check_ctx;

/* [golden-check] */
static void check_one(const char *name, uint64_t hash, void *ctx_)
{
    check_ctx *ctx = ctx_;
    ctx->produced++;
    for (size_t i = 0; i < g_file.count; i++)
        if (strcmp(g_file.name[i], name) == 0) {
            ctx->seen[i] = 1;
            if (g_file.hash[i] != hash && ctx->failures++ < 10)
                print_error("%s on %s: hash %016llx, golden %016llx\n", name,
                            bpq_isa_name(ctx->isa), (unsigned long long)hash,
                            (unsigned long long)g_file.hash[i]);
            return;
        }
    if (ctx->failures++ < 10)
        print_error("%s: no golden entry (regenerate the file?)\n", name);
}
/* [golden-check] */

static void golden_test(void **state)
{
    check_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.isa = *(const bpq_isa *)*state;
    if (!bpq_isa_supported(ctx.isa))
        skip();
    if (g_file.load_error != NULL)
        fail_msg("%s: %s", g_file.path, g_file.load_error);
    tu_select(ctx.isa);
    run_entries(check_one, &ctx);
    for (size_t i = 0; i < g_file.count; i++)
        if (!ctx.seen[i] && ctx.failures++ < 10)
            print_error("%s: golden entry no longer produced\n", g_file.name[i]);
    assert_true(ctx.produced > 0);
    if (ctx.failures)
        fail_msg("%d golden mismatches on %s", ctx.failures, bpq_isa_name(ctx.isa));
}

static void write_one(const char *name, uint64_t hash, void *ctx)
{
    fprintf((FILE *)ctx, "%s %016llx\n", name, (unsigned long long)hash);
}

/* The header explains the file to whoever opens it; the test reads past the '#' lines. */
static int write_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fputs(
        "# hashes.txt - golden FNV-1a hashes of bpq's scalar outputs; every float ISA must match.\n"
        "# Written by tests/test_golden.c from the scalar ISA:\n"
        "#   test_golden --write tests/golden/hashes.txt\n"
        "#   (or: cmake --build <build dir> --target bpq_golden_update)\n"
        "# Regenerate only when the canonical operation order (kernels/canon.h) changes\n"
        "# on purpose. Format: <equation>/<variant>/<shape>[/specials] <hash>; the hash is\n"
        "# 64-bit FNV-1a over the output bytes, little-endian, each NaN as 0x7fc00000.\n",
        f);
    if (bpq_isa_select(BPQ_ISA_SCALAR) != BPQ_OK) {
        fclose(f);
        return 1;
    }
    run_entries(write_one, f);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    static const bpq_isa float_isas[] = {BPQ_ISA_SCALAR, BPQ_ISA_AVX2, BPQ_ISA_AVX512,
                                         BPQ_ISA_NEON};
    enum { N = COUNT(float_isas) };
    static char names[N][32];
    struct CMUnitTest tests[N];

    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_file(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s <hashes.txt> | --write <hashes.txt>\n", argv[0]);
        return 2;
    }
    load(&g_file, argv[1]);
    /* The reference ISA is the double oracle and rounds differently: it has no golden hashes. */
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "golden/%s", bpq_isa_name(float_isas[i]));
        tests[i] = (struct CMUnitTest){names[i], golden_test, NULL, NULL, (void *)&float_isas[i]};
    }
    return cmocka_run_group_tests_name("golden", tests, NULL, NULL);
}
