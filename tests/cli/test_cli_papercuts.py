"""Issue 12's command-line papercuts, each one as a user met it."""

import json

import pytest

import factories
from cli_tools import SMALL_BATCHES, TINY_STUDENT, assert_one_line_error, run_segview
from segview.cli.main import build_parser


def segview(*args):
    return run_segview(*args, timeout=120)


def assert_usage_error(proc, command, fragment):
    """A mistake on the command line: exit 2, one line from the (sub)command concerned, no usage dump."""
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{command}: error: "), lines[0]
    assert fragment in lines[0], lines[0]


def parse_error(capsys, *argv):
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([str(a) for a in argv])
    assert stopped.value.code == 2
    return capsys.readouterr().err.strip()


def test_a_non_number_names_the_option_not_the_converter():
    proc = segview("bench", "--frames", "abc")
    assert_usage_error(proc, "segview bench", "argument --frames: 'abc' is not a whole number")
    assert "_positive" not in proc.stderr and "invalid" not in proc.stderr


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["bench", "--frames", "0"], "--frames: 0 is out of range: give 1 to 10000000"),
        (["bench", "--frames", "10000001"], "--frames: 10000001 is out of range"),
        (["bench", "--warmup", "-1"], "--warmup: -1 is out of range"),
        (["bench", "--workers", "65"], "--workers: 65 is out of range: give 1 to 64"),
        (["bench", "--threads", "0"], "--threads: 0 is out of range: give 1 to 256"),
        (["bench", "--duration", "nan"], "--duration: 'nan' is not a finite number"),
        (["bench", "--duration", "0"], "--duration: 0 is out of range: give a number above 0"),
        (["bench", "--sequential", "--rounds", "1"], "--rounds: 1 is out of range: give 2 to 1000"),
        (["eval", "--images", "i", "--masks", "m", "--threads", "300"], "--threads: 300 is out of range"),
        (["compress", "--calib-frames", "x"], "--calib-frames: 'x' is not a whole number"),
        (["compress", "--held-out", "1.5"], "--held-out: 1.5 is out of range"),
        (["compress", "--threads", "1,-1"], "--threads: -1 is out of range: give 0 to 256"),
        (["compress", "--rounds", "0"], "--rounds: 0 is out of range"),
        (["distill", "--minutes", "inf"], "--minutes: 'inf' is not a finite number"),
        (["distill", "--batch-size", "0"], "--batch-size: 0 is out of range"),
        (["distill", "--mosaic", "2"], "--mosaic: 2 is out of range"),
        (["distill", "--lr", "-1"], "--lr: -1 is out of range: give a number above 0"),
        (["studio", "--duration", "-5"], "--duration: -5 is out of range: give a number above 0 and at most 604800"),
        (["studio", "--duration", "1e10"], "--duration: 1e+10 is out of range"),
        (["studio", "--duration", "inf"], "--duration: 'inf' is not a finite number"),
        (["studio", "--workers", "-2"], "--workers: -2 is out of range: give 1 to 64"),
        (["--duration", "nan"], "--duration: 'nan' is not a finite number"),
    ],
)
def test_numeric_options_are_bounded(capsys, argv, fragment):
    command = "segview" if argv[0].startswith("-") else f"segview {argv[0]}"
    message = parse_error(capsys, *argv)
    assert message.startswith(f"{command}: error: argument ") and fragment in message, message
    assert "\n" not in message


def test_the_studio_refuses_a_negative_duration_before_opening_a_window():
    # The real program (segview.launcher): it used to exit 0.
    assert_usage_error(segview("studio", "--duration", "-5"), "segview studio", "--duration: -5 is out of range")


def test_a_mistyped_option_reports_the_subcommands_error_with_a_guess():
    proc = segview("bench", "--sorce", "demo")
    assert_usage_error(proc, "segview bench", "unrecognized arguments: --sorce demo; did you mean --source?")
    assert "usage" not in proc.stderr


def test_mistyped_top_level_option_and_command(capsys):
    assert parse_error(capsys, "--sorce", "demo") == "segview: error: unrecognized arguments: --sorce; did you mean --source?"
    assert parse_error(capsys, "bnech").endswith("; did you mean bench?")
    assert parse_error(capsys, "studio", "--overlay", "blnd").endswith("; did you mean blend?")


def test_abbreviated_options_still_work():
    args = build_parser().parse_args(["bench", "--sour", "demo", "--fram", "5"])
    assert (args.source, args.frames) == ("demo", 5)


