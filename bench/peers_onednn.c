/* peers_onednn.c - peer cases: oneDNN 2.x inner product (forward, backward data, backward weights) and eltwise backward. */
#include <dnnl.h>
#include <dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

#include "cases.h"

/*
 * Each case runs once with weights in plain row-major `oi` (bpq's layout,
 * PyTorch's) and once in the layout oneDNN prefers (format tag `any`); the
 * reorder into that layout is done once in setup and not timed. Activations
 * stay row-major `nc`. Every case checks its result against bpq first.
 */
enum { EQ_FORWARD, EQ_BP2, EQ_BP4, EQ_LAYER };
enum { PLAIN = 0, BLOCKED = 1 };

typedef struct step {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[6];
} step;

typedef struct dnnl_ctx {
    bench_layer L;
    int eq, act, blocked;
    step steps[4];
    int n_steps;
    dnnl_memory_t mem[16];
    int n_mem;
    float *tmp;             /* [batch, n_in]: backward data's result before the eltwise backward */
    dnnl_memory_t dw_out;   /* where backward weights writes dW (blocked in BLOCKED mode) */
    dnnl_memory_t dw_plain; /* L.dw as oneDNN memory */
    char note[128];
} dnnl_ctx;

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static bench_level g_level;
static char g_impl[2][40]; /* "onednn.<level>", "onednn-blocked.<level>" */

#define TRY(call)                                                                                  \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success) {                                                                 \
            bench_why(why, why_len, "oneDNN: %s: %s", #call, dnnl_status2str(st_));                \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

static dnnl_memory_desc_t md_2d(size_t rows, size_t cols, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)cols};
    dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, tag);
    return md;
}

static dnnl_memory_desc_t md_1d(size_t n)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {(dnnl_dim_t)n};
    dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_x);
    return md;
}

/* A memory object over `data` (or allocated by oneDNN when data is NULL), freed with the case. */
static dnnl_memory_t wrap(dnnl_ctx *c, const dnnl_memory_desc_t *md, void *data)
{
    dnnl_memory_t m = NULL;
    if (c->n_mem < (int)(sizeof c->mem / sizeof c->mem[0]) &&
        dnnl_memory_create(&m, md, g_engine, data ? data : DNNL_MEMORY_ALLOCATE) == dnnl_success)
        c->mem[c->n_mem++] = m;
    return m;
}

static void arg(step *s, int which, dnnl_memory_t m)
{
    s->args[s->nargs].arg = which;
    s->args[s->nargs].memory = m;
    s->nargs++;
}

/* Copies src into dst's layout, once, untimed. */
static int reorder(dnnl_memory_t src, dnnl_memory_t dst, char *why, size_t why_len)
{
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    TRY(dnnl_memory_get_memory_desc(src, &smd));
    TRY(dnnl_memory_get_memory_desc(dst, &dmd));
    TRY(dnnl_reorder_primitive_desc_create(&pd, smd, g_engine, dmd, g_engine, NULL));
    dnnl_status_t st = dnnl_primitive_create(&p, pd);
    dnnl_primitive_desc_destroy(pd);
    TRY(st);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    st = dnnl_primitive_execute(p, g_stream, 2, args);
    if (st == dnnl_success)
        st = dnnl_stream_wait(g_stream);
    dnnl_primitive_destroy(p);
    TRY(st);
    return 1;
}

/* The weights memory a primitive wants: plain `plain_w`, or a reordered copy in its layout. */
static dnnl_memory_t weights_for(dnnl_ctx *c, dnnl_primitive_desc_t pd, dnnl_query_t what,
                                 dnnl_memory_t plain_w, char *why, size_t why_len)
{
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, what, 0);
    const dnnl_memory_desc_t *have;
    if (dnnl_memory_get_memory_desc(plain_w, &have) != dnnl_success || !want)
        return NULL;
    if (dnnl_memory_desc_equal(want, have))
        return plain_w;
    dnnl_memory_t m = wrap(c, want, NULL);
    return m && reorder(plain_w, m, why, why_len) ? m : NULL;
}

