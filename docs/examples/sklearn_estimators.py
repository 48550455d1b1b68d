# The scikit-learn estimators: the import is the port.
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp.sklearn import MLPClassifier, MLPRegressor

X, y = load_iris(return_X_y=True)
clf = make_pipeline(StandardScaler(),
                    MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0))
print("iris accuracy, 5 folds:", cross_val_score(clf, X, y, cv=5).round(3))

X, y = make_regression(n_samples=500, n_features=10, noise=5.0, random_state=0)
reg = MLPRegressor(hidden_layer_sizes=(64, 64), learning_rate_init=0.01, max_iter=500,
                   early_stopping=True, random_state=0).fit(X, y / 100)
print(f"R2 {reg.score(X, y / 100):.3f} after {reg.n_iter_} epochs;",
      "weights", [w.shape for w in reg.coefs_], "| network:", type(reg.model_).__name__)
