#!/usr/bin/python3
"""report.py - runs bench_bpq once per peer ISA level, merges runs, writes JSON, a Markdown table and a PNG.

  report.py run --bench BIN --mode smoke|short|full --out-dir DIR
                [--emulator CMD] [--filter REGEX] [--no-plot] [--quiet] [--no-sweep]
  report.py sweep --bench BIN --out-dir DIR [--seed S] [--count N] [--cases A,B]
                [--levels avx2,avx512] [--rounds N] [--shapes BxIxO,...] [--smoke] [--quiet]
  report.py merge A.json B.json ... --out-dir DIR [--name NAME] [--no-plot]
  report.py table A.json

OpenBLAS picks its kernels from OPENBLAS_CORETYPE and oneDNN caps its ISA
at ONEDNN_MAX_CPU_ISA, both read once per process; so `run` starts the
binary once per ISA level: all cases with the AVX2 peers, then the peers
alone at AVX-512 (when the CPU has it), and merges the two. Runs from other
machines (an AArch64 one, say) are merged with `merge`. `sweep` runs the
random shape sweep (sweep_report.py) at each level; a full `run` ends with
one, from a fresh seed.
"""
import argparse
import datetime
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import sweep_report

FORMAT = "bpq-bench/1"
# Google Benchmark context keys worth keeping; host names and paths are dropped on purpose.
KEEP_PREFIXES = ("cpu.", "cache.", "peak.", "bw.", "levels", "bpq.", "onednn.", "openblas.",
                 "mode", "emulated", "shape.", "num_cpus", "mhz_per_cpu")
