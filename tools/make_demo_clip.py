#!/usr/bin/env python3
"""Generate segview's bundled ``demo`` source clip (``resources/demo.mp4``).

Why
---
segview needs a video source that works offline, out of the box, and shows a
real person, so that the live overlay, model comparison and profiling views
have something meaningful to segment.  We cannot ship arbitrary stock
footage, so the clip is *synthesised* from public-domain material that a
package registry distributes: scikit-image's bundled ``astronaut()``
photograph (Eileen Collins, NASA; "No known copyright restrictions, released
into the public domain" per the ``skimage.data.astronaut`` docstring).  The
background is procedural (generated here), so no other third-party material
is involved.  See ``resources/demo-PROVENANCE.md``.

How
---
1. Load ``skimage.data.astronaut()`` (512x512 RGB).
2. Cut the person out once with OpenCV GrabCut, initialised from a hand-drawn
   mask (a rough polygon of "probably person", a few "certainly person"
   ellipses/polygons on the face, neck ring, torso and the helmet she holds,
   and "certainly background" for the flag / rocket model / table).  The
   binary result is cleaned (largest component, holes filled, small open /
   close), eroded by a pixel and feathered into a soft alpha matte.  The
   colours of the soft rim are replaced by nearby interior colours so the
   light studio backdrop does not show as a halo on the new background.
3. Build a procedural, out-of-focus "city lights at dusk" background: a
   vertical gradient with soft colour blotches plus three layers of bokeh
   discs (seeded ``numpy`` RNG, so it is deterministic).
4. Animate one seamless loop: a gentle Ken Burns move on the person (zoom in
   and back out, pan left then right, slight bob) with cosine easing, and the
   background layers sliding with parallax (nearer layers move more) while
   the near bokeh lights pulse softly.  Every motion is a whole number of
   periods over the clip, so the last frame flows back into the first.
5. Encode with PyAV: H.264 (libx264), yuv420p, CRF 23, preset medium,
   High profile, keyframe every 2 s, ``+faststart``, threads pinned so that
   reruns are byte-identical.  If PyAV's ffmpeg lacks libx264 we fall back
   to MPEG-4 Part 2 (``mpeg4``), which OpenCV also decodes.
6. Re-open the result with ``cv2.VideoCapture`` and check every frame decodes.

Usage
-----
    python tools/make_demo_clip.py [--out resources/demo.mp4] [--seconds 6]
                                   [--fps 30] [--size 640x480]

Needs ``scikit-image`` (a tool-only dependency, ``pip install
scikit-image``; segview itself does not use it) plus ``av``,
``opencv-python`` and ``numpy`` (already segview dependencies).  The output
is deterministic: same arguments and package versions -> same frames (and
the same bytes).
"""

from __future__ import annotations

import argparse
import math
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "resources" / "demo.mp4"

# Source-image landmarks (pixel coordinates in the 512x512 astronaut photo).
FACE_CENTER = (225.0, 95.0)  # anchor point of the Ken Burns move


# ---------------------------------------------------------------------------
# 1-2. Person cut-out
# ---------------------------------------------------------------------------


def load_astronaut() -> np.ndarray:
    """The public-domain photo as float32 RGB in [0, 1]."""
    from skimage import data  # tool-only dependency

    img = data.astronaut()
    if img.shape != (512, 512, 3):
        raise RuntimeError(f"unexpected astronaut() shape {img.shape}")
    return img


