#!/usr/bin/env python3
# neon_mca.py - llvm-mca's predicted cycles for the NEON hot loops on Neoverse N1 and V1.
"""Compiles bench/mca/neon_mca.c with the AArch64 cross compiler and the
flags the library's NEON objects get, cuts each function's innermost loop
out of the assembly, and has llvm-mca predict its steady-state cycles per
iteration for -mcpu=neoverse-n1 and -mcpu=neoverse-v1. It prints, per loop
and model: cycles per iteration, FMAs per iteration, the fraction of FMA
peak they imply (FMAs / (FMA pipes x cycles): 2 128-bit pipes on N1, 4 on
V1) and how busy the vector pipes are. These are predictions from a model
of the core, the only performance figures available without Arm hardware
(timings under qemu mean nothing).

  python3 bench/mca/neon_mca.py [--check] [--cc aarch64-linux-gnu-gcc] [--mca llvm-mca-19]

--check fails (exit 1) if the GEMM microkernel is below 90% of FMA peak
on either model.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The flags of the library's NEON objects (CMakeLists.txt: project-wide
# warnings and -ffp-contract=off, Release -O3, BPQ_SIMD_FLAGS).
FLAGS = ['-O3', '-DNDEBUG', '-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic',
         '-ffp-contract=off', '-fno-fast-math', '-falign-loops=32']
LOOPS = [  # function, what it is, elements per iteration (0: not elementwise)
    ('mca_ukernel', 'GEMM microkernel 8x12, one k step', 0),
    ('mca_exp', 'softmax exp pass (exp, store, 16-partial sum)', 16),
    ('mca_sigmoid', 'sigmoid activation pass', 8),
    ('mca_tanh', 'tanh activation pass', 8),
    ('mca_rowsum', 'canonical 16-partial row sum', 16),
]
MODELS = {'neoverse-n1': 2, 'neoverse-v1': 4}  # 128-bit FMA pipes
FMA_OPS = ('fmla', 'fmls')


def find_tool(names):
    for n in names:
        if shutil.which(n):
            return n
    return None


def innermost_loop(asm, func):
    """The lines of the shortest backward-branching block in func."""
    body, inside = [], False
    for line in asm.splitlines():
        if line.startswith(func + ':'):
            inside = True
            continue
        if inside:
            if re.match(r'\s*\.size\s+' + re.escape(func) + r'\b', line):
                break
            body.append(line)
    labels = {}
    best = None
    for i, line in enumerate(body):
        m = re.match(r'^(\.L\w+):', line)
        if m:
            labels[m.group(1)] = i
            continue
        m = re.match(r'\s+(b\.?\w+|cbn?z|tbn?z)\s+.*?(\.L\w+)\s*$', line)
        if m and m.group(2) in labels:
            start = labels[m.group(2)]
            if best is None or i - start < best[1] - best[0]:
                best = (start, i)
    if best is None:
        sys.exit('no loop found in ' + func)
    out = []
    for line in body[best[0] + 1:best[1] + 1]:
        s = line.strip()
        if not s or s.startswith('.') or s.endswith(':'):
            continue
        out.append(s)
    return out


def run_mca(mca, lines, cpu):
    src = '\n'.join(lines) + '\n'
    r = subprocess.run([mca, '-mtriple=aarch64-linux-gnu', '-mcpu=' + cpu, '-iterations=1000',
                        '-resource-pressure=1'], input=src, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit('llvm-mca failed: ' + r.stderr)
    out = r.stdout
    iters = int(re.search(r'Iterations:\s+(\d+)', out).group(1))
    cycles = int(re.search(r'Total Cycles:\s+(\d+)', out).group(1))
    # Vector-pipe pressure: the resource columns of the V (ASIMD/FP) units.
    pressure = None
    m = re.search(r'Resource pressure per iteration:\n(.*?)\n(.*?)\n', out)
    if m:
        heads = re.findall(r'\[(\d+(?:\.\d+)?)\]', m.group(1))
        vals = m.group(2).split()
        names = dict(re.findall(r'\[(\d+(?:\.\d+)?)\]\s+-\s+(\S+)', out))
        vp = [float(v) for h, v in zip(heads, vals)
              if re.search(r'Unit(V|FP)\d?$', names.get(h, '')) and v != '-']
        if vp:
            pressure = vp
    return cycles / iters, pressure


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--cc', default='aarch64-linux-gnu-gcc')
    ap.add_argument('--mca', default=None)
    ap.add_argument('--show', action='store_true', help='print each loop')
    args = ap.parse_args()
    mca = args.mca or find_tool(['llvm-mca-19', 'llvm-mca-15', 'llvm-mca'])
    if not mca or not shutil.which(args.cc):
        sys.exit('needs %s and llvm-mca' % args.cc)
    with tempfile.TemporaryDirectory() as tmp:
        asm_path = os.path.join(tmp, 'neon_mca.s')
        subprocess.run([args.cc] + FLAGS + ['-I' + os.path.join(ROOT, 'include'),
                        '-I' + os.path.join(ROOT, 'kernels'), '-S', '-o', asm_path,
                        os.path.join(HERE, 'neon_mca.c')], check=True)
        asm = open(asm_path).read()
    ver = subprocess.run([mca, '--version'], capture_output=True, text=True).stdout
    ver = re.search(r'LLVM version (\S+)', ver)
    print('llvm-mca %s, %s %s' % (ver.group(1) if ver else '?', args.cc, ' '.join(FLAGS)))
    print('%-12s %-46s %5s %4s  %-12s %7s %8s %7s %7s' %
          ('loop', 'what', 'insns', 'fma', 'model', 'cyc/it', 'cyc/elem', 'fma%', 'vpipe%'))
    failed = []
    for func, what, elems in LOOPS:
        lines = innermost_loop(asm, func)
        if args.show:
            print('\n'.join('    ' + s for s in lines))
        fmas = sum(1 for s in lines if s.split()[0] in FMA_OPS)
        for cpu, pipes in MODELS.items():
            cyc, vp = run_mca(mca, lines, cpu)
            frac = fmas / (pipes * cyc)
            vbusy = sum(vp) / (len(vp) * cyc) if vp else float('nan')
            print('%-12s %-46s %5d %4d  %-12s %7.2f %8s %6.1f%% %6.1f%%' %
                  (func[4:], what, len(lines), fmas, cpu, cyc,
                   '%.3f' % (cyc / elems) if elems else '-', 100 * frac, 100 * vbusy))
            if func == 'mca_ukernel' and frac < 0.9:
                failed.append(cpu)
    if args.check:
        if failed:
            print('FAIL: microkernel below 90%% of FMA peak on %s' % ', '.join(failed))
            return 1
        print('ok: microkernel at or above 90% of FMA peak on both models')
    return 0


if __name__ == '__main__':
    sys.exit(main())