PEER_LEVELS = [  # (level, environment, cpuinfo flags it needs)
    ("avx2", {"OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2"}, {"avx2", "fma"}),
    ("avx512", {"OPENBLAS_CORETYPE": "SkylakeX", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
     {"avx512f", "avx512dq", "avx512bw", "avx512vl"}),
]
LEVEL_ORDER = ["reference", "scalar", "avx2", "avx512", "neon", "none"]
GROUP_ORDER = ["bpq", "loops", "loops-fastmath", "openblas", "onednn", "onednn-blocked"]
PLOTTED = ["forward.sigmoid", "bp2.sigmoid", "bp4", "layer.sigmoid",
           "forward.softmax", "bp1.xent", "bp3", "sgd"]


# ---- running ------------------------------------------------------------------------------

def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def plans(emulated):
    """The runs to make: (level name, environment, peers only)."""
    flags = set() if emulated else cpu_flags()
    out = []
    for level, env, needs in PEER_LEVELS:
        if needs <= flags:
            out.append((level, env, bool(out)))  # later runs: only the peers change
    return out or [("native", {}, False)]


def peer_env(env_extra):
    """This process's environment, one thread for the peers, and a peer level's variables."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.update(env_extra)
    return env


def run_once(args, level, env_extra, peers_only, out_json):
    env = peer_env(env_extra)
    cmd = (args.emulator.split() if args.emulator else []) + [
        args.bench, "--bpq_mode=" + args.mode, "--benchmark_out=" + out_json,
        "--benchmark_out_format=json"]
    if peers_only:
        cmd.append("--bpq_peers_only")
    if args.filter:
        cmd.append("--benchmark_filter=" + args.filter)
    if args.emulator:
        cmd.append("--bpq_emulated")
    shown = " ".join("%s=%s" % kv for kv in sorted(env_extra.items()))
    print("report: run at peer level %s: %s" % (level, shown or "environment as it is"),
          flush=True)
    if not args.quiet:
        proc = subprocess.run(cmd, env=env)
    else:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        for line in proc.stdout.splitlines():
            if line.startswith("bench:") or "ERROR OCCURRED" in line or proc.returncode:
                print(line)
    if proc.returncode != 0:
        sys.exit("report: bench_bpq failed with status %d" % proc.returncode)
    try:
        with open(out_json) as f:
            return json.load(f)
    except (OSError, ValueError):  # no case matched: Google Benchmark wrote nothing
        return {"context": {}, "benchmarks": []}


def slug(text):
    s = re.sub(r"\(r\)|\(tm\)|processor|\d+-core", "", text.lower())
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s[:40] or "unknown-cpu"


def to_us(value, unit):
    return value * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}.get(unit, 1.0)


def parse_label(label):
    parts = (label or "").split(" ")
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2], " ".join(parts[3:])


def convert(gb, machine_slug, emulated):
    """Google Benchmark's JSON to our records."""
    out = []
    for b in gb.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = b.get("run_name") or b["name"]
        parts = name.split("/")
        if len(parts) < 3:
            continue
        case, shape, impl = parts[0], parts[1], parts[2]
        cache, stream, level, note = parse_label(b.get("label"))
        unit = b.get("time_unit", "ns")
        rec = {
            "case": case, "shape": [int(v) for v in shape.split("x")], "impl": impl,
            "machine": machine_slug, "emulated": emulated,
            "cpu_us": to_us(b.get("cpu_time", 0.0), unit),
            "real_us": to_us(b.get("real_time", 0.0), unit),
            "iterations": b.get("iterations", 0),
            "gflops": b.get("GFLOP/s"), "peak_pct": b.get("peak%"),
            "gbs": b.get("GB/s"), "bw_pct": b.get("bw%"),
            "cache": cache, "stream": stream, "level": level, "note": note,
            "error": b.get("error_message") if b.get("error_occurred") else None,
        }
        out.append(rec)
    return out


def keep_context(ctx):
    return {k: v for k, v in ctx.items() if k.startswith(KEEP_PREFIXES)}


def cmd_run(args):
    emulated = bool(args.emulator)
    runs, results, machine = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        # Rounds: the whole suite again, so that each case is timed at several
        # moments of a run on a shared machine, and keeps its best (see best()).
        per_round = plans(emulated)
        todo = per_round * args.rounds
        for k, (level, env, peers_only) in enumerate(todo):
            if args.rounds > 1 and k % len(per_round) == 0:
                print("report: round %d of %d" % (k // len(per_round) + 1, args.rounds),
                      flush=True)
            gb = run_once(args, level, env, peers_only, os.path.join(tmp, "run%d.json" % k))
            ctx = keep_context(gb.get("context", {}))
            if not machine:
                machine = ctx
            if k < len(per_round):  # the first round's runs describe the setup
                runs.append({"peer_level": level, "env": env,
                             "peers": {k2: v for k2, v in ctx.items()
                                       if k2.startswith(("openblas.", "onednn."))}})
            results += convert(gb, slug(machine.get("cpu.model", "unknown")),
                               emulated or ctx.get("emulated") == "yes")
        timed = args.mode == "full" and not emulated and not args.filter
        side = side_by_side(args, per_round, tmp) if timed else []
        sweep = report_sweep(args, per_round, tmp) if timed and not args.no_sweep else None
    doc = {
        "format": FORMAT, "date": datetime.date.today().isoformat(), "mode": args.mode,
        "side_by_side": side,
        "sweep": sweep,
        "rounds": args.rounds,
        "cpu": machine.get("cpu.model", "unknown"), "arch": machine.get("cpu.arch", "?"),
        "machines": [{"slug": slug(machine.get("cpu.model", "unknown")), "context": machine,
                      "runs": runs, "emulated": emulated or machine.get("emulated") == "yes"}],
        "results": best(results),
    }
    name = args.name or "%s-%s%s" % (doc["date"], slug(doc["cpu"]),
                                     "" if args.mode == "full" else "-" + args.mode)
    return write_all(doc, args.out_dir, name, args.no_plot, args.quiet)


def side_by_side(args, per_round, tmp):
    """Every implementation of each case and shape timed in alternation, once per peer
    level: [{"peer_level", "results": [{"case", "shape", "impl", "rate", "gemm", "ok"}]}]."""
    out = []
    for k, (level, env_extra, _) in enumerate(per_round):
        env = peer_env(env_extra)
        path = os.path.join(tmp, "side%d.json" % k)
        print("report: side by side at peer level %s" % level, flush=True)
        proc = subprocess.run([args.bench, "--bpq_side_by_side=/",
                               "--bpq_side_by_side_out=" + path], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode != 0:
            print(proc.stdout)
            sys.exit("report: bench_bpq --bpq_side_by_side failed with status %d"
                     % proc.returncode)
        with open(path) as f:
            raw = json.load(f)
        recs = []
        for r in raw:
            case, shape, impl = r["name"].split("/")
            recs.append({"case": case, "shape": [int(v) for v in shape.split("x")],
                         "impl": impl, "rate": r["rate"], "gemm": r["gemm"], "ok": r["ok"],
                         "error": r.get("error")})
        out.append({"peer_level": level, "results": recs})
    return out


# ---- the shape sweep ----------------------------------------------------------------------

def repo_relative(path):
    """A path as it reads from the repository's top (or its base name when outside it), so that
    no machine's directories end up in a stored report."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full = os.path.abspath(path)
    return os.path.relpath(full, top) if full.startswith(top + os.sep) else os.path.basename(path)


def sweep_command(bench, seed, count, levels=None, cases=None, rounds=None, shapes=None,
                  smoke=False):
    cmd = ["bench/report.py", "sweep", "--bench", repo_relative(bench), "--seed", str(seed)]
    cmd += ["--shapes", shapes] if shapes else ["--count", str(count)]
    for flag, v in (("--levels", levels), ("--cases", cases), ("--rounds", rounds)):
        if v:
            cmd += [flag, ",".join(v) if isinstance(v, list) else str(v)]
    return " ".join(cmd + (["--smoke"] if smoke else []))


def report_sweep(args, per_round, tmp):
    """The full report's sweep: every level, a fresh seed, args.sweep_count shapes."""
    seed = sweep_report.fresh_seed()
    command = sweep_command(args.bench, seed, args.sweep_count)
    print("report: shape sweep, seed %d (repeat with: %s)" % (seed, command), flush=True)
    opts = argparse.Namespace(bench=args.bench, count=args.sweep_count, cases=None, rounds=None,
                              shapes=None, smoke=False, emulator=None, quiet=args.quiet)
    doc = sweep_report.run(opts, per_round, seed, peer_env, tmp)
    doc["command"] = command
    return doc


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cmd_sweep(args):
    seed = args.seed if args.seed is not None else sweep_report.fresh_seed()
    args.cases = args.cases.split(",") if args.cases else None
    levels = args.levels.split(",") if args.levels else None
    command = sweep_command(args.bench, seed, args.count, levels, args.cases, args.rounds,
                            args.shapes, args.smoke)
    print("sweep: seed %d\nsweep: repeat with: %s" % (seed, command), flush=True)
    per_level = [p for p in plans(bool(args.emulator)) if not levels or p[0] in levels]
    if not per_level:
        sys.exit("sweep: no peer level named %s here (levels: %s)"
                 % (args.levels, ", ".join(p[0] for p in plans(bool(args.emulator)))))
    with tempfile.TemporaryDirectory() as tmp:
        doc = sweep_report.run(args, per_level, seed, peer_env, tmp)
    doc["command"] = command
    doc["cpu"] = cpu_model()
    name = args.name or "%s-%s-sweep-%d" % (doc["date"], slug(doc["cpu"]), seed)
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, name)
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    md = "\n".join(["# bpq shape sweep: %s, %s" % (doc["cpu"], doc["date"]), ""] +
                   sweep_report.markdown(doc, command)) + "\n"
    with open(base + ".md", "w") as f:
        f.write(md)
    print(md)
    bad = sweep_report.failures(doc)
    print("sweep: %d failed implementation(s)%s; wrote %s.json, %s.md"
          % (len(bad), " (listed under the tables)" if bad else "", base, base))
    return 1 if bad else 0


def best(results):
    """One record per (case, shape, impl): the fastest of its rounds (the least CPU time; a
    neighbour on a shared machine only ever slows a case down), in first-seen order. An error
    in any round is kept, so it is never hidden by a round that passed."""
    order, chosen = [], {}
    for r in results:
        key = (r["case"], tuple(r["shape"]), r["impl"])
        if key not in chosen:
            order.append(key)
            chosen[key] = r
        elif chosen[key]["error"] is None and (r["error"] is not None or
                                               r["cpu_us"] < chosen[key]["cpu_us"]):
            chosen[key] = r
    return [chosen[k] for k in order]


def cmd_merge(args):
    docs = []
    for path in args.files:
        with open(path) as f:
            d = json.load(f)
        if d.get("format") != FORMAT:
            sys.exit("report: %s is not a bpq benchmark result" % path)
        docs.append(d)
    first = docs[0]
    merged = dict(first)
    merged["machines"] = list(first["machines"])
    merged["results"] = list(first["results"])
    taken = {(r["case"], tuple(r["shape"]), r["impl"]) for r in merged["results"]}
    for d in docs[1:]:
        merged["machines"] += d["machines"]
        # The same implementation from another run is named after its machine,
        # architecture and, when emulated, the emulator (qemu reports the host's CPU).
        where = "%s-%s" % (d["results"][0]["machine"] if d["results"] else "run", d.get("arch", "?"))
        if any(m.get("emulated") for m in d["machines"]):
            where += "-emulated"
        for r in d["results"]:
            r = dict(r)
            key = (r["case"], tuple(r["shape"]), r["impl"])
            if key in taken:
                r["impl"] = "%s@%s" % (r["impl"], where)
                key = (r["case"], tuple(r["shape"]), r["impl"])
            taken.add(key)
            merged["results"].append(r)
    cpus = []
    for d in docs:
        if d["cpu"] not in cpus:
            cpus.append(d["cpu"])
    merged["cpu"] = " + ".join(cpus)
    name = args.name or "%s-merged" % merged["date"]
    return write_all(merged, args.out_dir, name, args.no_plot, False)


def cmd_table(args):
    with open(args.file) as f:
        print(markdown(json.load(f)))
    return 0


def write_all(doc, out_dir, name, no_plot, quiet):
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, name)
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    md = markdown(doc, name + ".png" if not no_plot else None)
    with open(base + ".md", "w") as f:
        f.write(md)
    plotted = not no_plot and plot(doc, base + ".png")
    errors = [r for r in doc["results"] if r["error"]]
    if not quiet or doc["mode"] != "smoke":
        print(md)
    print("report: %d cases, %d errors; wrote %s.json, %s.md%s"
          % (len(doc["results"]), len(errors), base, base, ", %s.png" % base if plotted else ""))
    for r in errors:
        print("report: error: %s %s %s: %s" % (r["case"], shape_str(r["shape"]), r["impl"],
                                               r["error"]))
    # A smoke run is a check: any case that failed (a peer's result differing from
    # bpq's, a bpq error) fails it. Timed runs report errors in their table instead.
    return 1 if errors and doc["mode"] == "smoke" else 0


# ---- the table --------------------------------------------------------------------------------

def shape_str(shape):
    return "x".join(str(v) for v in shape)


def impl_key(impl):
    base = impl.split("@")[0]
    group, _, level = base.rpartition(".")
    g = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    lv = LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)
    return (0 if group == "bpq" else 1, lv, g, impl)


