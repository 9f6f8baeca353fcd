"""Bring-your-own ONNX classifiers: models built by the test (onnx.helper, skl2onnx), real inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression

from classifiers import DetectorInput, FrameBatch, TextInput
from classifiers.onnx_generic import OnnxImageClassifier, OnnxImageClassifiers, OnnxTextClassifier

SIZE = 8
RED = np.full((90, 160, 3), (220, 30, 30), dtype=np.uint8)
BLUE = np.full((90, 160, 3), (30, 30, 220), dtype=np.uint8)
GREY = np.full((90, 160, 3), 128, dtype=np.uint8)


def frames_input(frames: list[np.ndarray]) -> DetectorInput:
    return DetectorInput(frames=FrameBatch(frames, [0.5 * i for i in range(len(frames))], 160, 90))


def train_colour_model() -> LogisticRegression:
    """LogisticRegression on flattened 8x8 NCHW pixels in 0..1: 'alarm' = reddish frames."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, (400, 3))
    labels = (base[:, 0] > base[:, 2] + 0.2).astype(int)
    pixels = np.repeat(base[:, :, None], SIZE * SIZE, axis=2) + rng.normal(0, 0.05, (400, 3, SIZE * SIZE))
    return LogisticRegression(max_iter=1000).fit(pixels.reshape(400, -1), labels)


def export_image_model(lr: LogisticRegression, path: Path, layout: str) -> Path:
    """An ONNX graph (onnx.helper): image -> Flatten -> MatMul -> Add = logits for [calm, alarm]."""
    coef = lr.coef_[0].reshape(3, SIZE, SIZE)
    if layout == "NHWC":
        coef = coef.transpose(1, 2, 0)
    w = np.stack([np.zeros(coef.size), coef.ravel()], axis=1).astype(np.float32)
    b = np.array([0.0, lr.intercept_[0]], dtype=np.float32)
    shape = [None, 3, SIZE, SIZE] if layout == "NCHW" else [None, SIZE, SIZE, 3]
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "W"], ["mm"]),
            helper.make_node("Add", ["mm", "B"], ["logits"]),
        ],
        "colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def colour_lr() -> LogisticRegression:
    return train_colour_model()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_image_model_labels_map_to_signals(
    colour_lr: LogisticRegression, tmp_path: Path, layout: str
) -> None:
    path = export_image_model(colour_lr, tmp_path / f"colour_{layout}.onnx", layout)
    det = OnnxImageClassifier(
        model_path=str(path),
        input_size=SIZE,
        layout=layout,
        labels=["calm", "alarm"],
        output="softmax",
        signals={"alarm": "frames.alarm", "calm": "frames.calm"},
    )
    assert det.produces() == ("frames.alarm", "frames.calm")
    signals = {s.name: s for s in det.detect(frames_input([BLUE, GREY, RED, BLUE]))}
    assert signals["frames.alarm"].score > 0.9
    assert (
        signals["frames.alarm"].evidence[0].frame_index == 2 and signals["frames.alarm"].evidence[0].t == 1.0
    )
    assert signals["frames.alarm"].detector == "onnx_image"
    calm_only = {s.name: s.score for s in det.detect(frames_input([BLUE, GREY]))}
    assert calm_only["frames.alarm"] < 0.1 and calm_only["frames.calm"] > 0.9
    det.close()


def test_channel_order_and_calibration_options(colour_lr: LogisticRegression, tmp_path: Path) -> None:
    path = export_image_model(colour_lr, tmp_path / "colour.onnx", "NCHW")
    common = {
        "model_path": str(path),
        "input_size": [SIZE, SIZE],
        "labels": ["calm", "alarm"],
        "output": "softmax",
    }
    bgr = OnnxImageClassifier(**common, channel_order="BGR", signals={"alarm": "frames.alarm"})
    assert bgr.detect(frames_input([BLUE]))[0].score > 0.9  # blue read as red: the option is honoured
    flat = OnnxImageClassifier(
        **common,
        signals={"alarm": "frames.alarm"},
        calibration={"alarm": {"method": "platt", "a": 0.0, "b": 0.0}},
    )
    assert flat.detect(frames_input([RED]))[0].score == pytest.approx(0.5)  # a=0: every score -> 0.5
    cropped = OnnxImageClassifier(**common, resize="center_crop", signals={"alarm": "frames.alarm"})
    [signal] = cropped.detect(frames_input([RED]))
    assert signal.evidence[0].box is not None and signal.evidence[0].box.w == pytest.approx(
        90 / 160, abs=0.02
    )


