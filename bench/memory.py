"""Peak memory of fit: how much the high-water mark of the resident set grows during one
fit, against the size of the data.

    python bench/memory.py [--cases 1000000x100,10000000x20] [--epochs 1] [--batch-size 256]

Each case runs in a fresh process: the data is created in place (filled a block of rows at
a time, so creating it leaves no higher mark than the data itself), a small warm-up fit
loads the code and the thread pool, then ru_maxrss is read before and after the measured
fit. The goal (issue 11) is a growth under 5% of the data. A float64 case (converted once
to the float32 model) shows what a copy of the data costs.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

# float32 data is the goal; the float64 case shows a conversion for comparison.
DEFAULT_CASES = "1000000x100,10000000x20,1000000x100:float64"


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def filled(n, d, dtype, seed):
    """Random normal data of shape (n, d), written a block of rows at a time."""
    import numpy as np
    rng = np.random.default_rng(seed)
    a = np.empty((n, d), dtype)
    rows = max(1, (1 << 18) // d)  # 1 MiB blocks: no temporary raises the peak above a
    for start in range(0, n, rows):
        a[start:start + rows] = rng.standard_normal((min(rows, n - start), d), np.float32)
    return a


def measure(n, d, dtype, epochs, batch_size):
    """One case, in this process: the numbers of one row of the table."""
    import numpy as np

    import fastmlp as fm
    x = filled(n, d, dtype, 0)
    y = filled(n, 1, np.float32, 1)
    net = fm.Sequential(fm.Linear(d, 64), fm.ReLU(), fm.Linear(64, 1), seed=0)
    net.fit(x[:2048], y[:2048], epochs=1, batch_size=batch_size)  # warm-up
    base, base_now = peak_rss_bytes(), current_rss_bytes()
    net.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, seed=0)
    growth = peak_rss_bytes() - base
    return {"n": n, "d": d, "dtype": dtype, "data_mb": (x.nbytes + y.nbytes) / 2**20,
            "baseline_peak_mb": base / 2**20, "baseline_rss_mb": base_now / 2**20,
            "growth_mb": growth / 2**20, "ratio": growth / (x.nbytes + y.nbytes)}


def parse_case(text):
    shape, _, dtype = text.partition(":")
    n, d = (int(v) for v in shape.split("x"))
    return n, d, dtype or "float32"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=DEFAULT_CASES,
                    help="NxD[:dtype] cases, comma-separated (default %(default)s)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a worker: measure this case only
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(*parse_case(args.one), args.epochs, args.batch_size)))
        return
    print("| data (x, y) | dtype of x | data MB | RSS before MB | peak before MB "
          "| peak growth during fit MB | growth / data |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case in args.cases.split(","):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", case,
                              "--epochs", str(args.epochs), "--batch-size",
                              str(args.batch_size)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        print(f"| {r['n']:,} x {r['d']} | {r['dtype']} | {r['data_mb']:.0f} "
              f"| {r['baseline_rss_mb']:.0f} | {r['baseline_peak_mb']:.0f} | {r['growth_mb']:.1f} | {100 * r['ratio']:.2f}% |",
              flush=True)


if __name__ == "__main__":
    main()
