"""Training batches, made on their own thread a batch or two ahead of the student's steps."""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from segview.distill.data import Augment, Sample, to_rgb_tensor
from segview.distill.teacher import Teacher


@dataclass
class Batch:
    images: np.ndarray  # (B, 3, R, R) float32
    teacher: np.ndarray  # (B, 1, R, R) teacher probability
    masks: np.ndarray  # (B, 1, R, R) ground truth (zeros where none)
    has_mask: np.ndarray  # (B,) float32 0/1
    features: np.ndarray | None  # (B, C, h, w) teacher hint tensors


class BatchMaker:
    """Augments frames on its own thread, a batch or two ahead, and gives each the teacher's
    answer: its cached soft target carried through the same crop, flip and mosaic when
    ``targets`` are given, else the teacher run on the augmented frame (onnxruntime and OpenCV
    release the GIL, so the teacher then overlaps with the student's step)."""

    def __init__(
        self,
        frames: tuple[Sample, ...],
        teacher: Teacher,
        *,
        targets: list[np.ndarray] | None,
        resolution: int,
        batch_size: int,
        augment: bool,
        mosaic: float,
        seed: int,
    ) -> None:
        self.frames = frames
        self.teacher = teacher
        self.targets = targets
        self.resolution = resolution
        self.batch_size = min(batch_size, len(frames))
        self.augment = Augment(mosaic=mosaic) if augment else None
        self.rng = np.random.default_rng(seed)
        self._queue: queue.Queue[Batch | BaseException] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="distill-batches", daemon=True)
        self._thread.start()

    def next(self) -> Batch:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # drained, so a put blocked on a full queue returns
                self._queue.get_nowait()
            self._thread.join(timeout=0.05)

    def _loop(self) -> None:
        order: list[int] = []
        while not self._stop.is_set():
            try:
                picks = []
                for _ in range(self.batch_size):
                    if not order:
                        order = list(self.rng.permutation(len(self.frames)))
                    picks.append(int(order.pop()))
                batch = self._make(picks)
            except BaseException as exc:  # handed to the training thread, which reports it
                batch = exc  # type: ignore[assignment]
            while not self._stop.is_set():
                try:
                    self._queue.put(batch, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(batch, BaseException):
                return

    def _other_indices(self, n: int) -> list[int]:
        """Random frames to share a mosaic with (drawn apart from the epoch's order)."""
        return [int(i) for i in self.rng.integers(0, len(self.frames), n)]

    def _others_with_targets(self, n: int) -> list[tuple[Sample, np.ndarray | None]]:
        """Random frames and their cached targets to share a mosaic with."""
        assert self.targets is not None
        return [(self.frames[i], self.targets[i]) for i in self._other_indices(n)]

    def _one(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One training frame: (image, teacher probability, mask, teacher feature)."""
        sample = self.frames[index]
        image, mask = sample.image, sample.mask
        if self.targets is None:
            if self.augment is not None:
                image, mask = self.augment(self.rng, image, mask, lambda n: [self.frames[i] for i in self._other_indices(n)])
            out = self.teacher(image)
            return image, out.probability, mask, out.feature
        target: np.ndarray | None = self.targets[index]
        if self.augment is not None:
            image, mask, target = self.augment.with_target(self.rng, image, mask, target, self._others_with_targets)
        assert target is not None  # every frame has one, so every mosaic does
        return image, target.astype(np.float32), mask, None

    def _make(self, picks: list[int]) -> Batch:
        r = self.resolution
        images, teacher, masks, has_mask, features = [], [], [], [], []
        for index in picks:
            image, prob, mask, feature = self._one(index)
            images.append(to_rgb_tensor(image, r))
            teacher.append(cv2.resize(prob, (r, r), interpolation=cv2.INTER_LINEAR)[None])
            if mask is not None:
                masks.append(cv2.resize(mask.astype(np.float32), (r, r), interpolation=cv2.INTER_LINEAR)[None])
                has_mask.append(1.0)
            else:
                masks.append(np.zeros((1, r, r), np.float32))
                has_mask.append(0.0)
            if feature is not None:
                features.append(feature)
        return Batch(np.stack(images), np.stack(teacher), np.stack(masks), np.asarray(has_mask, np.float32), np.stack(features) if features else None)
