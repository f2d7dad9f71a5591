"""A bad model zoo, built with onnx.helper at test time (never committed as binaries).

Each case writes its files into a folder and returns the path a user would name.
``stage`` says where segview must stop it: "listing" cases are skipped by the registry
(with the reason) and refused by every command; "running" cases look fine on disk and
must fail on their first frame with one clear line. ``reason`` is a fragment of that line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import factories

OPSET = factories.OPSET


@dataclass(frozen=True)
class BadCase:
    name: str
    build: Callable[[Path], Path]
    reason: str
    stage: str = "listing"
    posix_only: bool = False


# -- helpers -------------------------------------------------------------------


def good_model(folder: Path, stem: str = "good") -> Path:
    """A model every command runs: the brightness graph with its card."""
    path = factories.brightness_model(folder / f"{stem}.onnx")
    factories.write_card(path, name=stem)
    return path


def _card_json(model: Path) -> dict:
    factories.write_card(model, name=model.stem)
    return json.loads(model.with_suffix(".json").read_text())


def _with_card(change: Callable[[dict], None]) -> Callable[[str], Callable[[Path], Path]]:
    """A builder: the good graph, and its card changed by ``change``."""

    def named(stem: str) -> Callable[[Path], Path]:
        def build(folder: Path) -> Path:
            model = factories.brightness_model(folder / f"{stem}.onnx")
            card = _card_json(model)
            change(card)
            model.with_suffix(".json").write_text(json.dumps(card))
            return model

        return build

    return named


def _with_card_text(text: str | bytes) -> Callable[[str], Callable[[Path], Path]]:
    """A builder: the good graph, and a card file holding exactly these characters or bytes."""

    def named(stem: str) -> Callable[[Path], Path]:
        def build(folder: Path) -> Path:
            model = factories.brightness_model(folder / f"{stem}.onnx")
            card = model.with_suffix(".json")
            card.write_bytes(text if isinstance(text, bytes) else text.encode())
            return model

        return build

    return named


def _card_text_with(field: str, raw: str) -> str:
    """The good card as text with one input field's value replaced by raw JSON (1e999, NaN...)."""
    card = {"name": "x", "input": {"name": "input", "width": 32, "height": 32}, "output": {"name": "prob", "kind": "sigmoid"}}
    card["input"][field] = "@@"
    return json.dumps(card).replace('"@@"', raw)


def _graph(
    path: Path,
    in_shape: list,
    out_shape: list,
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto] = (),
    *,
    metadata: dict | None = None,
) -> Path:
    """Save a graph as is: no checker, since some cases are invalid on purpose."""
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, out_shape)],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        helper.set_model_props(model, {key: value})
    path.write_bytes(model.SerializeToString())
    return path


def _sigmoid_conv(in_shape: list, out_shape: list) -> Callable[[str], Callable[[Path], Path]]:
    """A one-channel conv + sigmoid whose declared shapes are given (possibly absurd)."""

    def named(stem: str) -> Callable[[Path], Path]:
        def build(folder: Path) -> Path:
            weight = numpy_helper.from_array(np.full((1, 3, 1, 1), 1.0, np.float32), "w")
            nodes = [helper.make_node("Conv", ["input", "w"], ["logit"]), helper.make_node("Sigmoid", ["logit"], ["prob"])]
            return _graph(folder / f"{stem}.onnx", in_shape, out_shape, nodes, [weight])

        return build

    return named


def _special(kind: str) -> Callable[[str], Callable[[Path], Path]]:
    """A .onnx (or its card) that is not a regular file: a FIFO, a device, a loop, a folder."""

    def named(stem: str) -> Callable[[Path], Path]:
        def build(folder: Path) -> Path:
            model = folder / f"{stem}.onnx"
            target = model
            if kind.startswith("card-"):
                factories.brightness_model(model)
                target = model.with_suffix(".json")
            what = kind.removeprefix("card-")
            if what == "fifo":
                os.mkfifo(target)
            elif what == "loop":
                os.symlink(target.with_name(target.name + ".other"), target)
                os.symlink(target, target.with_name(target.name + ".other"))
            elif what == "dev-zero":
                os.symlink("/dev/zero", target)
            elif what == "dangling":
                os.symlink(folder / "nowhere.onnx", target)
            elif what == "folder":
                target.mkdir()
            elif what == "huge":
                target.write_text(json.dumps({"name": "x", "padding": "x" * (2 * 1024 * 1024)}))
            return model

        return build

    return named


