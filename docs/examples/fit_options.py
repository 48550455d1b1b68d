# fit's options: minibatches, a held-out set, a schedule, early stopping, metrics.
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(0)
x = rng.standard_normal((1000, 8)).astype(np.float32)
y = np.sin(x[:, :1]) + 0.5 * x[:, 1:2] ** 2 + 0.1 * rng.standard_normal((1000, 1)).astype(np.float32)

net = fm.Sequential(fm.Linear(8, 64), fm.GELU(), fm.Linear(64, 64), fm.GELU(),
                    fm.Linear(64, 1), seed=0)
opt = fm.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
hist = net.fit(x, y, loss="mse", optimizer=opt, epochs=300, batch_size=64, seed=0,
               validation_split=0.2,          # the last 200 rows, before shuffling
               scheduler=fm.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=300),
               patience=20, restore_best_weights=True,
               metrics=["r2"], clip_grad_norm=5.0)

print(f"stopped after {hist.epochs} epochs; best epoch {hist.best_epoch}")
print(f"validation loss {hist.val_loss[hist.best_epoch - 1]:.4f}, "
      f"R2 {hist.val_metrics['r2'][hist.best_epoch - 1]:.3f}, last lr {hist.lr[-1]:.2e}")
