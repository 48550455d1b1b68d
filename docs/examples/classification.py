# Three classes with integer labels: cross-entropy on logits, accuracy on held-out data.
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(1)
centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
labels = rng.integers(0, 3, 600)
x = (centers[labels] + rng.standard_normal((600, 2))).astype(np.float32)

net = fm.Sequential(fm.Linear(2, 32), fm.ReLU(), fm.Dropout(0.1), fm.Linear(32, 3), seed=1)
hist = net.fit(x[:500], labels[:500], loss=fm.CrossEntropyLoss(), epochs=50, batch_size=32,
               validation_data=(x[500:], labels[500:]), metrics=["accuracy"], seed=1)

net.eval()  # Dropout off; predict never drops anyway
probabilities = fm.functional.softmax(net.predict(x[500:]), axis=1)
print("held-out accuracy", fm.metrics.accuracy(labels[500:], probabilities))
print("per epoch", np.round(hist.val_metrics["accuracy"][::10], 3))