def is_gemm(records):
    return any(r.get("gflops") for r in records)


def fmt_num(v):
    if v >= 100:
        return "%.0f" % v
    return "%.1f" % v if v >= 1 else "%.2f" % v if v >= 0.01 else "%.1e" % v


def cell(r, gemm):
    if r is None:
        return "-"
    if r["error"]:
        return "error"
    if r.get("emulated"):
        return "ok (n/m)"
    if gemm:
        v = r.get("gflops") or 0.0
        if r["shape"][0] == 1 and r.get("bw_pct") is not None:
            return "%s (%.0f%% bw)" % (fmt_num(v), r["bw_pct"])
        pct = r.get("peak_pct")
        return fmt_num(v) if pct is None else "%s (%.0f%%)" % (fmt_num(v), pct)
    v = r.get("gbs") or 0.0
    pct = r.get("bw_pct")
    return fmt_num(v) if pct is None else "%s (%.0f%% %s)" % (fmt_num(v), pct, r["cache"])


def value(r, gemm):
    """The rate compared and plotted; None for failed or emulated cases."""
    if r is None or r["error"] or r.get("emulated"):
        return None
    return r.get("gflops") if gemm else r.get("gbs")


def context_of(doc):
    return doc["machines"][0]["context"] if doc.get("machines") else {}


