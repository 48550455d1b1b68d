# Model files (safetensors, no pickle), state dicts, and resuming an optimizer.
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(3)
x = rng.standard_normal((100, 3)).astype(np.float32)
y = x.sum(axis=1)
net = fm.Sequential(fm.Linear(3, 16), fm.SiLU(), fm.Linear(16, 1), seed=3)
opt = fm.optim.Adam(net.parameters())
net.fit(x, y, optimizer=opt, epochs=20)

fm.save(net, "model.safetensors")              # layers, dtype and weights
again = fm.load("model.safetensors")
assert np.array_equal(again.predict(x), net.predict(x))
print(again)

fm.save(net, "model.safetensors", optimizer=opt)   # and Adam's moments, step count, lr
net2, opt2 = fm.load("model.safetensors", with_optimizer=True)
print(type(opt2).__name__, opt2.step_count, opt2.config())

weights = net.state_dict()                     # {"0.weight": array, "0.bias": ..., ...}
print({name: w.shape for name, w in weights.items()})
resumed = fm.Sequential(fm.Linear(3, 16), fm.SiLU(), fm.Linear(16, 1))
resumed.load_state_dict(weights)
opt2 = fm.optim.Adam(resumed.parameters())
opt2.load_state_dict(opt.state_dict())         # Adam's moments and step count
resumed.fit(x, y, optimizer=opt2, epochs=20, shuffle=False)
net.fit(x, y, optimizer=opt, epochs=20, shuffle=False)
assert np.array_equal(resumed.predict(x), net.predict(x))  # the same run, continued