def _grabcut_mask(rgb: np.ndarray) -> np.ndarray:
    """Binary (uint8 0/255) person mask from a hint-initialised GrabCut."""
    h, w = rgb.shape[:2]
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    m = np.full((h, w), cv2.GC_BGD, np.uint8)

    # "Probably person": a generous outline of the woman and the helmet.
    pr_fg = np.array(
        [
            [150, 40],
            [190, 10],
            [260, 10],
            [305, 50],
            [305, 120],
            [300, 150],
            [330, 220],
            [350, 260],
            [370, 330],
            [430, 335],
            [500, 370],
            [511, 420],
            [511, 511],
            [15, 511],
            [20, 420],
            [25, 300],
            [60, 250],
            [110, 200],
            [150, 150],
            [145, 90],
        ],
        np.int32,
    )
    cv2.fillPoly(m, [pr_fg], cv2.GC_PR_FGD)

    # "Certainly background": backdrop seen between chin and neck ring, and
    # the dark table top right of the helmet.
    cv2.circle(m, (284, 178), 9, cv2.GC_BGD, -1)
    cv2.fillPoly(m, [np.array([[372, 280], [511, 280], [511, 405], [497, 405], [470, 360], [380, 338]], np.int32)], cv2.GC_BGD)

    # "Certainly person": face and hair core, neck ring, torso, helmet.
    cv2.ellipse(m, (225, 90), (50, 65), 0, 0, 360, cv2.GC_FGD, -1)
    cv2.ellipse(m, (205, 225), (72, 48), -10, 0, 360, cv2.GC_FGD, -1)
    # The neck ring's silvery upper-left rim is close to the backdrop colour.
    cv2.polylines(m, [np.array([[117, 196], [129, 169], [151, 155], [185, 151]], np.int32)], False, cv2.GC_FGD, 5)
    cv2.fillPoly(m, [np.array([[70, 300], [150, 270], [300, 280], [330, 330], [290, 400], [270, 511], [60, 511], [50, 380]], np.int32)], cv2.GC_FGD)
    cv2.ellipse(m, (395, 440), (95, 80), 0, 0, 360, cv2.GC_FGD, -1)

    cv2.setRNGSeed(0)  # GrabCut's GMM init uses OpenCV's RNG (k-means)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.grabCut(bgr, m, None, bgd, fgd, 8, cv2.GC_INIT_WITH_MASK)
    return np.where((m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)


def _clean_mask(mask: np.ndarray) -> np.ndarray:
    """Largest component, holes filled, small specks and notches removed."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = np.where(labels == biggest, 255, 0).astype(np.uint8)
    # Fill holes: flood the background from a padded border, invert.
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = mask
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 255)
    holes = cv2.bitwise_not(flood)[1:-1, 1:-1]
    mask = cv2.bitwise_or(mask, holes)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
    return mask


def make_cutout(rgb_u8: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA float32 cut-out of the person (soft edges)."""
    mask = _clean_mask(_grabcut_mask(rgb_u8))
    # Pull the edge in by ~1 px and feather it.
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.1)
    alpha = np.clip(alpha, 0.0, 1.0)

    # Edge colour decontamination: rim pixels still carry some of the light
    # studio backdrop, which would show as a halo on the darker background.
    # Replace the colour of the soft rim with the colour of the nearest solid
    # interior pixels (normalised convolution), then premultiply.
    img = rgb_u8.astype(np.float32) / 255.0
    inner = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    inner = inner.astype(np.float32) / 255.0
    num = cv2.GaussianBlur(img * inner[..., None], (0, 0), 2.5)
    den = cv2.GaussianBlur(inner, (0, 0), 2.5)[..., None]
    extended = np.where(den > 1e-3, num / np.maximum(den, 1e-3), img)
    keep = cv2.GaussianBlur(inner, (0, 0), 1.0)[..., None]
    colour = keep * img + (1.0 - keep) * extended
    premul = colour * alpha[..., None]
    return np.dstack([premul, alpha]).astype(np.float32)


# ---------------------------------------------------------------------------
# 3. Procedural background
# ---------------------------------------------------------------------------


def _bokeh_layer(
    rng: np.random.Generator, h: int, w: int, count: int, r_range: tuple[float, float], gain: tuple[float, float], blur: float, palette: np.ndarray
) -> np.ndarray:
    """Additive layer of soft out-of-focus light discs (float32 RGB)."""
    layer = np.zeros((h, w, 3), np.float32)
    ss = 4  # sub-pixel precision for cv2.circle
    for _ in range(count):
        x = rng.uniform(0, w)
        y = h * rng.beta(1.6, 1.2)  # city lights sit mostly low
        r = rng.uniform(*r_range)
        col = palette[rng.integers(len(palette))] * rng.uniform(*gain)
        col = col * rng.uniform(0.85, 1.15, size=3)
        disc = np.zeros((h, w, 3), np.float32)
        centre = (int(round(x * (1 << ss))), int(round(y * (1 << ss))))
        cv2.circle(disc, centre, int(round(r * (1 << ss))), col.tolist(), -1, cv2.LINE_AA, ss)
        # Bokeh discs are slightly brighter at the rim.
        cv2.circle(disc, centre, int(round(r * 0.93 * (1 << ss))), (col * 0.78).tolist(), -1, cv2.LINE_AA, ss)
        layer += disc
    return cv2.GaussianBlur(layer, (0, 0), blur)


