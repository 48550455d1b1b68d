# Training by hand: one native call per step, or forward / loss / backward / step.
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(2)
x = rng.standard_normal((256, 4)).astype(np.float32)
y = (x ** 2).sum(axis=1, keepdims=True).astype(np.float32)

net = fm.Sequential(fm.Linear(4, 32), fm.Tanh(), fm.Linear(32, 1), seed=2)
opt = fm.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)

# train_step: zero_grad, forward, loss, backward and the update in one native call.
for step in range(100):
    batch = rng.integers(0, len(x), 32)
    loss = net.train_step(x[batch], y[batch], loss="huber", optimizer=opt)
print("after 100 train_step calls:", round(loss, 4))

# The same written out, for a loop that needs to see or change the gradients.
loss_fn = fm.HuberLoss(delta=1.0)
for step in range(100):
    batch = rng.integers(0, len(x), 32)
    opt.zero_grad()
    loss = loss_fn(net.forward(x[batch]), y[batch])
    net.backward(loss_fn.backward())   # accumulates into each p.grad
    first = net[0].weight              # a Parameter: .data and .grad are views
    opt.step()
print("after 100 more steps:", round(loss, 4), "| first weight", first.shape,
      "| gradient norm", float(np.linalg.norm(first.grad)))
