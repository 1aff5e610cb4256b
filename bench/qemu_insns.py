#!/usr/bin/env python3
# qemu_insns.py - guest instructions per bpq call, NEON against scalar, counted under qemu-aarch64.
"""Runs bench/qemu_insns (the AArch64 build) under qemu-aarch64 with
`-singlestep -d exec`: single-stepping makes every translation block one
guest instruction and turns off the chaining of blocks, so qemu logs one
"Trace" line per executed instruction. Each case and shape runs with
REPS = 0 and REPS = R; (count(R) - count(0)) / R is what one call executes,
start-up, set-up and the checksum cancelling out. The log goes through a
pipe and is counted as it streams, so nothing large is written to disk.

These are instruction counts, not times: an instruction is counted once
whatever it costs on a real core, and loads, stores and FMAs weigh alike.

  python3 bench/qemu_insns.py [--bench-dir build-aarch64/bench] [--reps 3]
"""
import argparse
import os
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [  # (name given to qemu_insns, label in the table)
    ("forward", "forward (sigmoid)"),
    ("bp1_mse", "BP1 (MSE, sigmoid)"),
    ("bp1_bce", "BP1 (BCE, sigmoid)"),
    ("bp2", "BP2 (sigmoid)"),
    ("bp3", "BP3"),
    ("bp4", "BP4"),
    ("sgd", "SGD step"),
]
SHAPES = [(32, 128, 128), (1, 128, 128)]  # batch x n_in x n_out
ISAS = ["neon", "scalar"]


def default_emulator():
    """The emulator cmake/toolchain-aarch64.cmake gives ctest: the multiarch
    loader when Debian's arm64 C library is installed, else the cross
    toolchain's copy through -L."""
    if os.path.exists("/lib/ld-linux-aarch64.so.1"):
        return ["qemu-aarch64"]
    return ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]


def count_traces(stream, result):
    """Counts "Trace " in a byte stream read in 1 MiB pieces; the carry keeps a
    word cut in two by a piece boundary from being missed."""
    word = b"Trace "
    n, carry = 0, b""
    while True:
        piece = stream.read(1 << 20)
        if not piece:
            break
        buf = carry + piece
        n += buf.count(word)
        # Keep the tail that could begin a word, but never a whole word already counted.
        carry = buf[-(len(word) - 1):]
    result.append(n)


def run_counted(emulator, prog, case, shape, reps_text, isa):
    """One run under qemu; returns (executed instructions, the program's output line)."""
    read_fd, write_fd = os.pipe()
    cmd = emulator + ["-singlestep", "-d", "exec", "-D", "/dev/fd/%d" % write_fd,
                      prog, case] + [str(v) for v in shape] + [reps_text]
    env = dict(os.environ, BPQ_ISA=isa)
    env.pop("BPQ_ISA_DEBUG", None)  # nothing but the checksum on the program's output
    with os.fdopen(read_fd, "rb", buffering=0) as log:
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             pass_fds=(write_fd,))
        os.close(write_fd)  # qemu holds the only writer now: end of its log is end of file
        counted = []
        reader = threading.Thread(target=count_traces, args=(log, counted))
        reader.start()
        out, err = p.communicate()
        reader.join()
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), err.decode(errors="replace")))
    return counted[0], out.decode().strip()


def fmt_count(v):
    """Whole when the calls divided the difference exactly, as they should."""
    return "%.0f" % v if v == int(v) else "%.1f" % v


def check_line(line, case, isa):
    """The program's line: 'CASE isa ISA checksum HEX'. Returns the checksum."""
    f = line.split()
    if len(f) != 5 or f[0] != case or f[1] != "isa" or f[3] != "checksum":
        sys.exit("unexpected output from qemu_insns: %r" % line)
    if f[2] != isa:
        sys.exit("asked for BPQ_ISA=%s, the library ran %s" % (isa, f[2]))
    return f[4]


def per_call(emulator, prog, case, shape, reps, isa):
    """Instructions of one call, and the checksum of the run with REPS calls."""
    width = len(str(reps))  # 0 and R in as many digits: their parsing costs the same
    c0, line0 = run_counted(emulator, prog, case, shape, "0".zfill(width), isa)
    cr, line_r = run_counted(emulator, prog, case, shape, str(reps), isa)
    sum0, sum_r = check_line(line0, case, isa), check_line(line_r, case, isa)
    if case != "sgd" and sum0 != sum_r:  # every other case recomputes the same output
        sys.exit("%s %s: checksum changed with REPS (%s, %s)" % (case, isa, sum0, sum_r))
    if (cr - c0) % reps:
        print("note: %s %s on %s: %d instructions do not divide by %d calls"
              % (case, "x".join(map(str, shape)), isa, cr - c0, reps), file=sys.stderr)
    return (cr - c0) / reps, sum_r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-dir", default=os.path.join("build-aarch64", "bench"),
                    help="where the AArch64 qemu_insns is (default build-aarch64/bench, "
                         "from the repository root)")
    ap.add_argument("--reps", type=int, default=3, help="calls counted per run (default 3)")
    ap.add_argument("--emulator", help="qemu command (default: as the AArch64 toolchain file)")
    ap.add_argument("--cases", help="comma-separated subset of: "
                    + ",".join(c for c, _ in CASES))
    args = ap.parse_args()
    if args.reps < 1:
        sys.exit("--reps must be at least 1")
    bench_dir = args.bench_dir
    if not os.path.isabs(bench_dir) and not os.path.isdir(bench_dir):
        bench_dir = os.path.join(ROOT, bench_dir)
    prog = os.path.join(bench_dir, "qemu_insns")
    if not os.path.exists(prog):
        sys.exit("%s is missing: cmake --build build-aarch64 --target qemu_insns" % prog)
    emulator = args.emulator.split() if args.emulator else default_emulator()
    cases = CASES
    if args.cases:
        wanted = args.cases.split(",")
        cases = [c for c in CASES if c[0] in wanted]
        if len(cases) != len(wanted):
            sys.exit("unknown case in --cases %s" % args.cases)

    try:
        version = subprocess.run([emulator[0], "--version"], capture_output=True,
                                 text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        sys.exit("cannot run %s" % emulator[0])
    print("%s; guest instructions per call under %s -singlestep -d exec, "
          "(count(%d) - count(0)) / %d" % (version, " ".join(emulator), args.reps, args.reps))
    print("shape is batch x n_in x n_out; ratio is scalar / NEON")
    print("%-20s %-12s %14s %14s %8s" % ("case", "shape", "NEON", "scalar", "ratio"))
    for case, label in cases:
        for shape in SHAPES:
            counts, sums = {}, {}
            for isa in ISAS:
                counts[isa], sums[isa] = per_call(emulator, prog, case, shape, args.reps, isa)
            if sums["neon"] != sums["scalar"]:
                sys.exit("%s: NEON and scalar give different bits (%s, %s)"
                         % (case, sums["neon"], sums["scalar"]))
            print("%-20s %-12s %14s %14s %7.2fx" % (
                label, "x".join(map(str, shape)), fmt_count(counts["neon"]),
                fmt_count(counts["scalar"]), counts["scalar"] / counts["neon"]), flush=True)


if __name__ == "__main__":
    main()