def test_distill_without_arch_is_one_line():
    proc = segview("distill", "--teacher", "selfie-general", "--out", "x.onnx", "--images", ".")
    assert proc.stderr.strip() == "segview distill: error: the following arguments are required: --arch"
    assert proc.returncode == 2


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("demo?lop=1", "unknown option 'lop' for demo; did you mean loop? known: loop, realtime"),
        ("camera:0?size=1280x720&fps=-3", "camera option fps=-3: must be a number above 0"),
        ("camera:0?fps=nan", "fps=nan"),
        ("demo?loop=banana", "loop=banana"),
        ("dmeo", "did you mean demo?"),
        ("camra:0", "did you mean camera:0?"),
    ],
)
def test_bad_sources_on_the_command_line(brightness_model, source, fragment):
    proc = segview("bench", "--source", source, "--model", brightness_model, "--frames", 5)
    assert_one_line_error(proc, fragment)
    assert proc.stdout == ""


def test_no_nan_table_when_nothing_was_measured(brightness_model, tmp_path):
    # One image, not looped: a single frame, so no rate. The error alone, no table of nan.
    factories.write_images(tmp_path / "one", factories.moving_square_frames(1))
    proc = segview("bench", "--source", f"folder:{tmp_path / 'one'}?loop=0", "--model", brightness_model, "--warmup", 0, "--frames", 5)
    assert_one_line_error(proc, "nothing was measured")
    assert "nan" not in proc.stdout and "FPS" not in proc.stdout


def test_no_nan_table_when_the_source_fails_during_warm_up(brightness_model, tmp_path):
    video = factories.write_video(tmp_path / "long.mkv", factories.moving_square_frames(90))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    proc = segview("bench", "--source", cut, "--model", brightness_model, "--warmup", 200, "--frames", 5)
    assert_one_line_error(proc, "cut.mkv is damaged")
    assert proc.stdout == ""


# -- distillation: the install hint and a student far below its teacher ----------


class _Dist:
    def __init__(self, record):
        self.record = record

    def read_text(self, name):
        assert name == "direct_url.json"
        return None if self.record is None else json.dumps(self.record)


@pytest.mark.parametrize(
    "dists, expected",
    [
        (
            [_Dist(None), _Dist({"url": "file:///home/me/src/segview", "dir_info": {"editable": True}})],
            'in your segview clone (/home/me/src/segview) run python3 -m pip install -e ".[distill]"',
        ),
        ([_Dist({"url": "file:///tmp/segview-0.1.0-py3-none-any.whl", "archive_info": {}})], 'python3 -m pip install "segview[distill]"'),
        ([_Dist(None)], 'python3 -m pip install "segview[distill]"'),
        ([], 'python3 -m pip install "segview[distill]"'),
    ],
)
def test_the_install_hint_fits_how_segview_was_installed(monkeypatch, dists, expected):
    from segview.distill import availability

    monkeypatch.setattr(availability.importlib.metadata, "distributions", lambda name=None: iter(dists))
    assert expected in availability.install_hint()
    assert ("-e" in availability.install_hint()) == ("clone" in expected)


def test_a_student_far_below_its_teacher_gets_a_warning():
    from segview.distill.runner import quality_warning

    line = quality_warning({"val_iou": 0.612, "teacher_val_iou": 0.795})
    assert line.startswith("warning: the student's validation IoU 0.612 is 18.3 points below the teacher's 0.795")
    assert "more training minutes" in line
    assert quality_warning({"val_iou": 0.76, "teacher_val_iou": 0.795}) is None  # 3.5 points: close enough
    assert quality_warning({"val_iou": None, "teacher_val_iou": 0.795}) is None


def test_distill_prints_the_warning_before_registering(brightness_model, tmp_path, model_dir):
    pytest.importorskip("torch")
    factories.write_images(tmp_path / "frames", factories.moving_square_frames(12))
    out = model_dir / "hasty.onnx"
    # One step at a vanishing learning rate: the student is still its random start.
    proc = segview(
        "distill",
        "--teacher",
        brightness_model,
        *TINY_STUDENT,
        "--images",
        tmp_path / "frames",
        "--steps",
        "1",
        "--lr",
        "1e-9",
        *SMALL_BATCHES,
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(out.with_suffix(".json").read_text())["distillation"]["measured"]
    gap = 100 * (measured["teacher_val_iou"] - measured["val_iou"])
    assert gap > 10, measured  # the premise: an untrained student is far below
    lines = proc.stdout.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith("distill: warning: the student's validation IoU"))
    assert f"{gap:.1f} points below" in lines[warning]
    assert warning < lines.index("distill: registering") < next(i for i, line in enumerate(lines) if line.startswith("wrote "))
