"""Student networks from the thesis (section 2.1.3), in PyTorch.

* ``mobilenet``: a MobileNet-style encoder-decoder built from depthwise separable
  convolutions, with MobileNet's two knobs: the width multiplier (channels) and
  the resolution multiplier (input size relative to the teacher's).
* ``enet``: ENet-style: an initial block that downsamples at once (conv beside a
  max-pool), bottlenecks with asymmetric (k x 1, 1 x k) and dilated convolutions
  for a wide receptive field at a low cost, and a deliberately small decoder.

Both end in one logit channel at the input resolution: the exported graph adds the
sigmoid, so the student speaks the teacher's language (person probability).
ReLU everywhere and BatchNorm after every convolution: onnxruntime fuses
Conv+BN+ReLU on the CPU, exotic activations it cannot fuse cost a pass each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from segview.distill.config import ARCHS, GRAPH_ARCHS

Arch = Literal["mobilenet", "enet", "rescaled", "slim"]


@dataclass(frozen=True, slots=True)
class StudentSpec:
    """What to build. ``width`` scales channels; ``resolution`` is the input side in pixels."""

    arch: Arch = "mobilenet"
    width: float = 1.0
    resolution: int = 160

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown student architecture {self.arch!r} (choose {', '.join(ARCHS)})")
        if self.arch in GRAPH_ARCHS and self.width != 1.0:
            raise ValueError(f"the {self.arch} student keeps the teacher's channels: width must be 1.0")
        if not 0.1 <= self.width <= 4.0:
            raise ValueError("width multiplier must be between 0.1 and 4")
        # Four stride-2 stages: a side that 16 divides keeps every skip the same size.
        if self.resolution < 32 or self.resolution % 16:
            raise ValueError("resolution must be a multiple of 16, at least 32")


def _ch(base: int, width: float) -> int:
    """Channels scaled by the width multiplier, rounded to a multiple of 4 (SIMD-friendly)."""
    return max(4, int(round(base * width / 4.0)) * 4)


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, *, groups: int = 1, dilation: int = 1, relu: bool = True) -> nn.Sequential:
    pad = dilation * (k - 1) // 2  # "same" for odd kernels; none for the 2x2 stride-2 reduce
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise + 1x1 pointwise (MobileNets); a residual add when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = conv_bn_relu(cin, cin, 3, stride, groups=cin, dilation=dilation)
        self.pw = conv_bn_relu(cin, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


class MobileNetStudent(nn.Module):
    """Encoder at strides 2/4/8/16, a light U-Net-ish decoder adding 1x1-projected skips.

    The returned features (stride-16 encoder output) feed hint / attention transfer.
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4 = _ch(16, width), _ch(24, width), _ch(48, width), _ch(96, width)
        d = _ch(24, width)
        self.stem = conv_bn_relu(3, c1, 3, 2)  # /2
        self.stage2 = nn.Sequential(DepthwiseSeparable(c1, c2, 2))  # /4
        self.stage3 = nn.Sequential(DepthwiseSeparable(c2, c3, 2), DepthwiseSeparable(c3, c3))  # /8
        self.stage4 = nn.Sequential(  # /16, dilations widen the view without more downsampling
            DepthwiseSeparable(c3, c4, 2),
            DepthwiseSeparable(c4, c4),
            DepthwiseSeparable(c4, c4, dilation=2),
            DepthwiseSeparable(c4, c4, dilation=4),
        )
        self.head16 = conv_bn_relu(c4, d, 1)
        self.skip8 = conv_bn_relu(c3, d, 1, relu=False)
        self.skip4 = conv_bn_relu(c2, d, 1, relu=False)
        self.skip2 = conv_bn_relu(c1, d, 1, relu=False)
        self.refine8 = DepthwiseSeparable(d, d)
        self.refine4 = DepthwiseSeparable(d, d)
        self.refine2 = DepthwiseSeparable(d, d)
        self.classifier = nn.Conv2d(d, 1, 1)
        self.feature_channels = c4

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = x.shape[-2:]
        s2 = self.stem(x)
        s4 = self.stage2(s2)
        s8 = self.stage3(s4)
        s16 = self.stage4(s8)
        y = self.head16(s16)
        y = self.refine8(_up(y) + self.skip8(s8))
        y = self.refine4(_up(y) + self.skip4(s4))
        y = self.refine2(_up(y) + self.skip2(s2))
        logit = F.interpolate(self.classifier(y), size=size, mode="bilinear", align_corners=False)
        return logit, s16


