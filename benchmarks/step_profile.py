# SPDX-License-Identifier: Apache-2.0
"""Groups the self time of `perf record` profiles of metarm_step_benchmark rows into the categories of
benchmarks/README.md ("Where a step's time goes") and prints one Markdown table row per profile.

    OMP_NUM_THREADS=1 perf record -F 2000 -o vanilla.data build/benchmarks/metarm_step_benchmark \
        --benchmark_filter='step_benchmark<metarm::Vanilla, metarm::Sgd>/d:768/h:256/threads:1' \
        --benchmark_min_time=2
    python3 benchmarks/step_profile.py vanilla.data [more.data ...]

Each symbol goes to the first category whose pattern it matches; kernel samples, the benchmark's setup (data,
model initialisation) and unmatched symbols go to "setup and other". --verbose lists each category's symbols.
The layers' passes are inlined into Repeat's members, so those members stand for them:
Repeat::backward's own time is the ReLU backward pass, Repeat::forward's the bias add and the ReLU forward pass.
"""
import argparse
import re
import subprocess
import sys

# (category, pattern): matched against the symbol with its template arguments removed ("metarm::cpu::axpy"),
# except for the backend's generic loops, which are matched by their functor (the first template argument).
CATEGORIES = [
    ("setup", r"initialize|step_benchmark|add_prompt|::add$|gather|Rng|MetaLearner::MetaLearner"),
    ("sgemm kernel", r"^sgemm_kernel"),
    ("sgemm beta", r"^sgemm_beta"),
    ("OpenBLAS packing, driver", r"^(sgemm|sscal|blas_|gemm_|openblas)"),
    ("ReLU backward", r"Repeat::backward$"),
    ("bias add + ReLU forward", r"Repeat::forward$"),
    ("other layer passes", r"metarm::(Dense|Chain|Repeat|RewardNetwork|ScalarHead)::|Activation"),
    ("loss", r"Pairwise|PromptObjective|Difference|BradleyTerry|log1p|expf|__ieee754_log|__log|__exp"),
    ("optimiser update", r"apply_elementwise|Rule"),
    ("strategy vector passes",
     r"add_scaled|axpy|memmove|memcpy|memcmp|fill|MetaRM::|StepContext::|cpu::copy|squared_norm|identical|scale"),
]
GENERIC_LOOPS = re.compile(r"metarm::cpu::(for_blocks|block_for_each|block_sum|reduce|for_each)$")


def without_templates(symbol):
    """The symbol with every <...> removed and the parameter list dropped."""
    out, depth = [], 0
    for ch in symbol:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    name = "".join(out)
    return name.split("(")[0] if not name.startswith("(") else name


def category(symbol):
    name = without_templates(symbol)
    if GENERIC_LOOPS.search(name):
        name = symbol[symbol.index("<") + 1:] if "<" in symbol else name  # the functor names the pass
    for label, pattern in CATEGORIES:
        if re.search(pattern, name):
            return label
    return "other"


def self_time(data, listing=None):
    """{category: percent of the profile's samples} for one perf.data file; appends (percent, category,
    symbol) to listing when given."""
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "-g", "none",
                             "--stdio", "--percent-limit", "0"], capture_output=True, text=True, check=True).stdout
    totals = {label: 0.0 for label, _ in CATEGORIES if label != "setup"}
    totals["setup and other"] = 0.0
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+\[(.)\]\s+(.*?)\s+-\s+-\s*$", line)
        if not match:
            continue
        percent, space, symbol = float(match.group(1)), match.group(2), match.group(3).strip()
        label = "other" if space == "k" else category(symbol)
        totals["setup and other" if label in ("setup", "other") else label] += percent
        if listing is not None and percent >= 0.05:
            listing.append((percent, label, without_templates(symbol)))
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", help="perf.data files, one per benchmark row")
    parser.add_argument("--verbose", action="store_true", help="list the symbols of 0.05 %% or more, by category")
    args = parser.parse_args()
    names = [label for label, _ in CATEGORIES if label != "setup"] + ["setup and other"]
    print("| profile | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for data in args.profiles:
        listing = [] if args.verbose else None
        totals = self_time(data, listing)
        print(f"| {data} | " + " | ".join(f"{value:.1f}" for value in totals.values()) + " |")
        for percent, label, symbol in listing or []:
            print(f"    {percent:5.2f}  {label:24}  {symbol}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
