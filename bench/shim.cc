// shim.cc - the only C++ file: turns the C cases of bench.h into Google Benchmark entries and runs them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

#include "alternate.h"
#include "bench.h"
#include "sweep.h"

namespace {

// How long each case runs. smoke: one call per case (CI: does every case
// still work?); short: the demo's subset; full: the published numbers.
enum class Mode { smoke, brief, full };

struct Case {
    std::string name;
    bench_ops ops;
    bench_args args;
    int flags;
    bench_case view; // the same for C (its name points into `name`)
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

// --bpq_side_by_side: every implementation of a case and shape in alternation (alternate.c).
std::string g_side_by_side; // empty: off
std::string g_side_by_side_out; // a JSON file for report.py, or empty

bool parse_flag(const char *arg)
{
    if (const int sweep = bench_sweep_flag(arg))
        return sweep > 0;
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
              "  --bpq_emulated     mark the times as not meaningful (run under an emulator)\n"
              "  --bpq_sweep[=SEED] the shape sweep: layer shapes drawn from SEED (default: the\n"
              "                     clock), bpq and every peer side by side on each\n"
              "  --bpq_sweep_count=N       shapes to draw (200)\n"
              "  --bpq_sweep_cases=A,B     cases (forward.sigmoid,bp2.sigmoid,bp4,layer.sigmoid)\n"
              "  --bpq_sweep_isa=ISA       bpq's ISA compared (default: its best)\n"
              "  --bpq_sweep_rounds=N      rounds per case and shape at most (16)\n"
              "  --bpq_sweep_shapes=BxIxO,...  these shapes instead of drawn ones\n"
              "  --bpq_sweep_out=FILE      every case and shape's rates as JSON\n"
              "  --bpq_sweep_list          print the shapes and stop\n"
              "  (with --bpq_mode=smoke: small shapes, two short rounds; a check, not a timing)");
}

} // namespace

extern "C" void bench_add(const char *name, const bench_ops *ops, const bench_args *args,
                          int flags)
{
    if (bench_sweep_on() ? !bench_sweep_keeps(name)
                         : g_mode == Mode::brief && !(flags & BENCH_SHORT))
        return;
    if (g_peers_only && !(flags & BENCH_PEER))
        return;
    g_cases.push_back(Case{name, *ops, *args, flags, bench_case{}});
    Case *c = &g_cases.back();
    c->view = bench_case{c->name.c_str(), c->ops, c->args, c->flags};
    if (!g_side_by_side.empty() || bench_sweep_on())
        return; // timed by alternate.c, not by Google Benchmark
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

extern "C" size_t bench_case_count(void)
{
    return g_cases.size();
}

extern "C" const bench_case *bench_case_at(size_t k)
{
    return &g_cases[k].view;
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
            std::fprintf(stderr, "bench_bpq: unknown argument, or bad value: '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (bench_sweep_on())
        bench_sweep_announce(argv[0], g_mode == Mode::smoke); // the seed comes first
    bench_context("mode", mode_name());
    bench_context("emulated", bench_emulated() ? "yes" : "no");
    bench_machine_measure(g_mode == Mode::smoke);
    if (bench_sweep_on() && !bench_sweep_prepare())
        return 2;
    if (bench_sweep_on() && bench_sweep_list_only())
        return 0;
    bench_register_all();
    int status = 0;
    if (bench_sweep_on())
        status = bench_sweep_run();
    else if (!g_side_by_side.empty())
        bench_side_by_side(g_side_by_side.c_str(), g_side_by_side_out.c_str());
    else
        benchmark::RunSpecifiedBenchmarks();
    retire();
    bench_release();
    benchmark::Shutdown();
    return status;
}
