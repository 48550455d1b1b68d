"""GEMM chart: grouped bars of GFLOP/s per shape, one panel per thread count."""


def gemm_chart(configs, path):
    try:
        import matplotlib
    except ImportError:
        return "matplotlib not installed: no chart"
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    from report import gemm_names

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
