/* test_dispatch.c - the BPQ_ISA cap, select/query round trips, first use from 8 threads. */
#define _POSIX_C_SOURCE 200809L /* setenv, fork, pthread barriers */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpq.h"
#include "testutil.h"

/*
 * BPQ_ISA is read once per process, at first use, so ctest runs this binary
 * once per value (see tests/CMakeLists.txt) and the expected choice is worked
 * out here from the documented rule: the named ISA if this machine runs it,
 * else the best one below it in its own family (x86: reference < scalar <
 * avx2 < avx512; AArch64: reference < scalar < neon); unset, "auto" or an
 * unknown name means the best available, which is never the reference.
 *
 *   test_dispatch            the choice, select/query round trips
 *   test_dispatch --threads  first use from 8 threads at once, in fresh processes;
 *                            exits 77 (ctest: skipped) where no thread can be started
 */

#define SKIP_EXIT 77

/* ASCII case-insensitive, as names are compared by the library. */
static int name_is(const char *s, const char *name)
{
    for (; *name != '\0'; s++, name++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (c != *name)
            return 0;
    }
    return *s == '\0';
}

static bpq_isa expected_default(void)
{
    static const bpq_isa best[] = {BPQ_ISA_AVX512, BPQ_ISA_AVX2, BPQ_ISA_NEON, BPQ_ISA_SCALAR};
    static const bpq_isa avx512[] = {BPQ_ISA_AVX512, BPQ_ISA_AVX2, BPQ_ISA_SCALAR};
    static const bpq_isa avx2[] = {BPQ_ISA_AVX2, BPQ_ISA_SCALAR};
    static const bpq_isa neon[] = {BPQ_ISA_NEON, BPQ_ISA_SCALAR};
    static const bpq_isa scalar[] = {BPQ_ISA_SCALAR};
    static const bpq_isa reference[] = {BPQ_ISA_REFERENCE};
    const char *cap = getenv("BPQ_ISA");
    const bpq_isa *chain = best;
    size_t n = 4;
    if (cap != NULL && name_is(cap, "avx512"))
        chain = avx512, n = 3;
    else if (cap != NULL && name_is(cap, "avx2"))
        chain = avx2, n = 2;
    else if (cap != NULL && name_is(cap, "neon"))
        chain = neon, n = 2;
    else if (cap != NULL && name_is(cap, "scalar"))
        chain = scalar, n = 1;
    else if (cap != NULL && name_is(cap, "reference"))
        chain = reference, n = 1;
    for (size_t i = 0; i < n; i++)
        if (bpq_isa_supported(chain[i]))
            return chain[i];
    return BPQ_ISA_AUTO; /* cannot happen: scalar and reference are always supported */
}

/* x = (1, 2^-27, -1), w = 1, b = 0: float fma chains lose the middle term, double keeps it.
 * So the result tells which kind of implementation really ran. */
static float probe(void)
{
    const float x[3] = {1.0f, 0x1p-27f, -1.0f}, w[3] = {1.0f, 1.0f, 1.0f}, b = 0.0f;
    float a = -1.0f;
    assert_int_equal(bpq_forward(1, 3, 1, x, w, &b, BPQ_ACT_IDENTITY, &a), BPQ_OK);
    return a;
}

static void expect_runs(bpq_isa isa)
{
    float want = isa == BPQ_ISA_REFERENCE ? 0x1p-27f : 0.0f;
    if (probe() != want)
        fail_msg("with %s active the probe gave %a, want %a", bpq_isa_name(isa), (double)probe(),
                 (double)want);
}

/* Must run first: the first call of the process makes the choice. */
static void default_choice(void **state)
{
    const char *cap = getenv("BPQ_ISA");
    bpq_isa got = bpq_isa_active(), want;
    (void)state;
    want = expected_default();
    if (got != want)
        fail_msg("BPQ_ISA=%s: active ISA %s, expected %s", cap ? cap : "(unset)", bpq_isa_name(got),
                 bpq_isa_name(want));
    assert_true(got != BPQ_ISA_AUTO);
    expect_runs(got);
}

