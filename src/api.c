/* api.c - the public entry points: check every argument, then one call through the active table. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "bpq.h"
#include "dispatch.h"
#include "kernels.h"

/*
 * Checks run in a fixed order (enumerators, NULL, zero sizes, size overflow,
 * combinations, values, aliasing), so a call with several faults always
 * reports the same one. Nothing is read or written through a pointer here:
 * on any error the caller's memory is untouched.
 */

static int act_known(bpq_act act) { return (unsigned)act <= (unsigned)BPQ_ACT_SOFTMAX; }

static int loss_known(bpq_loss loss) { return (unsigned)loss <= (unsigned)BPQ_LOSS_XENT; }

static int reduce_known(bpq_reduce r)
{
    return ((unsigned)r & ~(unsigned)(BPQ_REDUCE_MEAN | BPQ_REDUCE_ACCUMULATE)) == 0;
}

/*
 * Byte size of a [rows, cols] float buffer into *bytes; 0 if the element
 * count or the byte count would overflow size_t. Tested by division before
 * multiplying, so no wrapped product is ever formed.
 */
static int float_bytes(size_t rows, size_t cols, size_t *bytes)
{
    if (cols != 0 && rows > SIZE_MAX / cols)
        return 0;
    if (rows * cols > SIZE_MAX / sizeof(float))
        return 0;
    *bytes = rows * cols * sizeof(float);
    return 1;
}

/*
 * Whether byte ranges [p, p + pn) and [q, q + qn) share a byte. Written with
 * differences from the lower start so that p + pn is never formed (it
 * could wrap for a range at the top of the address space).
 */
static int overlaps(const void *p, size_t pn, const void *q, size_t qn)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)q;
    return a <= b ? b - a < pn : a - b < qn;
}

/* Like overlaps(), but the two buffers (of one shape) may also be the very same one. */
static int overlaps_unless_same(const void *p, size_t pn, const void *q, size_t qn)
{
    return p != q && overlaps(p, pn, q, qn);
}

bpq_status bpq_forward(size_t batch, size_t n_in, size_t n_out, const float *x, const float *w,
                       const float *b, bpq_act act, float *a)
{
    size_t xs, ws, bs, as;
    if (!act_known(act))
        return BPQ_ERR_BAD_ENUM;
    if (x == NULL || w == NULL || b == NULL || a == NULL)
        return BPQ_ERR_NULL_POINTER;
    if (batch == 0 || n_in == 0 || n_out == 0)
        return BPQ_ERR_ZERO_SIZE;
    if (!float_bytes(batch, n_in, &xs) || !float_bytes(n_out, n_in, &ws) ||
        !float_bytes(1, n_out, &bs) || !float_bytes(batch, n_out, &as))
        return BPQ_ERR_SIZE_OVERFLOW;
    if (overlaps(a, as, x, xs) || overlaps(a, as, w, ws) || overlaps(a, as, b, bs))
        return BPQ_ERR_ALIAS;
    bpq_active_kernels()->forward(batch, n_in, n_out, x, w, b, act, a);
    return BPQ_OK;
}

bpq_status bpq_bp1_output_delta(size_t batch, size_t n, bpq_loss loss, bpq_act act,
                                const float *a, const float *y, float *delta, float *loss_out)
{
    size_t s;
    if (!loss_known(loss) || !act_known(act))
        return BPQ_ERR_BAD_ENUM;
    if (a == NULL || y == NULL || delta == NULL) /* loss_out is optional */
        return BPQ_ERR_NULL_POINTER;
    if (batch == 0 || n == 0)
        return BPQ_ERR_ZERO_SIZE;
    if (!float_bytes(batch, n, &s))
        return BPQ_ERR_SIZE_OVERFLOW;
    /* The simplified deltas (a - y) hold only for these pairs; MSE needs an elementwise act'. */
    if ((loss == BPQ_LOSS_MSE && act == BPQ_ACT_SOFTMAX) ||
        (loss == BPQ_LOSS_BCE && act != BPQ_ACT_SIGMOID) ||
        (loss == BPQ_LOSS_XENT && act != BPQ_ACT_SOFTMAX))
        return BPQ_ERR_BAD_COMBINATION;
    /* In place is fine: each delta element depends on the a and y elements at its own index. */
    if (overlaps_unless_same(delta, s, a, s) || overlaps_unless_same(delta, s, y, s))
        return BPQ_ERR_ALIAS;
    if (loss_out != NULL &&
        (overlaps(loss_out, sizeof *loss_out, a, s) || overlaps(loss_out, sizeof *loss_out, y, s) ||
         overlaps(loss_out, sizeof *loss_out, delta, s)))
        return BPQ_ERR_ALIAS;
    bpq_active_kernels()->bp1(batch, n, loss, act, a, y, delta, loss_out);
    return BPQ_OK;
}

