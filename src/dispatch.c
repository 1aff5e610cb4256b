/* dispatch.c - per-ISA kernel tables, the one-time ISA choice, the BPQ_ISA cap and bpq_isa_*. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "bpq.h"
#include "cpu.h"
#include "dispatch.h"
#include "kernels.h"

/* One table per ISA built in. Reference and scalar are always built: they are the fallback. */
#define BPQ_KERNEL_TABLE(name, id)                                                             \
    static const bpq_kernels table_##name = {                                                  \
        .isa = id,                                                                             \
        .forward = bpq_forward_##name,                                                         \
        .bp1 = bpq_bp1_##name,                                                                 \
        .bp2 = bpq_bp2_##name,                                                                 \
        .bp3 = bpq_bp3_##name,                                                                 \
        .bp4 = bpq_bp4_##name,                                                                 \
        .sgd = bpq_sgd_##name,                                                                 \
    }

BPQ_KERNEL_TABLE(reference, BPQ_ISA_REFERENCE);
BPQ_KERNEL_TABLE(scalar, BPQ_ISA_SCALAR);
#if defined(BPQ_HAVE_AVX2)
BPQ_KERNEL_TABLE(avx2, BPQ_ISA_AVX2);
#endif
#if defined(BPQ_HAVE_AVX512)
BPQ_KERNEL_TABLE(avx512, BPQ_ISA_AVX512);
#endif
#if defined(BPQ_HAVE_NEON)
BPQ_KERNEL_TABLE(neon, BPQ_ISA_NEON);
#endif

/*
 * State. g_cpu and g_default are written once, inside call_once, and read
 * only after it returns; call_once already orders that, but glibc's
 * call_once is invisible to ThreadSanitizer, so they are atomics too and
 * race detectors stay quiet. g_active changes on every bpq_isa_select():
 * release on store, acquire on load, so a thread that sees a table sees
 * everything written before it was published.
 */
static once_flag g_once = ONCE_FLAG_INIT;
static atomic_uint g_cpu;
static _Atomic(const bpq_kernels *) g_default;
static _Atomic(const bpq_kernels *) g_active;
/* The caches, detected once with the CPU's features (plain data: written
 * inside call_once, before g_cpu is published), and a test's stand-in. */
static bpq_caches g_caches;
static _Atomic(const bpq_caches *) g_caches_override;

static unsigned cpu_bits(void) { return atomic_load_explicit(&g_cpu, memory_order_acquire); }

/* The table compiled in for `isa`, or NULL. */
static const bpq_kernels *built_table(bpq_isa isa)
{
    switch (isa) {
    case BPQ_ISA_REFERENCE:
        return &table_reference;
    case BPQ_ISA_SCALAR:
        return &table_scalar;
#if defined(BPQ_HAVE_AVX2)
    case BPQ_ISA_AVX2:
        return &table_avx2;
#endif
#if defined(BPQ_HAVE_AVX512)
    case BPQ_ISA_AVX512:
        return &table_avx512;
#endif
#if defined(BPQ_HAVE_NEON)
    case BPQ_ISA_NEON:
        return &table_neon;
#endif
    default:
        return NULL;
    }
}

/* Whether CPU features `f` can run `isa` (the build is checked separately). */
static int cpu_runs(unsigned f, bpq_isa isa)
{
    switch (isa) {
    case BPQ_ISA_REFERENCE:
    case BPQ_ISA_SCALAR:
        return 1;
    case BPQ_ISA_AVX2:
        return (f & BPQ_CPU_NEEDS_AVX2) == BPQ_CPU_NEEDS_AVX2;
    case BPQ_ISA_AVX512:
        return (f & BPQ_CPU_NEEDS_AVX512) == BPQ_CPU_NEEDS_AVX512;
    case BPQ_ISA_NEON:
        return (f & BPQ_CPU_NEON) != 0;
    default:
        return 0;
    }
}

/* The table for `isa` if it is built in and this CPU runs it, else NULL. */
static const bpq_kernels *usable_table(unsigned f, bpq_isa isa)
{
    return cpu_runs(f, isa) ? built_table(isa) : NULL;
}

/* ASCII case-insensitive equality; locale-free on purpose (runs before main may set one). */
static int name_is(const char *s, const char *lower)
{
    for (; *lower != '\0'; s++, lower++) {
        char ch = *s;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != *lower)
            return 0;
    }
    return *s == '\0';
}

