"""``segview inspect MODEL``: what a model's graph holds and how its card reads it, without running it."""

from __future__ import annotations

import argparse
from pathlib import Path

from segview.cli.table import print_table
from segview.errors import ModelError
from segview.fileio import atomic_write_json, user_path
from segview.inference.card_check import CardCheck, check_card
from segview.inference.graph_summary import MAC_OPS, GraphSummary, summarise_graph
from segview.inference.inspect import format_shape, load_onnx
from segview.inference.providers import available_providers
from segview.inference.registry import ModelRegistry
from segview.inference.weight_stats import weight_lines, weight_stats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show a model's graph: inputs, ops, parameters, multiply-adds, weight dtypes, its card")
    p.add_argument("model", metavar="MODEL", help="model name or .onnx path")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write everything as JSON")
    p.set_defaults(handler=run)


def _model_path(reference: str) -> Path:
    registry = ModelRegistry()
    if reference in registry.names():
        return registry.resolve(reference).path
    path = user_path(reference, "model", ModelError)
    if path.is_dir():
        raise ModelError(f"{reference} is a folder; name one model file in it")
    return path


def run(args: argparse.Namespace) -> int:
    path = _model_path(args.model)
    model = load_onnx(path, external_data=True)
    summary = summarise_graph(model)
    weights = weight_stats(model)
    card = check_card(path, model)
    providers = available_providers()
    print_summary(path, summary)
    for line in weight_lines(weights):
        print(line)
    print_card(card)
    print(f"execution providers here: {', '.join(providers)}")
    if args.json is not None:
        atomic_write_json(
            args.json,
            {
                "model": str(path),
                **summary.as_dict(),
                "weights": [w.as_dict() for w in weights],
                **card.as_dict(),
                "providers": providers,
            },
        )
    return 0


def print_summary(path: Path, s: GraphSummary) -> None:
    print(f"{path}  opset {', '.join(f'{d} {v}' for d, v in s.opsets.items())}")
    print_table(
        ["", "name", "dtype", "shape"],
        [[kind, t.name, t.dtype, format_shape(t.shape)] for kind, ts in (("input", s.inputs), ("output", s.outputs)) for t in ts],
    )
    print(f"nodes {sum(s.op_counts.values())}: " + ", ".join(f"{op} {n}" for op, n in s.op_counts.items()))
    print(f"parameters {s.parameters:,} (elements of all initializers)")
    by_op = ", ".join(f"{op} {n / 1e6:.2f}M" for op, n in s.macs_by_op.items()) or "none"
    print(f"multiply-adds {s.macs / 1e6:.2f}M ({by_op}; counted: {', '.join(MAC_OPS)})")
    for line in s.not_counted:
        print(f"  not counted: {line}")
    total = sum(s.bytes_by_dtype.values())
    print(f"initializers {total / 1024:.1f} KiB: " + (", ".join(f"{d} {b / 1024:.1f} KiB" for d, b in s.bytes_by_dtype.items()) or "none"))


def print_card(check: CardCheck) -> None:
    if check.card is None:
        print(f"card: none usable: {check.problem}")
        return
    c = check.card
    print(
        f"card ({c.origin}): {c.name}  input {c.input_name!r} {c.width}x{c.height} {c.layout} {c.color_order}  output {c.output_name!r} {c.output_kind}, {len(c.classes)} classes"
    )
    if not check.disagreements:
        print("card and graph agree (input size, layout, output kind)")
    for line in check.disagreements:
        print(f"card disagrees with the graph: {line}")
