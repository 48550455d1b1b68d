"""The workloads of one thread count, in a fresh process.

run.py starts one of these per thread count because thread pools (OpenMP,
OpenBLAS, MKL, XLA) read their limits once, when the library is loaded, so
the limits must be in place before numpy, torch or jax are imported.
Writes a JSON list, one result per workload, to the path given by --out.
"""
import argparse
import importlib
import json
import os
import sys
import time

# No numpy here: workloads and the peers import it, after limit_threads().
from sysload import OtherLoad
from timing import Contender, Failed, measure, paired_ratio

FRAMEWORKS = ["fastmlp", "numpy", "torch", "jax", "sklearn", "onnxruntime"]
PEERS = {  # workload section -> frameworks that take part, fastmlp first
    "train_seed": ["fastmlp", "numpy", "torch", "jax", "sklearn"],
    "predict": ["fastmlp", "numpy", "torch", "jax", "onnxruntime"],
    "train_mlp": ["fastmlp", "numpy", "torch", "jax"],
    "infer": ["fastmlp", "torch", "jax", "onnxruntime"],
    "gemm": ["fastmlp", "numpy", "torch", "jax"],
    "classify": ["fastmlp", "torch", "jax", "sklearn"],
    "grid": ["fastmlp", "numpy", "torch", "jax"],
}
# The grid times fastmlp's native loop against each peer's fastest loop only.
GRID_ROWS = ("fastmlp fit", "NumPy hand-written Adam", "PyTorch eager",
             "JAX fori_loop (one call)")
# The grid's 1-thread / n-thread ratio of fastmlp: timed pairs of chunks of this
# length, with untimed pairs between them.
THREAD_PAIRS, THREAD_PAIR_S, THREAD_PAIR_SPREAD = 30, 0.01, 4
# Inference cells: one predict call per unit, each framework's inference path.
INFER_ROWS = ("fastmlp net.predict(x)", "PyTorch inference_mode", "JAX jit",
              "ONNX Runtime session")


def limit_threads(threads):
    """Pin this process to `threads` cores and cap every pool to match."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    # fastmlp runs at its default, which follows the CPU affinity set below (goal 1
    # times the default; peers_fastmlp reports what it was)
    os.environ.pop("FASTMLP_NUM_THREADS", None)
    if threads == 1:  # XLA's CPU client otherwise runs its own thread pool
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    allowed = sorted(os.sched_getaffinity(0))
    if threads > len(allowed):
        sys.exit(f"--threads {threads}: only {len(allowed)} cores available")
    os.sched_setaffinity(0, allowed[:threads])
    return allowed[:threads]


def load_peers(names, threads):
    """Import each framework; a missing one is recorded, not fatal."""
    peers, missing = {}, {}
    for name in names:
        try:
            mod = importlib.import_module(f"peers_{name}")
            mod.configure(threads)
            peers[name] = mod
        except ImportError as e:
            missing[name] = f"not installed ({e})"
        except Exception as e:  # e.g. fastmlp half-built
            missing[name] = f"not usable: {type(e).__name__}: {e}"
    return peers, missing


def contenders(peers, section, builder, *args):
    out = []
    for name in PEERS[section]:
        if name not in peers:
            continue
        try:
            out += getattr(peers[name], builder)(*args)
        except Exception as e:
            out.append(Failed(name, f"{type(e).__name__}: {e}"))
    return out


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def measure_peak(peers, repeats, target_s):
    """The machine's sgemm peak on these cores: best of NumPy and fastmlp at
    1024^3, the yardstick for the %-of-peak column and the FLOP-limit goals.
    Measured before and after a worker's workloads (main keeps the better)."""
    from workloads import gemm_operands
    a, b = gemm_operands(1024, 1024, 1024, "")
    flops = 2.0 * 1024 ** 3
    cs = contenders({k: v for k, v in peers.items() if k in ("numpy", "fastmlp")},
                    "gemm", "gemm", a, b, "", flops)
    res = measure(cs, repeats, target_s)
    best = max((r["gflops"] for r in res.values() if "gflops" in r), default=None)
    return {"by": res, "gflops": best}


def run_seed(peers, repeats, target_s):
    import workloads as w
    x, y = w.seed_data()
    params = w.init_params(w.SEED_SIZES)
    flops = w.train_step_flops(w.SEED_SIZES, w.SEED_N)
    log("seed: training step")
    train = measure(contenders(peers, "train_seed", "train", x, y, params, "mse", flops),
                    repeats, target_s, log)
    log("seed: one-sample predict")
    x1 = x[:1].copy()
    pflops = w.predict_flops(w.SEED_SIZES, 1)
    pred = measure(contenders(peers, "predict", "predict", x1, params, pflops),
                   repeats, target_s, log)
    return {"train": train, "predict": pred,
            "flops_per_step": flops, "loss": "mse"}