class InitialBlock(nn.Module):
    """ENet's first block: a strided 3x3 conv beside a max-pool, concatenated (early downsampling)."""

    def __init__(self, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, cout - 3, 3, 2, 1, bias=False)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class Bottleneck(nn.Module):
    """ENet bottleneck: 1x1 reduce, a regular / dilated / asymmetric conv, 1x1 expand, residual."""

    def __init__(self, channels: int, *, kind: Literal["regular", "dilated", "asymmetric"] = "regular", dilation: int = 1, ratio: int = 4) -> None:
        super().__init__()
        mid = max(4, channels // ratio)
        if kind == "asymmetric":
            # 5x1 then 1x5: a 5x5 view for 2*5 instead of 25 weights per channel pair.
            middle: nn.Module = nn.Sequential(
                nn.Conv2d(mid, mid, (5, 1), 1, (2, 0), bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, mid, (1, 5), 1, (0, 2), bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
            )
        else:
            middle = conv_bn_relu(mid, mid, 3, dilation=dilation if kind == "dilated" else 1)
        self.body = nn.Sequential(conv_bn_relu(channels, mid, 1), middle, conv_bn_relu(mid, channels, 1, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Downsample(nn.Module):
    """ENet's downsampling bottleneck, with a strided conv on the main branch (no pooling indices)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.block = nn.Sequential(conv_bn_relu(cin, cout // 4, 2, 2), conv_bn_relu(cout // 4, cout, 3, relu=False))
        self.shortcut = nn.Sequential(nn.MaxPool2d(2, 2), conv_bn_relu(cin, cout, 1, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.block(x) + self.shortcut(x))


class ENetStudent(nn.Module):
    """ENet-style: downsample to 1/8 quickly, think there with dilated and asymmetric bottlenecks,
    and upsample with a decoder a fraction of the encoder's size."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3 = _ch(16, width), _ch(32, width), _ch(64, width)
        self.initial = InitialBlock(c1)  # /2
        self.stage1 = nn.Sequential(Downsample(c1, c2), Bottleneck(c2))  # /4
        self.stage2 = nn.Sequential(  # /8
            Downsample(c2, c3),
            Bottleneck(c3, kind="dilated", dilation=2),
            Bottleneck(c3, kind="asymmetric"),
            Bottleneck(c3, kind="dilated", dilation=4),
            Bottleneck(c3, kind="dilated", dilation=8),
        )
        self.up4 = conv_bn_relu(c3, c2, 1)
        self.dec4 = Bottleneck(c2)
        self.up2 = conv_bn_relu(c2, c1, 1)
        self.classifier = nn.Conv2d(c1, 1, 3, 1, 1)
        self.feature_channels = c3

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = x.shape[-2:]
        s2 = self.initial(x)
        s4 = self.stage1(s2)
        s8 = self.stage2(s4)
        y = self.dec4(_up(self.up4(s8)) + s4)
        y = _up(self.up2(y)) + s2
        logit = F.interpolate(self.classifier(y), size=size, mode="bilinear", align_corners=False)
        return logit, s8


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def build_student(spec: StudentSpec) -> nn.Module:
    """mobilenet and enet; rescaled and slim students are built from their teacher's graph."""
    if spec.arch in GRAPH_ARCHS:
        raise ValueError(f"the {spec.arch} student is built from its teacher's graph")
    return MobileNetStudent(spec.width) if spec.arch == "mobilenet" else ENetStudent(spec.width)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Exportable(nn.Module):
    """What goes into the ONNX file: RGB [0,1] NCHW in, sigmoid person probability out."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.student(x)[0])
