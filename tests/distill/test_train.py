"""A tiny distillation on generated frames: the loss falls, the export is a model segview runs;
cancel leaves a checkpoint and resume goes on from it."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import factories  # noqa: E402
from segview.distill.availability import DistillError  # noqa: E402
from segview.distill.runner import DistillJob, distill  # noqa: E402
from segview.inference.inspect import describe_model  # noqa: E402
from segview.inference.registry import ModelRegistry  # noqa: E402
from segview.inference.session import SegmentationSession, SessionOptions  # noqa: E402
from segview.pipeline import Pipeline  # noqa: E402
from segview.sources import open_source  # noqa: E402


def test_tiny_run_lowers_the_loss_and_exports_a_model_the_registry_and_pipeline_accept(tmp_path, teacher, square_frames, model_dir, tiny_config):
    out = model_dir / "student.onnx"
    registry = ModelRegistry([model_dir])
    outcome = distill(tiny_config(teacher, square_frames, out), registry=registry)

    losses = [loss for _, loss in outcome.loss_curve]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    # Registered at once, beside its teacher.
    assert outcome.name == "student" and set(registry.names()) >= {"teacher", "student"}
    card = describe_model(out)
    assert (card.width, card.height, card.layout, card.output_kind, card.output_name) == (32, 32, "NCHW", "sigmoid", "probability")
    info = json.loads(out.with_suffix(".json").read_text())["distillation"]
    assert info["architecture"] == "mobilenet" and info["teacher"]["name"] == "teacher"
    assert info["measured"]["speedup"] > 0 and info["measured"]["val_iou"] is not None
    assert info["training"]["steps"] == 40
    # Attention transfer from the teacher's intermediate tensor, found without being named.
    assert info["loss"]["hint"] == "attention" and info["teacher"]["hint_layer"] == "features"
    # The pipeline runs it on a video, like any other model.
    session = SegmentationSession(out, card, SessionOptions(threads=1))
    seen = []
    video = factories.write_video(tmp_path / "clip.mp4", factories.moving_square_frames(6))
    stats = Pipeline(open_source(str(video)), [session], workers=1, consumers=[seen.append]).run()
    assert stats.problems == [] and len(seen) == 6
    assert seen[0].results[0].mask.shape == (120, 160)
    # Nothing but the model, its card and the checkpoint was written.
    assert sorted(p.name for p in model_dir.iterdir()) == ["student.ckpt.pt", "student.json", "student.onnx", "teacher.json", "teacher.onnx"]


def test_cancel_leaves_a_checkpoint_and_no_model_then_resume_goes_on(teacher, square_frames, model_dir, tiny_config):
    out = model_dir / "student.onnx"
    steps: list[int] = []
    job_done = threading.Event()
    outcomes = []

    def on_progress(p):
        steps.append(p.step)

    config = tiny_config(teacher, square_frames, out, max_steps=10_000)
    job = DistillJob(
        config, on_progress=on_progress, on_finished=lambda o: (outcomes.append(o), job_done.set()), on_failed=lambda m: (outcomes.append(m), job_done.set())
    )
    job.start()
    deadline = threading.Event()
    for _ in range(600):
        if len(steps) >= 5:
            break
        deadline.wait(0.05)
    job.cancel()
    assert job_done.wait(30) and job.wait(5)
    outcome = outcomes[0]
    assert not isinstance(outcome, str) and outcome.cancelled
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert config.checkpoint_path.exists()
    done = outcome.steps
    assert 5 <= done < 10_000

    state = torch.load(config.checkpoint_path, weights_only=True)
    assert state["step"] == done

    resumed = tiny_config(teacher, square_frames, out, max_steps=done + 5)
    from dataclasses import replace

    outcome = distill(replace(resumed, resume=True), registry=ModelRegistry([model_dir]))
    assert outcome.steps == done + 5
    assert [s for s, _ in outcome.loss_curve][:done] == list(range(1, done + 1))
    assert out.exists()


def test_resume_refuses_a_checkpoint_of_another_student(teacher, square_frames, model_dir, tiny_config):
    from dataclasses import replace

    out = model_dir / "student.onnx"
    distill(tiny_config(teacher, square_frames, out, max_steps=2), registry=ModelRegistry([model_dir]))
    other = replace(tiny_config(teacher, square_frames, out, max_steps=4), width=0.5, resume=True)
    with pytest.raises(DistillError, match="width"):
        distill(other, registry=ModelRegistry([model_dir]))


def test_init_from_starts_a_new_run_at_another_resolution_from_a_students_weights(teacher, square_frames, model_dir, tiny_config):
    from dataclasses import replace

    first = model_dir / "first.onnx"
    distill(tiny_config(teacher, square_frames, first, max_steps=3), registry=ModelRegistry([model_dir]))
    first_state = torch.load(model_dir / "first.ckpt.pt", weights_only=True)
    saved = first_state["student"]
    # A new run at 48 px whose learning rate is too small to move anything: its student
    # ends where the first one left off, and its own step count starts from zero.
    second = model_dir / "second.onnx"
    config = replace(tiny_config(teacher, square_frames, second, max_steps=1, learning_rate=1e-30), resolution=48, init_from=model_dir / "first.ckpt.pt")
    outcome = distill(config, registry=ModelRegistry([model_dir]))
    assert outcome.steps == 1
    state = torch.load(model_dir / "second.ckpt.pt", weights_only=True)
    assert state["config"]["resolution"] == 48 and state["config"]["init_from"] == str(model_dir / "first.ckpt.pt")
    assert saved.keys() == state["student"].keys()
    learned = [k for k in saved if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]  # batch norm statistics move with any step
    assert learned
    for key in learned:
        assert torch.allclose(state["student"][key], saved[key], rtol=0, atol=1e-12), key  # zeros move by the step's 1e-30
    card = describe_model(second)
    assert (card.width, card.height) == (48, 48)
    # The card counts the first run's time and steps too; a resumed second run keeps them.
    training = card.extra["distillation"]["training"]
    assert [(a["steps"], a["resolution"]) for a in training["started_from"]] == [(3, 32)]
    assert training["seconds_in_all"] == pytest.approx(training["seconds"] + round(first_state["elapsed"], 1), abs=0.11)
    as_written = torch.load(model_dir / "second.ckpt.pt", weights_only=True)
    resumed = replace(config, init_from=None, resume=True, train=replace(config.train, max_steps=2))
    distill(resumed, registry=ModelRegistry([model_dir]))
    assert describe_model(second).extra["distillation"]["training"]["started_from"] == training["started_from"]
    # A checkpoint written before lineage was recorded: read from the parent its config names.
    del as_written["lineage"]
    torch.save(as_written, model_dir / "second.ckpt.pt")
    distill(resumed, registry=ModelRegistry([model_dir]))
    assert describe_model(second).extra["distillation"]["training"]["started_from"] == training["started_from"]


def test_init_from_refuses_another_network_and_a_resume_at_once(teacher, square_frames, model_dir, tiny_config):
    from dataclasses import replace

    out = model_dir / "student.onnx"
    distill(tiny_config(teacher, square_frames, out, max_steps=2), registry=ModelRegistry([model_dir]))
    checkpoint = model_dir / "student.ckpt.pt"
    wider = replace(tiny_config(teacher, square_frames, model_dir / "wider.onnx", max_steps=2), width=0.5, init_from=checkpoint)
    with pytest.raises(DistillError, match="width"):
        distill(wider, registry=ModelRegistry([model_dir]))
    both = replace(tiny_config(teacher, square_frames, model_dir / "both.onnx", max_steps=2), resume=True, init_from=checkpoint)
    with pytest.raises(DistillError, match="one of them"):
        distill(both, registry=ModelRegistry([model_dir]))
    missing = replace(tiny_config(teacher, square_frames, model_dir / "m.onnx", max_steps=2), init_from=model_dir / "nope.ckpt.pt")
    with pytest.raises(DistillError, match="nothing to start from"):
        distill(missing, registry=ModelRegistry([model_dir]))
    assert not (model_dir / "wider.onnx").exists() and not (model_dir / "both.onnx").exists()