/* A short name for a 2-D layout, e.g. "AB16b64a" (oneDNN's naming: blocked dims in capitals). */
static void layout_name(const dnnl_memory_desc_t *md, char *out, size_t len)
{
    if (md->format_kind != dnnl_blocked || md->ndims != 2) {
        snprintf(out, len, "%s", dnnl_fmt_kind2str(md->format_kind));
        return;
    }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int outer_first = b->strides[0] >= b->strides[1] ? 0 : 1;
    int blocked[2] = {0, 0};
    for (int k = 0; k < b->inner_nblks; k++)
        blocked[b->inner_idxs[k]] = 1;
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        int d = i == 0 ? outer_first : 1 - outer_first;
        n += (size_t)snprintf(out + n, len - n, "%c", (blocked[d] ? 'A' : 'a') + d);
    }
    for (int k = 0; k < b->inner_nblks && n < len; k++)
        n += (size_t)snprintf(out + n, len - n, "%d%c", (int)b->inner_blks[k],
                              'a' + (int)b->inner_idxs[k]);
}

/* Adds a primitive made from `pd` as the next step; the caller fills its arguments. */
static step *add_step(dnnl_ctx *c, dnnl_primitive_desc_t pd, char *why, size_t why_len)
{
    step *s = &c->steps[c->n_steps];
    if (dnnl_primitive_create(&s->prim, pd) != dnnl_success) {
        bench_why(why, why_len, "oneDNN: cannot create a primitive");
        return NULL;
    }
    c->n_steps++;
    return s;
}

/* Remembers which implementation oneDNN chose and the weights layout, for the label. */
static void describe_impl(dnnl_ctx *c, dnnl_primitive_desc_t pd, dnnl_query_t weights)
{
    const char *impl = "?";
    char fmt[32] = "";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, weights, 0);
    if (md)
        layout_name(md, fmt, sizeof fmt);
    size_t n = strlen(c->note);
    snprintf(c->note + n, sizeof c->note - n, "%s%s:%s", n ? "," : "", impl, fmt);
}

/* The inner product forward (training) descriptor, also the hint backward passes need. */
static dnnl_status_t ip_forward_pd(dnnl_ctx *c, int with_bias, const_dnnl_primitive_attr_t attr,
                                   dnnl_primitive_desc_t *pd)
{
    const bench_layer *L = &c->L;
    dnnl_memory_desc_t src = md_2d(L->batch, L->n_in, dnnl_nc);
    dnnl_memory_desc_t w = md_2d(L->n_out, L->n_in, c->blocked ? dnnl_format_tag_any : dnnl_oi);
    dnnl_memory_desc_t b = md_1d(L->n_out), dst = md_2d(L->batch, L->n_out, dnnl_nc);
    dnnl_inner_product_desc_t d;
    dnnl_status_t st = dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, &src, &w,
                                                            with_bias ? &b : NULL, &dst);
    return st == dnnl_success ? dnnl_primitive_desc_create(pd, &d, attr, g_engine, NULL) : st;
}

