"""Two validation figures every run, by person size, and the checkpoint the unseen pool chooses."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import factories
from cli_tools import SMALL_BATCHES, TINY_STUDENT
from segview.cli.main import main
from segview.distill.selection import BestKeeper, figure, score_frame, size_bin

torch = pytest.importorskip("torch")

from segview.distill import selection  # noqa: E402 - after the importorskip, so the module skips without torch
from segview.distill.config import SelectConfig  # noqa: E402 - after the importorskip, so the module skips without torch
from segview.distill.runner import distill  # noqa: E402 - after the importorskip, so the module skips without torch
from segview.inference.registry import ModelRegistry  # noqa: E402 - after the importorskip, so the module skips without torch


def test_person_size_bins_by_share_of_the_frame():
    assert [size_bin(s) for s in (0.0, 0.004, 0.005, 0.099, 0.10, 0.35, 0.351, 1.0)] == [
        "none", "none", "small", "small", "medium", "medium", "large", "large"
    ]  # fmt: skip
    truth = np.zeros((10, 10), bool)
    # A frame without a person: 1 when the student finds (almost) nothing too, else 0.
    assert score_frame(np.zeros((10, 10), bool), truth) == ("none", 1.0)
    assert score_frame(np.ones((10, 10), bool), truth) == ("none", 0.0)
    truth[:5, :] = True
    assert score_frame(truth.copy(), truth) == ("large", 1.0)


def test_a_figure_leaves_frames_without_people_out_of_its_mean_and_counts_every_frame():
    scores = [("small", 0.2), ("small", 0.4), ("large", 0.9), ("none", 1.0), ("none", 0.0)]
    result = figure(scores)
    assert result.value == pytest.approx(0.5)
    assert result.frames == 5 == sum(b["count"] for b in result.by_size.values())
    assert result.by_size == {
        "small": {"iou": 0.3, "count": 2}, "medium": {"iou": None, "count": 0}, "large": {"iou": 0.9, "count": 1}, "none": {"iou": 0.5, "count": 2}
    }  # fmt: skip


def _student(value: float) -> torch.nn.Module:
    module = torch.nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.fill_(value)
    return module


def test_the_keeper_keeps_the_weights_of_the_best_agreement_and_the_earlier_of_a_tie():
    keeper = BestKeeper()
    scripted = [0.50, 0.70, 0.60, 0.70, 0.65]
    kept = [keeper.offer(step, figure([("large", a)]), figure([("medium", 0.1 * step)]), _student(step)) for step, a in enumerate(scripted, 1)]
    assert kept == [True, True, False, False, False]
    best = keeper.best
    assert (best["step"], best["agreement"], best["labelled_iou"]) == (2, 0.7, pytest.approx(0.2))
    assert torch.equal(best["state_dict"]["weight"], torch.full((1, 2), 2.0))  # step 2's weights, copied
    assert best["figures"]["unseen_pool"]["agreement"] == 0.7
    assert not keeper.offer(6, figure([("none", 1.0)]), None, _student(6))  # no person anywhere: no figure to beat
    # Resumed: the best stays for the same pool; agreement on another pool is another figure.
    pool = [{"name": "unseen", "kind": "images", "count": 11}]
    keeper = BestKeeper(pool=pool)
    keeper.offer(1, figure([("large", 0.4)]), None, _student(1))
    assert BestKeeper(keeper.best, pool).best["step"] == 1
    other = BestKeeper(keeper.best, [{"name": "elsewhere", "kind": "images", "count": 11}])
    assert other.dropped and other.best is None


@pytest.fixture
def pool_frames(tmp_path):
    """An unseen pool: squares elsewhere and of other sizes than the training frames'."""
    frames = []
    for i in range(10):
        side = 10 + 5 * i
        frames.append(factories.bright_square_frame(80, 60, box=(2 + i, 3, 2 + i + side, 3 + min(side, 50))))
    frames.append(factories.bright_square_frame(80, 60, box=(0, 0, 1, 1)))  # no person to speak of
    folder = tmp_path / "unseen"
    factories.write_images(folder, frames)
    return folder


