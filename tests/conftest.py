import importlib.util
import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Markers for tests that need a heavy peer. Outside CI a missing peer skips them; CI
# (FASTMLP_REQUIRE_PEERS=1) installs the peers, and there a missing one fails the test.
# A marker's peer is a module, or a module and a program on PATH.
PEERS = {"torch": ("torch",), "mpi": ("mpi4py", "mpirun"), "dask": ("distributed",)}


def _missing(peer: tuple) -> bool:
    module, *program = peer
    return importlib.util.find_spec(module) is None or any(shutil.which(p) is None
                                                           for p in program)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FASTMLP_REQUIRE_PEERS") == "1":
        return
    missing = {m for m, peer in PEERS.items() if _missing(peer)}
    for item in items:
        for marker in missing & set(item.keywords):
            item.add_marker(pytest.mark.skip(
                reason=f"needs {' and '.join(PEERS[marker])} (not installed)"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# Hypothesis profiles (the fuzz tests in tests/fuzz): "short", loaded here, runs a few dozen
# examples per test, derandomized so that the normal suite is repeatable; "long"
# (--hypothesis-profile=long) runs over 10,000 examples in total, freshly random.
settings.register_profile("short", max_examples=25, deadline=None, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("short")
