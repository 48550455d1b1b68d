import importlib.util
import os

import numpy as np
import pytest

# Markers for tests that need a heavy peer. Outside CI a missing peer skips them; CI
# (FASTMLP_REQUIRE_PEERS=1) installs the peers, and there a missing one fails the test.
PEERS = {"torch": "torch"}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FASTMLP_REQUIRE_PEERS") == "1":
        return
    missing = {m for m, module in PEERS.items() if importlib.util.find_spec(module) is None}
    for item in items:
        for marker in missing & set(item.keywords):
            item.add_marker(pytest.mark.skip(reason=f"needs {PEERS[marker]} (not installed)"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
