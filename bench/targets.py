"""The issue's speed targets, checked against the measured medians.

ratio = peer time / fastmlp time ("fastmlp is N x faster"); a target holds
when ratio >= minimum. For GEMM the peer is the fastest one at that shape.
Pairings are like for like: native fit against JAX's compiled loop, the
Python loop of train_step against Python loops of PyTorch and of a jitted
JAX step.
"""

BEST_PEER = "best peer"

# (label, workload, section, threads, fastmlp row, peer row, minimum ratio)
TARGETS = [
    ("seed fit/epoch vs PyTorch eager", "seed", "train", 1,
     "fastmlp fit", "PyTorch eager", 50.0),
    ("seed fit/epoch vs JAX fori_loop", "seed", "train", 1,
     "fastmlp fit", "JAX fori_loop (one call)", 3.0),
    ("seed train_step loop vs PyTorch eager", "seed", "train", 1,
     "fastmlp train_step loop", "PyTorch eager", 30.0),
    ("seed train_step loop vs JAX jit step", "seed", "train", 1,
     "fastmlp train_step loop", "JAX jit step (Python loop)", 3.0),
    ("1-sample predict vs NumPy expression", "seed", "predict", 1,
     "fastmlp net.predict(x)", "NumPy expression", 4.0),
    ("1-sample predict vs ONNX Runtime", "seed", "predict", 1,
     "fastmlp net.predict(x)", "ONNX Runtime session", 10.0),
    ("4096-row inference vs ONNX Runtime", "mlp", "infer", None,
     "fastmlp net.predict(x)", "ONNX Runtime session", 1.0),
    ("medium MLP fit vs JAX fori_loop", "mlp", "train", 2,
     "fastmlp fit", "JAX fori_loop (one call)", 1.0),
    ("medium MLP train_step vs PyTorch eager", "mlp", "train", 2,
     "fastmlp train_step loop", "PyTorch eager", 1.9),
    ("linear 1024^3 vs best peer", "gemm", "1024^3", None,
     "fastmlp", BEST_PEER, 0.9),
]


def _section(cfg, section):
    if cfg["workload"] == "gemm":
        return cfg["rows"].get(section, {})
    return cfg.get(section, {})


def ratio(rows, fm_name, peer_name):
    """peer / fastmlp median time, or None when either is missing."""
    fm = rows.get(fm_name) or {}
    if "median_s" not in fm:
        return None
    if peer_name == BEST_PEER:
        peers = [r["median_s"] for n, r in rows.items()
                 if n != fm_name and r and "median_s" in r]
        return min(peers) / fm["median_s"] if peers else None
    peer = rows.get(peer_name) or {}
    return peer["median_s"] / fm["median_s"] if "median_s" in peer else None


def targets_for_row(workload, section, threads, row):
    """Short text for the 'target' column of one table row."""
    return ", ".join(f">={t[6]:g}x" + ("" if row == BEST_PEER else
                                         f" vs {t[4].removeprefix('fastmlp ')}")
                     for t in TARGETS
                     if t[1:4] in ((workload, section, threads), (workload, section, None))
                     and t[5] == row)


def evaluate(configs):
    out = []
    for label, workload, section, threads, fm_name, peer_name, minimum in TARGETS:
        runs = [c for c in configs if c["workload"] == workload]
        matching = [c for c in runs if threads is None or c["threads"] == threads]
        if runs and not matching:
            out.append({"target": label, "threads": threads, "ratio": None,
                        "minimum": minimum, "status": f"not run (--threads {threads})"})
        for cfg in matching:
            r = ratio(_section(cfg, section), fm_name, peer_name)
            status = "n/a" if r is None else ("PASS" if r >= minimum else "FAIL")
            out.append({"target": label, "threads": cfg["threads"], "ratio": r,
                        "minimum": minimum, "status": status})
    return out