static int build_forward(dnnl_ctx *c, char *why, size_t why_len)
{
    bench_layer *L = &c->L;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    if (c->act == BPQ_ACT_SIGMOID) { /* the activation fused as a post-op, as oneDNN users do */
        TRY(dnnl_post_ops_create(&ops));
        TRY(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_logistic, 0.0f, 0.0f));
        TRY(dnnl_primitive_attr_create(&attr));
        TRY(dnnl_primitive_attr_set_post_ops(attr, ops));
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = ip_forward_pd(c, 1, attr, &pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (ops)
        dnnl_post_ops_destroy(ops);
    TRY(st);
    dnnl_memory_desc_t x_md = md_2d(L->batch, L->n_in, dnnl_nc),
                       w_md = md_2d(L->n_out, L->n_in, dnnl_oi);
    dnnl_memory_desc_t b_md = md_1d(L->n_out), a_md = md_2d(L->batch, L->n_out, dnnl_nc);
    dnnl_memory_t w = weights_for(c, pd, dnnl_query_weights_md, wrap(c, &w_md, L->w), why, why_len);
    step *s = w ? add_step(c, pd, why, why_len) : NULL;
    describe_impl(c, pd, dnnl_query_weights_md);
    dnnl_primitive_desc_destroy(pd);
    if (!s)
        return 0;
    dnnl_memory_t a = wrap(c, &a_md, L->a);
    arg(s, DNNL_ARG_SRC, wrap(c, &x_md, L->x));
    arg(s, DNNL_ARG_WEIGHTS, w);
    arg(s, DNNL_ARG_BIAS, wrap(c, &b_md, L->b));
    arg(s, DNNL_ARG_DST, a);
    if (c->act == BPQ_ACT_SOFTMAX) { /* softmax is its own primitive, in place on the output */
        dnnl_softmax_desc_t sd;
        TRY(dnnl_softmax_forward_desc_init(&sd, dnnl_forward_training, &a_md, 1));
        TRY(dnnl_primitive_desc_create(&pd, &sd, NULL, g_engine, NULL));
        s = add_step(c, pd, why, why_len);
        dnnl_primitive_desc_destroy(pd);
        if (!s)
            return 0;
        arg(s, DNNL_ARG_SRC, a);
        arg(s, DNNL_ARG_DST, a);
    }
    return 1;
}

/* dx = (d W) * act'(x): backward data, then eltwise backward from the saved output x. */
static int build_bp2(dnnl_ctx *c, int act, char *why, size_t why_len)
{
    bench_layer *L = &c->L;
    dnnl_primitive_desc_t hint, pd;
    TRY(ip_forward_pd(c, 0, NULL, &hint));
    dnnl_memory_desc_t dx_md = md_2d(L->batch, L->n_in, dnnl_nc),
                       d_md = md_2d(L->batch, L->n_out, dnnl_nc);
    dnnl_memory_desc_t w_md = md_2d(L->n_out, L->n_in, c->blocked ? dnnl_format_tag_any : dnnl_oi);
    dnnl_inner_product_desc_t d;
    dnnl_status_t st = dnnl_inner_product_backward_data_desc_init(&d, &dx_md, &w_md, &d_md);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, NULL, g_engine, hint);
    dnnl_primitive_desc_destroy(hint);
    TRY(st);
    w_md = md_2d(L->n_out, L->n_in, dnnl_oi);
    dnnl_memory_t w = weights_for(c, pd, dnnl_query_weights_md, wrap(c, &w_md, L->w), why, why_len);
    step *s = w ? add_step(c, pd, why, why_len) : NULL;
    describe_impl(c, pd, dnnl_query_weights_md);
    dnnl_primitive_desc_destroy(pd);
    if (!s)
        return 0;
    dnnl_memory_t dx = wrap(c, &dx_md, L->dx);
    dnnl_memory_t t = act == BPQ_ACT_IDENTITY ? dx : wrap(c, &dx_md, c->tmp);
    arg(s, DNNL_ARG_DIFF_DST, wrap(c, &d_md, L->d));
    arg(s, DNNL_ARG_WEIGHTS, w);
    arg(s, DNNL_ARG_DIFF_SRC, t);
    if (act == BPQ_ACT_IDENTITY)
        return 1;
    dnnl_alg_kind_t alg = act == BPQ_ACT_SIGMOID ? dnnl_eltwise_logistic_use_dst_for_bwd
                          : act == BPQ_ACT_TANH  ? dnnl_eltwise_tanh_use_dst_for_bwd
                                                 : dnnl_eltwise_relu_use_dst_for_bwd;
    dnnl_eltwise_desc_t fd, bd;
    TRY(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, alg, &dx_md, 0.0f, 0.0f));
    TRY(dnnl_primitive_desc_create(&hint, &fd, NULL, g_engine, NULL));
    st = dnnl_eltwise_backward_desc_init(&bd, alg, &dx_md, &dx_md, 0.0f, 0.0f);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &bd, NULL, g_engine, hint);
    dnnl_primitive_desc_destroy(hint);
    TRY(st);
    s = add_step(c, pd, why, why_len);
    dnnl_primitive_desc_destroy(pd);
    if (!s)
        return 0;
    arg(s, DNNL_ARG_DST, wrap(c, &dx_md, L->x));
    arg(s, DNNL_ARG_DIFF_DST, t);
    arg(s, DNNL_ARG_DIFF_SRC, dx);
    return 1;
}