def test_the_card_carries_both_figures_by_person_size_and_the_chosen_step(teacher, square_frames, pool_frames, model_dir, tiny_config):
    out = model_dir / "chosen.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=4), select=SelectConfig(images=(pool_frames,)))
    stages: list[str] = []
    distill(config, on_stage=stages.append, registry=ModelRegistry([model_dir]))
    info = json.loads(out.with_suffix(".json").read_text())["distillation"]
    v = info["validation"]
    assert v["chosen_by"] == "unseen-pool agreement" and 1 <= v["chosen_step"] <= 4
    assert v["labelled"]["frames"] == 6 == sum(b["count"] for b in v["labelled"]["by_size"].values())
    assert v["labelled"]["against"] == "the teacher's masks" and v["labelled"]["iou"] is not None
    pool = v["unseen_pool"]
    assert pool["frames"] == 11 == sum(b["count"] for b in pool["by_size"].values())
    assert pool["by_size"]["none"]["count"] == 1 and pool["by_size"]["small"]["count"] >= 1
    assert [(s["kind"], s["count"]) for s in pool["sources"]] == [("images", 11)]
    assert len(info["agreement_curve"]) == 4 and len(info["val_curve"]) == 4  # validated every step
    best = max(info["agreement_curve"], key=lambda p: p[1])
    assert v["chosen_step"] == best[0] and pool["agreement"] == pytest.approx(best[1], abs=1e-4)
    assert "teacher masks of the selection pool: 11/11 frames, done" in stages
    # Without a pool: the last step, as before.
    plain = model_dir / "plain.onnx"
    distill(tiny_config(teacher, square_frames, plain, max_steps=3), registry=ModelRegistry([model_dir]))
    info = json.loads(plain.with_suffix(".json").read_text())["distillation"]
    assert info["validation"]["chosen_by"] == "last step" and info["validation"]["chosen_step"] == 3
    assert info["validation"]["unseen_pool"] is None and info["agreement_curve"] == []


def _scripted_pool(monkeypatch, agreements: list[float]):
    """The unseen pool's agreement figures, one per validation, as scripted; the student's weights
    at each kept in order. The labelled split is scored for real."""
    real = selection.MaskScorer.__call__
    seen: list[dict] = []

    def scored(self, student, device):
        if not getattr(self, "is_pool", False):
            return real(self, student, device)
        seen.append({k: v.detach().cpu().clone() for k, v in student.state_dict().items()})
        value = agreements[len(seen) - 1] if len(seen) <= len(agreements) else 0.0
        return figure([("medium", value)] * len(self))

    monkeypatch.setattr(selection.MaskScorer, "__call__", scored)
    original_init = selection.MaskScorer.__init__

    def init(self, images, truths, resolution):
        original_init(self, images, truths, resolution)
        self.is_pool = len(images) == 11

    monkeypatch.setattr(selection.MaskScorer, "__init__", init)
    return seen


def _onnx_output(path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_the_exported_model_is_the_best_steps_and_resume_keeps_the_best(monkeypatch, teacher, square_frames, pool_frames, model_dir, tiny_config):
    from segview.distill.architectures import Exportable, StudentSpec, build_student

    seen = _scripted_pool(monkeypatch, [0.30, 0.90, 0.40, 0.50, 0.20, 0.95, 0.10])
    out = model_dir / "best.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=5), select=SelectConfig(images=(pool_frames,)))
    distill(config, registry=ModelRegistry([model_dir]))
    state = torch.load(config.checkpoint_path, weights_only=True)
    assert state["step"] == 5 and state["best"]["step"] == 2 and state["best"]["agreement"] == pytest.approx(0.9)
    for key, value in seen[1].items():
        assert torch.equal(state["best"]["state_dict"][key], value), key
    assert [s for s, _ in state["agreement_curve"]] == [1, 2, 3, 4, 5]
    # The exported ONNX computes step 2's student, not step 5's.
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)

    def torch_output(weights):
        student = build_student(StudentSpec("mobilenet", 0.25, 32))
        student.load_state_dict(weights)
        with torch.no_grad():
            return Exportable(student.eval())(torch.from_numpy(x)).numpy()

    exported = _onnx_output(out, x)
    np.testing.assert_allclose(exported, torch_output(seen[1]), atol=1e-4)
    assert np.abs(exported - torch_output(state["student"])).max() > 1e-3  # the last step's differs
    v = json.loads(out.with_suffix(".json").read_text())["distillation"]["validation"]
    assert (v["chosen_by"], v["chosen_step"], v["unseen_pool"]["agreement"]) == ("unseen-pool agreement", 2, 0.9)

    # --resume: two more steps score 0.95 then 0.10; the best moves to step 6 and stays there.
    resumed = replace(config, resume=True, train=replace(config.train, max_steps=7))
    distill(resumed, registry=ModelRegistry([model_dir]))
    state = torch.load(config.checkpoint_path, weights_only=True)
    assert state["step"] == 7 and state["best"]["step"] == 6
    v = json.loads(out.with_suffix(".json").read_text())["distillation"]["validation"]
    assert v["chosen_step"] == 6
    # Resumed again with nothing better: the best from before the resume is still the one exported.
    distill(replace(resumed, train=replace(config.train, max_steps=8)), registry=ModelRegistry([model_dir]))
    assert json.loads(out.with_suffix(".json").read_text())["distillation"]["validation"]["chosen_step"] == 6


