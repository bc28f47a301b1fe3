#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
r"""PyTorch peer of metarm's training step (benchmarks/step_benchmark.cpp), and the check that both compute
the same math.

Workload, as in metarm's benchmark: the reward model Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1)
in float32; n = 32 preference pairs (chosen and rejected feature rows) and m = 32 meta prompts with k = 4
unlabelled responses each, standard normal features from a fixed seed. Losses (docs/math.md):

    L(theta) = mean_i softplus(-(r_chosen,i - r_rejected,i))                       Bradley-Terry
    J(theta) = (1/m) sum_p (2/k^2) sum_{i<j} sigmoid(|r_p,i - r_p,j|)               difference objective

Strategies: vanilla, g = grad L(theta); metarm (first order), theta' = theta + eta grad J(theta) (plain
ascent), g = grad L(theta'); metarm-exact, g = the gradient of theta -> L(theta') itself, by double backward. Either way the optimiser (torch.optim.SGD or Adam) then updates the original
theta with g.

Commands (run with Debian's /usr/bin/python3, which has torch; numpy is not needed):

  torch_step.py bench --d 768 --h 256 --strategy {vanilla,metarm} --optimizer {sgd,adam}
                      [--threads 1] [--min-time 1.0] [--warmup 20] [--lr 1e-5] [--eta 1e-2]
                      [--adapted {module,functional,functional_call,functorch}] [--foreach {auto,on,off}]
                      [--malloc {tuned,default}]
      Runs the warm-up steps, then timed steps for at least --min-time seconds, and prints one JSON line:
        {"d": 768, "h": 256, "strategy": "metarm", "optimizer": "adam", "threads": 1, "steps_per_s": 301.7,
         "steps": 302, "seconds": 1.001, "adapted": "module", "foreach": "auto", "malloc": "tuned",
         "torch": "1.13.0a0", "blas": "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3, ..."}
      "adapted" (metarm only, else null) is how the forward pass at theta' runs (see TrainingStep; the
      default, a second module, is the fastest measured here, tied with "functional"); "blas" lists the BLAS
      shared objects mapped into the process, i.e. what libblas.so.3 resolved to.

  torch_step.py adam-update --params N [--threads 1] [--min-time 1.0] [--foreach {auto,on,off}]
      Times torch.optim.Adam.step() alone on one flat float32 parameter of N elements with a fixed gradient
      and prints one JSON line: {"params", "threads", "foreach", "ns_per_param", "steps", "malloc", "torch",
      "blas"}.

  torch_step.py check FILE...
      Replays the steps recorded by metarm_same_math (benchmarks/same_math.cpp; benchmarks/peer/same_math.sh
      runs both) from the same initial parameters and batches, with the same TrainingStep the benchmark
      times, and compares every step's loss (and J for metarm) and every parameter after the last step. A
      value passes when |metarm - torch| <= 1e-5 * max(1, |torch|): absolute below 1, relative above. Adam
      elements whose step is decided by rounding are counted instead of compared (see check_file). Prints
      one PASS or FAIL line per file with the worst differences and, for scale, how far each side lies from
      the same steps in float64; exits with status 1 when any file fails.

Settings: torch.set_num_threads(--threads) and torch.set_num_interop_threads(1); foreach "auto" is PyTorch
1.13's default (the per-tensor loop on CPU; "on" measured no faster). "--malloc tuned" (the default) keeps
freed memory in the process (tune_malloc): on the machine these numbers come from, glibc's default trimming
made PyTorch's steps up to four times slower. For comparisons against metarm, run with OpenBLAS' OpenMP build
so both use one threading runtime:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432 /usr/bin/python3 torch_step.py bench ...
"""

import argparse
import copy
import ctypes
import json
import math
import os
import struct
import sys
import time
from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.stateless import functional_call

N_PAIRS, N_PROMPTS, RESPONSES_PER_PROMPT = 32, 32, 4
TOLERANCE = 1e-5
ILL_CONDITIONED = 1e-6  # Adam denominators below this make an element's step rounding noise (check)


# ---- the model and the two objectives -----------------------------------------------------------------------


class RewardModel(nn.Module):
    """MLP reward model; parameter names match metarm's layout blocks (hidden.<l>.weight, ..., head.bias)."""

    def __init__(self, d, h, hidden_layers=2):
        super().__init__()
        widths = [d] + [h] * hidden_layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.head = nn.Linear(widths[-1], 1)

    def forward(self, x):
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.head(x).view(-1)