/* dW = d^T x (and db = column sums of d when with_bias): backward weights. */
static int build_bp4(dnnl_ctx *c, int with_bias, char *why, size_t why_len)
{
    bench_layer *L = &c->L;
    dnnl_primitive_desc_t hint, pd;
    TRY(ip_forward_pd(c, with_bias, NULL, &hint));
    dnnl_memory_desc_t x_md = md_2d(L->batch, L->n_in, dnnl_nc),
                       d_md = md_2d(L->batch, L->n_out, dnnl_nc);
    dnnl_memory_desc_t dw_md = md_2d(L->n_out, L->n_in, c->blocked ? dnnl_format_tag_any : dnnl_oi);
    dnnl_memory_desc_t db_md = md_1d(L->n_out);
    dnnl_inner_product_desc_t d;
    dnnl_status_t st = dnnl_inner_product_backward_weights_desc_init(
        &d, &x_md, &dw_md, with_bias ? &db_md : NULL, &d_md);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, NULL, g_engine, hint);
    dnnl_primitive_desc_destroy(hint);
    TRY(st);
    dw_md = md_2d(L->n_out, L->n_in, dnnl_oi);
    c->dw_plain = wrap(c, &dw_md, L->dw);
    const dnnl_memory_desc_t *want =
        dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
    c->dw_out = want && !dnnl_memory_desc_equal(want, &dw_md) ? wrap(c, want, NULL) : c->dw_plain;
    step *s = c->dw_out ? add_step(c, pd, why, why_len) : NULL;
    describe_impl(c, pd, dnnl_query_diff_weights_md);
    dnnl_primitive_desc_destroy(pd);
    if (!s)
        return 0;
    arg(s, DNNL_ARG_SRC, wrap(c, &x_md, L->x));
    arg(s, DNNL_ARG_DIFF_DST, wrap(c, &d_md, L->d));
    arg(s, DNNL_ARG_DIFF_WEIGHTS, c->dw_out);
    if (with_bias)
        arg(s, DNNL_ARG_DIFF_BIAS, wrap(c, &db_md, L->db));
    return 1;
}

static void run(void *ctx)
{
    dnnl_ctx *c = ctx;
    for (int k = 0; k < c->n_steps; k++)
        dnnl_primitive_execute(c->steps[k].prim, g_stream, c->steps[k].nargs, c->steps[k].args);
    dnnl_stream_wait(g_stream);
}

static void warm(void *ctx, int call_once)
{
    if (call_once)
        run(ctx);
}

static void teardown(void *ctx)
{
    dnnl_ctx *c = ctx;
    for (int k = 0; k < c->n_steps; k++)
        dnnl_primitive_destroy(c->steps[k].prim);
    for (int k = 0; k < c->n_mem; k++)
        dnnl_memory_destroy(c->mem[k]);
    bench_layer_free(&c->L);
    free(c->tmp);
    free(c);
}

static int build(dnnl_ctx *c, char *why, size_t why_len)
{
    switch (c->eq) {
    case EQ_FORWARD: return build_forward(c, why, why_len);
    case EQ_BP2: return build_bp2(c, c->act, why, why_len);
    case EQ_BP4: return build_bp4(c, 0, why, why_len);
    default: return build_bp2(c, BPQ_ACT_SIGMOID, why, why_len) && build_bp4(c, 1, why, why_len);
    }
}

static void *setup_eq(const bench_args *args, bench_work *work, char *why, size_t why_len, int eq)
{
    static const bench_bpq_call calls[] = {bench_call_forward, bench_call_bp2, bench_call_bp4,
                                           bench_call_layer};
    static const bench_bpq_describe describes[] = {bench_describe_forward, bench_describe_bp2,
                                                   bench_describe_bp4, bench_describe_layer};
    static const unsigned outs[] = {BENCH_OUT_A, BENCH_OUT_DX, BENCH_OUT_DW,
                                    BENCH_OUT_DX | BENCH_OUT_DB | BENCH_OUT_DW};
    dnnl_ctx *c = calloc(1, sizeof *c);
    if (!c || !bench_layer_init(&c->L, &args->shape, why, why_len)) {
        free(c);
        return NULL;
    }
    c->eq = eq;
    c->act = args->variant;
    c->blocked = args->impl == BLOCKED;
    c->tmp = bench_alloc(c->L.batch * c->L.n_in);
    bench_expect e;
    int ok = c->tmp && build(c, why, why_len);
    if (ok && (ok = bench_expect_run(&e, &c->L, calls[eq], c->act, outs[eq], why, why_len)) != 0) {
        run(c);
        if (c->dw_out && c->dw_out != c->dw_plain) /* back to row-major to compare; untimed */
            ok = reorder(c->dw_out, c->dw_plain, why, why_len);
        ok = ok && bench_expect_check(&e, &c->L, outs[eq], 1e-4, why, why_len);
    }
    if (!ok) {
        teardown(c);
        return NULL;
    }
    describes[eq](&c->L, c->act, work);
    work->level = g_level;
    work->note = c->note;
    return c;
}

