"""Plain-text tables of worker results."""
from targets import (FIT, JAX_LOOP, PEER_MARK, best_peer, median, peak_gflops,
                     ratio, targets_for_row)
from timing import BUSY_CORES
from workloads import (ACCURACY_EPOCHS, DIGITS_BATCH, DIGITS_N, DIGITS_SIZES,
                       DIGITS_TRAIN, MLP_BATCH, MLP_SIZES, SEED_N, SEED_SIZES,
                       WIDE_BATCH, WIDE_N, WIDE_SIZES)


def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_ratio(r):
    return "" if r is None else f"{r:.2f}x"


def table(headers, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])]
                     + [line(r) for r in rows])


def _spread(r):
    """Interquartile range as a share of the median: how noisy the row is."""
    return f"{(r['q3_s'] - r['q1_s']) / r['median_s'] * 100:.1f}%"


def _all_rows(cfg):
    sections = list(cfg["rows"].values()) if cfg["workload"] == "gemm" else [
        cfg.get("peak", {}).get("by", {}), cfg.get("train", {}), cfg.get("predict", {})]
    sections += [d["train"] for d in cfg.get("datasets", {}).values()]
    sections += [c.get("train") or c["predict"] for c in cfg.get("cells", [])]
    return [r for sec in sections for r in sec.values()]


def _owner(path):
    """Which package shipped a thread-pool library, from its path."""
    if "site-packages/" not in path:
        return "system"
    top = path.split("site-packages/", 1)[1].split("/", 1)[0]
    return top.removesuffix(".libs")


def header(cfg):
    lines = [f"== {cfg['workload']}, {cfg['threads']} thread(s), pinned to CPU(s) "
             f"{cfg['cpus']}; median of {cfg['repeats']} interleaved repeats =="]
    for pool in cfg["threadpools"]:
        arch = f", core type {pool['architecture']}" if pool.get("architecture") else ""
        version = f" {pool['version']}" if pool.get("version") else ""
        lines.append(f"  threadpool of {_owner(pool['filepath'])}: {pool['internal_api']}"
                     f"{version}{arch}, {pool['num_threads']} thread(s)")
    if cfg["xla_flags"]:
        lines.append(f"  XLA_FLAGS={cfg['xla_flags']}")
    lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in cfg["versions"].items()))
    for name, why in cfg["missing"].items():
        lines.append(f"  {name}: {why} -- skipped")
    other = cfg.get("other_load_cores")
    if other is not None:
        note = (" -- WARNING: the machine was busy, numbers are unreliable"
                if other > 0.1 else "")
        lines.append(f"  other processes used {other:.2f} core(s) during this run{note}")
    rows = _all_rows(cfg)
    reruns = sum(r.get("reruns", 0) for r in rows)
    if reruns:
        kept = sum(r.get("disturbed", 0) for r in rows)
        lines.append(f"  {reruns} repeat(s) re-run because other processes used"
                     f" >{BUSY_CORES} core;"
                     f" {kept} kept though still disturbed")
    peak = peak_gflops(cfg)
    if peak:
        lines.append(f"  sgemm peak on these cores (best of NumPy/fastmlp at 1024^3):"
                     f" {peak:.1f} GFLOP/s")
    return "\n".join(lines)


def _timing_cells(r, peak):
    """median, IQR, GFLOP/s and % of peak of one measured row."""
    gf = r.get("gflops")
    return [fmt_time(r["median_s"]), _spread(r), f"{gf:.2f}" if gf else "",
            f"{gf / peak * 100:.1f}%" if gf and peak else ""]


def _first_call(r):
    return fmt_time(r["first_call_s"]) if "first_call_s" in r else ""


def training_table(cfg, title):
    rows, peak = [], peak_gflops(cfg)
    for name, r in cfg["train"].items():
        if "error" in r:
            rows.append([name, r["error"][:70], "", "", "", "", "", "", ""])
            continue
        rows.append([
            name, *_timing_cells(r, peak),
            fmt_ratio(ratio(cfg["train"], "fastmlp fit", name)),
            fmt_ratio(ratio(cfg["train"], "fastmlp train_step loop", name)),
            targets_for_row(cfg["workload"], "train", cfg["threads"], name),
            _first_call(r)])
    heads = ["contender", "median/step", "IQR", "GFLOP/s", "% peak",
             "x vs fit", "x vs step", "target", "1st call (compile)"]
    return f"{title}\n" + table(heads, rows)