def functional_forward(params, x):
    """RewardModel.forward with the parameters passed in, in named_parameters() order."""
    *hidden, head_weight, head_bias = params
    for weight, bias in zip(hidden[0::2], hidden[1::2]):
        x = F.relu(F.linear(x, weight, bias))
    return F.linear(x, head_weight, head_bias).view(-1)


def preference_loss(rewards, n):
    """Bradley-Terry loss; rewards = [chosen (n) | rejected (n)]. softplus(r_l - r_w) = softplus(-(r_w - r_l))."""
    return F.softplus(rewards[n:] - rewards[:n]).mean()


def difference_objective(rewards, m, k, upper):
    """MetaRM's J; rewards holds m prompts of k responses, `upper` is the strict upper-triangular k x k mask."""
    r = rewards.view(m, k)
    gaps = r.unsqueeze(2) - r.unsqueeze(1)  # (m, k, k): r_i - r_j
    return (torch.sigmoid(gaps.abs()) * upper).sum() * (2.0 / (k * k * m))


# ---- one training step --------------------------------------------------------------------------------------

ADAPTED_VARIANTS = ("module", "functional", "functional_call", "functorch")


class TrainingStep:
    """One vanilla or first-order MetaRM update of `model` per call; returns the preference loss where its
    gradient was taken (at theta' for metarm), as a 0-d tensor. `objective` holds J(theta) of the last metarm
    step.

    `adapted` chooses how the forward pass at theta' is run: "module" copies theta' into the parameters of a
    second RewardModel (no allocation per step), "functional" runs functional_forward on fresh leaf tensors,
    "functional_call" uses torch.nn.utils.stateless.functional_call and "functorch" functorch.make_functional.
    """

    def __init__(self, model, chosen, rejected, meta, k, strategy, optimizer, lr, eta=1e-2,
                 adapted="module", foreach=None):
        self.model = model
        self.params = list(model.parameters())
        self.names = [name for name, _ in model.named_parameters()]
        self.n = chosen.shape[0]
        self.pairs = torch.cat([chosen, rejected])  # one forward pass serves both sides
        self.meta = meta
        self.k = k
        self.m = meta.shape[0] // k
        self.upper = torch.ones(k, k, dtype=meta.dtype).triu(diagonal=1)
        self.eta = eta
        self.objective = None
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(self.params, lr=lr, foreach=foreach)
        elif optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.params, lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=foreach)
        else:
            raise ValueError(f"unknown optimizer {optimizer!r}")
        if strategy == "vanilla":
            self.gradient = self.vanilla_gradient
        elif strategy == "metarm":
            self.gradient = self.metarm_gradient
        elif strategy == "metarm-exact":
            self.gradient = self.metarm_exact_gradient
        else:
            raise ValueError(f"unknown strategy {strategy!r}")
        if adapted not in ADAPTED_VARIANTS:
            raise ValueError(f"unknown adapted-parameter variant {adapted!r}")
        self.adapted = adapted
        if adapted == "module":
            self.adapted_model = copy.deepcopy(model)
            self.adapted_params = list(self.adapted_model.parameters())
        elif adapted == "functorch":
            import functorch  # only this variant needs it

            self.functional_model, _ = functorch.make_functional(model)

    def __call__(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.gradient()
        self.optimizer.step()
        return loss

    def vanilla_gradient(self):
        """Sets .grad to grad L(theta); returns L(theta)."""
        loss = preference_loss(self.model(self.pairs), self.n)
        loss.backward()
        return loss

    def metarm_gradient(self):
        """Sets .grad to grad L(theta'), theta' = theta + eta grad J(theta); returns L(theta')."""
        objective = difference_objective(self.model(self.meta), self.m, self.k, self.upper)
        ascent = torch.autograd.grad(objective, self.params)
        self.objective = objective.detach()
        with torch.no_grad():
            if self.adapted == "module":
                for target, p, g in zip(self.adapted_params, self.params, ascent):
                    torch.add(p, g, alpha=self.eta, out=target)
                adapted = self.adapted_params
            else:
                adapted = [torch.add(p, g, alpha=self.eta).requires_grad_() for p, g in zip(self.params, ascent)]
        loss = preference_loss(self.forward_at(adapted), self.n)
        loss.backward()
        for p, a in zip(self.params, adapted):  # the update is applied to the original parameters
            p.grad, a.grad = a.grad, None
        return loss

    def metarm_exact_gradient(self):
        """Sets .grad to the exact gradient of theta -> L(theta + eta grad J(theta)), by double backward
        (autograd.grad with create_graph=True); returns L(theta')."""
        objective = difference_objective(self.model(self.meta), self.m, self.k, self.upper)
        ascent = torch.autograd.grad(objective, self.params, create_graph=True)
        self.objective = objective.detach()
        adapted = [p + self.eta * g for p, g in zip(self.params, ascent)]
        loss = preference_loss(functional_forward(adapted, self.pairs), self.n)
        loss.backward()
        return loss

    def forward_at(self, adapted):
        if self.adapted == "module":
            return self.adapted_model(self.pairs)
        if self.adapted == "functional":
            return functional_forward(adapted, self.pairs)
        if self.adapted == "functional_call":
            return functional_call(self.model, dict(zip(self.names, adapted)), (self.pairs,))
        return self.functional_model(adapted, self.pairs)


# ---- environment ---------------------------------------------------------------------------------------------


def tune_malloc():
    """Keeps freed memory in the process: PyTorch's CPU tensors come straight from malloc, and with glibc's
    defaults each step's large temporaries are returned to the kernel (munmap, or trimming the top of the
    heap) and faulted back in on the next step, which can cost more than the arithmetic. Equivalent to
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824. Returns
    whether glibc accepted both settings."""
    m_trim_threshold, m_mmap_threshold = -1, -3
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))