/* A BPQ_ISA value as an ISA; unset, empty, "auto" and anything unknown mean AUTO. */
static bpq_isa parse_cap(const char *s)
{
    static const bpq_isa names[] = {BPQ_ISA_REFERENCE, BPQ_ISA_SCALAR, BPQ_ISA_AVX2,
                                    BPQ_ISA_AVX512, BPQ_ISA_NEON};
    size_t i;
    if (s == NULL)
        return BPQ_ISA_AUTO;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name_is(s, bpq_isa_name(names[i])))
            return names[i];
    return BPQ_ISA_AUTO;
}

/*
 * The candidates a cap allows, best first, ending with AUTO as terminator.
 * An ISA ranks only against those of its own family: x86 is
 * reference < scalar < avx2 < avx512, AArch64 is reference < scalar < neon.
 * A cap naming the other family's SIMD (avx2 on AArch64, neon on x86-64)
 * therefore finds nothing of its own above scalar and gives scalar, as any
 * unavailable name falls back to the best one below it. Scalar ends every
 * list but "reference", so reference is chosen only when asked for.
 */
static const bpq_isa *cap_candidates(bpq_isa cap)
{
    static const bpq_isa best[] = {BPQ_ISA_AVX512, BPQ_ISA_AVX2, BPQ_ISA_NEON, BPQ_ISA_SCALAR,
                                   BPQ_ISA_AUTO};
    static const bpq_isa avx512[] = {BPQ_ISA_AVX512, BPQ_ISA_AVX2, BPQ_ISA_SCALAR, BPQ_ISA_AUTO};
    static const bpq_isa avx2[] = {BPQ_ISA_AVX2, BPQ_ISA_SCALAR, BPQ_ISA_AUTO};
    static const bpq_isa neon[] = {BPQ_ISA_NEON, BPQ_ISA_SCALAR, BPQ_ISA_AUTO};
    static const bpq_isa scalar[] = {BPQ_ISA_SCALAR, BPQ_ISA_AUTO};
    static const bpq_isa reference[] = {BPQ_ISA_REFERENCE, BPQ_ISA_AUTO};
    switch (cap) {
    case BPQ_ISA_AVX512:
        return avx512;
    case BPQ_ISA_AVX2:
        return avx2;
    case BPQ_ISA_NEON:
        return neon;
    case BPQ_ISA_SCALAR:
        return scalar;
    case BPQ_ISA_REFERENCE:
        return reference;
    default:
        return best;
    }
}

/* The default choice for CPU features `f` under a BPQ_ISA value (NULL: unset). */
static bpq_isa choose(unsigned f, const char *cap)
{
    const bpq_isa *c;
    for (c = cap_candidates(parse_cap(cap)); *c != BPQ_ISA_AUTO; c++)
        if (usable_table(f, *c) != NULL)
            return *c;
    return BPQ_ISA_SCALAR; /* not reached: every list ends in an ISA that always runs */
}

/* Appends `s` to buf (capacity cap, NUL-terminated), silently truncating. */
static void append(char *buf, size_t cap, const char *s)
{
    size_t len = strlen(buf);
    while (*s != '\0' && len + 1 < cap)
        buf[len++] = *s++;
    buf[len] = '\0';
}

/* The one line BPQ_ISA_DEBUG asks for, built whole so threads cannot interleave it. */
static void log_choice(const char *cap, bpq_isa isa, unsigned f)
{
    static const struct {
        unsigned bit;
        const char *name;
    } feats[] = {
        {BPQ_CPU_AVX, " avx"},           {BPQ_CPU_FMA, " fma"},
        {BPQ_CPU_AVX2, " avx2"},         {BPQ_CPU_AVX512F, " avx512f"},
        {BPQ_CPU_AVX512DQ, " avx512dq"}, {BPQ_CPU_AVX512BW, " avx512bw"},
        {BPQ_CPU_AVX512VL, " avx512vl"}, {BPQ_CPU_OS_YMM, " os-ymm"},
        {BPQ_CPU_OS_ZMM, " os-zmm"},     {BPQ_CPU_NEON, " neon"},
    };
    char line[384] = "bpq: BPQ_ISA=";
    char value[33] = "(unset)";
    size_t i;

    if (cap != NULL) {
        value[0] = '\0';
        append(value, sizeof value, cap); /* clipped: it is the user's string */
    }
    append(line, sizeof line, value);
    append(line, sizeof line, " -> ");
    append(line, sizeof line, bpq_isa_name(isa));
    append(line, sizeof line, " (cpu:");
    for (i = 0; i < sizeof feats / sizeof feats[0]; i++)
        if (f & feats[i].bit)
            append(line, sizeof line, feats[i].name);
    append(line, sizeof line, "; built:");
    for (i = BPQ_ISA_REFERENCE; i <= BPQ_ISA_NEON; i++)
        if (built_table((bpq_isa)i) != NULL) {
            append(line, sizeof line, " ");
            append(line, sizeof line, bpq_isa_name((bpq_isa)i));
        }
    {
        char caches[96];
        snprintf(caches, sizeof caches, "; caches: L1 %zuK/%u L2 %zuK/%u L3 %zuK%s",
                 g_caches.l1 >> 10, g_caches.l1_ways, g_caches.l2 >> 10, g_caches.l2_ways,
                 g_caches.l3 >> 10, g_caches.detected ? "" : " (defaults)");
        append(line, sizeof line, caches);
    }
    append(line, sizeof line, ")\n");
    fputs(line, stderr);
}

