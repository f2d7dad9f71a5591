#!/usr/bin/env python3
"""Convert MediaPipe's selfie segmentation TFLite models to clean, fast ONNX.

Run it in the converter's own virtual environment (see README.md beside this
file); its dependencies (tensorflow-cpu, tf2onnx, ai-edge-litert) are not part
of segview's runtime.

Steps, for each of the two models in the mediapipe==0.10.14 wheel:

1. take the wheel (``--wheel``) or download it with pip, and extract
   ``mediapipe/modules/selfie_segmentation/selfie_segmentation{,_landscape}.tflite``;
2. convert with tf2onnx (``from_tflite``). MediaPipe's custom op
   ``Convolution2DTransposeBias`` (2x2 stride-2 transposed convolution plus
   bias) becomes an ONNX ``ConvTranspose`` whose weights are read straight
   from the fp16 tensors ``segment/Kernel`` and ``segment/Bias`` of the
   flatbuffer. tf2onnx's transpose optimizer is taught that ``HardSwish`` is
   element-wise, so no Transpose survives around it;
3. clean the graph: fp16->fp32 casts of constants folded (every weight is a
   float32 initializer), shape-preserving Reshapes dropped, full-window
   AveragePools turned into GlobalAveragePool, unused initializers and opset
   imports removed, tensors renamed to ``input`` / ``probability`` and every
   other name made deterministic (same bytes on every run), static batch of
   1, IR version 8 (readable by onnxruntime >= 1.17);
4. check against TFLite on real images (``--check-images``, default the first
   20 of person-seg-dev, plus scikit-image's astronaut), each max abs
   difference of the person probability <= 1e-4:
   a. the original model in the TFLite interpreter of LiteRT
      (``ai_edge_litert``), whose default XNNPACK delegate implements the
      MediaPipe custom op (``tf.lite.Interpreter`` of tensorflow 2.15/2.16
      cannot run it: "unresolved custom op");
   b. a copy of the model with the custom op swapped for builtin
      TRANSPOSE_CONV (+ bias) in ``tf.lite.Interpreter`` with its built-in
      kernels (no XNNPACK): an independent set of kernels;
   c. that copy must match the original under XNNPACK (<= 1e-6; 0 measured),
      which validates the weight layout against MediaPipe's own op;
5. write ``<out-dir>/selfie-general.onnx`` and ``selfie-landscape.onnx``, each
   with a JSON model card beside it.

The input layout defaults to NCHW, which measured faster than NHWC on
onnxruntime's CPU provider (see README.md; ``bench.py`` re-measures,
``--layout auto`` picks whichever is faster on the machine at hand).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MEDIAPIPE_VERSION = "0.10.14"
TFLITE_DIR = "mediapipe/modules/selfie_segmentation"
DEFAULT_CHECK_IMAGES = "/work/shared/data/person-seg-dev/images"
OPSET = 17  # HardSwish needs >= 14
IR_VERSION = 8  # onnxruntime 1.17 reads IR <= 9
TOLERANCE = 1e-4
INPUT_NAME = "input"
OUTPUT_NAME = "probability"

MODELS = [
    {
        "name": "selfie-general",
        "tflite": "selfie_segmentation.tflite",
        "title": "MediaPipe Selfie Segmentation (general, 256x256)",
    },
    {
        "name": "selfie-landscape",
        "tflite": "selfie_segmentation_landscape.tflite",
        "title": "MediaPipe Selfie Segmentation (landscape, 256x144)",
    },
]


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- wheel


def get_wheel(wheel: str | None, workdir: Path) -> Path:
    if wheel:
        path = Path(wheel)
        if path.is_dir():
            found = sorted(path.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
            if not found:
                sys.exit(f"no mediapipe-{MEDIAPIPE_VERSION}-*.whl in {path}")
            path = found[0]
        if not path.is_file():
            sys.exit(f"wheel not found: {path}")
        return path
    dest = workdir / "wheel"
    dest.mkdir(parents=True, exist_ok=True)
    # The .tflite files are the same in every platform's wheel; pin one so the
    # download does not depend on the host.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--platform",
        "manylinux_2_17_x86_64",
        "-d",
        str(dest),
        f"mediapipe=={MEDIAPIPE_VERSION}",
    ]
    log("downloading: " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    found = sorted(dest.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if not found:
        sys.exit("pip download produced no mediapipe wheel")
    return found[0]


def extract_tflite(wheel: Path, workdir: Path) -> dict[str, Path]:
    out = {}
    with zipfile.ZipFile(wheel) as zf:
        for spec in MODELS:
            member = f"{TFLITE_DIR}/{spec['tflite']}"
            target = workdir / spec["tflite"]
            target.write_bytes(zf.read(member))
            out[spec["name"]] = target
    return out


# --------------------------------------------------------------------------- tflite reading


def read_custom_deconv(tflite_path: Path) -> dict:
    """Find Convolution2DTransposeBias in the flatbuffer and return its fp16 weights and options."""
    from tf2onnx.tflite import Model
    from tf2onnx.tflite.TensorType import TensorType

    buf = bytearray(tflite_path.read_bytes())
    model = Model.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    customs = {}
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        if code.CustomCode():
            customs[i] = code.CustomCode().decode()

    def tensor(idx):
        t = graph.Tensors(idx)
        return t, t.Name().decode()

    def tensor_value(t):
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data is None or len(data) == 0:
            return None
        dtype = {TensorType.FLOAT16: np.float16, TensorType.FLOAT32: np.float32}[t.Type()]
        return np.frombuffer(data.tobytes(), dtype=dtype).reshape(t.ShapeAsNumpy())

    producers = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        for o in op.OutputsAsNumpy():
            producers[int(o)] = op

    found = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if customs.get(op.OpcodeIndex()) != "Convolution2DTransposeBias":
            continue
        ins = [int(x) for x in op.InputsAsNumpy()]
        weights = {}
        for role, idx in zip(("kernel", "bias"), ins[1:3], strict=True):
            t, name = tensor(idx)
            value = tensor_value(t)
            if value is None:  # a DEQUANTIZE output: follow it to the stored fp16 tensor
                src = producers[idx]
                t, name = tensor(int(src.InputsAsNumpy()[0]))
                value = tensor_value(t)
            weights[role] = (name, value)
        options = bytes(op.CustomOptionsAsNumpy().tobytes())
        # MediaPipe stores a raw TfLiteTransposeConvParams: {padding, stride_width, stride_height} as int32.
        padding, stride_w, stride_h = np.frombuffer(options[:12], dtype=np.int32).tolist()
        _, in_name = tensor(ins[0])
        out_t, out_name = tensor(int(op.OutputsAsNumpy()[0]))
        found.append(
            {
                "kernel_name": weights["kernel"][0],
                "kernel": weights["kernel"][1],
                "bias_name": weights["bias"][0],
                "bias": weights["bias"][1],
                "padding": padding,
                "strides": (stride_h, stride_w),
                "input": in_name,
                "output": out_name,
            }
        )
    if len(found) != 1:
        raise RuntimeError(f"{tflite_path.name}: expected one Convolution2DTransposeBias, found {len(found)}")
    return found[0]


# --------------------------------------------------------------------------- tf2onnx conversion

_DECONV: dict = {}  # weights of the model being converted, read by the handler below
_TF2ONNX_READY = False


def _setup_tf2onnx() -> None:
    global _TF2ONNX_READY
    if _TF2ONNX_READY:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op
    from tf2onnx.optimizer.transpose_optimizer import TransposeOptimizer

    @tf_op("TFL_Convolution2DTransposeBias")
    class Convolution2DTransposeBias:  # noqa: F841 (registered by the decorator)
        @classmethod
        def version_1(cls, ctx, node, **kwargs):
            d = _DECONV
            kernel = d["kernel"].astype(np.float32)  # TFLite: [out_ch, kh, kw, in_ch]
            bias = d["bias"].astype(np.float32)
            out_ch, kh, kw, in_ch = kernel.shape
            assert d["strides"] == (2, 2) and (kh, kw) == (2, 2), d["strides"]
            in_shape = ctx.get_shape(node.input[0])
            out_shape = ctx.get_shape(node.output[0])
            assert in_shape[3] == in_ch and out_shape[3] == out_ch, (in_shape, out_shape)
            assert out_shape[1] == 2 * in_shape[1] and out_shape[2] == 2 * in_shape[2], (in_shape, out_shape)
            # Cross-check with what tf2onnx parsed from the same flatbuffer.
            for inp, ref in ((node.inputs[1], d["kernel"]), (node.inputs[2], d["bias"])):
                while not inp.is_const() and inp.type in ("Cast", "Identity", "TFL_DEQUANTIZE", "DequantizeLinear"):
                    inp = inp.inputs[0]
                if inp.is_const():
                    assert np.array_equal(inp.get_tensor_value(as_list=False).astype(np.float32), ref.astype(np.float32))
            weight = np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))  # ONNX: [in_ch, out_ch, kh, kw]
            dtype = ctx.get_dtype(node.output[0])
            output = node.output[0]
            x = node.input[0]
            ctx.remove_node(node.name)
            w = ctx.make_const(utils.make_name("segment_weight"), weight)
            b = ctx.make_const(utils.make_name("segment_bias"), bias)
            to_nchw = ctx.make_node("Transpose", [x], attr={"perm": [0, 3, 1, 2]})
            deconv = ctx.make_node(
                "ConvTranspose",
                [to_nchw.output[0], w.output[0], b.output[0]],
                attr={"kernel_shape": [kh, kw], "strides": [2, 2]},
                name=utils.make_name("segment"),
            )
            ctx.make_node("Transpose", [deconv.output[0]], attr={"perm": [0, 2, 3, 1]}, outputs=[output], shapes=[out_shape], dtypes=[dtype])

    original = TransposeOptimizer._initialize_handlers

    def _initialize_handlers(self):
        original(self)
        # Element-wise: a Transpose can pass through (tf2onnx 1.16 does not list them).
        self._handler_map.setdefault("HardSwish", self._simple_through_handler)
        self._handler_map.setdefault("HardSigmoid", self._simple_through_handler)

    TransposeOptimizer._initialize_handlers = _initialize_handlers
    _TF2ONNX_READY = True


def tflite_io(tflite_path: Path):
    interp = make_interpreter(tflite_path)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    return inp["name"], [int(x) for x in inp["shape"]], out["name"], [int(x) for x in out["shape"]]


def convert(tflite_path: Path, layout: str):
    import tf2onnx
    from tf2onnx import utils

    _setup_tf2onnx()
    utils.INTERNAL_NAME = 1  # generated node names, hence the file bytes, do not depend on earlier conversions
    _DECONV.clear()
    _DECONV.update(read_custom_deconv(tflite_path))
    in_name, in_shape, out_name, out_shape = tflite_io(tflite_path)
    kwargs = {}
    if layout == "NCHW":
        kwargs = {"inputs_as_nchw": [in_name], "outputs_as_nchw": [out_name]}
    model, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET, **kwargs)
    return clean(model, in_name, out_name, layout), _DECONV.copy()


# --------------------------------------------------------------------------- ONNX clean-up


def _static_shapes(model):
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    shapes = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _rename(graph, old: str, new: str) -> None:
    for n in graph.node:
        for i, x in enumerate(n.input):
            if x == old:
                n.input[i] = new
        for i, x in enumerate(n.output):
            if x == old:
                n.output[i] = new
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


_ROLES = {
    ("Conv", 1): "weight",
    ("Conv", 2): "bias",
    ("ConvTranspose", 1): "weight",
    ("ConvTranspose", 2): "bias",
    ("Resize", 2): "scales",
    ("Resize", 3): "sizes",
}


def canonical_names(graph) -> None:
    """Deterministic, readable names: tf2onnx's constant folding numbers tensors in hash order."""
    import re

    fixed = {i.name for i in graph.input} | {o.name for o in graph.output}
    taken = set(fixed)

    def unique(base: str) -> str:
        name, k = base, 1
        while name in taken:
            name = f"{base}_{k}"
            k += 1
        taken.add(name)
        return name

    renames = {}
    for node in graph.node:
        for out in node.output:
            if out not in fixed:
                renames[out] = unique(re.sub(r"(__xeno_compat)?__\d+(:0)?$|:0$", "", out))
    inits = {i.name for i in graph.initializer}
    for node in graph.node:
        owner = renames.get(node.output[0], node.output[0])
        for idx, inp in enumerate(node.input):
            if inp in inits and inp not in renames:
                renames[inp] = unique(f"{owner}/{_ROLES.get((node.op_type, idx), f'input{idx}')}")
    for node in graph.node:
        node.input[:] = [renames.get(x, x) for x in node.input]
        node.output[:] = [renames.get(x, x) for x in node.output]
        node.name = node.output[0]
    for init in graph.initializer:
        init.name = renames[init.name]
    # Initializers in first-use order, so the file bytes do not depend on tf2onnx's internal order.
    order = {name: i for i, name in enumerate(x for n in graph.node for x in n.input)}
    ordered = sorted(graph.initializer, key=lambda t: order[t.name])
    copies = [type(t)() for t in ordered]
    for dst, src in zip(copies, ordered, strict=True):
        dst.CopyFrom(src)
    del graph.initializer[:]
    graph.initializer.extend(copies)