def make_background_layers(rng: np.random.Generator, h: int, w: int, margin: tuple[int, int]) -> dict[str, np.ndarray]:
    """Canvases (larger than the frame by ``margin`` on each side)."""
    mx, my = margin
    ch, cw = h + 2 * my, w + 2 * mx
    ys = np.linspace(0.0, 1.0, ch, dtype=np.float32)[:, None, None]
    top = np.array([0.05, 0.07, 0.16], np.float32)  # deep dusk blue
    mid = np.array([0.16, 0.12, 0.22], np.float32)  # violet
    bottom = np.array([0.30, 0.17, 0.12], np.float32)  # warm city glow
    grad = np.where(ys < 0.55, top + (mid - top) * (ys / 0.55), mid + (bottom - mid) * ((ys - 0.55) / 0.45))
    base = np.broadcast_to(grad, (ch, cw, 3)).copy()
    # Low-frequency colour blotches so the backdrop is not a flat gradient.
    blotch = rng.normal(0.0, 1.0, size=(5, 7, 3)).astype(np.float32)
    blotch = cv2.resize(blotch, (cw, ch), interpolation=cv2.INTER_CUBIC)
    blotch = cv2.GaussianBlur(blotch, (0, 0), 0.08 * h)
    base += 0.035 * blotch

    warm = np.array([[1.00, 0.72, 0.35], [1.00, 0.55, 0.25], [1.00, 0.85, 0.55], [0.95, 0.40, 0.30]], np.float32)
    cool = np.array([[0.45, 0.70, 1.00], [0.55, 0.95, 0.90], [0.80, 0.60, 1.00]], np.float32)
    palette = np.concatenate([warm, warm, cool])  # mostly sodium/tungsten
    s = h / 480.0
    far = _bokeh_layer(rng, ch, cw, 55, (8 * s, 24 * s), (0.04, 0.11), 2.0 * s, palette)
    near_a = _bokeh_layer(rng, ch, cw, 9, (22 * s, 44 * s), (0.05, 0.12), 1.6 * s, palette)
    near_b = _bokeh_layer(rng, ch, cw, 9, (22 * s, 44 * s), (0.05, 0.12), 1.6 * s, palette)
    return {"far": base + far, "near_a": near_a, "near_b": near_b}


def _view(canvas: np.ndarray, w: int, h: int, margin: tuple[int, int], dx: float, dy: float, zoom: float = 1.0) -> np.ndarray:
    """Sub-pixel crop of ``canvas``: frame centre = canvas centre + (dx, dy)."""
    ccx = canvas.shape[1] / 2.0 + dx
    ccy = canvas.shape[0] / 2.0 + dy
    m = np.array([[zoom, 0.0, w / 2.0 - zoom * ccx], [0.0, zoom, h / 2.0 - zoom * ccy]], np.float32)
    return cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# ---------------------------------------------------------------------------
# 4. Animation
# ---------------------------------------------------------------------------