def _external(location: Callable[[Path], str] | None, *, keep_data: bool = True) -> Callable[[str], Callable[[Path], Path]]:
    """The good graph with its weights in external data; ``location`` rewrites where the file says they are."""

    def named(stem: str) -> Callable[[Path], Path]:
        def build(folder: Path) -> Path:
            model_path = folder / f"{stem}.onnx"
            model = onnx.load(str(factories.brightness_model(folder / f"{stem}-inline.onnx")))
            (folder / f"{stem}-inline.onnx").unlink()
            data_name = f"{stem}.data"
            onnx.save(model, str(model_path), save_as_external_data=True, all_tensors_to_one_file=True, location=data_name, size_threshold=0)
            factories.write_card(model_path, name=stem)
            if location is not None:
                proto = onnx.load(str(model_path), load_external_data=False)
                where = location(folder)
                # The data goes where the file now says, so only the place is wrong, never the bytes.
                target = Path(where) if os.path.isabs(where) else folder / where
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(folder / data_name, target)
                for tensor in proto.graph.initializer:
                    for entry in tensor.external_data:
                        if entry.key == "location":
                            entry.value = where
                model_path.write_bytes(proto.SerializeToString())
            if not keep_data:
                (folder / data_name).unlink()
            return model_path

        return build

    return named


def _data_linked_outside(stem: str) -> Callable[[Path], Path]:
    """External data named inside the folder, but the name is a link to a file outside it."""

    def build(folder: Path) -> Path:
        model = _external(None)(stem)(folder)
        outside = folder.parent / f"{stem}-outside.data"
        os.replace(folder / f"{stem}.data", outside)
        os.symlink(outside, folder / f"{stem}.data")
        return model

    return build


def _lying_output(stem: str) -> Callable[[Path], Path]:
    """Declares a [1,1,32,32] mask, returns [1,1000] (a classifier head)."""

    def build(folder: Path) -> Path:
        weight = numpy_helper.from_array(np.ones((3, 1000), np.float32), "w")
        nodes = [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["prob"]),
        ]
        return _graph(folder / f"{stem}.onnx", [1, 3, 32, 32], [1, 1, 32, 32], nodes, [weight])

    return build


def _dynamic_output_card_lies(stem: str) -> Callable[[Path], Path]:
    """A one-channel graph with a dynamic output shape; its card says softmax over 3 classes."""

    def build(folder: Path) -> Path:
        path = _sigmoid_conv([1, 3, 32, 32], ["n", "c", "h", "w"])(stem)(folder)
        card = _card_json(path)
        card["output"] = {"name": "prob", "kind": "softmax", "classes": ["a", "b", "c"]}
        path.with_suffix(".json").write_text(json.dumps(card))
        return path

    return build


