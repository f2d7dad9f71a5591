#!/usr/bin/env python3
"""Wizard vs command line: one model's latency as `segview compress` measures it and as the studio's
Compress wizard measures it, in one run, alternating.

Each round runs the same job (``--step fp16`` on MODEL) three ways:

* cli: ``segview compress`` in its own process, the studio beside it paused (as a user runs it alone);
* wizard: a real StudioWindow (offscreen) playing the demo with MODEL, the wizard's job started from
  its pages; the job asks the studio to pause while it times the models;
* wizard-unpaused (``--unpaused``): the same, with the pause switched off: the figure the wizard gave before.

The figure compared is the report's latency of the source model (MODEL itself) at each thread count.
Prints the medians over the rounds and wizard/cli ratios; the target is a ratio within 1.15.

    python3 benchmarks/bench_wizard_vs_cli.py --model selfie-general --rounds 3 --unpaused
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The studio and the jobs get a home of their own: nothing of the user's settings or models is touched.
os.environ["HOME"] = tempfile.mkdtemp(prefix="segview-bench-home-")
os.environ.pop("SEGVIEW_MODEL_PATH", None)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="selfie-general")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--latency-rounds", type=int, default=10, help="the job's own latency rounds (default 10)")
    p.add_argument("--runs", type=int, default=20, help="runs per latency round (default 20)")
    p.add_argument("--unpaused", action="store_true", help="also run the wizard with the pause switched off")
    p.add_argument("--studio-models", help="what the studio plays, comma-separated (default: MODEL alone)")
    p.add_argument("--json", type=Path, help="write every figure here")
    return p.parse_args()


def spin(app, until, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("the job did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def cli_round(args, studio, app, out: Path) -> dict[int, float]:
    """segview compress in its own process; the studio is paused meanwhile (it would compete for the cores)."""
    studio.engine.pause()
    try:
        report = out / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "segview",
            "compress",
            "--model",
            args.model,
            "--step",
            "fp16",
            "--out",
            str(out),
            "--rounds",
            str(args.latency_rounds),
            "--runs",
            str(args.runs),
            "--json",
            str(report),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"segview compress failed: {proc.stderr.strip()}")
        data = json.loads(report.read_text())
        return {0 if lat["threads"] == "default" else int(lat["threads"]): float(lat["source_ms"]) for lat in data["latency"]}
    finally:
        studio.engine.play()
        spin(app, lambda: studio.engine.running, 30)


def wizard_round(args, studio, app, out: Path, *, paused: bool) -> tuple[dict[int, float], str]:
    """The wizard's own path: its pages filled in, Compress pressed, the job followed by the run page's worker thread."""
    wizard = studio.window.open_compress()
    page = wizard.steps_page
    page.set_model(args.model)
    page.set_steps(["fp16"])
    wizard.targets_page.out_edit.setText(str(out))
    wizard.targets_page.name_edit.setText("")
    wizard.targets_page.rounds.setValue(args.latency_rounds)
    if not paused:  # the wizard as it was: nothing paused, and the report says what ran
        wizard._on_measuring = lambda measuring: "the studio's models (not paused)"
    else:
        wizard.__dict__.pop("_on_measuring", None)
    while wizard.currentPage() is not wizard.run_page:
        if not wizard.next():
            raise SystemExit(f"the wizard would not move on: {wizard.currentPage().subTitle()}")
    spin(app, lambda: not wizard.running, 900)
    if wizard.result is None or wizard.job is None or wizard.job.state != "finished":
        raise SystemExit(f"the wizard's job failed: {wizard.job.error if wizard.job else 'not started'}")
    latency = {lat.threads: lat.source_ms for lat in wizard.result.report.latency}
    beside = "; ".join(sorted({lat.beside for lat in wizard.result.report.latency}))
    wizard.reject()
    spin(app, lambda: studio.engine.running, 30)
    return latency, beside


def main() -> int:
    args = parse_args()
    from segview.compress.measure import MeasureOptions
    from segview.ui.app import Studio, application

    app = application()
    studio = Studio(persist=False)
    studio.window.resize(1280, 720)
    studio.window.show()
    playing = args.studio_models.split(",") if args.studio_models else [args.model]
    if not studio.open("demo", playing):
        raise SystemExit(f"the studio could not play the demo with {', '.join(playing)}: {studio.window.problem_label.text()}")
    spin(app, lambda: studio.engine.running, 30)
    variants = ["cli", "wizard"] + (["wizard-unpaused"] if args.unpaused else [])
    figures: dict[str, list[dict[int, float]]] = {v: [] for v in variants}
    besides: dict[str, str] = {"cli": "the studio paused (segview compress in its own process)"}
    root = Path(tempfile.mkdtemp(prefix="segview-bench-wizard-"))
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        for variant in order:
            out = root / f"{variant}-{r}"
            if variant == "cli":
                figures[variant].append(cli_round(args, studio, app, out))
            else:
                latency, besides[variant] = wizard_round(args, studio, app, out, paused=variant == "wizard")
                figures[variant].append(latency)
            print(
                f"round {r + 1}/{args.rounds} {variant:16s} " + "  ".join(f"{_threads(t)}: {ms:.2f} ms" for t, ms in sorted(figures[variant][-1].items())),
                flush=True,
            )
    studio.close()
    threads = sorted(set(MeasureOptions().threads))
    print(
        f"\n{args.model}, latency of one raw run (median of {args.rounds} jobs; each job: {args.latency_rounds} rounds x {args.runs} runs); "
        f"the studio plays the demo with {', '.join(playing)}"
    )
    summary = {t: _summary(figures, variants, t) for t in threads}
    for variant, text in besides.items():
        print(f"  {variant} measured beside: {text}")
    load = os.getloadavg()
    print(f"  load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores (other processes widen the spread)")
    if args.json:
        args.json.write_text(
            json.dumps({"model": args.model, "rounds": args.rounds, "figures": figures, "summary": summary, "beside": besides}, indent=2, default=str)
        )
    ok = {t: summary[t]["wizard_ratio"] <= 1.15 for t in threads}
    print("\nwizard within 15% of the command line (medians): " + ", ".join(f"{_threads(t)} {'yes' if ok[t] else 'NO'}" for t in threads))
    return 0 if all(ok.values()) else 1


def _summary(figures: dict[str, list[dict[int, float]]], variants: list[str], t: int) -> dict[str, float]:
    """Medians (and minima: the runs least disturbed by other processes) per variant, as ratios to the command line's."""
    cli = statistics.median(f[t] for f in figures["cli"])
    cli_min = min(f[t] for f in figures["cli"])
    out = {"cli_ms": cli, "cli_min_ms": cli_min}
    line = f"  {_threads(t):>15s}: cli {cli:.2f} ms (min {cli_min:.2f})"
    for variant in variants[1:]:
        ms, low = statistics.median(f[t] for f in figures[variant]), min(f[t] for f in figures[variant])
        out.update({f"{variant}_ms": ms, f"{variant}_ratio": ms / cli, f"{variant}_min_ms": low, f"{variant}_min_ratio": low / cli_min})
        line += f", {variant} {ms:.2f} ms ({ms / cli:.2f}x; min {low:.2f}, {low / cli_min:.2f}x)"
    print(line)
    return out


def _threads(t: int) -> str:
    return "default threads" if t == 0 else f"{t} thread" + ("s" if t > 1 else "")


if __name__ == "__main__":
    sys.exit(main())
