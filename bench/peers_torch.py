"""PyTorch eager contenders: nn.Sequential + optim.Adam(fused=True) (one
kernel for the whole update instead of a loop over parameters), the usual
loop; predict under inference_mode."""
import torch
import torch.nn.functional as F
from torch import nn

from timing import Contender
from workloads import LR

NAME = "torch"
VERSION = torch.__version__


def configure(threads):
    torch.set_num_threads(threads)


def _net(params):
    layers = []
    for i, (w, b) in enumerate(params):
        if i:
            layers.append(nn.ReLU())
        lin = nn.Linear(*w.shape)
        with torch.no_grad():  # torch stores W transposed: (out, in)
            lin.weight.copy_(torch.from_numpy(w.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
    return nn.Sequential(*layers)


def train(x, y, params, loss, flops, lr=LR):
    net = _net(params)
    opt = torch.optim.Adam(net.parameters(), lr=lr, fused=True)
    loss_fn = F.mse_loss if loss == "mse" else F.cross_entropy
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def steps(n):
        for _ in range(n):
            opt.zero_grad()
            loss_fn(net(xt), yt).backward()
            opt.step()

    return [Contender("PyTorch eager", steps, flops)]


def classify(x, labels, params, batch, flops):
    net = _net(params)
    opt = torch.optim.Adam(net.parameters(), lr=LR, fused=True)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    gen = torch.Generator().manual_seed(0)

    def epochs(n):  # the usual loop without a DataLoader
        for _ in range(n):
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), batch):
                idx = perm[i:i + batch]
                opt.zero_grad()
                F.cross_entropy(net(xt[idx]), yt[idx]).backward()
                opt.step()

    def predicted(x_test):
        with torch.inference_mode():
            return net(torch.from_numpy(x_test)).argmax(dim=1).numpy()

    return [Contender("PyTorch eager", epochs, flops, labels=predicted)]


def predict(x1, params, flops):
    net = _net(params)
    x1t = torch.from_numpy(x1)

    def run(n):
        # inference_mode once around the loop and tensor in/out: torch's best case
        with torch.inference_mode():
            for _ in range(n):
                net(x1t)

    return [Contender("PyTorch inference_mode", run, flops)]


def gemm(a, b, transpose, flops):
    at, bt = torch.from_numpy(a), torch.from_numpy(b)
    a_op = at.T if transpose == "a" else at
    b_op = bt.T if transpose == "b" else bt

    def run(n):
        for _ in range(n):
            torch.mm(a_op, b_op)

    return [Contender("PyTorch", run, flops)]
