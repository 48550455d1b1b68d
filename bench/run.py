"""fastmlp benchmarks against NumPy, PyTorch, JAX and scikit-learn.

    python bench/run.py [seed|mlp|infer|gemm|classify|grid|all] [--threads 1,2]
                        [--repeats R] [--quick] [--json PATH] [--chart PATH]
                        [--publish] [--wait-quiet S]

Each thread count runs in a fresh worker process pinned to that many cores;
see bench/README.md for the method.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import readme_table
import report
import targets
from chart import CHARTS
from sysload import wait_quiet

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
DEFAULT_THREADS = {"seed": [1], "mlp": [1, 2], "infer": [1, 2], "gemm": [1, 2],
                   "classify": [1, 2], "grid": [1, 2]}
WORKLOADS = list(DEFAULT_THREADS)
SLOW_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", nargs="?", default="seed",
                    choices=WORKLOADS + ["all"])
    ap.add_argument("--threads", default=None,
                    help="thread counts, e.g. 1 or 1,2 (default: 1 for seed, "
                         "1,2 for the others)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per contender (default 15 seed, 10 mlp, 7 the others)")
    ap.add_argument("--quick", action="store_true",
                    help="3 short repeats, fewer GEMM shapes: a smoke run")
    ap.add_argument("--json", metavar="PATH", help="write all results as JSON")
    ap.add_argument("--chart", metavar="PATH",
                    help="PNG chart of the gemm or grid workload (needs matplotlib); "
                         "with several workloads, one per workload: PATH-gemm.png, "
                         "PATH-grid.png")
    ap.add_argument("--publish", action="store_true",
                    help=f"write the JSON and charts to {os.path.relpath(RESULTS)}/latest* "
                         "and regenerate the performance table in README.md and "
                         "docs/bench.rst from them")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each worker (thread count) wait up to SECONDS for the "
                         "machine to be idle (shared machines)")
    return ap.parse_args(argv)


def blas_env_warning():
    """The machines this was written on set these for old OpenBLAS builds;
    they force a generic kernel on a current NumPy and slow it down."""
    found = {v: os.environ[v] for v in SLOW_BLAS_VARS if v in os.environ}
    if not found:
        return None
    return ("WARNING: " + ", ".join(f"{k}={v}" for k, v in found.items())
            + " is set: NumPy's OpenBLAS will not use its best kernel for this CPU,"
            " so NumPy (and scikit-learn) numbers are too slow. For a fair run:\n"
            "  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py ...")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_worker(workloads, threads, repeats, quick, quiet_s):
    """One worker process for all workloads at this thread count."""
    tag = f"[{threads} thread(s): {', '.join(workloads)}]"
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, os.path.join(HERE, "worker.py"), "--workloads",
           ",".join(workloads), "--threads", str(threads), "--repeats", str(repeats),
           "--out", out] + (["--quick"] if quick else [])
    if quiet_s:
        waited, idle = wait_quiet(quiet_s)
        state = "idle" if idle else "still busy"
        print(f"{tag} machine {state} after {waited:.0f} s", file=sys.stderr, flush=True)
    print(f"{tag} running ...", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            return [{"workload": w, "threads": threads,
                     "error": f"worker exited with {proc.returncode}"} for w in workloads]
        with open(out) as f:
            return json.load(f)
    finally:
        os.unlink(out)


def render(cfg):
    if "error" in cfg:
        return f"== {cfg['workload']}, {cfg['threads']} thread(s): {cfg['error']} =="
    return {"seed": report.seed_report, "mlp": report.mlp_report,
            "infer": report.infer_report, "gemm": report.gemm_report,
            "classify": report.classify_report, "grid": report.grid_report}[cfg["workload"]](cfg)


def machine(configs, started):
    """What the numbers were measured on, for the JSON and the README line."""
    info = next((c["build_info"] for c in configs if "build_info" in c), {})
    return {"cpu": cpu_model(), "cpus_online": os.cpu_count(),
            "cores_allowed": len(os.sched_getaffinity(0)), "isa": info.get("isa"),
            "build_info": info, "threads": sorted({c["threads"] for c in configs}),
            "python": platform.python_version(), "date": started}


def write_charts(configs, path, workloads):
    """One chart per charted workload; the workload's name joins the path when
    several were run."""
    msgs = []
    for name, draw in CHARTS.items():
        mine = [c for c in configs if c["workload"] == name]
        if not mine:
            continue
        root, ext = os.path.splitext(path)
        msgs.append(draw(mine, path if len(workloads) == 1 else f"{root}-{name}{ext or '.png'}"))
    return msgs


def main(argv=None):
    args = parse_args(argv)
    if args.publish:
        os.makedirs(RESULTS, exist_ok=True)
        args.json = args.json or os.path.join(RESULTS, "latest.json")
        args.chart = args.chart or os.path.join(RESULTS, "latest.png")
    warning = blas_env_warning()
    if warning:
        print(warning, file=sys.stderr)
    workloads = WORKLOADS if args.workload == "all" else [args.workload]
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    threads_of = {w: [int(t) for t in args.threads.split(",")] if args.threads
                  else DEFAULT_THREADS[w] for w in workloads}
    configs = []
    for t in sorted({t for ts in threads_of.values() for t in ts}):
        configs += run_worker([w for w in workloads if t in threads_of[w]], t,
                              args.repeats or 0, args.quick, args.wait_quiet)
    order = {w: i for i, w in enumerate(workloads)}
    configs.sort(key=lambda c: (order[c["workload"]], c["threads"]))

    print(f"fastmlp bench  {started}  {cpu_model()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print("command: " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]))
    if warning:
        print(warning)
    for cfg in configs:
        print("\n" + render(cfg))
    ok = [c for c in configs if "error" not in c]
    evals = targets.evaluate(ok)
    if evals:
        print("\n" + report.targets_report(evals))
    charts = write_charts(ok, args.chart, workloads) if args.chart else []
    for msg in charts:
        print("\n" + msg)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started, "argv": sys.argv, "quick": args.quick,
                       "machine": machine(ok, started), "blas_env_warning": warning,
                       "configs": configs, "targets": evals, "charts": charts},
                      f, indent=1)
        print(f"results written to {args.json}")
    if args.publish:
        for page in readme_table.update(args.json):
            print(f"performance table regenerated in {os.path.relpath(page)}")


if __name__ == "__main__":
    main()
