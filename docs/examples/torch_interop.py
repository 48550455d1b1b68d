# To PyTorch and back: the same layers and weights.
import numpy as np
import torch

import fastmlp as fm
from fastmlp.interop import from_torch, to_torch

net = fm.Sequential(fm.Linear(3, 8), fm.LeakyReLU(0.1), fm.Linear(8, 1), seed=0)
module = to_torch(net)          # torch.nn.Sequential(Linear, LeakyReLU, Linear)
print(module)

x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
with torch.no_grad():
    y = module(torch.from_numpy(x)).numpy()
print("largest difference:", float(np.abs(y - net(x)).max()))

back = from_torch(torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(),
                                      torch.nn.Linear(8, 1)))
print(back)                     # weights copied, Linear weights transposed to (in, out)
