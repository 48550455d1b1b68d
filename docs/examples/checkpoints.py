# A run that checkpoints every 5 epochs, and resuming it: the result is the whole run's.
import os

import numpy as np

import fastmlp as fm

rng = np.random.default_rng(0)
x = rng.standard_normal((200, 4)).astype(np.float32)
y = np.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3]


def train(resume=None, epochs=30):
    net = fm.Sequential(fm.Linear(4, 32), fm.ReLU(), fm.Dropout(0.1), fm.Linear(32, 1), seed=0)
    opt = fm.optim.Adam(net.parameters(), lr=1e-2)
    hist = net.fit(x, y, optimizer=opt, epochs=epochs, batch_size=32, seed=1,
                   scheduler=fm.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5),
                   validation_split=0.2, patience=10, restore_best_weights=True,
                   checkpoint="run.safetensors", checkpoint_every=5, resume=resume)
    return net, hist


whole, h_whole = train()                       # 30 epochs in one go
os.remove("run.safetensors")
train(epochs=15)                               # stopped after 15 epochs ...
net, hist = train(resume="run.safetensors")    # ... resumed (here, or in a new process)
print(hist.epochs, hist.loss[-1])              # 30: the History covers the whole run
assert np.array_equal(hist.loss, h_whole.loss)
assert np.array_equal(net.flat_parameters(), whole.flat_parameters())

again, opt = fm.load("run.safetensors", with_optimizer=True)  # a checkpoint is a model file
