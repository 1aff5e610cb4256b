"""sweep_report.py - report.py's shape sweep: a bench_bpq run per peer level, bpq over the fastest peer.

Used by report.py (`report.py sweep`, and the end of `report.py run --mode full`); not a script.
"""
import json
import os
import subprocess
import sys
import time

FORMAT = "bpq-sweep/1"
CASES = ["forward.sigmoid", "bp2.sigmoid", "bp4", "layer.sigmoid"]
# Issue 11's targets for bpq's speed over the fastest peer, per case and level.
TARGETS = (("min", 0.95), ("p10", 1.0), ("median", 1.05))
WORST = 5  # the worst shapes listed per case and level


def fresh_seed():
    """A 64-bit seed from the clock, stirred (splitmix64's finaliser) so that close times differ
    everywhere."""
    z = (time.time_ns() ^ (os.getpid() << 40)) & (2 ** 64 - 1)
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & (2 ** 64 - 1)
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & (2 ** 64 - 1)
    return z ^ (z >> 31)


def bpq_isa_for(level):
    """bpq's implementation of a peer level; the binary falls back (and says so) when bpq lacks
    it."""
    return level if level in ("avx2", "avx512", "neon") else "auto"


def run(opts, plans, seed, env_for, tmp):
    """Runs the sweep once per (level, environment) of plans; returns the sweep document.
    opts: bench, count, cases (list or None), rounds, shapes, smoke, emulator, quiet."""
    levels = []
    for k, (level, env_extra, _) in enumerate(plans):
        path = os.path.join(tmp, "sweep%d.json" % k)
        cmd = (opts.emulator.split() if opts.emulator else []) + [
            opts.bench, "--bpq_sweep=%d" % seed, "--bpq_sweep_isa=" + bpq_isa_for(level),
            "--bpq_sweep_out=" + path]
        if opts.shapes:
            cmd.append("--bpq_sweep_shapes=" + opts.shapes)
        else:
            cmd.append("--bpq_sweep_count=%d" % opts.count)
        if opts.cases:
            cmd.append("--bpq_sweep_cases=" + ",".join(opts.cases))
        if opts.rounds:
            cmd.append("--bpq_sweep_rounds=%d" % opts.rounds)
        if opts.smoke:
            cmd.append("--bpq_mode=smoke")
        if opts.emulator:
            cmd.append("--bpq_emulated")
        shown = " ".join("%s=%s" % kv for kv in sorted(env_extra.items()))
        print("sweep: peer level %s: %s" % (level, shown or "environment as it is"), flush=True)
        started = time.time()
        if opts.quiet:
            proc = subprocess.run(cmd, env=env_for(env_extra), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, universal_newlines=True)
            for line in proc.stdout.splitlines():
                if line.startswith("sweep: note") or proc.returncode:  # failures: in the tables
                    print(line)
        else:
            proc = subprocess.run(cmd, env=env_for(env_extra))
        if proc.returncode != 0:
            sys.exit("sweep: bench_bpq --bpq_sweep failed with status %d" % proc.returncode)
        with open(path) as f:
            raw = json.load(f)
        levels.append(analyse(level, env_extra, raw, time.time() - started))
    return {"format": FORMAT, "date": time.strftime("%Y-%m-%d"), "seed": seed,
            "count": levels[0]["count"] if levels else 0, "smoke": bool(opts.smoke),
            "cases": opts.cases or CASES, "levels": levels}


def analyse(level, env_extra, raw, seconds):
    """One level's run: a record per case and shape, and the summary per case."""
    shapes = {s["index"]: s for s in raw["shapes"]}
    l3 = raw["l3_reported"] or raw["l3_counted"]
    records = []
    for g in raw["groups"]:
        s = shapes[g["index"]]
        b, i, o = g["shape"]
        mine = [x for x in g["impls"] if x["impl"].startswith("bpq.")]
        peers = [x for x in g["impls"] if not x["impl"].startswith("bpq.")]
        ok_peers = [x for x in peers if x["ok"] and x["rate"] > 0]
        bpq = mine[0] if mine else None
        top = max(ok_peers, key=lambda x: x["rate"]) if ok_peers else None
        ratio = bpq["rate"] / top["rate"] if bpq and bpq["ok"] and top else None
        errors = {x["impl"]: x["error"] for x in g["impls"] if not x["ok"]}
        if not g["impls"]:
            errors["(none)"] = "no implementation registered for this case"
        records.append({
            "index": g["index"], "case": g["case"], "shape": g["shape"], "kind": s["kind"],
            "drawn_batch": s["drawn_batch"], "cut": s["cut"],
            "weights_bytes": 4 * i * o, "weights_past_l3": 4 * i * o > l3,
            "flushed": any(x["flushed"] for x in g["impls"]),
            "rates": {x["impl"]: x["rate"] for x in g["impls"] if x["ok"]},
            "notes": {x["impl"]: x["note"] for x in g["impls"] if x["note"]},
            "rounds": max([x["rounds"] for x in g["impls"]], default=0),
            "seconds": g.get("seconds"),
            "bpq": bpq["impl"] if bpq else None, "fastest_peer": top["impl"] if top else None,
            "ratio": ratio, "errors": errors})
    cases = []
    for r in records:
        if r["case"] not in cases:
            cases.append(r["case"])
    return {"peer_level": level, "env": env_extra, "bpq_isa": raw["bpq_isa"],
            "bpq_isa_asked": raw["bpq_isa_asked"], "bpq_isa_note": raw["bpq_isa_note"],
            "count": raw["count"], "given": raw["given"], "space": raw["space"],
            "timing": raw["timing"], "l3_reported": raw["l3_reported"],
            "l3_counted": raw["l3_counted"], "seconds": round(seconds, 1),
            "summary": [summarise(c, [r for r in records if r["case"] == c]) for c in cases],
            "records": records}