def machine_lines(doc):
    lines = []
    for m in doc["machines"]:
        c = m["context"]
        levels = [v for v in c.get("levels", "").split(",") if v]
        lines.append("**%s** (%s): bpq %s; bpq ISAs run: %s; not available here: %s."
                     % (c.get("cpu.model", "?"), c.get("cpu.arch", "?"), c.get("bpq.version", "?"),
                        c.get("bpq.isas", "?"), c.get("bpq.isas_skipped", "?")))
        for run in m["runs"]:
            p = run["peers"]
            bits = []
            if "openblas.core" in p:
                bits.append("OpenBLAS core %s (%s)" % (p["openblas.core"], p.get("openblas.level")))
            if "onednn.isa" in p:
                bits.append("oneDNN %s ISA %s (%s)" % (p.get("onednn.version", ""), p["onednn.isa"],
                                                       p.get("onednn.level")))
            env = " ".join("%s=%s" % kv for kv in sorted(run["env"].items()))
            env = env or "default environment"
            lines.append("- peers at level %s (%s): %s" % (run["peer_level"], env,
                                                            "; ".join(bits) or "none"))
        caches = ", ".join("%s %s" % (k[6:], c[k]) for k in ("cache.L1", "cache.L2", "cache.L3")
                           if k in c)
        lines.append("")
        lines.append("Measured at start-up (one core; caches: %s, L3 counted as %s B):"
                     % (caches, c.get("cache.L3.used", "?")))
        lines.append("")
        lines.append("| level | FMA peak GFLOP/s | read GB/s L1 / L2 / L3 / DRAM "
                     "| update GB/s L1 / L2 / L3 / DRAM |")
        lines.append("|---|---:|---:|---:|")
        for lv in levels:
            def bw(stream):
                return " / ".join(c.get("bw.%s.%s.%s" % (lv, stream, where), "-")
                                  for where in ("L1", "L2", "L3", "DRAM"))
            lines.append("| %s | %s | %s | %s |" % (lv, c.get("peak.%s.gflops" % lv, "-"),
                                                   bw("read"), bw("update")))
        lines.append("")
    return lines