def run_mlp(peers, repeats, target_s):
    import workloads as w
    x, labels, onehot = w.mlp_data()
    params = w.init_params(w.MLP_SIZES)
    loss, target = "mse", onehot
    if "fastmlp" in peers and peers["fastmlp"].supports_loss(
            "cross_entropy", x, labels, params):
        loss, target = "cross_entropy", labels
    flops = w.train_step_flops(w.MLP_SIZES, w.MLP_BATCH)
    log(f"mlp: training step ({loss})")
    train = measure(contenders(peers, "train_mlp", "train", x, target, params, loss, flops),
                    repeats, target_s, log)
    return {"train": train, "flops_per_step": flops, "loss": loss}


def run_infer(peers, repeats, target_s):
    """Predict calls through the inference nets at small to large batches."""
    import workloads as w
    cells = []
    for sizes, batch in w.infer_cells():
        label = f"{'-'.join(map(str, sizes))} b{batch}"
        log(f"infer: {label}")
        flops = w.predict_flops(sizes, batch)
        cs = [c for c in contenders(peers, "infer", "predict", w.infer_data(sizes, batch),
                                    w.init_params(sizes), flops) if c.name in INFER_ROWS]
        cells.append({"sizes": list(sizes), "batch": batch, "label": label,
                      "flops_per_call": flops, "predict": measure(cs, repeats, target_s)})
    return {"cells": cells}


def held_out_accuracy(peers, x, labels, x_test, y_test, params, batch):
    """Each contender trained afresh from the shared start for
    ACCURACY_EPOCHS epochs, then scored on held-out data: a check that
    every contender computes the same thing."""
    from workloads import ACCURACY_EPOCHS
    out = {}
    for c in contenders(peers, "classify", "classify", x, labels, params, batch, None):
        if isinstance(c, Failed):
            out[c.name] = c.reason
            continue
        try:
            c.run(ACCURACY_EPOCHS)
            out[c.name] = float((c.labels(x_test) == y_test).mean())
        except Exception as e:
            out[c.name] = f"{type(e).__name__}: {e}"
    return out


def run_classify(peers, repeats, target_s, quick):
    """Digits, then (not with --quick: its scikit-learn epoch alone takes seconds)
    the wide synthetic set."""
    import workloads as w
    x, labels, x_test, y_test, source = w.digits_data()
    sets = [("digits", x, labels, w.DIGITS_SIZES, w.DIGITS_BATCH)]
    if not quick:
        sets.append(("wide", *w.wide_data(), w.WIDE_SIZES, w.WIDE_BATCH))
    datasets = {}
    for name, xs, ys, sizes, batch in sets:
        flops = w.train_step_flops(sizes, len(xs))  # one epoch
        log(f"classify: {name}, one epoch")
        cs = contenders(peers, "classify", "classify", xs, ys, w.init_params(sizes),
                        batch, flops)
        datasets[name] = {"train": measure(cs, repeats, target_s, log),
                          "flops_per_epoch": flops}
    log(f"classify: digits, held-out accuracy after {w.ACCURACY_EPOCHS} epochs")
    datasets["digits"]["accuracy"] = held_out_accuracy(
        peers, x, labels, x_test, y_test, w.init_params(w.DIGITS_SIZES), w.DIGITS_BATCH)
    return {"datasets": datasets, "digits_source": source}


def run_gemm(peers, repeats, target_s, quick):
    import workloads as w
    rows = {}
    for label, m, k, n, transpose in w.gemm_shapes(quick):
        log(f"gemm: {label}")
        a, b = w.gemm_operands(m, k, n, transpose)
        cs = contenders(peers, "gemm", "gemm", a, b, transpose, 2.0 * m * k * n)
        rows[label] = measure(cs, repeats, target_s)
    return {"rows": rows}