/* Runs once per process, on the first call that needs the dispatch state. */
static void init_dispatch(void)
{
    const char *cap = getenv("BPQ_ISA");
    const char *debug = getenv("BPQ_ISA_DEBUG");
    unsigned f = bpq_cpu_features();
    bpq_cpu_caches(&g_caches);
    bpq_isa isa = choose(f, cap);
    const bpq_kernels *k = built_table(isa);

    atomic_store_explicit(&g_cpu, f, memory_order_release);
    atomic_store_explicit(&g_default, k, memory_order_release);
    atomic_store_explicit(&g_active, k, memory_order_release);
    if (debug != NULL && debug[0] != '\0' && strcmp(debug, "0") != 0)
        log_choice(cap, isa, f);
}

static void ensure_init(void) { call_once(&g_once, init_dispatch); }

const bpq_caches *bpq_machine_caches(void)
{
    const bpq_caches *c = atomic_load_explicit(&g_caches_override, memory_order_acquire);
    if (c != NULL)
        return c;
    ensure_init();
    return &g_caches;
}

void bpq_set_machine_caches(const bpq_caches *c)
{
    static bpq_caches copy;
    if (c != NULL) {
        copy = *c;
        bpq_caches_sanitize(&copy);
    }
    atomic_store_explicit(&g_caches_override, c != NULL ? &copy : NULL, memory_order_release);
}

const bpq_kernels *bpq_active_kernels(void)
{
    const bpq_kernels *k = atomic_load_explicit(&g_active, memory_order_acquire);
    if (k == NULL) {
        ensure_init();
        k = atomic_load_explicit(&g_active, memory_order_acquire);
    }
    return k;
}

bpq_isa bpq_isa_for_cap(const char *cap)
{
    ensure_init();
    return choose(cpu_bits(), cap);
}

unsigned bpq_cpu_detected(void)
{
    ensure_init();
    return cpu_bits();
}

bpq_isa bpq_isa_active(void) { return bpq_active_kernels()->isa; }

const char *bpq_isa_name(bpq_isa isa)
{
    switch (isa) {
    case BPQ_ISA_AUTO:
        return "auto";
    case BPQ_ISA_REFERENCE:
        return "reference";
    case BPQ_ISA_SCALAR:
        return "scalar";
    case BPQ_ISA_AVX2:
        return "avx2";
    case BPQ_ISA_AVX512:
        return "avx512";
    case BPQ_ISA_NEON:
        return "neon";
    default:
        return "unknown";
    }
}

int bpq_isa_supported(bpq_isa isa)
{
    if (isa == BPQ_ISA_AUTO)
        return 1;
    ensure_init();
    return usable_table(cpu_bits(), isa) != NULL;
}

bpq_status bpq_isa_select(bpq_isa isa)
{
    const bpq_kernels *k;
    if ((unsigned)isa > (unsigned)BPQ_ISA_NEON)
        return BPQ_ERR_BAD_ENUM;
    ensure_init();
    /* An explicit choice ignores the BPQ_ISA cap; AUTO goes back to the capped default. */
    k = isa == BPQ_ISA_AUTO ? atomic_load_explicit(&g_default, memory_order_acquire)
                            : usable_table(cpu_bits(), isa);
    if (k == NULL)
        return BPQ_ERR_ISA_UNAVAILABLE;
    atomic_store_explicit(&g_active, k, memory_order_release);
    return BPQ_OK;
}
