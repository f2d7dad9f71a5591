"""Writing a student: model and card replace the previous pair together, or not at all."""

from __future__ import annotations

import errno
import json
import os

import onnx
import pytest

import factories

pytest.importorskip("torch")

from segview.distill import export  # noqa: E402 - needs torch
from segview.errors import DistillError  # noqa: E402
from segview.inference.card import card_path_for  # noqa: E402


def _card(title: str):
    return export.student_card("student", 32, title=title, source="test", extra={}, input_name="input", output_name="prob")


def test_a_model_move_that_fails_leaves_the_previous_model_and_card(tmp_path, monkeypatch):
    data = factories.brightness_model(tmp_path / "bright.onnx").read_bytes()
    out = tmp_path / "student.onnx"
    export.write_student(data, _card("first"), out)
    first_model, first_card = out.read_bytes(), card_path_for(out).read_text()
    assert json.loads(first_card)["title"] == "first"
    assert onnx.load(str(out)).metadata_props[0].value == first_card  # the card travels inside the model

    real_replace = os.replace

    def full_disk_for_the_model(src, dst):
        # Only the new model's move fails (putting the previous model back is another move).
        if os.fspath(dst) == os.fspath(out) and os.path.basename(src).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr("segview.fileio.os.replace", full_disk_for_the_model)
    with pytest.raises(DistillError, match=f"cannot write {out}: No space left on device"):
        export.write_student(data, _card("second"), out)
    # The card moved first, and was put back: the pair on disk is still the first one.
    assert card_path_for(out).read_text() == first_card
    assert out.read_bytes() == first_model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bright.onnx", "student.json", "student.onnx"]  # no temporary files or parked ones
