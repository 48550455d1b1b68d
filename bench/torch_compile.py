"""Does torch.compile make PyTorch's training step faster than eager on a CPU?

    python bench/torch_compile.py [--threads 1] [--repeats 5]

Times eager against torch.compile (the module compiled, and the fused Adam
step compiled; backward stays a graph break) on the seed net, grid cells
and the medium MLP, interleaved as in run.py, and prints eager / compiled
per shape. run.py's PyTorch contender is eager because compiled lost or was
level in this measurement (bench/README.md has the figures).
"""
import argparse
import time

from worker import limit_threads


def eager_and_compiled(sizes, batch, threads):
    import torch
    import torch.nn.functional as F

    import peers_torch
    import workloads as w
    from timing import Contender
    torch.set_num_threads(threads)
    x, y = w.grid_data(sizes, batch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    flops = w.train_step_flops(sizes, batch)
    out, compile_s = [], None
    for name in ("eager", "torch.compile"):
        net = peers_torch._net(w.init_params(sizes))
        opt = torch.optim.Adam(net.parameters(), lr=0.0, fused=True)
        forward, update = net, opt.step
        if name != "eager":
            forward, update = torch.compile(net), torch.compile(opt.step)

        def steps(n, forward=forward, update=update, opt=opt):
            for _ in range(n):
                opt.zero_grad()
                F.mse_loss(forward(xt), yt).backward()
                update()

        t0 = time.perf_counter()
        steps(1)
        compile_s = time.perf_counter() - t0
        out.append(Contender(name, steps, flops))
    return out, compile_s


SHAPES = [((3, 32, 1), 200), ((32, 32, 32, 10), 32), ((20, 128, 128, 1), 64),
          ((128, 128, 128, 10), 256), ((784, 512, 512, 10), 256)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    limit_threads(args.threads)
    from timing import measure
    print(f"torch.compile vs eager, {args.threads} thread(s), median of {args.repeats} "
          "interleaved repeats; ratio above 1: compiled is faster")
    for sizes, batch in SHAPES:
        cs, compile_s = eager_and_compiled(sizes, batch, args.threads)
        res = measure(cs, args.repeats, 0.2)
        eager, comp = res["eager"]["median_s"], res["torch.compile"]["median_s"]
        print(f"{'-'.join(map(str, sizes))} b{batch}: eager {eager * 1e6:.1f} us, compiled "
              f"{comp * 1e6:.1f} us, eager/compiled {eager / comp:.2f} "
              f"(first compiled step {compile_s:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
