"""Data-parallel training over MPI: each rank trains on its own shard of the data.

    mpirun -n 4 python -m mpi4py examples/train_mpi.py

(on one machine or a cluster; `python -m mpi4py` aborts every rank if one dies of an
uncaught exception). Every step averages the ranks' gradients with one Allreduce, so all
ranks end with the same model; rank 0 prints the log and saves it.
"""
import numpy as np
from mpi4py import MPI

import fastmlp as fm

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

# Each rank makes (or, in real use, reads) its own shard: here rows rank, rank + size, ...
rng = np.random.default_rng(0)
x = rng.uniform(-2, 2, size=(20_000, 8))
y = np.sin(x[:, :1]) + 0.5 * x[:, 1:2] ** 2 + 0.05 * rng.normal(size=(20_000, 1))
x_val, y_val = x[-2_000:][rank::size], y[-2_000:][rank::size]
x, y = x[:-2_000][rank::size], y[:-2_000][rank::size]

net = fm.Sequential(fm.Linear(8, 64), fm.ReLU(), fm.Linear(64, 64), fm.ReLU(),
                    fm.Linear(64, 1), seed=0)
opt = fm.optim.Adam(net.parameters(), lr=3e-3)
hist = net.fit(x, y, optimizer=opt, epochs=30, batch_size=128 // size, seed=1,
               validation_data=(x_val, y_val), patience=5, restore_best_weights=True,
               scheduler=fm.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2),
               log_every=5, comm=comm)
if rank == 0:
    print(f"{size} ranks, {hist.epochs} epochs, best validation loss "
          f"{hist.val_loss.min():.5f} at epoch {hist.best_epoch}")
    fm.save(net, "mpi_model.safetensors")
