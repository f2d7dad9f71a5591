"""``segview distill`` on the command line: errors are one line and exit 2."""

from __future__ import annotations

import json

import pytest

from cli_tools import SMALL_BATCHES, TINY_STUDENT
from segview.cli.main import main


def test_distill_without_torch_says_how_to_install(monkeypatch, capsys, brightness_model, tmp_path):
    from segview.distill import availability

    monkeypatch.setattr(availability, "torch_available", lambda: False)
    monkeypatch.setattr(availability, "editable_checkout", lambda: None)  # as installed from a package
    code = main(["distill", "--teacher", str(brightness_model), "--arch", "mobilenet", "--images", str(tmp_path), "--out", str(tmp_path / "s.onnx")])
    err = capsys.readouterr().err
    assert code == 2
    assert 'pip install "segview[distill]"' in err and err.count("\n") == 1


def test_distill_without_frames_is_one_line(capsys, brightness_model, tmp_path):
    pytest.importorskip("torch")
    code = main(["distill", "--teacher", str(brightness_model), "--arch", "enet", "--out", str(tmp_path / "s.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and "no frames to learn from" in err and err.count("\n") == 1


def test_distill_cli_tiny_run(capsys, brightness_model, square_frames, model_dir):
    pytest.importorskip("torch")
    out = model_dir / "cli-student.onnx"
    code = main(
        [
            "distill",
            "--teacher",
            str(brightness_model),
            *TINY_STUDENT,
            "--images",
            str(square_frames),
            "--steps",
            "3",
            *SMALL_BATCHES,
            "--mosaic",
            "0.5",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert out.exists() and "registered as cli-student" in text and "speed: student" in text
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["distillation"]["training"]["mosaic"] == 0.5


def test_the_studio_child_process_gets_every_setting_through_its_config_file(tmp_path):
    # The Distill page runs `segview distill --config-json FILE` in a child process: a setting
    # lost on the way would silently train another student than the one chosen.
    from dataclasses import replace

    from segview.cli.distill_cmd import config_from_json_file
    from segview.cli.main import build_parser
    from segview.distill.config import DataConfig, DistillConfig, LossConfig, TrainConfig
    from segview.distill.process import write_config_json

    config = DistillConfig(
        teacher="selfie-general",
        arch="slim",
        resolution=224,
        slim_gates=("multiply_9", "multiply_8"),
        slim_relu=True,
        slim_skip_last_stage=True,
        data=DataConfig(
            images=tmp_path / "frames",
            masks=tmp_path / "masks",
            videos=("clip.mp4",),
            video_every=3,
            video_max_frames=50,
            val_images=tmp_path / "v",
            val_masks=tmp_path / "vm",
        ),
        loss=LossConfig(temperature=3.0, hard_weight=0.0, hint="none", hint_weight=0.5),
        train=TrainConfig(minutes=7.5, batch_size=4, learning_rate=1e-4, threads=1, seed=3, augment=False, mosaic=0.25),
        out=tmp_path / "s.onnx",
        name="s",
        checkpoint=tmp_path / "s.ckpt.pt",
        resume=True,
    )
    for each in (config, replace(config, resume=False, init_from=tmp_path / "earlier.ckpt.pt")):
        path = write_config_json(each)
        args = build_parser().parse_args(["distill", "--config-json", str(path), "--events"])
        assert replace(config_from_json_file(args.config_json), command=()) == each
        path.unlink()
