"""``segview distill`` on the command line: errors are one line and exit 2."""

from __future__ import annotations

import pytest

from segview.cli.main import main


def test_distill_without_torch_says_how_to_install(monkeypatch, capsys, brightness_model, tmp_path):
    from segview.distill import availability

    monkeypatch.setattr(availability, "torch_available", lambda: False)
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
    code = main(["distill", "--teacher", str(brightness_model), "--arch", "enet", "--width", "0.25", "--resolution", "32",
                 "--images", str(square_frames), "--steps", "3", "--batch-size", "4", "--threads", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert out.exists() and "registered as cli-student" in text and "speed: student" in text