def markdown(doc, png=None):
    ctx = context_of(doc)
    rounds = doc.get("rounds", 1)
    out = ["# bpq benchmarks: %s, %s (%s run%s)" % (
        doc["cpu"], doc["date"], doc["mode"],
        ", best of %d rounds" % rounds if rounds > 1 else ""), ""]
    emulated = [m["context"].get("cpu.model", "?") for m in doc["machines"]
                if m.get("emulated")]
    if emulated:
        out += ["**Part of this was run under an emulator (%s): there it checks that every case "
                "works; its times mean nothing and are not shown (n/m).**"
                % ", ".join(emulated), ""]
    if rounds > 1:
        out += ["The whole suite ran %d times in a row; each case shows its fastest round (a "
                "neighbour on a shared machine only slows a case down), with its percentages "
                "against the peaks and bandwidths measured at the start of that round. The "
                "machine table is the first round's." % rounds, ""]
    out += ["One thread everywhere; rates from the process's CPU time. GEMM-shaped cases: "
            "GFLOP/s (2·batch·n_in·n_out per product) and, in brackets, percent of the FMA peak "
            "of the implementation's ISA level (the higher of the figure measured at the start "
            "of the round and the one measured just before and after the case, since the clock "
            "of a shared machine drifts); at batch 1, percent of the bandwidth "
            "of the cache level holding the data instead. Elementwise cases: GB/s (each operand "
            "read or written once) and percent of the measured bandwidth of the level holding "
            "them (for data larger than the L3, of the stream loop run at the case's own "
            "footprint). Shapes are batch x n_in x n_out. **Bold**: the fastest in the row. "
            "Peers: `loops` = plain C with libm as a user writes it (project flags; "
            "`loops-fastmath` = the same with -O3 -ffast-math and the level's -m flags); "
            "`openblas` = cblas_sgemm (gemv/ger at batch 1) plus those plain loops; `onednn` = "
            "inner product with plain row-major weights, `onednn-blocked` = with its preferred "
            "weight layout (reorder not timed).", ""]
    out += machine_lines(doc)
    if png:
        out += ["![GFLOP/s and GB/s per shape](%s)" % png, ""]
    cases = []
    for r in doc["results"]:
        if r["case"] not in cases:
            cases.append(r["case"])
    for case in cases:
        recs = [r for r in doc["results"] if r["case"] == case]
        gemm = is_gemm(recs)
        impls = sorted({r["impl"] for r in recs}, key=impl_key)
        shapes = []
        for r in recs:
            if r["shape"] not in shapes:
                shapes.append(r["shape"])
        by = {(shape_str(r["shape"]), r["impl"]): r for r in recs}
        unit = "GFLOP/s (% of peak)" if gemm else "GB/s (% of bandwidth, level)"
        out.append("## %s: %s" % (case, unit))
        out.append("")
        out.append("| shape | " + " | ".join(impls) + " |")
        out.append("|---|" + "---:|" * len(impls))
        notes = []
        for shape in shapes:
            s = shape_str(shape)
            vals = [value(by.get((s, i)), gemm) for i in impls]
            best = max([v for v in vals if v is not None], default=None)
            cells = []
            for i, v in zip(impls, vals):
                r = by.get((s, i))
                text = cell(r, gemm)
                if v is not None and v == best and len(impls) > 1:
                    text = "**%s**" % text
                if r is not None and r["error"]:
                    notes.append("%s %s: %s" % (s, i, r["error"]))
                cells.append(text)
            origin = ctx.get("shape." + s, "")
            out.append("| %s%s | %s |" % (s, " " + origin if origin else "", " | ".join(cells)))
        out.append("")
        out += ["- error: %s" % n for n in notes]
        if notes:
            out.append("")
    out += side_by_side_tables(doc)
    if doc.get("sweep"):
        out += sweep_report.markdown(doc["sweep"], doc["sweep"].get("command"))
    out += ratios(doc)
    return "\n".join(out) + "\n"