def clean(model, in_name: str, out_name: str, layout: str):
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}

    # 1. Fold the fp16->fp32 Cast of any constant (TFLite's DEQUANTIZE of fp16 weights) into a
    #    float32 initializer. tf2onnx's constant folding normally leaves none; this is the safety net.
    changed = True
    while changed:
        changed = False
        for n in list(g.node):
            if n.op_type == "Cast" and n.input[0] in inits:
                to = helper.get_attribute_value(n.attribute[0])
                arr = numpy_helper.to_array(inits[n.input[0]]).astype(helper.tensor_dtype_to_np_dtype(to))
                g.initializer.append(numpy_helper.from_array(arr, n.output[0]))
                inits[n.output[0]] = g.initializer[-1]
                g.node.remove(n)
                changed = True

    shapes = _static_shapes(model)
    graph_outputs = {o.name for o in g.output}

    # 2. Drop Reshapes that do not change the shape (left over from NHWC<->NCHW on 1x1 maps).
    for n in list(g.node):
        if n.op_type not in ("Reshape", "Identity"):
            continue
        src, dst = n.input[0], n.output[0]
        if n.op_type == "Reshape" and not (src in shapes and dst in shapes and shapes[src] == shapes[dst]):
            continue
        g.node.remove(n)
        if dst in graph_outputs:  # keep the graph output's name: the producer writes it directly
            _rename(g, src, dst)
        else:
            _rename(g, dst, src)

    # 3. AveragePool over the whole map == GlobalAveragePool (MLAS has a dedicated kernel).
    for n in g.node:
        if n.op_type == "AveragePool" and n.input[0] in shapes:
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            hw = shapes[n.input[0]][2:]
            if list(attrs.get("kernel_shape", [])) == hw and not any(attrs.get("pads", [0])):
                n.op_type = "GlobalAveragePool"
                del n.attribute[:]

    # 4. Resize: an empty 'roi' is the same as no roi.
    for n in g.node:
        if n.op_type == "Resize" and len(n.input) > 1 and n.input[1] in inits and not inits[n.input[1]].dims[0]:
            n.input[1] = ""

    # 5. Remove initializers nobody uses; every remaining float weight must be float32.
    used = {x for n in g.node for x in n.input}
    for init in list(g.initializer):
        if init.name not in used:
            g.initializer.remove(init)
    for init in g.initializer:
        if init.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64):
            raise RuntimeError(f"initializer {init.name} has data type {init.data_type}, expected float32")
    assert not any(n.op_type in ("Cast", "DequantizeLinear", "QuantizeLinear") for n in g.node), "constants not folded"
    # NHWC keeps the one Transpose that feeds the first Conv; NCHW needs none.
    transposes = [n for n in g.node if n.op_type == "Transpose"]
    assert len(transposes) <= (0 if layout == "NCHW" else 1), f"{len(transposes)} Transposes left"

    # 6. Names, metadata, IR version, opsets actually used.
    _rename(g, in_name, INPUT_NAME)
    _rename(g, out_name, OUTPUT_NAME)
    canonical_names(g)
    del g.value_info[:]
    model.ir_version = IR_VERSION
    domains = {n.domain or "" for n in g.node}
    keep = [op for op in model.opset_import if (op.domain or "") in domains]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    model.producer_name = "segview tools/convert_mediapipe"
    model.producer_version = MEDIAPIPE_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------- verification