def run_grid(peers, repeats, target_s, quick, threads):
    """One training step per cell of the issue's grid. With several threads,
    fastmlp's 1-thread / n-thread ratio comes from paired chunks (paired_ratio)
    of one net, optimizer and arrays, so that only the thread count differs (two
    nets doing the same work timed 1.2x apart: 256-256-256-10 b1, Zen 4)."""
    import workloads as w
    cells = []
    for sizes, batch in w.grid_cells(quick):
        label = f"{'-'.join(map(str, sizes))} b{batch}"
        log(f"grid: {label}")
        x, y = w.grid_data(sizes, batch)
        params = w.init_params(sizes)
        flops = w.train_step_flops(sizes, batch)
        cs = [c for c in contenders(peers, "grid", "train", x, y, params, "mse", flops,
                                    w.GRID_LR) if c.name in GRID_ROWS]
        cell = {"sizes": list(sizes), "batch": batch, "label": label,
                "flops_per_step": flops, "train": measure(cs, repeats, target_s)}
        fit = next((c for c in cs if c.name == "fastmlp fit" and isinstance(c, Contender)),
                   None)
        if threads > 1 and fit is not None and "median_s" in cell["train"][fit.name]:
            one = peers["fastmlp"].at_threads(fit, 1)
            cell["threads_pair"] = paired_ratio(fit.run, one.run,
                                                THREAD_PAIRS // 3 if quick else THREAD_PAIRS,
                                                THREAD_PAIR_S, THREAD_PAIR_SPREAD)
            log(f"  1-thread / {threads}-thread, paired: {cell['threads_pair']['median']:.3f}")
        cells.append(cell)
    return {"cells": cells, "loss": "mse"}


def cap_threadpools(threads):
    """Cap the pools of every library loaded so far (OpenBLAS, MKL, libgomp),
    in case one ignored its environment variable, and list them."""
    try:
        import threadpoolctl
    except ImportError:
        return [], {"threadpoolctl": "not installed: pools capped by environment only"}
    threadpoolctl.threadpool_limits(limits=threads)
    return threadpoolctl.threadpool_info(), {}


# repeats and seconds per repeat for each workload; --quick: 3 and a tenth
SETTINGS = {"seed": (15, 0.2), "mlp": (10, 0.5), "infer": (7, 0.15), "gemm": (7, 0.15),
            "classify": (7, 0.4), "grid": (7, 0.1)}
SECTIONS = {"seed": ["train_seed", "predict"], "mlp": ["train_mlp"], "infer": ["infer"],
            "gemm": ["gemm"], "classify": ["classify"], "grid": ["grid"]}
PEAK_SETTINGS = (5, 0.2)  # repeats and seconds per repeat; --quick: 3 and 0.05


def run_workload(workload, peers, repeats, target_s, quick, threads):
    if workload == "gemm":
        return run_gemm(peers, repeats, target_s, quick)
    if workload == "grid":
        return run_grid(peers, repeats, target_s, quick, threads)
    if workload == "classify":
        return run_classify(peers, repeats, target_s, quick)
    run = {"seed": run_seed, "mlp": run_mlp, "infer": run_infer}[workload]
    return run(peers, repeats, target_s)


def build_info():
    """fastmlp's build and the kernel set it picked, for the JSON's machine record."""
    try:
        import fastmlp
        return fastmlp.build_info()
    except Exception as e:  # not installed or half-built: the peers still run
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", required=True, help="e.g. seed,mlp,gemm,classify")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=0, help="0: per workload")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    workloads = args.workloads.split(",")

    cpus = limit_threads(args.threads)
    names = [n for n in FRAMEWORKS
             if any(n in PEERS[s] for w in workloads for s in SECTIONS[w])]
    peers, missing = load_peers(names, args.threads)
    pools, no_ctl = cap_threadpools(args.threads)

    log("sgemm peak at 1024^3")
    peak_repeats, peak_s = (3, 0.05) if args.quick else PEAK_SETTINGS
    peak = measure_peak(peers, peak_repeats, peak_s)
    info = build_info()
    results = []
    for workload in workloads:
        repeats, target_s = SETTINGS[workload]
        if args.quick:
            repeats, target_s = 3, target_s / 10
        repeats = args.repeats or repeats
        used = [n for n in names if any(n in PEERS[s] for s in SECTIONS[workload])]
        result = {"workload": workload, "threads": args.threads, "cpus": cpus,
                  "repeats": repeats, "target_s_per_repeat": target_s,
                  "versions": {n: m.VERSION for n, m in peers.items() if n in used},
                  "missing": {**{n: why for n, why in missing.items() if n in used},
                              **no_ctl},
                  "threadpools": pools, "xla_flags": os.environ.get("XLA_FLAGS", ""),
                  "build_info": info, "peak": peak}
        t0 = time.perf_counter()
        with OtherLoad() as load:
            result.update(run_workload(workload, peers, repeats, target_s, args.quick,
                                       args.threads))
        result["wall_s"] = time.perf_counter() - t0
        result["other_load_cores"] = load.cores
        results.append(result)
    # Measured again at the end, the better of the two kept: one short measurement
    # that a burst of other work disturbed would make every %-of-peak look better.
    log("sgemm peak at 1024^3, again")
    again = measure_peak(peers, peak_repeats, peak_s)
    if (again["gflops"] or 0) > (peak["gflops"] or 0):
        for result in results:
            result["peak"] = again
    with open(args.out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
