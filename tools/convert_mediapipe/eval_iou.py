#!/usr/bin/env python3
"""Sanity check: mean person IoU of a converted model and of its TFLite original.

Data layout: DIR/images/N.jpg and DIR/masks/N.png (0 = background, 255 = person).
Preprocessing follows segview (cv2 bilinear resize to the model size, BGR->RGB,
/255); the probability map is resized back to the image with bilinear
interpolation and thresholded at 0.5; a mask whose size differs from its image
is resized with nearest-neighbour. Run in the converter's venv:

    python tools/convert_mediapipe/eval_iou.py /work/shared/data/person-seg-dev \\
        --onnx models/selfie-general.onnx --tflite /path/to/selfie_segmentation.tflite
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.count_nonzero(pred | truth)
    return 1.0 if union == 0 else np.count_nonzero(pred & truth) / union


def _natural(path: Path):
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def pairs(root: Path) -> list[tuple[Path, Path]]:
    out = []
    for img in sorted((root / "images").glob("*.jpg"), key=_natural):
        mask = root / "masks" / f"{img.stem}.png"
        if mask.exists():
            out.append((img, mask))
    return out


class OnnxModel:
    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        card = json.loads(path.with_suffix(".json").read_text())
        self.width, self.height = card["input"]["width"], card["input"]["height"]
        self.nchw = card["input"]["layout"] == "NCHW"
        self.input = card["input"]["name"]
        self.sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, rgb01: np.ndarray) -> np.ndarray:
        x = rgb01.transpose(2, 0, 1)[None] if self.nchw else rgb01[None]
        y = self.sess.run(None, {self.input: np.ascontiguousarray(x)})[0]
        return y[0, 0] if self.nchw else y[0, :, :, 0]


class TfliteModel:
    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_path=str(path), num_threads=2)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        _, self.height, self.width, _ = (int(v) for v in self.inp["shape"])

    def __call__(self, rgb01: np.ndarray) -> np.ndarray:
        self.interp.set_tensor(self.inp["index"], rgb01[None])
        self.interp.invoke()
        return self.interp.get_tensor(self.out["index"])[0, :, :, 0].copy()


def evaluate(model, data: list[tuple[Path, Path]], keep: bool = False):
    scores, probs = [], []
    for img_path, mask_path in data:
        bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        truth = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        h, w = bgr.shape[:2]
        if truth.shape != (h, w):
            truth = cv2.resize(truth, (w, h), interpolation=cv2.INTER_NEAREST)
        small = cv2.resize(bgr, (model.width, model.height), interpolation=cv2.INTER_LINEAR)
        rgb01 = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        prob = model(rgb01)
        if keep:
            probs.append(prob)
        big = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
        scores.append(iou(big > 0.5, truth > 127))
    return float(np.mean(scores)), probs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="folder with images/ and masks/")
    ap.add_argument("--onnx", type=Path, help="converted model (its JSON card must sit beside it)")
    ap.add_argument("--tflite", type=Path, help="original MediaPipe .tflite")
    args = ap.parse_args()
    data = pairs(args.data)
    print(f"{len(data)} image/mask pairs in {args.data}")
    results = {}
    for label, path, cls in (("onnx", args.onnx, OnnxModel), ("tflite", args.tflite, TfliteModel)):
        if path:
            mean, probs = evaluate(cls(path), data, keep=bool(args.onnx and args.tflite))
            results[label] = probs
            print(f"{label:7s} mean IoU {mean:.5f}  ({path})")
    if len(results) == 2:
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(results["onnx"], results["tflite"], strict=True))
        print(f"max abs probability difference onnx vs tflite over {len(data)} images: {diff:.3g}")


if __name__ == "__main__":
    main()
