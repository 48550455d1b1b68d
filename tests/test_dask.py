"""Sweeps of the scikit-learn estimators on a Dask cluster through joblib: real worker
processes give the same search as one process."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


# Short fits, on purpose: both searches warn alike (the workers' warnings stay there).
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_dask_equals_the_local_one(cluster_client):
    import joblib
    from distributed import get_task_stream
    from sklearn.model_selection import GridSearchCV

    from fastmlp.sklearn import MLPRegressor
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + np.sin(x[:, 0])
    grid = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-1],
            "learning_rate_init": [1e-2, 3e-2]}

    def search(n_jobs):
        est = MLPRegressor(max_iter=60, random_state=0, dtype="float64")
        return GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(x, y)

    local = search(None)
    with joblib.parallel_backend("dask"), get_task_stream(cluster_client) as tasks:
        remote = search(-1)
    # The fits really ran as tasks on the cluster's worker processes.
    assert len({t["worker"] for t in tasks.data}) == 2
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-12)
    np.testing.assert_allclose(remote.predict(x), local.predict(x), rtol=1e-12)