#define SETUP(name, eq)                                                                            \
    static void *name(const bench_args *a, bench_work *w, char *why, size_t n)                     \
    {                                                                                              \
        return setup_eq(a, w, why, n, eq);                                                         \
    }
SETUP(setup_forward, EQ_FORWARD)
SETUP(setup_bp2, EQ_BP2)
SETUP(setup_bp4, EQ_BP4)
SETUP(setup_layer, EQ_LAYER)

static bench_level isa_level(dnnl_cpu_isa_t isa)
{
#if defined(__aarch64__)
    (void)isa;
    return BENCH_LEVEL_NEON;
#else
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core)
        return BENCH_LEVEL_AVX512;
    if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2)
        return BENCH_LEVEL_AVX2;
    return BENCH_LEVEL_NONE;
#endif
}

void bench_register_onednn(void)
{
    /*
     * One thread, like bpq. Debian's oneDNN threads with OpenMP, whose
     * OMP_NUM_THREADS is read when the process starts (the run's script sets
     * it too); omp_set_num_threads covers a run started without it.
     */
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
    omp_set_num_threads(1);
    bench_context("onednn.threading", "OpenMP, 1 thread");
#else
    bench_context("onednn.threading", "not OpenMP: thread count not set");
#endif
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        puts("bench: oneDNN cannot create a CPU engine; its cases are skipped");
        return;
    }
    const dnnl_version_t *v = dnnl_version();
    char ver[48];
    snprintf(ver, sizeof ver, "%d.%d.%d", v->major, v->minor, v->patch);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    g_level = isa_level(isa);
    bench_context("onednn.version", ver);
    bench_context("onednn.isa", dnnl_cpu_isa2str(isa));
    bench_context("onednn.level", bench_level_name(g_level));
    snprintf(g_impl[PLAIN], sizeof g_impl[PLAIN], "onednn.%s", bench_level_name(g_level));
    snprintf(g_impl[BLOCKED], sizeof g_impl[BLOCKED], "onednn-blocked.%s",
             bench_level_name(g_level));

    static const bench_ops forward = {setup_forward, warm, run, NULL, teardown};
    static const bench_ops bp2 = {setup_bp2, warm, run, NULL, teardown};
    static const bench_ops bp4 = {setup_bp4, warm, run, NULL, teardown};
    static const bench_ops layer = {setup_layer, warm, run, NULL, teardown};
    static const bpq_act acts[] = {BPQ_ACT_IDENTITY, BPQ_ACT_SIGMOID, BPQ_ACT_TANH, BPQ_ACT_RELU};
    for (int mode = PLAIN; mode <= BLOCKED; mode++) {
        const char *impl = g_impl[mode];
        bench_register_peer("forward.sigmoid", impl, &forward, mode, BPQ_ACT_SIGMOID, 1,
                            BENCH_PEER);
        bench_register_peer("forward.softmax", impl, &forward, mode, BPQ_ACT_SOFTMAX, 0,
                            BENCH_PEER);
        for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
            char id[48];
            snprintf(id, sizeof id, "bp2.%s", bench_act_name(acts[i]));
            bench_register_peer(id, impl, &bp2, mode, acts[i], acts[i] == BPQ_ACT_SIGMOID,
                                BENCH_PEER);
        }
        bench_register_peer("bp4", impl, &bp4, mode, 0, 1, BENCH_PEER);
        bench_register_peer("layer.sigmoid", impl, &layer, mode, 0, 1, BENCH_PEER);
    }
}
