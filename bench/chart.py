"""Charts of a run: GEMM bars (GFLOP/s per shape) and the grid's heat map
(fastmlp / best peer per cell, and 2T/1T), one panel per thread count."""
import math

from targets import PEER_MARK, grid_checks


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    return plt


def gemm_chart(configs, path):
    from report import gemm_names
    plt = _pyplot()
    fig, axes = plt.subplots(len(configs), 1, squeeze=False,
                             figsize=(12, 4.5 * len(configs)))
    for ax, cfg in zip(axes[:, 0], configs):
        labels = list(cfg["rows"])
        names = gemm_names(cfg)
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            vals = [cfg["rows"][s].get(name, {}).get("gflops", 0.0) for s in labels]
            ax.bar([j + i * width for j in range(len(labels))], vals, width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))])
        ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("GFLOP/s")
        ax.set_title(f"float32 GEMM, {cfg['threads']} thread(s)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart written to {path}"


def _grid_values(cfg, check):
    """(net labels, batches, matrix of (ratio, text, passed) or None), nets as rows,
    from goal 1's `check` ("best" or "threads") as bench/targets.py makes it."""
    nets, batches = [], sorted({c["batch"] for c in cfg["cells"]})
    for c in cfg["cells"]:
        net = "-".join(map(str, c["sizes"]))
        nets += [] if net in nets else [net]
    matrix = [[None] * len(batches) for _ in nets]
    for c in grid_checks(cfg):
        if c["check"] == check:
            text = f"{c['ratio']:.2f}" + (PEER_MARK[c["peer"]] if "peer" in c else "")
            matrix[nets.index(c["net"])][batches.index(c["batch"])] = (c["ratio"], text,
                                                                       c["passed"])
    return nets, batches, matrix


def _heat_panel(ax, labels, batches, matrix, norm, cmap, title, net_labels):
    """Colour is log2(ratio) centred on 0 (ratio 1): below 1 red. A cell that
    misses its goal is outlined in black, its figure in bold."""
    values = [[math.log2(v[0]) if v else math.nan for v in row] for row in matrix]
    image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto")
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            if v is None:
                continue
            dark = abs(math.log2(v[0])) > 0.6 * norm.vmax  # white text on deep colours
            ax.text(j, i, v[1], ha="center", va="center", fontsize=8,
                    color="white" if dark else "black",
                    fontweight="normal" if v[2] else "bold")
            if not v[2]:
                ax.add_patch(_pyplot().Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                                 edgecolor="black", linewidth=2))
    ax.set_xticks(range(len(batches)), [str(b) for b in batches])
    ax.set_yticks(range(len(labels)), labels if net_labels else [], fontsize=8)
    ax.set_xlabel("batch")
    ax.set_title(title, fontsize=9)
    return image


def grid_chart(configs, path):
    from matplotlib.colors import TwoSlopeNorm
    plt = _pyplot()
    panels = [(cfg, "best", f"{cfg['threads']} thread(s): best peer time / "
               "fastmlp time\n(J JAX fori_loop, T PyTorch, N NumPy)")
              for cfg in configs]
    panels += [(cfg, "threads", f"fastmlp 1-thread time / {cfg['threads']}-thread time\n"
                "(paired chunks; below 1: slower with more threads)")
               for cfg in configs if cfg["threads"] > 1]
    data = [(_grid_values(cfg, check), title) for cfg, check, title in panels]
    logs = [abs(math.log2(v[0])) for (_, _, m), _ in data for row in m for v in row if v]
    span = max(logs + [0.5])
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    cmap = plt.get_cmap("RdBu").copy()
    cmap.set_bad("lightgrey")  # a cell not run
    fig, axes = plt.subplots(1, len(data), squeeze=False, layout="constrained",
                             figsize=(4.8 * len(data) + 1.5, 0.45 * len(data[0][0][0]) + 2.4))
    for i, (ax, ((labels, batches, matrix), title)) in enumerate(zip(axes[0], data)):
        image = _heat_panel(ax, labels, batches, matrix, norm, cmap, title, i == 0)
    ticks = sorted({0.0} | {s * k for k in range(1, math.ceil(span) + 1) for s in (-1, 1)
                            if k <= span})
    bar = fig.colorbar(image, ax=axes[0].tolist(), ticks=ticks, shrink=0.9, pad=0.01)
    bar.ax.set_yticklabels([f"{2 ** t:g}x" for t in ticks])
    bar.set_label("ratio, log scale; outlined: misses goal 1")
    fig.suptitle("Grid: W->W->W->10 nets and the tabular 20-128-128-1, one full-batch "
                 "Adam step (MSE, float32)", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart written to {path}"


def _needs_matplotlib(draw):
    def run(configs, path):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return "matplotlib not installed: no chart"
        return draw(configs, path)
    return run


CHARTS = {"gemm": _needs_matplotlib(gemm_chart), "grid": _needs_matplotlib(grid_chart)}
