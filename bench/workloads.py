"""Workload definitions shared by every contender: data, initial weights,
FLOP counts and the GEMM sweep. Everything is float32 and seeded so each
framework trains the same network on the same numbers."""
import numpy as np

DTYPE = np.float32
LR = 1e-3  # Adam, as in the seed's nn_sequential part

# The seed experiment: 200 samples x 3 features -> 32 ReLU -> 1, full batch.
SEED_SIZES = (3, 32, 1)
SEED_N = 200
# The medium MLP of the issue: MNIST-shaped, batch 256.
MLP_SIZES = (784, 512, 512, 10)
MLP_BATCH = 256
# Inference: predict through the medium MLP and a mid-size net, small to large batches.
INFER_NETS = (MLP_SIZES, (128, 128, 128, 10))
INFER_BATCHES = (1, 64, 4096)
# Classification: scikit-learn's digits (1797 x 64, 10 classes), split into
# 1440 training samples (45 batches of 32) and 357 held out; and a wider
# synthetic set. Sample counts are multiples of the batch: no partial batch.
DIGITS_SIZES = (64, 128, 10)
DIGITS_N, DIGITS_TRAIN, DIGITS_BATCH = 1797, 1440, 32
WIDE_SIZES = (256, 512, 512, 10)
WIDE_N, WIDE_BATCH = 8192, 128
ACCURACY_EPOCHS = 20  # digits: epochs before the held-out accuracy is taken
# The grid: W->W->W->10 nets, MSE against one-hot targets, one full-batch
# Adam step per unit; plus the tabular 20->128->128->1 net at batch 64.
GRID_WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
GRID_BATCHES = (1, 8, 32, 64, 256, 1024)
GRID_CLASSES = 10
GRID_EXTRA = (((20, 128, 128, 1), 64),)
# The grid's Adam runs with lr=0 (every step does all of Adam's arithmetic, and
# the weights stay put), so that no cell trains to convergence during the many
# steps of a timing: near zero loss, gradients and Adam's moments turn
# subnormal, which the CPU computes many times slower (JAX flushes them to
# zero, fastmlp only inside its optimizer updates, PyTorch and NumPy not at all;
# with lr=1e-3 fastmlp's batch-1 step once slowed 10x), and the cell would time
# that instead of the arithmetic.
GRID_LR = 0.0


def seed_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEED_N, SEED_SIZES[0])).astype(DTYPE)
    coefs = np.array([[0.2], [-1.3], [-0.5]], dtype=DTYPE)
    y = (x @ coefs + rng.standard_normal((SEED_N, 1))).astype(DTYPE)
    return x, y


def mlp_data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(DTYPE)
    labels = rng.integers(0, MLP_SIZES[-1], MLP_BATCH)
    onehot = np.eye(MLP_SIZES[-1], dtype=DTYPE)[labels]
    return x, labels, onehot


def infer_cells():
    """(sizes, batch) of every inference cell, nets outermost."""
    return [(sizes, b) for sizes in INFER_NETS for b in INFER_BATCHES]


def infer_data(sizes, batch):
    return np.random.default_rng(3).standard_normal((batch, sizes[0])).astype(DTYPE)


def digits_data():
    """(x_train, y_train, x_test, y_test, source), pixels scaled to [0, 1]
    and labels int64. Without scikit-learn: a synthetic set of the same
    shapes (noisy class prototypes on the 0..16 pixel scale)."""
    rng = np.random.default_rng(2)
    try:
        from sklearn.datasets import load_digits
        x, labels = load_digits(return_X_y=True)
        source = "scikit-learn load_digits"
    except ImportError:
        protos = rng.uniform(0, 16, (DIGITS_SIZES[-1], DIGITS_SIZES[0]))
        labels = rng.integers(0, DIGITS_SIZES[-1], DIGITS_N)
        x = np.clip(protos[labels] + rng.normal(0, 4, (DIGITS_N, DIGITS_SIZES[0])), 0, 16)
        source = "synthetic (scikit-learn not installed)"
    order = rng.permutation(DIGITS_N)
    x, labels = (x[order] / 16).astype(DTYPE), labels[order].astype(np.int64)
    t = DIGITS_TRAIN
    return x[:t], labels[:t], x[t:], labels[t:], source


def wide_data():
    """WIDE_N samples of WIDE_SIZES[0] standard normal features, labelled by
    the argmax of a fixed random linear map plus noise."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((WIDE_N, WIDE_SIZES[0])).astype(DTYPE)
    teacher = rng.standard_normal((WIDE_SIZES[0], WIDE_SIZES[-1]))
    scores = x @ teacher + rng.standard_normal((WIDE_N, WIDE_SIZES[-1]))
    return x, scores.argmax(axis=1).astype(np.int64)


def grid_cells(quick):
    """(sizes, batch) of every grid cell, the grid's rows (widths) outermost."""
    widths, batches = ((32, 128, 512), (1, 64, 256)) if quick else (GRID_WIDTHS, GRID_BATCHES)
    cells = [((w, w, w, GRID_CLASSES), b) for w in widths for b in batches]
    return cells + list(GRID_EXTRA)


def grid_data(sizes, batch, seed=4):
    """x (batch x sizes[0]) standard normal; y one-hot over sizes[-1] classes
    (a single output: standard normal targets)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(DTYPE)
    if sizes[-1] == 1:
        return x, rng.standard_normal((batch, 1)).astype(DTYPE)
    return x, np.eye(sizes[-1], dtype=DTYPE)[rng.integers(0, sizes[-1], batch)]


def init_params(sizes, seed=0):
    """[(W, b)] with W of shape (in, out), PyTorch's default Linear init."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(DTYPE)
        b = rng.uniform(-bound, bound, fan_out).astype(DTYPE)
        params.append((w, b))
    return params


def train_step_flops(sizes, n):
    """GEMM FLOPs of one step: forward x@W, backward x^T@dY for every layer,
    dY@W^T for all but the first (nobody needs d loss / d input)."""
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * n * (2 * sum(macs) + sum(macs[1:]))


def predict_flops(sizes, n):
    return 2.0 * n * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def gemm_shapes(quick):
    """(label, M, K, N, transpose) with C[M,N] = op(A) @ op(B).
    transpose: "" plain, "a" for X^T @ dY (A stored K x M), "b" for
    dY @ W^T (B stored N x K): the two backward GEMMs of a Linear layer."""
    squares = [16, 64, 256, 1024] if quick else [16, 32, 64, 128, 256, 512, 1024, 2048]
    shapes = [(f"{s}^3", s, s, s, "") for s in squares]
    b = MLP_BATCH
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        shapes.append((f"x@W {b}x{fan_in}x{fan_out}", b, fan_in, fan_out, ""))
        if not quick or fan_in == fan_out:  # quick: the 512x512 layer only
            shapes.append((f"xT@dY {fan_in}x{b}x{fan_out}", fan_in, b, fan_out, "a"))
            shapes.append((f"dY@WT {b}x{fan_out}x{fan_in}", b, fan_out, fan_in, "b"))
    return shapes


def gemm_operands(m, k, n, transpose, seed=0):
    """A and B as stored in memory; contenders apply the transpose as a view."""
    rng = np.random.default_rng(seed)
    a_shape = (k, m) if transpose == "a" else (m, k)
    b_shape = (n, k) if transpose == "b" else (k, n)
    return (rng.standard_normal(a_shape).astype(DTYPE),
            rng.standard_normal(b_shape).astype(DTYPE))