def percentile(sorted_values, p):
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    pos = p * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarise(case, records):
    ratios = sorted(r["ratio"] for r in records if r["ratio"] is not None)
    stats = {"min": ratios[0] if ratios else None, "p10": percentile(ratios, 0.1),
             "median": percentile(ratios, 0.5), "max": ratios[-1] if ratios else None}
    worst = sorted((r for r in records if r["ratio"] is not None), key=lambda r: r["ratio"])
    met = all(stats[k] is not None and stats[k] >= v for k, v in TARGETS)
    return dict(stats, case=case, shapes=len(records), compared=len(ratios),
                failures=sum(len(r["errors"]) for r in records), meets_targets=met,
                worst=[{"shape": r["shape"], "kind": r["kind"], "ratio": r["ratio"],
                        "fastest_peer": r["fastest_peer"], "bpq_rate": r["rates"].get(r["bpq"]),
                        "peer_rate": r["rates"].get(r["fastest_peer"])}
                       for r in worst[:WORST]])


def failures(doc):
    return [(lv["peer_level"], r["case"], r["shape"], impl, why) for lv in doc["levels"]
            for r in lv["records"] for impl, why in r["errors"].items()]


# ---- Markdown -----------------------------------------------------------------------------------

def shape_str(shape):
    return "x".join(str(v) for v in shape)


def fmt(v):
    return "-" if v is None else "%.3f" % v


def markdown(doc, command=None):
    """The sweep's section of a report (also the whole of `report.py sweep`'s Markdown)."""
    lv0 = doc["levels"][0] if doc["levels"] else {}
    sp = lv0.get("space", {})
    t = lv0.get("timing", {})
    n_past = sum(1 for r in lv0.get("records", []) if r["weights_past_l3"]) // max(
        1, len(doc["cases"]))
    n_cut = sum(1 for r in lv0.get("records", []) if r["cut"]) // max(1, len(doc["cases"]))
    target = ", ".join("%s >= %.2f" % kv for kv in TARGETS)
    out = ["## Shape sweep: bpq over the fastest peer (seed %d, %d shapes%s)"
           % (doc["seed"], doc["count"], ", smoke" if doc["smoke"] else ""), ""]
    if command:
        out += ["Repeat with `%s`." % command, ""]
    past = ("every 50th with weights past the L3 the system reports (%.0f MiB)"
            % (sp["l3_bytes"] / 1048576.0) if sp.get("l3_bytes") else "none past the L3")
    out += ["Layer shapes drawn from the seed: batch log-uniform in [1, %s], n_in and n_out in "
            "[1, %s], every 4th with all dimensions rounded to a power of two, %s; a batch "
            "over %.3g flop per product or %.2f GiB per layer is cut (%d shapes cut, %d with "
            "weights past the L3). For each "
            "case and shape bpq and every peer of the level are set up at once and alternated "
            "over up to %s rounds of about %s ms (at least %s when calls are long), each keeping "
            "its best round; data past the L3 counted (%.0f MiB) starts each turn from flushed "
            "caches. Ratio: bpq's speed over the fastest peer (OpenBLAS, oneDNN plain or "
            "blocked) on that shape; above 1, bpq is faster. Percentiles interpolate between "
            "ranks. Target per case: %s."
            % (sp.get("max_batch", "?"), sp.get("max_n", "?"), past, sp.get("flop_budget", 0),
               sp.get("layer_bytes", 0) / 1073741824.0, n_cut, n_past, t.get("max_rounds", "?"),
               "%g" % (1000 * t.get("round_seconds", 0)), t.get("min_rounds", "?"),
               lv0.get("l3_counted", 0) / 1048576.0, target), ""]
    for lv in doc["levels"]:
        out += ["### Peers at level %s, bpq.%s (%.0f s)" % (lv["peer_level"], lv["bpq_isa"],
                                                         lv["seconds"]), ""]
        if lv["bpq_isa_note"]:
            out += ["**%s.**" % lv["bpq_isa_note"], ""]
        out += ["| case | shapes | min | p10 | median | max | target | failures |",
                "|---|---:|---:|---:|---:|---:|---|---:|"]
        for s in lv["summary"]:
            out.append("| %s | %d | %s | %s | %s | %s | %s | %d |" % (
                s["case"], s["compared"], fmt(s["min"]), fmt(s["p10"]), fmt(s["median"]),
                fmt(s["max"]), "met" if s["meets_targets"] else "**not met**", s["failures"]))
        out += ["", "Worst shapes (batch x n_in x n_out; GFLOP/s):", "",
                "| case | shape | kind | bpq/peer | fastest peer | bpq | peer |",
                "|---|---|---|---:|---|---:|---:|"]
        for s in lv["summary"]:
            for w in s["worst"]:
                out.append("| %s | %s | %s | %s | %s | %.1f | %.1f |" % (
                    s["case"], shape_str(w["shape"]), w["kind"], fmt(w["ratio"]),
                    w["fastest_peer"], w["bpq_rate"] or 0.0, w["peer_rate"] or 0.0))
        out.append("")
        bad = [f for f in failures(doc) if f[0] == lv["peer_level"]]
        out += ["- FAILED: %s %s %s: %s" % (c, shape_str(sh), impl, why)
                for _, c, sh, impl, why in bad]
        if bad:
            out.append("")
    return out