/* The variable is not read again: changing it later does not move AUTO. */
static void env_read_once(void **state)
{
    bpq_isa before = bpq_isa_active();
    const char *old = getenv("BPQ_ISA");
    char keep[64] = "";
    (void)state;
    if (old != NULL)
        snprintf(keep, sizeof keep, "%s", old);
    assert_int_equal(setenv("BPQ_ISA", before == BPQ_ISA_REFERENCE ? "scalar" : "reference", 1), 0);
    assert_int_equal(bpq_isa_select(BPQ_ISA_AUTO), BPQ_OK);
    assert_int_equal(bpq_isa_active(), before);
    if (old != NULL)
        setenv("BPQ_ISA", keep, 1);
    else
        unsetenv("BPQ_ISA");
}

static void round_trips(void **state)
{
    const int junk[] = {6, 99, -1, 0x7fffffff};
    bpq_isa def;
    (void)state;
    assert_int_equal(bpq_isa_select(BPQ_ISA_AUTO), BPQ_OK);
    def = bpq_isa_active();
    assert_true(bpq_isa_supported(BPQ_ISA_AUTO));
    assert_true(bpq_isa_supported(BPQ_ISA_REFERENCE));
    assert_true(bpq_isa_supported(BPQ_ISA_SCALAR));
    for (int i = 0; i < TU_N_ISAS; i++) {
        bpq_isa isa = tu_isas[i], before = bpq_isa_active();
        bpq_status st = bpq_isa_select(isa);
        if (bpq_isa_supported(isa)) { /* an explicit choice is honoured whatever BPQ_ISA says */
            assert_int_equal(st, BPQ_OK);
            assert_int_equal(bpq_isa_active(), isa);
            expect_runs(isa);
        } else {
            assert_int_equal(st, BPQ_ERR_ISA_UNAVAILABLE);
            assert_int_equal(bpq_isa_active(), before);
        }
        for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
            before = bpq_isa_active();
            assert_int_equal(bpq_isa_select((bpq_isa)junk[j]), BPQ_ERR_BAD_ENUM);
            assert_int_equal(bpq_isa_active(), before);
            assert_false(bpq_isa_supported((bpq_isa)junk[j]));
        }
        assert_int_equal(bpq_isa_select(BPQ_ISA_AUTO), BPQ_OK);
        assert_int_equal(bpq_isa_active(), def);
    }
}

