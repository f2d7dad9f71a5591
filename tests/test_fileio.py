"""fileio.move_all_into_place (all or nothing) and jsonsafe (one rule for JSON values)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from segview import fileio
from segview.fileio import atomic_write_json, move_all_into_place
from segview.jsonsafe import json_bytes, json_safe


def staged(folder: Path, name: str, text: str) -> Path:
    path = folder / f".{name}.staged"
    path.write_text(text)
    return path


def test_all_moves_land_and_what_they_replace_is_gone(tmp_path):
    (tmp_path / "a.onnx").write_text("old a")
    moves = [(staged(tmp_path, "a.onnx", "new a"), tmp_path / "a.onnx"), (staged(tmp_path, "a.json", "new card"), tmp_path / "a.json")]
    move_all_into_place(moves)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.onnx"]
    assert (tmp_path / "a.onnx").read_text() == "new a"
    assert (tmp_path / "a.json").read_text() == "new card"


def test_a_failing_move_undoes_the_others_and_puts_the_old_files_back(tmp_path, monkeypatch):
    (tmp_path / "m.onnx").write_text("old model")
    (tmp_path / "m.json").write_text("old card")
    moves = [
        (staged(tmp_path, "m.json", "new card"), tmp_path / "m.json"),
        (staged(tmp_path, "m.report.json", "new report"), tmp_path / "m.report.json"),
        (staged(tmp_path, "m.onnx", "new model"), tmp_path / "m.onnx"),
    ]
    real_replace = os.replace

    def full_disk_for_the_model(src, dst):
        if Path(dst) == tmp_path / "m.onnx" and not str(src).endswith(".previous"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", full_disk_for_the_model)
    with pytest.raises(OSError, match="No space left on device"):
        move_all_into_place(moves)
    assert (tmp_path / "m.onnx").read_text() == "old model"
    assert (tmp_path / "m.json").read_text() == "old card"
    assert not (tmp_path / "m.report.json").exists()
    # The old files and the staged model the caller still owns: no parking folder is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.onnx.staged", "m.json", "m.onnx"]


def test_a_signal_between_two_moves_is_all_or_nothing_too(tmp_path, monkeypatch):
    moves = [(staged(tmp_path, "x", "1"), tmp_path / "x"), (staged(tmp_path, "y", "2"), tmp_path / "y")]
    real_replace = os.replace

    def interrupted(src, dst):
        if Path(dst).name == "y":
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        move_all_into_place(moves)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_folder_replaces_a_folder(tmp_path):
    old = tmp_path / "report"
    old.mkdir()
    (old / "index.html").write_text("old")
    new = tmp_path / ".report.tmp"
    new.mkdir()
    (new / "index.html").write_text("new")
    move_all_into_place([(new, old)])
    assert (old / "index.html").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_json_safe_makes_plain_values_all_the_way_down():
    value = {"path": Path("/a/b"), "sizes": (1, 2), "nested": [{"t": (Path("c"),)}], "n": np.float32(0.5), "a": np.arange(3), "s": "x"}
    plain = json_safe(value)
    assert plain == {"path": "/a/b", "sizes": [1, 2], "nested": [{"t": ["c"]}], "n": 0.5, "a": [0, 1, 2], "s": "x"}
    assert type(plain["n"]) is float and type(plain["a"][0]) is int


def test_json_bytes_is_indented_and_refuses_nan_and_unknown_types(tmp_path):
    assert json_bytes({"a": np.int64(3), "p": Path("x")}) == b'{\n  "a": 3,\n  "p": "x"\n}\n'
    with pytest.raises(ValueError):
        json_bytes({"a": float("nan")})
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        json_bytes({"a": object()})
    atomic_write_json(tmp_path / "out.json", {"grid": np.zeros((2, 2), np.uint8)})
    assert json.loads((tmp_path / "out.json").read_text()) == {"grid": [[0, 0], [0, 0]]}
