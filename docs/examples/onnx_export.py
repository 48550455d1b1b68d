# Export to ONNX and run the graph in ONNX Runtime.
import numpy as np
import onnxruntime as ort

import fastmlp as fm
from fastmlp.onnx import export

net = fm.Sequential(fm.Linear(4, 16), fm.GELU(), fm.Linear(16, 2), seed=0)
export(net, "model.onnx")       # input "x" [N, 4], output "y" [N, 2], opset 17

x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
(y,) = session.run(["y"], {"x": x})
print("largest difference from net(x):", float(np.abs(y - net(x)).max()))