def test_option_errors(colour_lr: LogisticRegression, tmp_path: Path) -> None:
    path = str(export_image_model(colour_lr, tmp_path / "colour.onnx", "NCHW"))
    with pytest.raises(ValueError, match="labels the model does not have"):
        OnnxImageClassifier(model_path=path, labels=["calm", "alarm"], signals={"gore": "frames.gore"})
    with pytest.raises(FileNotFoundError, match="model_path"):
        OnnxImageClassifier(model_path=str(tmp_path / "nope.onnx"), labels=["a"], signals={"a": "frames.a"})
    with pytest.raises(ValueError, match="columns"):
        det = OnnxImageClassifier(
            model_path=path, input_size=SIZE, labels=["a", "b", "c"], signals={"a": "frames.a"}
        )
        det.detect(frames_input([RED]))


def test_text_model_from_skl2onnx(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    texts = [
        "a sunny beach",
        "a calm lake",
        "kittens playing",
        "a quiet forest",
        "buy cheap pills now",
        "cheap pills online",
        "pills pills discount",
        "order pills cheap",
    ]
    labels = ["ok"] * 4 + ["spam"] * 4
    # lowercase=False: skl2onnx would add a StringNormalizer, which needs the en_US.UTF-8 locale installed
    pipe = make_pipeline(TfidfVectorizer(lowercase=False), LogisticRegression(C=10.0)).fit(texts, labels)
    model = to_onnx(
        pipe,
        initial_types=[("text", StringTensorType([None, 1]))],
        options={id(pipe.steps[-1][1]): {"zipmap": False}},
        target_opset=17,
    )
    path = tmp_path / "spam.onnx"
    path.write_bytes(model.SerializeToString())
    det = OnnxTextClassifier(
        model_path=str(path), labels=["ok", "spam"], output_index=1, signals={"spam": "prompt.spam"}
    )
    spam = det.detect(DetectorInput(text=TextInput("cheap pills, order now")))
    calm = det.detect(DetectorInput(text=TextInput("a calm beach at dawn", caption="kittens")))
    assert spam[0].name == "prompt.spam" and spam[0].score > 0.6 > calm[0].score
    assert spam[0].evidence[0].text_span == (0, len("cheap pills, order now"))
    det.close()


def test_several_models_under_one_policy_entry(colour_lr: LogisticRegression, tmp_path: Path) -> None:
    path = str(export_image_model(colour_lr, tmp_path / "colour.onnx", "NCHW"))
    common = {"model_path": path, "input_size": SIZE, "labels": ["calm", "alarm"], "output": "softmax"}
    det = OnnxImageClassifiers(
        models=[
            {**common, "model_id": "rgb", "signals": {"alarm": "frames.alarm"}},
            {
                **common,
                "model_id": "bgr",
                "channel_order": "BGR",
                "signals": {"alarm": "frames.alarm", "calm": "frames.calm"},
            },
        ]
    )
    assert det.produces() == ("frames.alarm", "frames.calm")
    signals = {s.name: s for s in det.detect(frames_input([BLUE]))}
    assert signals["frames.alarm"].score > 0.9 and signals["frames.alarm"].evidence[0].label == "bgr:alarm"
    assert signals["frames.alarm"].detector == "onnx_images"
    det.close()
    with pytest.raises(ValueError, match=r"models\[0\]"):
        OnnxImageClassifiers(models=[{**common, "signals": {"alarm": "frames.alarm"}, "colour": "RGB"}])