def predict_table(cfg, section="predict", title="One-sample predict latency, x of shape (1, 3)"):
    rows = []
    for name, r in cfg[section].items():
        if "error" in r:
            rows.append([name, r["error"][:70], "", "", "", ""])
            continue
        rows.append([name, fmt_time(r["median_s"]), _spread(r),
                     fmt_ratio(ratio(cfg[section], "fastmlp net.predict(x)", name)),
                     targets_for_row(cfg["workload"], section, cfg["threads"], name),
                     _first_call(r)])
    heads = ["contender", "median/call", "IQR", "x vs predict", "target",
             "1st call (compile)"]
    return f"{title}\n" + table(heads, rows)


def seed_report(cfg):
    sizes = "->".join(map(str, SEED_SIZES))
    title = (f"Seed training step: {SEED_N} samples, {sizes} ReLU MLP, MSE, Adam "
             f"lr=1e-3, full batch, float32 ({cfg['flops_per_step'] / 1e3:.0f} kFLOP/step;"
             " one step = one epoch)")
    return "\n\n".join([header(cfg), training_table(cfg, title), predict_table(cfg)])


def mlp_report(cfg):
    sizes = "-".join(map(str, MLP_SIZES))
    title = (f"Medium MLP training step: {sizes}, batch {MLP_BATCH}, {cfg['loss']}, "
             f"Adam, float32 ({cfg['flops_per_step'] / 1e9:.2f} GFLOP/step)")
    return "\n\n".join([header(cfg), training_table(cfg, title)])


INFER_FM = "fastmlp net.predict(x)"
INFER_PEERS = {"ONNX Runtime session": "ORT", "JAX jit": "JAX",
               "PyTorch inference_mode": "PyTorch"}


def infer_report(cfg):
    rows, peak = [], peak_gflops(cfg)
    for cell in cfg["cells"]:
        pr = cell["predict"]
        fm = pr.get(INFER_FM) or {}
        if "median_s" not in fm:
            rows.append([cell["label"], fm.get("error", "not run")[:40]])
            continue
        rows.append([cell["label"], *_timing_cells(fm, peak)]
                    + [fmt_ratio(ratio(pr, INFER_FM, p)) for p in INFER_PEERS]
                    + [targets_for_row("infer", cell["label"], cfg["threads"],
                                       "ONNX Runtime session")])
    heads = (["net, batch", "fastmlp/call", "IQR", "GFLOP/s", "% peak"]
             + [f"x vs {short}" for short in INFER_PEERS.values()] + ["target"])
    title = ("Inference: fastmlp net.predict(x) per call, float32; ratios are peer time / "
             "fastmlp time (ONNX Runtime session, jitted JAX forward, PyTorch "
             "inference_mode)")
    return "\n\n".join([header(cfg), title + "\n" + table(heads, rows)])


def _accuracy(a):
    return "" if a is None else f"{a * 100:.1f}%" if isinstance(a, float) else a[:40]


def classify_table(cfg, title, data):
    """Time per epoch; on digits also the held-out accuracy column."""
    rows, peak = [], peak_gflops(cfg)
    acc = data.get("accuracy")
    for name, r in data["train"].items():
        cells = [name, r["error"][:70], "", "", "", ""] if "error" in r else [
            name, *_timing_cells(r, peak), fmt_ratio(ratio(data["train"], "fastmlp fit", name))]
        cells += [_accuracy(acc.get(name))] if acc is not None else []
        rows.append(cells + [_first_call(r)])
    heads = ["contender", "median/epoch", "IQR", "GFLOP/s", "% peak", "x vs fastmlp"]
    heads += [f"held-out acc ({ACCURACY_EPOCHS} ep)"] if acc is not None else []
    return f"{title}\n" + table(heads + ["1st call (compile)"], rows)