def side_by_side_tables(doc):
    """bpq's fastest ISA against every other implementation, timed in alternation."""
    out = []
    for run in doc.get("side_by_side", []):
        recs = [r for r in run["results"] if r["ok"] and r["rate"] > 0]
        order, by = [], {}
        for r in recs:
            cs = (r["case"], shape_str(r["shape"]))
            if cs not in order:
                order.append(cs)
            by.setdefault(cs, {})[r["impl"]] = r
        peers = sorted({r["impl"] for r in recs if not r["impl"].startswith("bpq.")},
                       key=impl_key)
        out += ["## Side by side, peers at level %s" % run["peer_level"], "",
                "Each case and shape with all its implementations set up at once and their "
                "calls alternating over 16 rounds of about 5 ms (the order reversed every "
                "other round), each keeping its best round, so that a drift of the machine's "
                "clock cannot pass for a difference of speed (`bench_bpq "
                "--bpq_side_by_side`). Cases larger than the L3 start each turn from flushed "
                "caches, so their rates are lower than above. bpq: the rate of its fastest "
                "ISA (GFLOP/s, or GB/s for elementwise cases); then bpq's speed divided by "
                "each peer's: above 1, bpq is faster.", "",
                "| case | shape | bpq | " + " | ".join(peers) + " |",
                "|---|---|---:|" + "---:|" * len(peers)]
        for cs in order:
            row = by[cs]
            mine = [r for i, r in row.items() if i.startswith("bpq.")]
            if not mine:
                continue
            top = max(mine, key=lambda r: r["rate"])
            cells = ["%.2f" % (top["rate"] / row[p]["rate"]) if p in row else "-"
                     for p in peers]
            out.append("| %s | %s | %s %s | %s |" % (cs[0], cs[1], fmt_num(top["rate"]),
                                                     top["impl"].split(".")[1],
                                                     " | ".join(cells)))
        out.append("")
        bad = [r for r in run["results"] if not r["ok"]]
        out += ["- failed: %s %s %s%s" % (r["case"], shape_str(r["shape"]), r["impl"],
                                          ": " + r["error"] if r.get("error") else "")
                for r in bad]
        if bad:
            out.append("")
    return out


