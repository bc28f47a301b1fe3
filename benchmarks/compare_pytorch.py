#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""metarm against PyTorch on the same training steps, interleaved, medians of several repetitions.

    /usr/bin/python3 benchmarks/compare_pytorch.py [--build build] [--repetitions 5] [--min-time 0.5]
                                                   [--sizes 64x64,768x256,4096x1024] [--threads 1,2]
                                                   [--markdown table.md]

Runs build/benchmarks/metarm_step_benchmark (Google Benchmark, one row per call) and
benchmarks/peer/torch_step.py (Debian's python3-torch) for every workload, in a shuffled order each
repetition, so that drift in the machine's speed falls on both sides alike. Prints the machine's limits,
measured before and after the steps (the better of the two readings): the FMA peak (widest FMA instructions, chosen at run time), the float32
GEMM rate of this build's kernels (2048^3) and the memory bound of the Adam update (its 28 bytes per
parameter moved with no arithmetic). Then one line per workload with medians, the ratio metarm / PyTorch and
the step's GEMM work as a share of both peaks, then the Adam update alone in ns per parameter against the
PyTorch peer and against its memory bound, and the targets missed.

The peer gets its best setup, printed at the start: OpenBLAS (openmp build) instead of whatever
libblas.so.3 points to, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so that OpenBLAS picks its kernels
for this CPU, and glibc's mmap threshold raised so that re-allocating large tensors every step stays in
the heap. metarm runs in the environment it was started in, or, when the build hands Eigen's products to
OpenBLAS (-DMETARM_USE_BLAS=ON), with the same OpenBLAS settings as the peer.
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE / "peer" / "torch_step.py"
OPENBLAS_OPENMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"

STRATEGIES = {"vanilla": "metarm::Vanilla", "metarm": "metarm::MetaRM", "metarm-exact": "MetaRMExact"}
OPTIMIZERS = {"sgd": "metarm::Sgd", "adam": "metarm::Adam"}

# The targets: metarm's steps/s over PyTorch's per size, for every strategy, optimiser and thread count;
# at (4096, 1024) the step's GEMM work as a share of the FMA peak; the Adam update's time over its memory bound.
TARGET_RATIO = {(64, 64): 4.0, (768, 256): 1.5, (4096, 1024): 1.2}
TARGET_FMA_SHARE = 0.75
TARGET_ADAM_OVER_BOUND = 1.3


def peer_environment():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if Path(OPENBLAS_OPENMP, "libblas.so.3").exists():
        env["LD_LIBRARY_PATH"] = OPENBLAS_OPENMP + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    else:
        print(f"warning: {OPENBLAS_OPENMP}/libblas.so.3 is missing (apt-get install libopenblas0-openmp); "
              "the peer runs on the default libblas.so.3", file=sys.stderr)
    env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=33554432"
    return env


def links_openblas(binary):
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    return "openblas" in result.stdout