/* What "supported" claims must be true of the CPU; the other family is never supported. */
static void cpu_agrees(void **state)
{
    (void)state;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (bpq_isa_supported(BPQ_ISA_AVX2))
        assert_true(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
    if (bpq_isa_supported(BPQ_ISA_AVX512))
        assert_true(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"));
    assert_false(bpq_isa_supported(BPQ_ISA_NEON));
#elif defined(__aarch64__)
    assert_false(bpq_isa_supported(BPQ_ISA_AVX2));
    assert_false(bpq_isa_supported(BPQ_ISA_AVX512));
#else
    skip();
#endif
}

/* ---- first use from 8 threads --------------------------------------------------------- */

enum { THREADS = 8, CHILDREN = 12 };

typedef struct racer {
    pthread_barrier_t *start;
    int index;
    bpq_isa seen;
    float result;
    int ok;
} racer;

/* Each thread's first bpq call differs, and they all start together. */
static void *race(void *arg)
{
    racer *r = arg;
    const float x[3] = {0.5f, -0.25f, 2.0f}, w[3] = {1.5f, 0.75f, -0.5f}, b = 0.125f;
    float a = 0.0f, p = 1.0f;
    pthread_barrier_wait(r->start);
    r->ok = 1;
    switch (r->index % 4) {
    case 0:
        r->seen = bpq_isa_active();
        break;
    case 1:
        r->ok = bpq_forward(1, 3, 1, x, w, &b, BPQ_ACT_SIGMOID, &a) == BPQ_OK;
        break;
    case 2:
        r->ok = bpq_sgd_step(1, 0.5f, &b, &p) == BPQ_OK;
        break;
    default:
        r->ok = bpq_isa_supported(BPQ_ISA_AVX2) >= 0;
        break;
    }
    r->seen = bpq_isa_active();
    r->ok = r->ok && bpq_forward(1, 3, 1, x, w, &b, BPQ_ACT_SIGMOID, &r->result) == BPQ_OK;
    return NULL;
}

/* Runs the race in this process; returns a message on failure, NULL on success. */
static const char *race_once(bpq_isa *chosen)
{
    pthread_barrier_t start;
    pthread_t t[THREADS];
    racer r[THREADS];
    if (pthread_barrier_init(&start, NULL, THREADS) != 0)
        return "pthread_barrier_init failed";
    for (int i = 0; i < THREADS; i++) {
        r[i] = (racer){&start, i, BPQ_ISA_AUTO, 0.0f, 0};
        if (pthread_create(&t[i], NULL, race, &r[i]) != 0)
            return "pthread_create failed";
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    *chosen = bpq_isa_active();
    for (int i = 0; i < THREADS; i++) {
        if (!r[i].ok)
            return "a call failed";
        if (r[i].seen != *chosen)
            return "threads saw different ISAs";
        if (!tu_same(r[i].result, r[0].result))
            return "threads computed different results";
    }
    if (*chosen != expected_default())
        return "the ISA chosen is not the expected default";
    return NULL;
}

/* Fresh processes, forked before this one has called bpq, so each race is a first use. */
static void race_in_children(void **state)
{
    (void)state;
    for (int c = 0; c < CHILDREN; c++) {
        int status = 0;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            bpq_isa chosen = BPQ_ISA_AUTO;
            const char *err = race_once(&chosen);
            if (err != NULL)
                fprintf(stderr, "child %d: %s (chose %s)\n", c, err, bpq_isa_name(chosen));
            fflush(NULL);
            _exit(err == NULL ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("child %d failed (status %#x)", c, (unsigned)status);
    }
}

/* And once in this process, which has not called bpq yet either. */
static void race_here(void **state)
{
    bpq_isa chosen = BPQ_ISA_AUTO;
    const char *err = race_once(&chosen);
    (void)state;
    if (err != NULL)
        fail_msg("%s (chose %s)", err, bpq_isa_name(chosen));
}

static void *nothing(void *arg) { return arg; }

/*
 * Whether this process can start a thread at all. Some user-mode emulators
 * (qemu-aarch64 in certain sandboxes) hang in the clone; the probe runs in a
 * child that is killed after 5 s, so the answer costs at most that.
 */
static int threads_work(void)
{
    const struct timespec tick = {0, 10 * 1000 * 1000};
    int status = 0;
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        pthread_t t;
        int ok = pthread_create(&t, NULL, nothing, NULL) == 0 && pthread_join(t, NULL) == 0;
        _exit(ok ? 0 : 1);
    }
    for (int waited = 0; waited < 500; waited++) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (done < 0)
            return 0;
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest choice[] = {
        cmocka_unit_test(default_choice), /* first: it is the first use */
        cmocka_unit_test(env_read_once),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(cpu_agrees),
    };
    const struct CMUnitTest threads[] = {
        cmocka_unit_test(race_in_children), /* before anything here calls bpq */
        cmocka_unit_test(race_here),
    };
    if (argc == 2 && strcmp(argv[1], "--threads") == 0) {
        if (!threads_work()) {
            printf("SKIPPED: this process cannot start threads (an emulator without thread "
                   "support?), so the first-use race cannot run\n");
            return SKIP_EXIT;
        }
        return cmocka_run_group_tests_name("dispatch_threads", threads, NULL, NULL);
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--threads]\n", argv[0]);
        return 2;
    }
    return cmocka_run_group_tests_name("dispatch", choice, NULL, NULL);
}
