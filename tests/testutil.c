/* testutil.c - helpers shared by the suites: seeded PRNG, guarded buffers, compares, hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define TU_DEFAULT_SEED 0x6270712d74657374u /* arbitrary; fixed so runs repeat */
#define TU_SENTINEL 0xa5c3e1f7u             /* a negative normal float nobody computes */

const bpq_isa tu_isas[TU_N_ISAS] = {BPQ_ISA_REFERENCE, BPQ_ISA_SCALAR, BPQ_ISA_AVX2, BPQ_ISA_AVX512,
                                    BPQ_ISA_NEON};

uint64_t tu_seed(void)
{
    static int done;
    static uint64_t seed;
    if (!done) {
        const char *s = getenv("BPQ_TEST_SEED");
        char *end = NULL;
        seed = TU_DEFAULT_SEED;
        if (s != NULL && *s != '\0') {
            unsigned long long v = strtoull(s, &end, 0);
            if (end != NULL && *end == '\0')
                seed = (uint64_t)v;
            else
                fprintf(stderr, "BPQ_TEST_SEED=%s is not a number; using the default\n", s);
        }
        done = 1;
    }
    return seed;
}

uint64_t tu_next(tu_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

tu_rng tu_rng_make(uint64_t seed, const char *label, uint64_t index)
{
    uint64_t h = TU_FNV_BASIS;
    tu_rng r;
    for (; *label != '\0'; label++)
        h = (h ^ (unsigned char)*label) * 0x100000001b3u;
    r.s = seed ^ h;
    r.s = tu_next(&r) ^ (index * 0xd1342543de82ef95u);
    (void)tu_next(&r);
    return r;
}

uint32_t tu_below(tu_rng *r, uint32_t n)
{
    /* Multiply-shift: maps 32 random bits onto [0, n) without a division. */
    return (uint32_t)(((tu_next(r) >> 32) * (uint64_t)n) >> 32);
}

float tu_sym(tu_rng *r)
{
    int32_t k = (int32_t)(tu_next(r) >> 40) - (1 << 23); /* [-2^23, 2^23) */
    return (float)k * 0x1p-23f;                          /* both steps exact */
}

float tu_open01(tu_rng *r)
{
    uint32_t k = (uint32_t)(tu_next(r) >> 40); /* [0, 2^24) */
    return (float)(k == 0 ? 1u : k) * 0x1p-24f;
}

float *tu_fill_sym(tu_rng *r, float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = tu_sym(r);
    return p;
}

void tu_fill_act_output(tu_rng *r, bpq_act act, float *a, size_t rows, size_t n)
{
    for (size_t row = 0; row < rows; row++) {
        float *ar = a + row * n;
        if (act == BPQ_ACT_SOFTMAX) {
            /* Small positive integers over their sum: the sum is exact (below 2^24 for
             * rows up to 4096 wide) and the division is one correctly rounded step. */
            float sum = 0.0f;
            for (size_t j = 0; j < n; j++) {
                ar[j] = (float)(1 + tu_below(r, 1u << 12));
                sum += ar[j];
            }
            for (size_t j = 0; j < n; j++)
                ar[j] = ar[j] / sum;
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            float v = tu_sym(r);
            if (act == BPQ_ACT_SIGMOID)
                ar[j] = tu_open01(r);
            else if (act == BPQ_ACT_TANH)
                ar[j] = v;
            else if (act == BPQ_ACT_RELU)
                ar[j] = v <= 0.0f ? 0.0f : 2.0f * v; /* about half exact zeros */
            else
                ar[j] = 2.0f * v;
        }
    }
}

void tu_fill_targets(tu_rng *r, bpq_loss loss, float *y, size_t rows, size_t n)
{
    for (size_t row = 0; row < rows; row++) {
        float *yr = y + row * n;
        if (loss == BPQ_LOSS_XENT && row % 2 == 0) {
            uint32_t hot = tu_below(r, (uint32_t)n);
            for (size_t j = 0; j < n; j++)
                yr[j] = j == hot ? 1.0f : 0.0f;
        } else if (loss == BPQ_LOSS_XENT) {
            tu_fill_act_output(r, BPQ_ACT_SOFTMAX, yr, 1, n);
        } else {
            for (size_t j = 0; j < n; j++) {
                uint32_t kind = tu_below(r, 3);
                if (loss == BPQ_LOSS_BCE)
                    yr[j] = kind == 0 ? 0.0f : (kind == 1 ? 1.0f : tu_open01(r));
                else
                    yr[j] = tu_sym(r);
            }
        }
    }
}

void tu_sprinkle_specials(tu_rng *r, float *p, size_t n)
{
    static const uint32_t specials[] = {
        0x7fc00000u, 0xffc00001u,              /* NaN of both signs */
        0x7f800000u, 0xff800000u,              /* +-inf */
        0x00000000u, 0x80000000u,              /* +-0 */
        0x00000001u, 0x806f4e2bu,              /* denormals */
        0x00800000u, 0x7f7fffffu, 0xff7fffffu, /* FLT_MIN, +-FLT_MAX */
        0x7149f2cau, 0x42b10000u, 0xc2d10000u, /* 1e30, 88.5, -104.5 */
        0x3f800000u};
    const uint32_t ns = sizeof specials / sizeof specials[0];
    size_t hits = 1 + n / 24;
    for (size_t h = 0; h < hits; h++)
        p[tu_below(r, (uint32_t)n)] = tu_from_bits(specials[tu_below(r, ns)]);
}

float *tu_alloc(tu_buf *b, size_t n, size_t misalign)
{
    size_t total = TU_GUARD_PRE + misalign + n + TU_GUARD_POST;
    size_t bytes = (total * sizeof(float) + 63) / 64 * 64; /* aligned_alloc wants a multiple */
    b->raw = aligned_alloc(64, bytes);
    if (b->raw == NULL) {
        fprintf(stderr, "out of memory allocating %zu floats\n", n);
        exit(2);
    }
    b->pre = TU_GUARD_PRE + misalign;
    b->n = n;
    b->p = b->raw + b->pre;
    for (size_t i = 0; i < total; i++)
        b->raw[i] = tu_from_bits(TU_SENTINEL);
    return b->p;
}

void tu_free(tu_buf *b)
{
    free(b->raw);
    b->raw = b->p = NULL;
}

void tu_fill(tu_buf *b, uint32_t bits)
{
    for (size_t i = 0; i < b->n; i++)
        b->p[i] = tu_from_bits(bits);
}

void tu_poison(tu_buf *b) { tu_fill(b, TU_POISON_BITS); }

int tu_guards_ok(const tu_buf *b)
{
    for (size_t i = 0; i < b->pre; i++)
        if (tu_bits(b->raw[i]) != TU_SENTINEL)
            return 0;
    for (size_t i = 0; i < TU_GUARD_POST; i++)
        if (tu_bits(b->p[b->n + i]) != TU_SENTINEL)
            return 0;
    return 1;
}

uint32_t tu_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

float tu_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

int tu_same(float a, float b) { return tu_bits(a) == tu_bits(b) || (isnan(a) && isnan(b)); }

size_t tu_first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!tu_same(a[i], b[i]))
            return i;
    return n;
}

uint64_t tu_fnv(uint64_t h, const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = isnan(p[i]) ? 0x7fc00000u : tu_bits(p[i]);
        for (int byte = 0; byte < 4; byte++) /* little-endian order on any host */
            h = (h ^ ((u >> (8 * byte)) & 0xffu)) * 0x100000001b3u;
    }
    return h;
}

void tu_select(bpq_isa isa)
{
    bpq_status st = bpq_isa_select(isa);
    if (st != BPQ_OK)
        fail_msg("bpq_isa_select(%s) returned %s", bpq_isa_name(isa), bpq_status_string(st));
    assert_int_equal(bpq_isa_active(), isa);
}

double tu_ulp(double v)
{
    int e;
    double av = fabs(v);
    if (av < 0x1p-126)
        return TU_DENORM;
    (void)frexp(av, &e); /* av = m 2^e with m in [0.5, 1) */
    return ldexp(1.0, e - 24);
}
