// shim.cc - the only C++ file: turns the C cases of bench.h into Google Benchmark entries and runs them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "bench.h"

namespace {

// How long each case runs. smoke: one call per case (CI: does every case
// still work?); short: the demo's subset; full: the published numbers.
enum class Mode { smoke, brief, full };

struct Case {
    std::string name;
    bench_ops ops;
    bench_args args;
    int flags;
};

// The case whose buffers are set up now. Google Benchmark calls a case's
// function once per trial (it grows the iteration count between trials),
// so the setup (allocation, data, the peer's check against bpq) is kept
// until another case starts instead of being redone each time.
struct Live {
    const Case *owner = nullptr;
    void *ctx = nullptr;
    bench_work work{};
    std::string why;
};

Mode g_mode = Mode::full;
double g_min_time = 0.0; // 0: the mode's default
bool g_peers_only = false; // report.py's later runs: only OpenBLAS and oneDNN change level
std::deque<Case> g_cases; // a deque: the registered lambdas keep pointers into it
Live g_live;

void retire()
{
    if (g_live.owner && g_live.ctx)
        g_live.owner->ops.teardown(g_live.ctx);
    g_live = Live{};
}

Live &activate(const Case &c)
{
    if (g_live.owner == &c)
        return g_live;
    retire();
    g_live.owner = &c;
    char why[256] = "setup failed";
    g_live.ctx = c.ops.setup(&c.args, &g_live.work, why, sizeof why);
    if (!g_live.ctx)
        g_live.why = why;
    return g_live;
}

// Rates: Google Benchmark divides a kIsRate counter by the measured (CPU) seconds.
// near_peak: the FMA peak measured just before and after the case (0: not measured).
void set_counters(benchmark::State &state, const bench_work &w, double near_peak)
{
    using benchmark::Counter;
    const double it = static_cast<double>(state.iterations());
    if (w.flops > 0.0) {
        state.counters["GFLOP/s"] = Counter(w.flops * it * 1e-9, Counter::kIsRate);
        // The higher of the start-up and the nearby peak: a dip of the clock
        // during the case can lower its percentage, never raise it.
        const double peak = std::max(bench_peak_gflops(w.level), near_peak);
        if (peak > 0.0)
            state.counters["peak%"] =
                Counter(100.0 * w.flops * it * 1e-9 / peak, Counter::kIsRate);
    }
    const char *where = "";
    const double bw = bench_bandwidth_gbs(w.level, w.stream, w.footprint, &where);
    state.counters["GB/s"] = Counter(w.bytes * it * 1e-9, Counter::kIsRate);
    if (bw > 0.0)
        state.counters["bw%"] = Counter(100.0 * w.bytes * it * 1e-9 / bw, Counter::kIsRate);
    state.counters["footprint_KiB"] = Counter(w.footprint / 1024.0);
    std::string label = where;
    label += w.stream == BENCH_STREAM_READ ? " read" : " update";
    label += std::string(" ") + bench_level_name(w.level);
    if (w.note)
        label += std::string(" ") + w.note;
    state.SetLabel(label);
}

void run_case(benchmark::State &state, const Case *c)
{
    Live &live = activate(*c);
    if (!live.ctx) {
        state.SkipWithError(live.why.c_str());
        return;
    }
    // Untimed: selects the ISA and, but in smoke runs and for the slow reference
    // (whose single call takes long enough to warm up by itself), makes one call.
    c->ops.warm(live.ctx, g_mode != Mode::smoke && !(c->flags & BENCH_SLOW));
    const bool recheck = g_mode != Mode::smoke && live.work.flops > 0.0;
    double near_peak = recheck ? bench_peak_recheck(live.work.level) : 0.0;
    for (auto _ : state) // only this loop is timed
        c->ops.run(live.ctx);
    if (recheck)
        near_peak = std::max(near_peak, bench_peak_recheck(live.work.level));
    char why[256] = "a call failed";
    if (c->ops.verify && !c->ops.verify(live.ctx, why, sizeof why)) {
        state.SkipWithError(why);
        return;
    }
    set_counters(state, live.work, near_peak);
}

// ---- side by side ---------------------------------------------------------------------------
//
// --bpq_side_by_side=TEXT: for each case and shape whose name contains
// TEXT, every implementation registered for it (but the reference and bpq's
// scalar path, slow and not what is compared) is set up at once, and their
// calls alternate over kRounds rounds, the order reversed every other round;
// each keeps its best round. Google Benchmark instead times implementations
// one after the other, so a change of the shared machine's clock between
// them shows up as a difference of speed. When a case's data is larger
// than the L3, the caches are flushed (untimed) before each turn: otherwise
// the dirty lines the one before left are written back during the next
// one's time (bpq's BP1 on the DRAM shape ran at half speed after the plain
// loop's ordinary stores).
std::string g_side_by_side; // empty: off
std::string g_side_by_side_out; // a JSON file for report.py, or empty
FILE *g_sbs_json = nullptr;
bool g_sbs_first = true;
constexpr int kRounds = 16;
constexpr double kRoundSeconds = 0.005;

struct Contender {
    const Case *c;
    void *ctx = nullptr;
    bench_work work{};
    long calls = 1;
    bool flush = false; // data larger than the L3: flush the caches before each turn
    double best = 1e30; // seconds per call
};

void side_by_side_group(const std::string &group, std::vector<Contender> &v)
{
    for (Contender &k : v) {
        char why[256] = "setup failed";
        k.ctx = k.c->ops.setup(&k.c->args, &k.work, why, sizeof why);
        if (!k.ctx) {
            std::printf("%s/%s: %s\n", group.c_str(), k.c->name.c_str() + group.size() + 1, why);
            continue;
        }
        const char *where = "";
        bench_bandwidth_gbs(k.work.level, k.work.stream, k.work.footprint, &where);
        k.flush = std::strcmp(where, "DRAM") == 0;
        k.c->ops.warm(k.ctx, 1);
        const double t0 = bench_cpu_now();
        k.c->ops.run(k.ctx);
        const double one = bench_cpu_now() - t0;
        k.calls = one > 0.0 ? std::max(1L, static_cast<long>(kRoundSeconds / one)) : 1000;
    }
    for (int r = 0; r < kRounds; r++)
        for (size_t i = 0; i < v.size(); i++) {
            Contender &k = v[r % 2 ? v.size() - 1 - i : i];
            if (!k.ctx)
                continue;
            k.c->ops.warm(k.ctx, 0); // untimed: selects this case's ISA again
            if (k.flush)
                bench_evict_caches();
            const double t0 = bench_cpu_now();
            for (long n = 0; n < k.calls; n++)
                k.c->ops.run(k.ctx);
            k.best = std::min(k.best, (bench_cpu_now() - t0) / static_cast<double>(k.calls));
        }
    std::printf("%s\n", group.c_str());
    const Contender *bpq = nullptr; // bpq's fastest ISA: the one the others are compared with
    for (const Contender &k : v)
        if (k.ctx && k.c->name.find("/bpq.") != std::string::npos && (!bpq || k.best < bpq->best))
            bpq = &k;
    for (Contender &k : v) {
        if (!k.ctx)
            continue;
        char why[256] = "";
        const bool ok = !k.c->ops.verify || k.c->ops.verify(k.ctx, why, sizeof why);
        const bool gemm = k.work.flops > 0.0;
        const double rate = (gemm ? k.work.flops : k.work.bytes) * 1e-9 / k.best;
        std::printf("  %-24s %8.1f %s", k.c->name.c_str() + group.size() + 1, rate,
                    gemm ? "GFLOP/s" : "GB/s");
        if (bpq && &k != bpq)
            std::printf("   speed of %s / this: %.3f", bpq->c->name.c_str() + group.size() + 1,
                        k.best / bpq->best);
        std::printf("%s%s\n", ok ? "" : "   CHECK FAILED: ", why);
        if (g_sbs_json) {
            std::fprintf(g_sbs_json,
                         "%s\n  {\"name\": \"%s\", \"rate\": %.6g, \"gemm\": %s, \"ok\": %s}",
                         g_sbs_first ? "" : ",", k.c->name.c_str(), rate,
                         gemm ? "true" : "false", ok ? "true" : "false");
            g_sbs_first = false;
        }
        k.c->ops.teardown(k.ctx);
        k.ctx = nullptr;
    }
}

void side_by_side()
{
    if (!g_side_by_side_out.empty()) {
        g_sbs_json = std::fopen(g_side_by_side_out.c_str(), "w");
        if (!g_sbs_json)
            std::perror(g_side_by_side_out.c_str());
        else
            std::fputs("[", g_sbs_json);
    }
    std::map<std::string, std::vector<Contender>> groups; // "case/shape" -> its implementations
    std::vector<std::string> order;
    for (const Case &c : g_cases) {
        if ((c.flags & BENCH_SLOW) || c.name.find("bpq.scalar") != std::string::npos ||
            c.name.find(g_side_by_side) == std::string::npos)
            continue;
        const std::string group = c.name.substr(0, c.name.rfind('/'));
        if (!groups.count(group))
            order.push_back(group);
        groups[group].push_back(Contender{&c});
    }
    for (const std::string &g : order)
        side_by_side_group(g, groups[g]);
    if (g_sbs_json) {
        std::fputs("\n]\n", g_sbs_json);
        std::fclose(g_sbs_json);
    }
}

bool parse_flag(const char *arg)
{
    if (std::strcmp(arg, "--bpq_mode=smoke") == 0)
        g_mode = Mode::smoke;
    else if (std::strcmp(arg, "--bpq_mode=short") == 0)
        g_mode = Mode::brief;
    else if (std::strcmp(arg, "--bpq_mode=full") == 0)
        g_mode = Mode::full;
    else if (std::strcmp(arg, "--bpq_peers_only") == 0)
        g_peers_only = true;
    else if (std::strcmp(arg, "--bpq_emulated") == 0)
        bench_set_emulated();
    else if (std::strncmp(arg, "--bpq_min_time=", 15) == 0)
        g_min_time = std::atof(arg + 15);
    else if (std::strncmp(arg, "--bpq_side_by_side=", 19) == 0)
        g_side_by_side = arg + 19;
    else if (std::strncmp(arg, "--bpq_side_by_side_out=", 23) == 0)
        g_side_by_side_out = arg + 23;
    else
        return false;
    return true;
}

const char *mode_name()
{
    return g_mode == Mode::smoke ? "smoke" : g_mode == Mode::brief ? "short" : "full";
}

void usage()
{
    std::puts("bench_bpq: bpq's benchmarks (Google Benchmark flags work too)\n"
              "  --bpq_mode=smoke   every case, one call each: does everything still run?\n"
              "  --bpq_mode=short   the demo's subset, about a minute\n"
              "  --bpq_mode=full    every case, timed (the default)\n"
              "  --bpq_min_time=S   seconds per case, overriding the mode's choice\n"
              "  --bpq_peers_only   only OpenBLAS and oneDNN (their ISA follows the environment)\n"
              "  --bpq_side_by_side=TEXT  the cases whose name contains TEXT, every\n"
              "                     implementation of a case and shape timed in alternation\n"
              "  --bpq_side_by_side_out=FILE  and their rates as JSON\n"
              "  --bpq_emulated     mark the times as not meaningful (run under an emulator)");
}

} // namespace

