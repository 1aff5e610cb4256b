/* loops.c - bias, activation, its derivative, bias gradient, BP1 and SGD as plain loops with libm. */
#include <math.h>

#include "loops.h"

/*
 * Written the way a user writes them next to cblas_sgemm: straightforward
 * loops and libm's expf/logf, no tricks. The build compiles this file once
 * with the project's flags ("plain", what such a user gets) and once per
 * ISA level with -O3 -ffast-math and that level's -m flags, which lets GCC
 * vectorise expf and logf through glibc's vector math library: the bar the
 * SIMD kernels are held to. LOOPS_SUFFIX names the build.
 */
#ifndef LOOPS_SUFFIX
#error "compile with -DLOOPS_SUFFIX=<name>"
#endif
#define LOOPS_PASTE2(a, b) a##_##b
#define LOOPS_PASTE(a, b) LOOPS_PASTE2(a, b)
#define LOOPS_NAME(x) LOOPS_PASTE(x, LOOPS_SUFFIX)

static void bias_act(size_t batch, size_t n, const float *b, int act, float *z)
{
    for (size_t r = 0; r < batch; r++) {
        float *row = z + r * n;
        for (size_t j = 0; j < n; j++)
            row[j] += b[j];
        if (act == LOOPS_SIGMOID) {
            for (size_t j = 0; j < n; j++)
                row[j] = 1.0f / (1.0f + expf(-row[j]));
        } else if (act == LOOPS_TANH) {
            for (size_t j = 0; j < n; j++)
                row[j] = tanhf(row[j]);
        } else if (act == LOOPS_RELU) {
            for (size_t j = 0; j < n; j++)
                row[j] = row[j] > 0.0f ? row[j] : 0.0f;
        } else if (act == LOOPS_SOFTMAX) {
            float max = row[0], sum = 0.0f;
            for (size_t j = 1; j < n; j++)
                max = row[j] > max ? row[j] : max;
            for (size_t j = 0; j < n; j++) {
                row[j] = expf(row[j] - max);
                sum += row[j];
            }
            for (size_t j = 0; j < n; j++)
                row[j] /= sum;
        }
    }
}

static void forward1(size_t batch, size_t n, const float *x, const float *w, const float *b,
                     int act, float *a)
{
    for (size_t r = 0; r < batch; r++)
        for (size_t j = 0; j < n; j++)
            a[r * n + j] = x[r] * w[j];
    bias_act(batch, n, b, act, a);
}

static void dact_mul(size_t count, int act, const float *a, float *g)
{
    if (act == LOOPS_SIGMOID)
        for (size_t i = 0; i < count; i++)
            g[i] *= a[i] * (1.0f - a[i]);
    else if (act == LOOPS_TANH)
        for (size_t i = 0; i < count; i++)
            g[i] *= 1.0f - a[i] * a[i];
    else if (act == LOOPS_RELU)
        for (size_t i = 0; i < count; i++)
            g[i] = a[i] > 0.0f ? g[i] : 0.0f;
}

static void bias_grad(size_t batch, size_t n, const float *d, float *db)
{
    for (size_t j = 0; j < n; j++)
        db[j] = 0.0f;
    for (size_t r = 0; r < batch; r++)
        for (size_t j = 0; j < n; j++)
            db[j] += d[r * n + j];
}

/* ln, clamped below at ln(FLT_MIN) like bpq, so a zero probability gives a finite loss. */
static float clamped_log(float v)
{
    float l = logf(v);
    return l > -87.33654f ? l : -87.33654f;
}

static float output_delta(size_t batch, size_t n, int loss, const float *a, const float *y,
                          float *delta)
{
    const size_t count = batch * n;
    float total = 0.0f;
    if (loss == LOOPS_MSE) {
        for (size_t i = 0; i < count; i++) {
            float e = a[i] - y[i];
            delta[i] = e * (a[i] * (1.0f - a[i])); /* with sigmoid */
            total += 0.5f * e * e;
        }
    } else if (loss == LOOPS_BCE) {
        for (size_t i = 0; i < count; i++) {
            delta[i] = a[i] - y[i];
            total -= y[i] * clamped_log(a[i]) + (1.0f - y[i]) * clamped_log(1.0f - a[i]);
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            delta[i] = a[i] - y[i];
            total -= y[i] * clamped_log(a[i]);
        }
    }
    return total / (float)batch;
}

static void sgd(size_t count, float lr, const float *g, float *p)
{
    for (size_t i = 0; i < count; i++)
        p[i] -= lr * g[i];
}

const bench_loops LOOPS_NAME(bench_loops) = {
    bias_act, forward1, dact_mul, bias_grad, output_delta, sgd,
};