def set_threads(threads):
    torch.set_num_interop_threads(1)
    torch.set_num_threads(threads)


def blas_library():
    """The BLAS shared objects actually mapped into this process (what libblas.so.3 resolved to)."""
    found = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path).lower()
                if path.startswith("/") and ("blas" in name or "mkl" in name) and path not in found:
                    found.append(path)
    except OSError:
        pass
    if not found:
        return "unknown"
    return ", ".join(f"{p} -> {os.path.realpath(p)}" if os.path.realpath(p) != p else p for p in found)


def foreach_option(text):
    return {"auto": None, "on": True, "off": False}[text]


# ---- bench ---------------------------------------------------------------------------------------------------


def make_batches(d, seed=1, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randn(N_PAIRS, d, generator=generator, dtype=dtype)
    rejected = torch.randn(N_PAIRS, d, generator=generator, dtype=dtype)
    meta = torch.randn(N_PROMPTS * RESPONSES_PER_PROMPT, d, generator=generator, dtype=dtype)
    return chosen, rejected, meta


def timed(run, warmup, min_time):
    """Calls run() `warmup` times, then until min_time seconds have passed; returns (calls, seconds)."""
    for _ in range(warmup):
        run()
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return calls, elapsed


def prepare(args):
    """Threads and allocator settings of bench and adam-update; returns the "malloc" field of their output."""
    set_threads(args.threads)
    if args.malloc == "tuned" and not tune_malloc():
        return "default (mallopt failed)"
    return args.malloc


def bench(args):
    malloc = prepare(args)
    torch.manual_seed(0)
    model = RewardModel(args.d, args.h)
    chosen, rejected, meta = make_batches(args.d)
    step = TrainingStep(model, chosen, rejected, meta, RESPONSES_PER_PROMPT, args.strategy, args.optimizer,
                        lr=args.lr, eta=args.eta, adapted=args.adapted, foreach=foreach_option(args.foreach))
    steps, seconds = timed(step, args.warmup, args.min_time)
    print(json.dumps({
        "d": args.d, "h": args.h, "strategy": args.strategy, "optimizer": args.optimizer,
        "threads": args.threads, "steps_per_s": steps / seconds, "steps": steps, "seconds": seconds,
        "adapted": args.adapted if args.strategy == "metarm" else None, "foreach": args.foreach,
        "malloc": malloc, "torch": torch.__version__, "blas": blas_library(),
    }))


def adam_update(args):
    malloc = prepare(args)
    param = torch.zeros(args.params, requires_grad=True)
    param.grad = torch.randn(args.params, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam([param], lr=1e-5, foreach=foreach_option(args.foreach))
    steps, seconds = timed(optimizer.step, args.warmup, args.min_time)
    print(json.dumps({
        "params": args.params, "threads": args.threads, "foreach": args.foreach,
        "ns_per_param": seconds / steps / args.params * 1e9, "steps": steps, "malloc": malloc,
        "torch": torch.__version__, "blas": blas_library(),
    }))


# ---- check ---------------------------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64, "I32": torch.int32,
                      "U8": torch.uint8}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) of a safetensors file: an 8-byte little-endian header length, a JSON
    header, then the raw little-endian tensor bytes."""
    if sys.byteorder != "little":
        raise RuntimeError("read_safetensors assumes a little-endian host")
    with open(path, "rb") as f:
        data = f.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length])
    body = bytearray(data[8 + header_length:])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = math.prod(entry["shape"])
        if count * torch.empty(0, dtype=dtype).element_size() != end - begin:
            raise ValueError(f"{path}: tensor {name}: data_offsets do not match dtype and shape")
        if count == 0:
            tensors[name] = torch.empty(entry["shape"], dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(body, dtype=dtype, count=count, offset=begin).clone().view(entry["shape"])
    return tensors, metadata


Replay = namedtuple("Replay", "losses objectives params denominators")


def adam_denominators(optimizer):
    """sqrt(v_hat) + eps of each parameter: what torch.optim.Adam divides its step by."""
    group = optimizer.param_groups[0]
    beta2, eps = group["betas"][1], group["eps"]
    result = []
    for p in group["params"]:
        state = optimizer.state[p]
        result.append((state["exp_avg_sq"] / (1 - beta2 ** float(state["step"]))).sqrt() + eps)
    return result


def replay(tensors, metadata, dtype):
    """Runs the recorded steps in PyTorch at `dtype`. Returns the losses, the objectives (J, metarm only) and
    the final parameters by name, and for Adam the smallest denominator sqrt(v_hat) + eps each parameter
    element met over the steps (None for SGD)."""
    d, h, k, steps = (int(metadata[key]) for key in ("d", "h", "k", "steps"))
    model = RewardModel(d, h).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(tensors["initial." + name])
    batches = [tensors[name].to(dtype) for name in ("chosen", "rejected", "meta")]
    step = TrainingStep(model, *batches, k, metadata["strategy"], metadata["optimizer"],
                        lr=float(metadata["lr"]), eta=float(metadata["eta"]))
    losses, objectives, denominators = [], [], None
    for _ in range(steps):
        losses.append(step().item())
        objectives.append(step.objective.item() if step.objective is not None else math.nan)
        if isinstance(step.optimizer, torch.optim.Adam):
            now = adam_denominators(step.optimizer)
            denominators = now if denominators is None else [torch.minimum(a, b) for a, b in zip(denominators, now)]
    names = [name for name, _ in model.named_parameters()]
    return Replay(torch.tensor(losses, dtype=torch.float64), torch.tensor(objectives, dtype=torch.float64),
                  {name: p.detach() for name, p in zip(names, step.params)},
                  dict(zip(names, denominators)) if denominators is not None else None)


def worst_difference(triples, skip=None):
    """Largest |a - b| / max(1, |b|) over (name, a, b) tensor triples, leaving out the elements where
    skip[name] is true; returns (error, name, flat index)."""
    worst = (0.0, "", 0)
    for name, a, b in triples:
        errors = (a.double() - b.double()).abs() / b.double().abs().clamp(min=1.0)
        if skip is not None and name in skip:
            errors = errors.masked_fill(skip[name], 0.0)
        errors = errors.reshape(-1)
        if errors.numel() and errors.max().item() >= worst[0]:
            index = int(errors.argmax())
            worst = (errors[index].item(), name, index)
    return worst


def compare(ours, theirs, skip=None):
    """Worst differences of the losses, objectives (when recorded) and final parameters of two runs."""
    result = {"loss": worst_difference([("loss", ours.losses, theirs.losses)])}
    if not math.isnan(ours.objectives[0]):
        result["objective"] = worst_difference([("objective", ours.objectives, theirs.objectives)])
    result["params"] = worst_difference([(name, ours.params[name], theirs.params[name]) for name in theirs.params],
                                        skip)
    return result


def describe(result):
    return " ".join(f"{key} {error:.1e}" + (f" ({name}[{index}])" if key == "params" else "")
                    for key, (error, name, index) in result.items())


def check_file(path):
    tensors, metadata = read_safetensors(path)
    recorded = Replay(tensors["loss"], tensors.get("objective", torch.full_like(tensors["loss"], math.nan)),
                      {name[len("final."):]: t for name, t in tensors.items() if name.startswith("final.")}, None)
    single = replay(tensors, metadata, torch.float32)
    exact = replay(tensors, metadata, torch.float64)

    # Adam moves an element by about lr * m_hat / (sqrt(v_hat) + eps), so a rounding error e in its gradient
    # moves it by about lr * e / (sqrt(v_hat) + eps). Float32 gradients carry errors near 1e-9 here; where the
    # denominator stays below ILL_CONDITIONED (100 eps), e.g. the output bias, whose exact gradient is 0
    # because L and J see rewards only through differences, rounding alone decides the step and neither
    # float32 implementation can match another, or float64. Those elements are counted, not compared.
    ill = None
    if exact.denominators is not None:
        ill = {name: denominator < ILL_CONDITIONED for name, denominator in exact.denominators.items()}
    worst = compare(recorded, single, ill)
    ok = all(error <= TOLERANCE for error, _, _ in worst.values())

    config = (f"{metadata['strategy']}/{metadata['optimizer']} d={metadata['d']} h={metadata['h']} "
              f"lr={float(metadata['lr']):g} eta={float(metadata['eta']):g} steps={metadata['steps']}")
    moved = max((single.params[name] - tensors["initial." + name]).abs().max().item() for name in single.params)
    print(f"{'PASS' if ok else 'FAIL'} {config}: metarm vs torch worst {describe(worst)}; "
          f"largest parameter move {moved:.1e}")
    if ill is not None:
        count = sum(int(mask.sum()) for mask in ill.values())
        names = ", ".join(f"{name} {int(mask.sum())}" for name, mask in ill.items() if mask.any())
        largest = max(((recorded.params[name] - single.params[name])[mask].abs().max().item()
                       for name, mask in ill.items() if mask.any()), default=0.0)
        print(f"     not compared: {count} ill-conditioned Adam elements ({names or 'none'}; "
              f"sqrt(v_hat) + eps < {ILL_CONDITIONED:g}), largest difference there {largest:.1e}")
    print(f"     for scale, distance from float64: metarm {describe(compare(recorded, exact, ill))}; "
          f"torch {describe(compare(single, exact, ill))}")
    return ok


def check(args):
    set_threads(args.threads)
    results = [check_file(path) for path in args.files]
    failed = results.count(False)
    print(f"{'PASS' if not failed else 'FAIL'}: {len(results) - failed} of {len(results)} configurations agree "
          f"to {TOLERANCE:g} (absolute, relative above 1)")
    return 1 if failed else 0


# ---- command line ----------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    b = commands.add_parser("bench", help="time training steps")
    b.add_argument("--d", type=int, required=True, help="feature dimension")
    b.add_argument("--h", type=int, required=True, help="hidden width")
    b.add_argument("--strategy", choices=("vanilla", "metarm", "metarm-exact"), required=True)
    b.add_argument("--optimizer", choices=("sgd", "adam"), required=True)
    b.add_argument("--lr", type=float, default=1e-5)
    b.add_argument("--eta", type=float, default=1e-2, help="MetaRM ascent step")
    b.add_argument("--adapted", choices=ADAPTED_VARIANTS, default="module",
                   help="how the forward pass at the adapted parameters is run (metarm)")
    b.add_argument("--foreach", choices=("auto", "on", "off"), default="auto",
                   help="the optimiser's foreach implementation (auto: PyTorch's default)")
    b.set_defaults(run=bench)

    a = commands.add_parser("adam-update", help="time torch.optim.Adam.step() alone")
    a.add_argument("--params", type=int, required=True, help="number of parameters")
    a.add_argument("--foreach", choices=("auto", "on", "off"), default="auto")
    a.set_defaults(run=adam_update)

    for command in (b, a):
        command.add_argument("--threads", type=int, default=1)
        command.add_argument("--min-time", type=float, default=1.0, help="seconds of timed calls, at least")
        command.add_argument("--warmup", type=int, default=20, help="untimed calls first")
        command.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                             help="tuned: keep freed memory in the process (see tune_malloc); default: leave "
                                  "glibc's settings (and GLIBC_TUNABLES) alone")

    c = commands.add_parser("check", help="replay metarm_same_math's files and compare")
    c.add_argument("files", nargs="+")
    c.add_argument("--threads", type=int, default=1)
    c.set_defaults(run=check)

    args = parser.parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