def ratios(doc):
    """bpq at each ISA level against every peer at the same level: peer time / bpq time."""
    recs = {(r["case"], shape_str(r["shape"]), r["impl"]): r for r in doc["results"]
            if not r["error"] and not r.get("emulated") and r["cpu_us"] > 0}
    order = []  # (case, shape) as they first appear
    for r in doc["results"]:
        cs = (r["case"], shape_str(r["shape"]))
        if cs not in order:
            order.append(cs)
    out = []
    for level in LEVEL_ORDER:
        mine = "bpq." + level
        rows = [cs for cs in order if (cs[0], cs[1], mine) in recs]
        peers = sorted({i for (c, s, i) in recs
                        if i.rpartition(".")[2] == level and not i.startswith("bpq.")},
                       key=impl_key)
        rows = [cs for cs in rows if any((cs[0], cs[1], p) in recs for p in peers)]
        if not rows:
            continue
        out += ["## bpq.%s against the peers at level %s" % (level, level), "",
                "Peer time divided by bpq's time: above 1, bpq is faster.", "",
                "| case | shape | " + " | ".join(peers) + " |",
                "|---|---|" + "---:|" * len(peers)]
        for c, s in rows:
            t = recs[(c, s, mine)]["cpu_us"]
            cells = ["%.2f" % (recs[(c, s, p)]["cpu_us"] / t) if (c, s, p) in recs else "-"
                     for p in peers]
            out.append("| %s | %s | %s |" % (c, s, " | ".join(cells)))
        out.append("")
    return out


# ---- the plot -----------------------------------------------------------------------------

FAMILY_MAPS = {"bpq": "Blues", "loops": "Greys", "loops-fastmath": "Greys",
               "openblas": "Greens", "onednn": "Purples", "onednn-blocked": "Oranges"}


def impl_colour(plt, impl):
    """One colour family per implementation, darker for a wider ISA level."""
    group, _, level = impl.split("@")[0].rpartition(".")
    cmap = plt.get_cmap(FAMILY_MAPS.get(group, "Reds"))
    shade = {"reference": 0.3, "scalar": 0.45, "avx2": 0.65, "neon": 0.65, "avx512": 0.9}
    tone = shade.get(level, 0.55)
    if group == "loops-fastmath":
        tone = min(1.0, tone + 0.1)
    return cmap(tone)


