"""Ctrl-C latency of fit: the time from SIGINT to KeyboardInterrupt in the training process.

    python bench/sigint.py [--repeats R] [--threads N]

API.md promises ~0.1 s. For each workload one child process trains without end; the
parent sends SIGINT at a random moment, the child notes when KeyboardInterrupt reached
it (time.monotonic, one clock for all processes on Linux) and starts the next fit.
Printed: the latency's median, 90th percentile and maximum over the repeats, and the
time of one training step (a step is never cut short: the signal is seen after it).
"""
import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import textwrap
import time

# name: (rows, features, hidden widths, batch size); "small" steps take microseconds,
# "large" ones tens of milliseconds.
WORKLOADS = {
    "small steps (64 x 4 -> 8 -> 1, batch 32)": (64, 4, [8], 32),
    "medium steps (1024 x 32 -> 256 -> 256 -> 1, batch 32)": (1024, 32, [256, 256], 32),
    "large steps (4096 x 32 -> 512 -> 512 -> 1, batch 1024)": (4096, 32, [512, 512], 1024),
}

CHILD = textwrap.dedent(r"""
    import json, signal, sys, time
    import numpy as np
    import fastmlp as fm
    signal.signal(signal.SIGINT, signal.default_int_handler)

    n, d, hidden, bs, threads = json.loads(sys.argv[1])
    fm.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    layers, width = [], d
    for h in hidden:
        layers += [fm.Linear(width, h), fm.ReLU()]
        width = h
    net = fm.Sequential(*layers, fm.Linear(width, 1), seed=0)
    opt = fm.optim.SGD(net.parameters(), lr=1e-6)
    net.fit(x, y, optimizer=opt, epochs=1, batch_size=bs)  # warm-up
    while sys.stdin.readline():  # one line from the parent per repeat
        steps, started = opt.step_count, time.monotonic()
        print("READY", flush=True)
        try:
            net.fit(x, y, optimizer=opt, epochs=10**7, batch_size=bs, shuffle=False)
        except KeyboardInterrupt:
            caught = time.monotonic()
        print(caught, (caught - started) / max(1, opt.step_count - steps), flush=True)
""")


def measure(spec, repeats, threads):
    """(latencies in s, seconds per step) over `repeats` interrupts of one child."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, repr(list(spec) + [threads])],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    latencies, step_times = [], []
    try:
        for _ in range(repeats):
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "READY"
            time.sleep(random.uniform(0.3, 0.6))  # into the native loop, at a random phase
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            caught, per_step = map(float, child.stdout.readline().split())
            latencies.append(caught - sent)
            step_times.append(per_step)
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    return latencies, statistics.median(step_times)


def ms(s):
    return f"{1e3 * s:.1f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20, help="interrupts per workload")
    ap.add_argument("--threads", type=int, default=1, help="fastmlp threads in the child")
    args = ap.parse_args(argv)
    if args.repeats < 2:
        ap.error("--repeats must be at least 2")
    random.seed(0)
    print(f"{args.repeats} interrupts per workload, {args.threads} thread(s), "
          f"{os.cpu_count()} CPUs\n")
    print("| workload | step (ms) | latency median (ms) | p90 (ms) | max (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for name, spec in WORKLOADS.items():
        lat, step = measure(spec, args.repeats, args.threads)
        p90 = statistics.quantiles(lat, n=10, method="inclusive")[-1]
        print(f"| {name} | {1e3 * step:.3g} | {ms(statistics.median(lat))} | {ms(p90)} "
              f"| {ms(max(lat))} |", flush=True)


if __name__ == "__main__":
    main()