def classify_report(cfg):
    d, wide = cfg["datasets"]["digits"], cfg["datasets"].get("wide")
    common = "ReLU MLP, softmax cross-entropy, Adam lr=1e-3, shuffled minibatches, float32"
    digits = (f"Digits ({cfg['digits_source']}, {DIGITS_TRAIN} of {DIGITS_N} samples for "
              f"training, {DIGITS_N - DIGITS_TRAIN} held out): "
              f"{'-'.join(map(str, DIGITS_SIZES))} {common}, batch {DIGITS_BATCH} "
              f"({d['flops_per_epoch'] / 1e9:.3f} GFLOP/epoch)")
    parts = [header(cfg), classify_table(cfg, digits, d)]
    if wide:  # not run with --quick
        synth = (f"Wide synthetic ({WIDE_N} samples x {WIDE_SIZES[0]} features, "
                 f"{WIDE_SIZES[-1]} classes): {'-'.join(map(str, WIDE_SIZES))} {common}, "
                 f"batch {WIDE_BATCH} ({wide['flops_per_epoch'] / 1e9:.1f} GFLOP/epoch)")
        parts.append(classify_table(cfg, synth, wide))
    return "\n\n".join(parts)


def gemm_names(cfg):
    names = []
    for row in cfg["rows"].values():
        names += [n for n in row if n not in names]
    return names


def gemm_report(cfg):
    names = gemm_names(cfg)
    rows = []
    for label, row in cfg["rows"].items():
        cells = [label]
        for n in names:
            r = row.get(n, {})
            cells.append(f"{r['gflops']:.1f}" if "gflops" in r else r.get("error", "")[:24])
        cells.append(fmt_ratio(ratio(row, "fastmlp", "best peer")))
        cells.append(targets_for_row("gemm", label, cfg["threads"], "best peer"))
        rows.append(cells)
    heads = ["shape MxKxN"] + [f"{n} GFLOP/s" for n in names] + ["fastmlp/best", "target"]
    title = ("float32 GEMM, GFLOP/s (higher is better); xT@dY and dY@WT take a "
             "transposed view, as the backward pass does")
    return "\n\n".join([header(cfg), title + "\n" + table(heads, rows)])


def _grid_matrix(cells, cell_text):
    """Nets as rows, batches as columns; cell_text(cell) -> str."""
    nets, batches = [], sorted({c["batch"] for c in cells})
    for c in cells:
        if c["sizes"] not in nets:
            nets.append(c["sizes"])
    rows = []
    for sizes in nets:
        by_batch = {c["batch"]: c for c in cells if c["sizes"] == sizes}
        rows.append(["-".join(map(str, sizes))]
                    + [cell_text(by_batch[b]) if b in by_batch else "" for b in batches])
    return table(["net \\ batch"] + [str(b) for b in batches], rows)


def _best_peer(cell):
    best, fm = best_peer(cell["train"]), median(cell["train"], FIT)
    if best is None or fm is None:
        return ""
    return f"{best[1] / fm:.2f}{PEER_MARK[best[0]]}"


def _fm_time(cell):
    r = cell["train"].get(FIT) or {}
    return fmt_time(r["median_s"]) if "median_s" in r else r.get("error", "")[:12]


def grid_report(cfg):
    cells = cfg["cells"]
    parts = [header(cfg), "Grid: one full-batch Adam step (MSE, float32) per cell; "
             "ratios are peer time / fastmlp time",
             "fastmlp fit, time per step\n" + _grid_matrix(cells, _fm_time),
             "best peer / fastmlp (J = JAX fori_loop, T = PyTorch eager, N = NumPy)\n"
             + _grid_matrix(cells, _best_peer),
             "JAX fori_loop / fastmlp\n" + _grid_matrix(
                 cells, lambda c: fmt_ratio(ratio(c["train"], FIT, JAX_LOOP)))]
    if cfg["threads"] > 1:
        parts.append(f"fastmlp 1-thread time / {cfg['threads']}-thread time, median of "
                     "paired chunks (below 1: slower with more threads)\n" + _grid_matrix(
                         cells, lambda c: fmt_ratio(c["threads_pair"]["median"])
                         if "threads_pair" in c else ""))
    return "\n\n".join(parts)


def targets_report(evals):
    """The closing table, then the failing grid cells of each grid goal."""
    rows = [[e["target"], e["goal"], str(e["threads"]), e["measured"], e["required"],
             e.get("note", e["status"])] for e in evals]
    lines = ["Targets: the goals of issue 10 (goal '-': older targets kept); ratio = peer "
             "time / fastmlp time; definitions in bench/targets.py",
             table(["target", "goal", "threads", "measured", "required", "status"], rows)]
    for e in evals:
        if e.get("failing"):
            lines.append(f"{e['target']}, {e['threads']} thread(s), failing cells: "
                         + "; ".join(e["failing"]))
    return "\n".join(lines)