def plot(doc, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib is missing (python3-matplotlib); no plot")
        return False
    def plottable(case):
        recs = [r for r in doc["results"] if r["case"] == case]
        return any(value(r, is_gemm(recs)) is not None for r in recs)

    cases = [c for c in PLOTTED if plottable(c)]
    ctx = context_of(doc)
    if not cases:
        return False
    all_impls = sorted({r["impl"] for r in doc["results"] if r["case"] in cases}, key=impl_key)
    colour = {impl: impl_colour(plt, impl) for impl in all_impls}
    cols = 2
    rows = int(math.ceil(len(cases) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(16, 4.2 * rows + 1.5), squeeze=False)
    for ax, case in zip(axes.flat, cases):
        recs = [r for r in doc["results"] if r["case"] == case and not r["error"]]
        gemm = is_gemm(recs)
        impls = [i for i in all_impls if any(r["impl"] == i for r in recs)]
        shapes = []
        for r in recs:
            if r["shape"] not in shapes:
                shapes.append(r["shape"])
        width = 0.85 / max(1, len(impls))
        for k, impl in enumerate(impls):
            xs, ys = [], []
            for n, shape in enumerate(shapes):
                r = next((r for r in recs if r["impl"] == impl and r["shape"] == shape), None)
                v = value(r, gemm)
                if v:
                    xs.append(n + (k - (len(impls) - 1) / 2) * width)
                    ys.append(v)
            ax.bar(xs, ys, width, color=colour[impl], label=impl)
        ax.set_yscale("log")
        ax.set_title("%s  (%s)" % (case, "GFLOP/s" if gemm else "GB/s"))
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels(["%s\n%s" % (shape_str(s), ctx.get("shape." + shape_str(s), ""))
                            for s in shapes], fontsize=7)
        ax.grid(axis="y", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(cases):]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[i]) for i in all_impls]
    fig.legend(handles, all_impls, loc="lower center", ncol=min(6, len(all_impls)), fontsize=9)
    fig.suptitle("bpq benchmarks: %s, %s (%s run; one thread; log scale)"
                 % (doc["cpu"], doc["date"], doc["mode"]))
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run bench_bpq (once per peer ISA level) and report")
    r.add_argument("--bench", required=True, help="the bench_bpq binary")
    r.add_argument("--mode", choices=["smoke", "short", "full"], default="full")
    r.add_argument("--rounds", type=int, default=1,
                   help="run the whole suite this many times; each case keeps its best")
    r.add_argument("--out-dir", required=True)
    r.add_argument("--name", help="file name without extension (default: <date>-<cpu>[-mode])")
    r.add_argument("--emulator", help="command that runs the binary (qemu-aarch64 ...)")
    r.add_argument("--filter", help="only the cases whose name matches this regex")
    r.add_argument("--no-plot", action="store_true")
    r.add_argument("--quiet", action="store_true",
                   help="print only problems, the table (but in smoke runs) and a summary")
    r.add_argument("--no-sweep", action="store_true",
                   help="a full run without the shape sweep at its end (quicker)")
    r.add_argument("--sweep-count", type=int, default=200, help="shapes of the full run's sweep")
    w = sub.add_parser("sweep", help="the random shape sweep: bpq over the fastest peer")
    w.add_argument("--bench", required=True, help="the bench_bpq binary")
    w.add_argument("--out-dir", required=True)
    w.add_argument("--name", help="file name without extension (default: <date>-<cpu>-sweep-<seed>)")
    w.add_argument("--seed", type=int, help="64-bit seed (default: from the clock, printed)")
    w.add_argument("--count", type=int, default=200, help="shapes to draw")
    w.add_argument("--cases", help="comma-separated cases (default: %s)"
                   % ",".join(sweep_report.CASES))
    w.add_argument("--levels", help="comma-separated peer levels (default: all this CPU has)")
    w.add_argument("--rounds", type=int, help="rounds per case and shape at most (default 16)")
    w.add_argument("--shapes", help="BxIxO,... to run instead of drawn shapes")
    w.add_argument("--smoke", action="store_true",
                   help="small shapes, two short rounds: a check that everything runs and agrees")
    w.add_argument("--emulator", help="command that runs the binary (qemu-aarch64 ...)")
    w.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    m = sub.add_parser("merge", help="merge result files (e.g. from other machines)")
    m.add_argument("files", nargs="+")
    m.add_argument("--out-dir", required=True)
    m.add_argument("--name")
    m.add_argument("--no-plot", action="store_true")
    t = sub.add_parser("table", help="print the Markdown table of a result file")
    t.add_argument("file")
    args = ap.parse_args()
    return {"run": cmd_run, "sweep": cmd_sweep, "merge": cmd_merge,
            "table": cmd_table}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
