"""Timing harness: calibrate, warm up, then time contenders round-robin.

A contender is a callable `run(n)` that does n units of work (training steps,
epochs, predictions, GEMMs) and returns only when the work is finished (JAX
contenders block on their results). The harness reports seconds per unit.
"""
import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from sysload import OtherLoad, settle

# A repeat during which other processes used more than BUSY_CORES is run
# again, at most RETRIES times. /proc/stat counts 10 ms ticks, so only
# repeats of at least JUDGE_S are judged, and smaller loads are rounding.
BUSY_CORES = 0.3
RETRIES = 2
JUDGE_S = 0.1


@dataclass
class Contender:
    name: str
    run: Callable[[int], None]
    flops_per_unit: Optional[float] = None  # None: no GFLOP/s column
    info: dict = field(default_factory=dict)  # e.g. compile time, settings
    # classifiers: x -> predicted class labels with the weights trained so far
    labels: Optional[Callable] = None


@dataclass
class Failed:
    """A contender that could not be built or run (not installed, API error)."""
    name: str
    reason: str


def _elapsed(run, n):
    t0 = time.perf_counter()
    run(n)
    return time.perf_counter() - t0


def calibrate(run, target_s, n_max=10**7):
    """Units of work that take about target_s, so timer resolution and loop
    overhead vanish while a repeat stays short."""
    n = 1
    while True:
        t = _elapsed(run, n)
        if t >= target_s / 4 or n >= n_max:
            break
        n = min(n_max, n * 8 if t < target_s / 50 else n * 2)
    return max(1, min(n_max, round(n * target_s / max(t, 1e-9))))


def summarize(samples):
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else samples * 3
    return {"median_s": statistics.median(samples), "min_s": min(samples),
            "q1_s": q[0], "q3_s": q[2], "samples_s": samples}


def measure(contenders, repeats, target_s, log=None):
    """Time each contender `repeats` times, interleaved: one repeat of every
    contender per round, so drift (clock boost, other load) hits all alike.
    The order rotates each round to remove any fixed position effect."""
    live, results = [], {}
    for c in contenders:
        if isinstance(c, Failed):
            results[c.name] = {"error": c.reason}
            continue
        try:
            settle()
            c.run(1)  # warm-up: first-call costs (allocation, JIT, caches)
            n = calibrate(c.run, target_s)
            c.run(n)  # warm-up at the timed size
        except Exception as e:  # an unfinished API must not stop the others
            results[c.name] = {"error": f"{type(e).__name__}: {e}"}
            continue
        live.append((c, n))
        results[c.name] = None
    samples = {c.name: [] for c, _ in live}
    reruns = {c.name: 0 for c, _ in live}
    disturbed = {c.name: 0 for c, _ in live}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # like timeit: keep collector pauses out of the numbers
    try:
        for r in range(repeats):
            k = r % len(live) if live else 0
            for c, n in live[k:] + live[:k]:
                for attempt in range(RETRIES + 1):
                    settle()
                    with OtherLoad(min_wall_s=JUDGE_S) as load:
                        t = _elapsed(c.run, n)
                    if load.cores is None or load.cores < BUSY_CORES:
                        break
                    if attempt < RETRIES:
                        reruns[c.name] += 1
                    else:
                        disturbed[c.name] += 1  # kept, and counted
                samples[c.name].append(t / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    for c, n in live:
        res = summarize(samples[c.name])
        res["units_per_repeat"] = n
        res["reruns"], res["disturbed"] = reruns[c.name], disturbed[c.name]
        if c.flops_per_unit:
            res["gflops"] = c.flops_per_unit / res["median_s"] / 1e9
        res.update(c.info)
        results[c.name] = res
        if log:
            log(f"  {c.name:<28} {res['median_s'] * 1e6:12.2f} us/unit  (n={n})")
    return results


def paired_ratio(run_a, run_b, pairs, chunk_s, spread):
    """t_b / t_a from `pairs` pairs of chunks of about chunk_s each, the two of a
    pair timed back to back (which one first alternates), `spread` untimed pairs
    between two timed ones: the median and quartiles of the pairs' ratios.

    On a shared host the speed drifts over tens of milliseconds (adjacent 10 ms
    chunks correlate 0.7-0.8), so adjacent chunks see the same machine: for two
    runs of the same code this gave 0.996-1.001, where the medians of separate
    0.1 s repeats differed by up to 8%. The untimed pairs spread the timed ones
    over seconds, so that an episode of the host's (the second core gone for a
    second: 2 threads as slow as 1 in 26 pairs of 30 taken back to back) takes
    few of them; sleeping instead let the second core idle, and 2 threads then
    ran up to 1.7x slower after each gap."""
    settle()
    n = calibrate(run_a, chunk_s)
    run_a(n)
    run_b(n)
    ratios = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for p in range(pairs):
            if p % 2 == 0:
                t_a = _elapsed(run_a, n)
                t_b = _elapsed(run_b, n)
            else:
                t_b = _elapsed(run_b, n)
                t_a = _elapsed(run_a, n)
            ratios.append(t_b / t_a)
            for _ in range(spread):
                run_a(n)
                run_b(n)
    finally:
        if gc_was_enabled:
            gc.enable()
    q = statistics.quantiles(ratios, n=4)
    return {"median": statistics.median(ratios), "q1": q[0], "q3": q[2], "ratios": ratios,
            "units_per_chunk": n}