def test_a_selection_source_that_is_also_a_training_source_is_refused_in_one_line(capsys, brightness_model, square_frames, tmp_path):
    same = tmp_path / "." / square_frames.name  # another spelling of the same folder
    out = tmp_path / "s.onnx"

    def refused(*sources: str) -> str:
        """``segview distill`` from these sources fails with one line on stderr: that line."""
        code = main(["distill", "--teacher", str(brightness_model), "--arch", "enet", *sources, "--steps", "2", "--out", str(out)])
        err = capsys.readouterr().err
        assert code != 0 and err.count("\n") == 1
        return err

    err = refused("--images", str(square_frames), "--select-images", str(same))
    assert err.startswith("segview: error: ")
    assert "also a training source" in err and not out.exists()
    video = factories.write_video(tmp_path / "clip.mp4", factories.moving_square_frames(4))
    assert "clip.mp4 is also a training source" in refused("--video", str(video), "--select-video", str(video))


def test_the_studio_child_process_gets_the_selection_pool_through_its_config_file(tmp_path, tiny_config, teacher, square_frames):
    from segview.cli.distill_cmd import config_from_json_file
    from segview.cli.main import build_parser
    from segview.distill.process import write_config_json

    config = replace(
        tiny_config(teacher, square_frames, tmp_path / "s.onnx", validate_every_s=7.5),
        select=SelectConfig(images=(tmp_path / "a", tmp_path / "b"), videos=("clip.mp4",)),
    )
    args = build_parser().parse_args(["distill", "--config-json", str(write_config_json(config)), "--events"])
    parsed = config_from_json_file(args.config_json)
    assert parsed.select == config.select and parsed.train.validate_every_s == 7.5


def test_the_cli_says_which_step_the_unseen_pool_chose(capsys, brightness_model, square_frames, pool_frames, model_dir):
    out = model_dir / "cli-chosen.onnx"
    code = main(["distill", "--teacher", str(brightness_model), *TINY_STUDENT, "--images", str(square_frames),
                 "--select-images", str(pool_frames), "--steps", "2", *SMALL_BATCHES, "--hint", "none", "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "teacher targets: 22/22 frames, done" in text  # --hint none: cached (24 frames, every 10th held out)
    chosen = json.loads(out.with_suffix(".json").read_text())["distillation"]["validation"]["chosen_step"]
    assert "unseen-pool agreement with the teacher (11 frames): " in text and f"exported step {chosen} (chosen by unseen-pool agreement)" in text


def test_a_selection_pool_without_people_is_refused_before_training(teacher, square_frames, tmp_path, model_dir, tiny_config):
    dark = tmp_path / "dark"
    factories.write_images(dark, [np.full((60, 80, 3), 20, np.uint8)] * 3)
    out = model_dir / "never.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), select=SelectConfig(images=(dark,)))
    with pytest.raises(selection.DistillError, match="no person in any of the 3 frames of the selection pool"):
        distill(config, registry=ModelRegistry([model_dir]))
    assert not out.exists() and not config.checkpoint_path.exists()