def _metadata_card(stem: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        weight = numpy_helper.from_array(np.full((1, 3, 1, 1), 1.0, np.float32), "w")
        nodes = [helper.make_node("Conv", ["input", "w"], ["logit"]), helper.make_node("Sigmoid", ["logit"], ["prob"])]
        meta = {"segview.card": json.dumps({"name": "x", "input": "x", "output": {}})}
        return _graph(folder / f"{stem}.onnx", [1, 3, 32, 32], [1, 1, 32, 32], nodes, [weight], metadata=meta)

    return build


def _bytes_file(data: bytes) -> Callable[[str], Callable[[Path], Path]]:
    def named(stem: str) -> Callable[[Path], Path]:
        def build(folder: Path) -> Path:
            path = folder / f"{stem}.onnx"
            path.write_bytes(data)
            return path

        return build

    return named


def _set(path: str, value) -> Callable[[dict], None]:
    def change(card: dict) -> None:
        *parents, last = path.split(".")
        node = card
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _drop(key: str) -> Callable[[dict], None]:
    return lambda card: card.pop(key)


# -- the zoo -------------------------------------------------------------------

_CASES = [
    # Cards that break the schema.
    ("card-input-string", _with_card(_set("input", "x")), "field 'input' must be a JSON object"),
    ("card-output-string", _with_card(_set("output", "x")), "field 'output' must be a JSON object"),
    ("card-normalization-string", _with_card(_set("input.normalization", "x")), "field 'input.normalization' must be a JSON object"),
    ("card-width-1e999", _with_card_text(_card_text_with("width", "1e999")), "field 'input.width' must be a whole number"),
    ("card-width-string", _with_card(_set("input.width", "224")), "field 'input.width' must be a whole number"),
    ("card-width-fraction", _with_card(_set("input.width", 22.5)), "field 'input.width' must be a whole number"),
    ("card-width-true", _with_card(_set("input.width", True)), "field 'input.width' must be a whole number"),
    ("card-height-zero", _with_card(_set("input.height", 0)), "field 'input.height' must be a whole number"),
    ("card-height-negative", _with_card(_set("input.height", -32)), "field 'input.height' must be a whole number"),
    ("card-width-huge-int", _with_card(_set("input.width", 10**400)), "field 'input.width' must be a whole number"),
    ("card-width-one-side-too-long", _with_card(lambda c: c["input"].update(width=100000, height=2)), "up to 16384 px a side"),
    ("card-input-20000", _with_card(lambda c: c["input"].update(width=20000, height=20000)), "needs 4578 MiB per frame"),
    ("card-input-too-many-bytes", _with_card(lambda c: c["input"].update(width=16000, height=16000)), "needs 2930 MiB per frame"),
    ("card-scale-nan", _with_card_text(_card_text_with("normalization", '{"scale": NaN}')), "field 'input.normalization.scale'"),
    ("card-std-zero", _with_card(_set("input.normalization.std", [1, 0, 1])), "field 'input.normalization.std'"),
    ("card-mean-two-values", _with_card(_set("input.normalization.mean", [0, 0])), "needs 1 or 3 values"),
    ("card-mean-strings", _with_card(_set("input.normalization.mean", ["a", "b", "c"])), "field 'input.normalization.mean'"),
    ("card-layout-unknown", _with_card(_set("input.layout", "CHW")), "field 'input.layout' must be one of NCHW, NHWC"),
    ("card-kind-unknown", _with_card(_set("output.kind", "probabilities")), "field 'output.kind' must be one of"),
    ("card-kind-list", _with_card(_set("output.kind", ["sigmoid"])), "field 'output.kind' must be one of"),
    ("card-classes-string", _with_card(_set("output.classes", "person")), "field 'output.classes' must be a list"),
    (
        "card-classes-300",
        _with_card(lambda c: c["output"].update(kind="softmax", classes=[f"c{i}" for i in range(300)])),
        "field 'output.classes' must be a list of 1 to 256",
    ),
    ("card-binary-three-classes", _with_card(_set("output.classes", ["a", "b", "c"])), "has two classes"),
    ("card-name-missing", _with_card(_drop("name")), "field 'name' is missing"),
    ("card-name-number", _with_card(_set("name", 7)), "field 'name' must be a string"),
    ("card-name-empty", _with_card(_set("name", "")), "field 'name' must be 1 to"),
    ("card-name-two-lines", _with_card(_set("name", "good\nsegview: error: fake")), "field 'name' must be a name without line breaks"),
    ("card-title-huge", _with_card(_set("title", "t" * 5000)), "field 'title' must be 0 to 1000 characters"),
    ("card-not-object", _with_card_text("[1, 2]"), "a card must be a JSON object"),
    ("card-not-json", _with_card_text("{name: x"), "is not valid JSON"),
    ("card-deep-nesting", _with_card_text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    ("card-long-number", _with_card_text('{"name": ' + "9" * 5000 + "}"), "is not valid JSON"),
    ("card-not-utf8", _with_card_text(b'{"name": "\xff\xfe"}'), "is not UTF-8 text"),
    ("card-output-mismatch", _with_card(lambda c: c["output"].update(kind="softmax", classes=["a", "b", "c"])), "expects 3 output channel(s)"),
    ("metadata-card-malformed", _metadata_card, "field 'input' must be a JSON object"),
    # Files that are not regular files of sane size.
    ("onnx-fifo", _special("fifo"), "not a regular file"),
    ("onnx-dev-zero", _special("dev-zero"), "not a regular file"),
    ("onnx-symlink-loop", _special("loop"), "symlink loop"),
    ("onnx-dangling-link", _special("dangling"), "not found"),
    ("onnx-folder", _special("folder"), "is a folder"),
    ("card-fifo", _special("card-fifo"), "not a regular file"),
    ("card-symlink-loop", _special("card-loop"), "symlink loop"),
    ("card-dev-zero", _special("card-dev-zero"), "not a regular file"),
    ("card-too-big", _special("card-huge"), "larger than a model card may be"),
    ("onnx-empty", _bytes_file(b""), "is empty"),
    ("onnx-garbage", _bytes_file(b"\x08\x96\x01" + bytes(range(256)) * 8), "not a readable ONNX model"),
    # Graphs whose declared shapes are absurd.
    ("output-300000000-classes", _sigmoid_conv([1, 3, 64, 64], [1, 300_000_000, 64, 64]), "300000000 classes"),
    ("input-20000-no-card", _sigmoid_conv([1, 3, 20000, 20000], [1, 1, 20000, 20000]), "MiB per frame"),
    ("input-negative-no-card", _sigmoid_conv([1, 3, -5, -5], [1, 1, 32, 32]), "must be positive"),
    # External data that lies outside the model's folder, or is missing.
    ("external-absolute", _external(lambda folder: str(folder.parent / "elsewhere" / "abs.data")), "outside the model's folder"),
    ("external-dotdot", _external(lambda folder: "../dotdot.data"), "outside the model's folder"),
    ("external-missing", _external(None, keep_data=False), "missing or not a regular file"),
    ("external-link-outside", _data_linked_outside, "outside the model's folder"),
    # Models that pass every check on disk and go wrong on their first frame.
    ("output-lies-about-shape", _lying_output, "is declared [1, 1, 32, 32] but the graph returns [1, 1000]"),
    ("output-dynamic-card-lies", _dynamic_output_card_lies, "its card expects 3 output channel(s) (softmax)"),
]

_RUNNING = {"output-lies-about-shape", "output-dynamic-card-lies"}
_POSIX_ONLY = {
    "onnx-fifo",
    "onnx-dev-zero",
    "onnx-symlink-loop",
    "onnx-dangling-link",
    "card-fifo",
    "card-symlink-loop",
    "card-dev-zero",
    "external-link-outside",
}

BAD_CASES = [BadCase(name, make(name), reason, "running" if name in _RUNNING else "listing", name in _POSIX_ONLY) for name, make, reason in _CASES]


def usable_cases() -> list[BadCase]:
    """The cases this platform can build (FIFOs and /dev/zero need POSIX)."""
    return [c for c in BAD_CASES if not (c.posix_only and os.name != "posix")]


def build_zoo(folder: Path) -> dict[str, Path]:
    """Every usable case in one folder, beside two good models (one with its weights in external data)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {case.name: case.build(folder) for case in usable_cases()}
    good_model(folder, "good")
    _external(None)("good-external")(folder)
    return paths


# -- tricky good models: the activation hides behind value-preserving ops ---------

TAILS = ("Identity", "Transpose", "Reshape", "Squeeze-Unsqueeze", "Cast", "Dropout")


def activation_then_tail(path: Path, tail: str, *, activation: str = "Sigmoid", size: int = 32) -> Path:
    """An NHWC export: the brightness conv (or the colour classes' conv), its activation, then ``tail``.

    Every tail passes the activation's values through unchanged, so the output is still
    a probability; only the graph's shape bookkeeping differs.
    """
    channels = 1 if activation == "Sigmoid" else 3
    w = np.full((1, 3, 1, 1), 20.0 / 3.0, np.float32) if channels == 1 else (10.0 * np.eye(3, dtype=np.float32)).reshape(3, 3, 1, 1)
    b = np.array([-10.0], np.float32) if channels == 1 else np.zeros(3, np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    act = helper.make_node("Sigmoid", ["logit"], ["act"]) if channels == 1 else helper.make_node("Softmax", ["logit"], ["act"], axis=1)
    nodes = [helper.make_node("Transpose", ["input"], ["x"], perm=[0, 3, 1, 2]), helper.make_node("Conv", ["x", "w", "b"], ["logit"]), act]
    out_shape = [1, size, size, channels]
    # Back to NHWC; for the "Transpose" tail that transpose is the last node.
    nodes.append(helper.make_node("Transpose", ["act"], ["prob" if tail == "Transpose" else "nhwc"], perm=[0, 2, 3, 1]))
    if tail == "Reshape":
        inits.append(numpy_helper.from_array(np.array(out_shape, np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", ["nhwc", "shape"], ["prob"]))
    elif tail == "Squeeze-Unsqueeze":
        inits.append(numpy_helper.from_array(np.array([0], np.int64), "axes"))
        nodes += [helper.make_node("Squeeze", ["nhwc", "axes"], ["squeezed"]), helper.make_node("Unsqueeze", ["squeezed", "axes"], ["prob"])]
    elif tail == "Cast":
        nodes.append(helper.make_node("Cast", ["nhwc"], ["prob"], to=TensorProto.FLOAT))
    elif tail != "Transpose":  # Identity, Dropout
        nodes.append(helper.make_node(tail, ["nhwc"], ["prob"]))
    graph = helper.make_graph(
        nodes,
        f"tail_{tail}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, out_shape)],
        inits,
    )
    return factories._save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)
