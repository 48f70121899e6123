"""ONNX Runtime's fp32 Gemm (MLAS) on the shapes of packed_gemm_timing.cpp, same output format.
A developer tool:  python ort_gemm_timing.py [threads=2] [calls=20] [MxKxN ...]
Needs numpy, onnx and onnxruntime (e.g. the benchmark venv: benchmarks/peers/setup_venv.sh)."""
import sys
import time

import numpy as np
import onnx.helper as oh
import onnxruntime as ort
from onnx import TensorProto, numpy_helper

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 20
shapes = sys.argv[3:] or ["204x768x2304", "204x3072x768", "1032x768x3072", "1032x3072x768"]
rng = np.random.default_rng(1)
for shape in shapes:
    m, k, n = (int(v) for v in shape.split("x"))
    w = rng.uniform(-1, 1, (n, k)).astype(np.float32)  # y = x Wᵀ + b, W [N, K] as a linear layer stores it
    b = rng.uniform(-1, 1, n).astype(np.float32)
    graph = oh.make_graph([oh.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], "gemm",
                          [oh.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]).SerializeToString(),
                                   options, providers=["CPUExecutionProvider"])
    x = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    seconds = []
    for c in range(calls + 2):
        t0 = time.perf_counter()
        session.run(None, {"x": x})
        if c >= 2:
            seconds.append(time.perf_counter() - t0)
    seconds.sort()
    print(f"ort {shape} threads {threads}: median {2 * m * n * k / seconds[len(seconds) // 2] / 1e9:.1f} GFLOP/s")