extern "C" void bench_add(const char *name, const bench_ops *ops, const bench_args *args,
                          int flags)
{
    if (g_mode == Mode::brief && !(flags & BENCH_SHORT))
        return;
    if (g_peers_only && !(flags & BENCH_PEER))
        return;
    g_cases.push_back(Case{name, *ops, *args, flags});
    const Case *c = &g_cases.back();
    benchmark::internal::Benchmark *b =
        benchmark::RegisterBenchmark(c->name.c_str(), run_case, c);
    // The process's CPU time, all threads counted: immune to the preemption of a
    // shared machine, and a peer's helper thread cannot hide its work.
    b->MeasureProcessCPUTime();
    b->Unit(benchmark::kMicrosecond);
    if (g_mode == Mode::smoke)
        b->Iterations(1);
    else if (g_min_time > 0.0)
        b->MinTime(g_min_time);
    else if (flags & BENCH_SLOW)
        b->MinTime(0.01); // the double-precision reference: one call on large shapes
    else
        b->MinTime(g_mode == Mode::brief ? 0.05 : 0.1);
}

extern "C" void bench_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (!parse_flag(argv[i])) {
            std::fprintf(stderr, "bench_bpq: unknown argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    bench_context("mode", mode_name());
    bench_context("emulated", bench_emulated() ? "yes" : "no");
    bench_machine_measure(g_mode == Mode::smoke);
    bench_register_all();
    if (!g_side_by_side.empty())
        side_by_side();
    else
        benchmark::RunSpecifiedBenchmarks();
    retire();
    bench_release();
    benchmark::Shutdown();
    return 0;
}
