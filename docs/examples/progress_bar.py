# A progress bar for a long fit: tqdm's when installed, else a log line every tenth.
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(4)
x = rng.standard_normal((2000, 10)).astype(np.float32)
y = x[:, :3].sum(axis=1)
net = fm.Sequential(fm.Linear(10, 64), fm.ReLU(), fm.Linear(64, 1), seed=4)
hist = net.fit(x, y, epochs=50, batch_size=128, validation_split=0.1, progress=True)
print(hist)
