"""ONNX Runtime contenders: the session of the same network, exported by fastmlp.onnx,
pinned to the same thread count (its own pool, one session per shape)."""
import numpy as np
import onnxruntime as ort

import peers_fastmlp
from fastmlp.onnx import to_onnx
from timing import Contender

NAME = "onnxruntime"
VERSION = ort.__version__
_threads = 1


def configure(threads):
    global _threads
    _threads = threads


def predict(x, params, flops):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(to_onnx(peers_fastmlp._net(params)).SerializeToString(),
                                   opts, providers=["CPUExecutionProvider"])
    feed = {"x": np.ascontiguousarray(x)}

    def run(n):
        for _ in range(n):
            session.run(None, feed)

    return [Contender("ONNX Runtime session", run, flops)]