def make_interpreter(tflite_path: Path):
    """LiteRT with its default XNNPACK delegate: the runtime that implements MediaPipe's custom op.

    (tf.lite.Interpreter from tensorflow 2.15/2.16 refuses the original file:
    "Encountered unresolved custom op: Convolution2DTransposeBias".)
    """
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite_path), num_threads=2)
    interp.allocate_tensors()
    return interp


def make_builtin_tflite(src: Path, dst: Path) -> Path:
    """Copy of the model with the custom op swapped for builtin TRANSPOSE_CONV (+ bias), same fp16 weights.

    Lets tensorflow's own tf.lite.Interpreter, with its built-in (non-XNNPACK)
    kernels, serve as a second, independent reference.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    graph = model.subgraphs[0]
    custom = [i for i, oc in enumerate(model.operatorCodes) if oc.customCode and oc.customCode.decode() == "Convolution2DTransposeBias"]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.TRANSPOSE_CONV
    code.version = 3  # bias input
    model.operatorCodes.append(code)
    replaced = 0
    for op in graph.operators:
        if op.opcodeIndex not in custom:
            continue
        x, kernel, bias = op.inputs
        out_shape = np.array(graph.tensors[op.outputs[0]].shape, dtype=np.int32)
        buf = schema.BufferT()
        buf.data = np.frombuffer(out_shape.tobytes(), dtype=np.uint8)
        model.buffers.append(buf)
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = b"segment/output_shape", [4], schema.TensorType.INT32, len(model.buffers) - 1
        graph.tensors.append(t)
        opts = schema.TransposeConvOptionsT()
        opts.padding, opts.strideW, opts.strideH = schema.Padding.SAME, 2, 2
        op.opcodeIndex = len(model.operatorCodes) - 1
        op.inputs = [len(graph.tensors) - 1, kernel, x, bias]  # TRANSPOSE_CONV: output_shape, weights, input, bias
        op.builtinOptionsType, op.builtinOptions, op.customOptions = schema.BuiltinOptions.TransposeConvOptions, opts, None
        replaced += 1
    assert replaced == 1, replaced
    flatbuffer_utils.write_model(model, str(dst))
    return dst


def make_tf_interpreter(tflite_path: Path):
    import tensorflow as tf

    interp = tf.lite.Interpreter(
        model_path=str(tflite_path),
        num_threads=2,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    return interp


def load_rgb(path_or_array, width: int, height: int) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(path_or_array) if isinstance(path_or_array, np.ndarray) else Image.open(path_or_array)
    img = img.convert("RGB").resize((width, height), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0  # H, W, 3 in [0, 1]


def check_images(folder: str | None, count: int) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    if folder and Path(folder).is_dir():
        files = sorted(glob.glob(os.path.join(folder, "*.jpg")), key=_natural)[:count]
        items += [(os.path.basename(f), f) for f in files]
    try:
        from skimage import data

        items.append(("skimage astronaut", data.astronaut()))
    except ImportError:
        log("scikit-image not installed: skipping the astronaut image")
    return items


def _natural(path: str):
    stem = Path(path).stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _run_tflite(interp, x: np.ndarray) -> np.ndarray:
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return interp.get_tensor(out["index"])[0, :, :, 0].copy()


def verify(tflite_path: Path, onnx_bytes: bytes, layout: str, images, workdir: Path) -> dict[str, float]:
    """Max abs probability differences; raises SystemExit past TOLERANCE.

    - onnx vs TFLite on the original model (LiteRT + XNNPACK, MediaPipe's runtime path);
    - onnx vs tf.lite.Interpreter's built-in kernels on the TRANSPOSE_CONV copy;
    - the TRANSPOSE_CONV copy vs the original under XNNPACK (checks the op swap; must be ~0).
    """
    import onnxruntime as ort

    original = make_interpreter(tflite_path)
    builtin_path = make_builtin_tflite(tflite_path, workdir / (tflite_path.stem + "_builtin.tflite"))
    builtin_xnn = make_interpreter(builtin_path)
    builtin_tf = make_tf_interpreter(builtin_path)
    _, height, width, _ = original.get_input_details()[0]["shape"]
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    worst = {"tflite": 0.0, "tflite_builtin_kernels": 0.0, "op_swap": 0.0}
    for label, src in images:
        x = load_rgb(src, width, height)[None]  # 1, H, W, 3
        ref = _run_tflite(original, x)
        feed = np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if layout == "NCHW" else x
        got = sess.run(None, {INPUT_NAME: feed})[0]
        got = got[0, 0] if layout == "NCHW" else got[0, :, :, 0]
        assert got.shape == ref.shape, (got.shape, ref.shape)
        diffs = {
            "tflite": float(np.max(np.abs(got - ref))),
            "tflite_builtin_kernels": float(np.max(np.abs(got - _run_tflite(builtin_tf, x)))),
            "op_swap": float(np.max(np.abs(_run_tflite(builtin_xnn, x) - ref))),
        }
        for key, value in diffs.items():
            worst[key] = max(worst[key], value)
            limit = 1e-6 if key == "op_swap" else TOLERANCE
            if value > limit:
                raise SystemExit(f"{tflite_path.name}: {label}: max abs diff ({key}) {value:.3g} > {limit}")
    return worst


def check_deconv_layout(deconv: dict) -> None:
    """Numerically confirm [out,kh,kw,in] -> [in,out,kh,kw] against a direct stride-2 scatter."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    k = deconv["kernel"].astype(np.float32)
    b = deconv["bias"].astype(np.float32)
    out_ch, kh, kw, in_ch = k.shape
    x = np.random.default_rng(0).standard_normal((1, 5, 7, in_ch)).astype(np.float32)
    # TFLite semantics (NHWC): y[n, 2i+a, 2j+c, o] = sum_ci x[n,i,j,ci] * k[o,a,c,ci] + b[o]
    ref = np.einsum("nijc,oabc->niajbo", x, k).reshape(1, 5 * kh, 7 * kw, out_ch) + b
    w = np.ascontiguousarray(k.transpose(3, 0, 1, 2))
    g = helper.make_graph(
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[kh, kw], strides=[2, 2])],
        "deconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_ch, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = IR_VERSION
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0].transpose(0, 2, 3, 1)
    err = float(np.max(np.abs(y - ref)))
    assert err < 1e-5, f"ConvTranspose layout check failed: {err}"