bpq_status bpq_bp2_hidden_delta(size_t batch, size_t n_next, size_t n, const float *delta_next,
                                const float *w_next, const float *a, bpq_act act, float *delta)
{
    size_t dns, ws, s;
    if (!act_known(act))
        return BPQ_ERR_BAD_ENUM;
    if (delta_next == NULL || w_next == NULL || a == NULL || delta == NULL)
        return BPQ_ERR_NULL_POINTER;
    if (batch == 0 || n_next == 0 || n == 0)
        return BPQ_ERR_ZERO_SIZE;
    if (!float_bytes(batch, n_next, &dns) || !float_bytes(n_next, n, &ws) ||
        !float_bytes(batch, n, &s))
        return BPQ_ERR_SIZE_OVERFLOW;
    /* Softmax's derivative is a Jacobian, not elementwise; it only appears in BP1 with XENT. */
    if (act == BPQ_ACT_SOFTMAX)
        return BPQ_ERR_BAD_COMBINATION;
    /* delta_next and w_next are read across whole rows/columns, so no overlap at all. */
    if (overlaps(delta, s, delta_next, dns) || overlaps(delta, s, w_next, ws) ||
        overlaps_unless_same(delta, s, a, s))
        return BPQ_ERR_ALIAS;
    bpq_active_kernels()->bp2(batch, n_next, n, delta_next, w_next, a, act, delta);
    return BPQ_OK;
}

bpq_status bpq_bp3_bias_grad(size_t batch, size_t n, const float *delta, bpq_reduce r, float *db)
{
    size_t ds, dbs;
    if (!reduce_known(r))
        return BPQ_ERR_BAD_ENUM;
    if (delta == NULL || db == NULL)
        return BPQ_ERR_NULL_POINTER;
    if (batch == 0 || n == 0)
        return BPQ_ERR_ZERO_SIZE;
    if (!float_bytes(batch, n, &ds) || !float_bytes(1, n, &dbs))
        return BPQ_ERR_SIZE_OVERFLOW;
    if (overlaps(db, dbs, delta, ds))
        return BPQ_ERR_ALIAS;
    bpq_active_kernels()->bp3(batch, n, delta, (int)(r & BPQ_REDUCE_MEAN),
                              (r & BPQ_REDUCE_ACCUMULATE) != 0, db);
    return BPQ_OK;
}

bpq_status bpq_bp4_weight_grad(size_t batch, size_t n_out, size_t n_in, const float *delta,
                               const float *x, bpq_reduce r, float *dw)
{
    size_t ds, xs, dws;
    if (!reduce_known(r))
        return BPQ_ERR_BAD_ENUM;
    if (delta == NULL || x == NULL || dw == NULL)
        return BPQ_ERR_NULL_POINTER;
    if (batch == 0 || n_out == 0 || n_in == 0)
        return BPQ_ERR_ZERO_SIZE;
    if (!float_bytes(batch, n_out, &ds) || !float_bytes(batch, n_in, &xs) ||
        !float_bytes(n_out, n_in, &dws))
        return BPQ_ERR_SIZE_OVERFLOW;
    if (overlaps(dw, dws, delta, ds) || overlaps(dw, dws, x, xs))
        return BPQ_ERR_ALIAS;
    bpq_active_kernels()->bp4(batch, n_out, n_in, delta, x, (int)(r & BPQ_REDUCE_MEAN),
                              (r & BPQ_REDUCE_ACCUMULATE) != 0, dw);
    return BPQ_OK;
}

bpq_status bpq_sgd_step(size_t n, float lr, const float *grad, float *param)
{
    size_t s;
    if (grad == NULL || param == NULL)
        return BPQ_ERR_NULL_POINTER;
    if (n == 0)
        return BPQ_ERR_ZERO_SIZE;
    if (!float_bytes(1, n, &s))
        return BPQ_ERR_SIZE_OVERFLOW;
    if (!isfinite(lr)) /* a macro on the argument's type: no libm call */
        return BPQ_ERR_BAD_VALUE;
    if (overlaps_unless_same(param, s, grad, s))
        return BPQ_ERR_ALIAS;
    bpq_active_kernels()->sgd(n, lr, grad, param);
    return BPQ_OK;
}

const char *bpq_status_string(bpq_status status)
{
    switch (status) {
    case BPQ_OK:
        return "success";
    case BPQ_ERR_NULL_POINTER:
        return "a required pointer is NULL";
    case BPQ_ERR_ZERO_SIZE:
        return "a size argument is zero";
    case BPQ_ERR_SIZE_OVERFLOW:
        return "a buffer size in bytes does not fit in size_t";
    case BPQ_ERR_BAD_ENUM:
        return "unknown enumerator or flag";
    case BPQ_ERR_BAD_COMBINATION:
        return "loss and activation do not go together";
    case BPQ_ERR_ALIAS:
        return "an output overlaps an input in a way that is not allowed";
    case BPQ_ERR_BAD_VALUE:
        return "a scalar argument is out of range";
    case BPQ_ERR_ISA_UNAVAILABLE:
        return "instruction set not built in or not supported by this CPU";
    default:
        return "unknown status";
    }
}

/* Two levels so the macros expand to their numbers before # turns them into text. */
#define BPQ_STR_(x) #x
#define BPQ_STR(x) BPQ_STR_(x)

const char *bpq_version(void)
{
    return BPQ_STR(BPQ_VERSION_MAJOR) "." BPQ_STR(BPQ_VERSION_MINOR) "." BPQ_STR(
        BPQ_VERSION_PATCH);
}