class DemoRenderer:
    def __init__(self, width: int, height: int, seed: int = 0):
        self.w, self.h = width, height
        s = height / 480.0
        self.s = s
        rng = np.random.default_rng(seed)
        self.fg = make_cutout(load_astronaut())
        # Largest background excursion (see frame()) + slack.
        self.margin = (int(math.ceil(0.09 * width + 16 * s)) + 8, int(math.ceil(14 * s)) + 8)
        self.layers = make_background_layers(rng, height, width, self.margin)

    def frame(self, p: float) -> np.ndarray:
        """RGB uint8 frame at loop phase ``p`` in [0, 1)."""
        w, h, s = self.w, self.h, self.s
        th = 2.0 * math.pi * p
        ease = 0.5 - 0.5 * math.cos(th)  # 0 -> 1 -> 0, zero velocity at ends
        sway = math.sin(th)  # 0 -> +1 -> 0 -> -1 -> 0

        # Camera pans: everything shifts with the same sign, nearer = more.
        # Background: far layer moves least, near bokeh more.
        far = _view(self.layers["far"], w, h, self.margin, dx=0.045 * w * sway, dy=8 * s * math.sin(2 * th), zoom=1.0 + 0.02 * ease)
        near_a = _view(
            self.layers["near_a"], w, h, self.margin, dx=0.09 * w * sway + 16 * s * math.sin(2 * th), dy=14 * s * math.sin(2 * th), zoom=1.0 + 0.04 * ease
        )
        near_b = _view(
            self.layers["near_b"], w, h, self.margin, dx=0.09 * w * sway - 16 * s * math.sin(2 * th), dy=-10 * s * math.sin(2 * th), zoom=1.0 + 0.04 * ease
        )
        pulse_a = 1.0 + 0.35 * math.sin(th)
        pulse_b = 1.0 + 0.35 * math.cos(2 * th)
        bg = far + pulse_a * near_a + pulse_b * near_b
        bg = 1.0 - np.exp(-1.6 * np.clip(bg, 0.0, None))  # soft highlight roll-off
        bg /= 1.0 - math.exp(-1.6)

        # Person: Ken Burns (zoom in and back out, pan, slight bob).
        zoom = s * (1.10 + 0.24 * ease)
        fx, fy = FACE_CENTER
        cx = w * 0.48 - 0.11 * w * sway
        cy = h * 0.30 + 5 * s * math.sin(2 * th) - 6 * s * ease
        m = np.array([[zoom, 0.0, cx - zoom * fx], [0.0, zoom, cy - zoom * fy]], np.float32)
        fg = cv2.warpAffine(self.fg, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha = np.clip(fg[..., 3:4], 0.0, 1.0)
        rgb = np.clip(fg[..., :3], 0.0, alpha)

        out = rgb + (1.0 - alpha) * bg
        return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------------
# 5-6. Encoding and check
# ---------------------------------------------------------------------------


def encode(out: Path, renderer: DemoRenderer, n_frames: int, fps: int, crf: int, preset: str) -> str:
    import av  # tool-only dependency (also a segview runtime dependency)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    use_x264 = "libx264" in av.codecs_available
    codec = "libx264" if use_x264 else "mpeg4"
    with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = renderer.w, renderer.h
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = 2 * fps
        # Pin threading: x264's bitstream depends on the thread/slice setup,
        # and PyAV's default (slice threads = CPU count) varies by machine.
        stream.codec_context.thread_type = "FRAME"
        stream.codec_context.thread_count = 2
        if use_x264:
            stream.options = {"crf": str(crf), "preset": preset, "profile": "high", "tune": "film", "x264-params": f"keyint={2 * fps}:min-keyint={fps}"}
        else:
            stream.options = {"qscale": "4"}
            stream.codec_context.qmin = 2
        for i in range(n_frames):
            img = renderer.frame(i / n_frames)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(out)
    return codec


def decode_check(path: Path, expect_frames: int, size: tuple[int, int]) -> int:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RuntimeError(f"cv2.VideoCapture cannot open {path}")
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if (img.shape[1], img.shape[0]) != size:
            raise RuntimeError(f"frame {n} has shape {img.shape}")
        n += 1
    cap.release()
    if n != expect_frames:
        raise RuntimeError(f"decoded {n} frames, expected {expect_frames}")
    return n


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must look like 640x480") from None
    if w < 64 or h < 64 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError("size must be even and >= 64x64")
    return w, h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--size", type=_parse_size, default=(640, 480), metavar="WxH")
    ap.add_argument("--crf", type=int, default=23, help="x264 CRF (default 23)")
    ap.add_argument("--preset", default="medium", help="x264 preset")
    ap.add_argument("--seed", type=int, default=0, help="background RNG seed (default 0)")
    args = ap.parse_args(argv)

    w, h = args.size
    n_frames = max(1, int(round(args.seconds * args.fps)))
    renderer = DemoRenderer(w, h, seed=args.seed)
    codec = encode(args.out, renderer, n_frames, args.fps, args.crf, args.preset)
    n = decode_check(args.out, n_frames, (w, h))
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({codec}, {w}x{h}, {args.fps} fps, {n} frames, {size / 1024:.0f} KiB); cv2.VideoCapture decoded {n}/{n_frames} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