# --------------------------------------------------------------------------- timing


# --------------------------------------------------------------------------- main


def card_for(spec: dict, onnx_path: Path, height: int, width: int, layout: str, versions: str, n_images: int, max_diff: float) -> dict:
    return {
        "name": spec["name"],
        "title": spec["title"],
        "task": "person-segmentation",
        "source": f"mediapipe=={MEDIAPIPE_VERSION} wheel: {TFLITE_DIR}/{spec['tflite']}",
        "license": "Apache-2.0",
        "license_holder": "Google LLC (MediaPipe)",
        "input": {
            "name": INPUT_NAME,
            "width": width,
            "height": height,
            "layout": layout,
            "color_order": "RGB",
            "dtype": "float32",
            "normalization": {"scale": 1.0 / 255.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        },
        "output": {"name": OUTPUT_NAME, "kind": "sigmoid", "classes": ["background", "person"]},
        "made_by": {
            "tool": "tools/convert_mediapipe/convert.py",
            "converter": versions,
            "opset": OPSET,
            "custom_ops_replaced": ["Convolution2DTransposeBias -> ConvTranspose"],
            "check": {"reference": "TFLite interpreter", "images": n_images, "max_abs_diff": float(f"{max_diff:.2g}")},
        },
        "sha256": sha256_of(onnx_path),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", help=f"mediapipe-{MEDIAPIPE_VERSION} wheel (file or folder); downloaded with pip if omitted")
    ap.add_argument("--out-dir", default=str(REPO / "models"), help="where the .onnx and .json files go (default: models/)")
    ap.add_argument(
        "--check-images",
        default=DEFAULT_CHECK_IMAGES if Path(DEFAULT_CHECK_IMAGES).is_dir() else None,
        help="folder of .jpg images for the TFLite-vs-ONNX check (default: %(default)s)",
    )
    ap.add_argument("--num-check-images", type=int, default=20)
    ap.add_argument(
        "--layout", choices=["NCHW", "NHWC", "auto"], default="NCHW", help="input/output layout; 'auto' times both and keeps the faster (default: NCHW)"
    )
    ap.add_argument("--bench-runs", type=int, default=0, help="also time NCHW vs NHWC (this many alternating runs, e.g. 300); implied by --layout auto")
    ap.add_argument("--workdir", help="keep the wheel and .tflite files here (default: a temporary folder)")
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    versions = f"tf2onnx {tf2onnx.__version__}, tensorflow {tf.__version__}"
    log(f"{versions}, onnxruntime {ort.__version__}, opset {OPSET}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = check_images(args.check_images, args.num_check_images)
    if not images:
        sys.exit("no check images: give --check-images DIR or install scikit-image")
    log(f"check images: {len(images)}")
    bench_runs = args.bench_runs or (300 if args.layout == "auto" else 0)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        wheel = get_wheel(args.wheel, workdir)
        log(f"wheel: {wheel.name} sha256 {sha256_of(wheel)}")
        tflites = extract_tflite(wheel, workdir)
        for spec in MODELS:
            tfl = tflites[spec["name"]]
            log(f"\n== {spec['name']}: {TFLITE_DIR}/{spec['tflite']} sha256 {sha256_of(tfl)}")
            layouts = ["NCHW", "NHWC"] if (args.layout == "auto" or bench_runs) else [args.layout]
            built = {}
            for layout in layouts:
                model, deconv = convert(tfl, layout)
                built[layout] = model.SerializeToString()
            log(
                f"custom op weights: {deconv['kernel_name']} {list(deconv['kernel'].shape)} {deconv['kernel'].dtype}, "
                f"{deconv['bias_name']} {list(deconv['bias'].shape)} {deconv['bias'].dtype}"
            )
            check_deconv_layout(deconv)
            if bench_runs:
                from bench import bench  # tools/convert_mediapipe/bench.py

                for threads in (0, 1):
                    medians = bench(built, bench_runs, threads)
                    label = "default threads" if threads == 0 else "intra_op_num_threads=1"
                    log(f"session.run median ({label}, {bench_runs} runs): " + ", ".join(f"{k} {v:.3f} ms" for k, v in medians.items()))
                    if threads == 0:
                        fastest = min(medians, key=medians.get)
            layout = fastest if args.layout == "auto" else args.layout
            data = built[layout]
            diffs = verify(tfl, data, layout, images, workdir)
            max_diff = diffs["tflite"]
            log(
                f"{spec['name']} ({layout}), max abs diff over {len(images)} images: "
                f"vs TFLite interpreter (LiteRT/XNNPACK, original model) {max_diff:.3g}; "
                f"vs tf.lite.Interpreter built-in kernels (custom op -> TRANSPOSE_CONV copy) "
                f"{diffs['tflite_builtin_kernels']:.3g}; op swap under XNNPACK {diffs['op_swap']:.3g}"
            )
            onnx_path = out_dir / f"{spec['name']}.onnx"
            onnx_path.write_bytes(data)
            m = onnx.load_from_string(data)
            dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
            height, width = (dims[2], dims[3]) if layout == "NCHW" else (dims[1], dims[2])
            card = card_for(spec, onnx_path, height, width, layout, versions, len(images), max_diff)
            (out_dir / f"{spec['name']}.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
            ops: dict[str, int] = {}
            for n in m.graph.node:
                ops[n.op_type] = ops.get(n.op_type, 0) + 1
            log(
                f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, sha256 {card['sha256']}); nodes: "
                + ", ".join(f"{k} {v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