def run_json(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed with status {result.returncode}:\n{result.stderr[-2000:]}")
    return result.stdout


METARM_ENV = None  # the environment of metarm's runs; None: this process's


def metarm_row(binary, name, min_time):
    """Runs one benchmark row and returns its counters."""
    out = run_json([str(binary), f"--benchmark_filter=^{name}/real_time$", f"--benchmark_min_time={min_time}",
                    "--benchmark_format=json"], env=METARM_ENV)
    rows = [b for b in json.loads(out)["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    if len(rows) != 1:
        sys.exit(f"error: the filter for {name} matched {len(rows)} rows of {binary}")
    return rows[0]


def step_row_name(strategy, optimizer, d, h, threads):
    return f"step_benchmark<{STRATEGIES[strategy]}, {OPTIMIZERS[optimizer]}>/d:{d}/h:{h}/threads:{threads}"


def peer_line(args, env, extra):
    out = run_json(["/usr/bin/python3", str(PEER)] + extra, env=env)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"error: the peer printed no JSON line for {extra}:\n{out[-2000:]}")
    return json.loads(lines[-1])


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values):
    """Relative half-range of the repetitions, as a noise indicator."""
    if len(values) < 2 or median(values) == 0:
        return 0.0
    return (max(values) - min(values)) / 2 / median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="CMake build directory (Release) holding benchmarks/")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per timed run, each side")
    parser.add_argument("--sizes", default="64x64,768x256,4096x1024", help="d x h pairs, comma separated")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--strategies", default="vanilla,metarm,metarm-exact")
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--seed", type=int, default=1, help="seed of the interleaving order")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()

    binary = Path(args.build) / "benchmarks" / "metarm_step_benchmark"
    if not binary.exists():
        sys.exit(f"error: {binary} not found; build it: cmake -S . -B {args.build} -G Ninja "
                 f"-DCMAKE_BUILD_TYPE=Release && cmake --build {args.build} --target metarm_step_benchmark")
    if not PEER.exists():
        sys.exit(f"error: {PEER} not found")
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    strategies = args.strategies.split(",")
    optimizers = args.optimizers.split(",")
    for s in strategies:
        if s not in STRATEGIES:
            sys.exit(f"error: --strategies: unknown strategy '{s}' (have {', '.join(STRATEGIES)})")
    for o in optimizers:
        if o not in OPTIMIZERS:
            sys.exit(f"error: --optimizers: unknown optimizer '{o}' (have {', '.join(OPTIMIZERS)})")
    env = peer_environment()
    global METARM_ENV
    blas_build = links_openblas(binary)
    if blas_build:
        METARM_ENV = {k: v for k, v in env.items() if k != "GLIBC_TUNABLES"}

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {cpu_model()}; "
          f"flags: {cpu_flags()}")
    print(f"metarm: {binary}, products by {product_kernels(binary)}, elementwise loops on "
          f"{product_kernels(binary, 'elementwise_kernels')}" +
          (", run with the peer's OpenBLAS settings" if blas_build else ""))
    print("peer environment: LD_LIBRARY_PATH=" + env.get("LD_LIBRARY_PATH", "") +
          " GLIBC_TUNABLES=" + env["GLIBC_TUNABLES"] + " (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset)")

    # The limits, measured first and last so that the figures bracket the run.
    peaks = {t: [] for t in thread_counts}
    fma_peaks = {t: [] for t in thread_counts}
    def measure_peaks():
        """Returns the instruction set the FMA probe dispatched to."""
        isa = None
        for t in thread_counts:
            row = metarm_row(binary, f"gemm_peak/n:2048/threads:{t}", max(args.min_time, 1.0))
            peaks[t].append(row["FLOP/s"] / 1e9)
            row = metarm_row(binary, f"fma_peak/threads:{t}", max(args.min_time, 0.5))
            fma_peaks[t].append(row["FLOP/s"] / 1e9)
            isa = row.get("label", "?")
        return isa
    fma_isa = measure_peaks()

    workloads = [(d, h, s, o, t) for (d, h) in sizes for s in strategies for o in optimizers for t in thread_counts]
    ours = {w: [] for w in workloads}
    theirs = {w: [] for w in workloads}
    flops = {w: [] for w in workloads}
    peer_info = {}
    order_rng = random.Random(args.seed)
    for r in range(args.repetitions):
        order = workloads[:]
        order_rng.shuffle(order)
        for w in order:
            d, h, s, o, t = w
            jobs = [("metarm", None), ("peer", None)]
            order_rng.shuffle(jobs)
            for side, _ in jobs:
                if side == "metarm":
                    row = metarm_row(binary, step_row_name(s, o, d, h, t), args.min_time)
                    ours[w].append(row["steps/s"])
                    flops[w].append(row.get("FLOP/s", float("nan")) / 1e9)  # not counted for exact
                else:
                    line = peer_line(args, env, ["bench", "--d", str(d), "--h", str(h), "--strategy", s,
                                                 "--optimizer", o, "--threads", str(t),
                                                 "--min-time", str(args.min_time)])
                    theirs[w].append(line["steps_per_s"])
                    peer_info = {k: line[k] for k in ("torch", "blas") if k in line}
        print(f"repetition {r + 1}/{args.repetitions} done", file=sys.stderr, flush=True)
    measure_peaks()

    # A peak is the best reading: anything else running on the machine can only lower one.
    peak = {t: max(v) for t, v in peaks.items()}
    fma_peak = {t: max(v) for t, v in fma_peaks.items()}
    print(f"peer: torch {peer_info.get('torch', '?')}, BLAS {peer_info.get('blas', '?')}")
    print(f"FMA peak ({fma_isa}): " +
          ", ".join(f"{t} thread{'s' if t > 1 else ''} {fma_peak[t]:.1f} GFLOP/s" for t in thread_counts))
    print(f"float32 GEMM ({'Eigen on OpenBLAS' if blas_build else 'Eigen'}, 2048^3): " +
          ", ".join(f"{t} thread{'s' if t > 1 else ''} {peak[t]:.1f} GFLOP/s ({peak[t] / fma_peak[t]:.0%} of FMA peak)"
                    for t in thread_counts))
    print(f"medians of {args.repetitions} interleaved repetitions, {args.min_time} s each side; "
          "spread = half-range / median")

    header = ("| d, h | strategy | optimizer | threads | metarm steps/s | PyTorch steps/s | metarm / PyTorch "
              "| metarm GFLOP/s | share of GEMM 2048^3 | share of FMA peak | spread metarm / PyTorch |")
    lines = [header, "|" + "---|" * 11]
    missed = []
    for w in workloads:
        d, h, s, o, t = w
        a, b = median(ours[w]), median(theirs[w])
        ratio = a / b
        gflops = median(flops[w])
        share = gflops / peak[t]
        fma_share = gflops / fma_peak[t]
        counted = gflops == gflops  # NaN where the step's GEMM work is not counted (exact MetaRM)
        lines.append(f"| {d}, {h} | {s} | {o} | {t} | {a:,.1f} | {b:,.1f} | {ratio:.2f} | "
                     + (f"{gflops:.1f} | {share:.0%} | {fma_share:.0%} | " if counted else "- | - | - | ")
                     + f"{spread(ours[w]):.0%} / {spread(theirs[w]):.0%} |")
        target = TARGET_RATIO.get((d, h))
        if target is not None and ratio < target:
            missed.append(f"{d},{h} {s} {o} {t} thread(s): {ratio:.2f}x < {target}x")
        if (d, h) == (4096, 1024) and counted and fma_share < TARGET_FMA_SHARE:
            missed.append(f"{d},{h} {s} {o} {t} thread(s): GEMM work at {fma_share:.0%} of the FMA peak "
                          f"< {TARGET_FMA_SHARE:.0%}")

    # The Adam update alone, against the peer and against the time its memory traffic needs, interleaved
    # over the repetitions like the steps.
    adam_workloads = [(params, t) for params in (1 << 20, 1 << 22) for t in thread_counts]
    adam_ns = {w: {"ours": [], "theirs": [], "bound": [], "bandwidth": []} for w in adam_workloads}
    for r in range(args.repetitions):
        order = adam_workloads[:]
        order_rng.shuffle(order)
        for w in order:
            params, t = w
            row = metarm_row(binary, f"adam_update/params:{params}/threads:{t}", args.min_time)
            adam_ns[w]["ours"].append(1e9 / row["params/s"])
            row = metarm_row(binary, f"optimizer_traffic/params:{params}/threads:{t}", args.min_time)
            adam_ns[w]["bound"].append(1e9 / row["params/s"])
            adam_ns[w]["bandwidth"].append(row["bytes/s"] / 1e9)
            line = peer_line(args, env, ["adam-update", "--params", str(params), "--threads", str(t),
                                         "--min-time", str(args.min_time)])
            adam_ns[w]["theirs"].append(line["ns_per_param"])
    adam_lines = []
    for w in adam_workloads:
        params, t = w
        ns_ours, ns_theirs = median(adam_ns[w]["ours"]), median(adam_ns[w]["theirs"])
        ns_bound, bandwidth = median(adam_ns[w]["bound"]), median(adam_ns[w]["bandwidth"])
        adam_lines.append(f"| {params:,} | {t} | {ns_ours:.3f} | {ns_theirs:.3f} | {ns_theirs / ns_ours:.1f} | "
                          f"{ns_bound:.3f} ({bandwidth:.1f} GB/s) | {ns_ours / ns_bound:.2f} |")
        if ns_ours > TARGET_ADAM_OVER_BOUND * ns_bound:
            missed.append(f"Adam update {params} params {t} thread(s): {ns_ours:.3f} ns/param, "
                          f"{ns_ours / ns_bound:.2f}x its memory bound > {TARGET_ADAM_OVER_BOUND}x")

    table = "\n".join(lines)
    adam_table = "\n".join(["| parameters | threads | metarm ns/param | PyTorch ns/param | PyTorch / metarm "
                            "| memory bound ns/param | metarm / bound |",
                            "|---|---|---|---|---|---|---|"] + adam_lines)
    print()
    print(table)
    print()
    print(adam_table)
    print()
    print("targets missed: " + ("none" if not missed else "\n  " + "\n  ".join(missed)))
    if args.markdown:
        Path(args.markdown).write_text(table + "\n\n" + adam_table + "\n")


def cpu_flags():
    """The vector instruction sets of the CPU, as /proc/cpuinfo names them."""
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return " ".join(flag for flag in wanted if flag in present)
    except OSError:
        pass
    return "unknown flags"


def product_kernels(binary, key="product_kernels"):
    """What the binary's products (or, with key="elementwise_kernels", its elementwise loops) run on, from the
    context of its shortest row."""
    out = run_json([str(binary), "--benchmark_filter=^adam_update/params:1048576/threads:1/real_time$",
                    "--benchmark_min_time=0.01", "--benchmark_format=json"], env=METARM_ENV)
    return json.loads(out).get("context", {}).get(key, "unknown")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
