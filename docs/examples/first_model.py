# The seed's network, 3 -> 32 -> 1 with a ReLU, trained on 200 noisy samples of a plane.
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(0)
x = rng.standard_normal((200, 3)).astype(np.float32)
y = x @ np.array([0.2, -1.3, -0.5], np.float32) + rng.standard_normal(200).astype(np.float32)

net = fm.Sequential(fm.Linear(3, 32), fm.ReLU(), fm.Linear(32, 1), seed=0)
hist = net.fit(x, y, loss="mse", optimizer=fm.optim.Adam(net.parameters(), lr=1e-3),
               epochs=200, log_every=50)
print("SSE", fm.metrics.sse(y, net.predict(x)), "last epoch's loss", hist.loss[-1])
