"""Fuzz fm.load on files written by fm.save and then truncated, cut, extended or with
bytes changed: a documented exception naming the file, or a model that predicts what
numpy_ref computes from the file's own weights. Never a crash, never a huge allocation."""
from __future__ import annotations

import os
import tempfile

import numpy as np
from hypothesis import given, strategies as st

import fastmlp as fm
import numpy_ref as ref
from helpers import ref_layers

from .checks import close, moderate
from .strategies import nets

# The header's JSON is where most bytes that matter are: mutate there more often.
mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)),
                                         min_size=1, max_size=4)),
    st.tuples(st.just("header"), st.lists(st.tuples(st.floats(0, 1),
                                                    st.sampled_from(b'0123456789{}[]",:-.e ')),
                                          min_size=1, max_size=3)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("size"), st.integers(0, 2**64 - 1)),
)


def mutate(blob, how):
    kind, arg = how
    b = bytearray(blob)
    if kind == "truncate":
        return bytes(b[:int(arg * len(b))])
    if kind == "flip":
        for where, value in arg:
            b[min(int(where * len(b)), len(b) - 1)] = value
    if kind == "header":  # inside the JSON header, after the 8-byte length
        size = int.from_bytes(b[:8], "little")
        for where, char in arg:
            b[8 + min(int(where * size), size - 1)] = char
    if kind == "append":
        b += arg
    if kind == "size":
        b[:8] = arg.to_bytes(8, "little")
    return bytes(b)


@given(net=nets(), how=mutations)
def test_load_mutated_file(net, how):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        fm.save(net, path)
        with open(path, "rb") as f:
            blob = mutate(f.read(), how)
        with open(path, "wb") as f:
            f.write(blob)
        try:
            model = fm.load(path)
        except ValueError as e:
            assert path in str(e), f"the error names no file: {e}"
            return
    # The mutation left a valid model file: the model predicts from its own weights.
    x = np.random.default_rng(0).normal(size=(3, model.in_features))
    layers = ref_layers(model)
    if all(moderate(l[1]) for l in layers if l[0] == "linear"):
        with np.errstate(all="ignore"):
            want, _ = ref.mlp_forward(layers, x.astype(model.dtype).astype(np.float64))
        close(model.predict(x), want, model.dtype)
