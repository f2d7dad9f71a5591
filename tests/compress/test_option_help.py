"""Each step option's description lives on its config field: the wizard's tooltip and ``--list-steps`` print the same text;
int8 steps carry the plain "smaller, not faster" sentence there too."""

from __future__ import annotations

import dataclasses

import pytest

from segview.cli.main import main
from segview.compress.int8_note import cpu_description, describe_cpu, int8_note, makes_int8
from segview.compress.step import all_steps, get_step, option_help

# The steps whose options this change described; a step added later shows its own (or none) the same way.
DESCRIBED = ("fp16", "int8-static", "int8-dynamic", "int8-auto", "prune", "prune-channels", "cluster")


def list_steps(capsys) -> str:
    assert main(["compress", "--list-steps"]) == 0
    return capsys.readouterr().out


def test_every_option_of_the_described_steps_has_a_description():
    for name in DESCRIBED:
        fields = dataclasses.fields(get_step(name).config_type)
        assert fields, name
        missing = [f.name for f in fields if not option_help(f)]
        assert missing == [], f"{name}: {missing}"


def test_list_steps_prints_each_option_with_its_description(capsys):
    out = list_steps(capsys)
    printed = 0
    for step in all_steps():
        for f in dataclasses.fields(step.config_type):
            if option_help(f):
                line = next(line for line in out.splitlines() if line.strip().startswith(f"{f.name}=") and option_help(f) in line)
                assert line.endswith(f": {option_help(f)}")
                printed += 1
    assert printed >= 30  # the seven described steps hold more than thirty options


def test_the_form_shows_each_description_as_the_tooltip_of_its_label_and_editor(qtbot):
    pytest.importorskip("PySide6")
    from PySide6.QtWidgets import QFormLayout

    from segview.ui.step_options_form import StepOptionsForm

    step = get_step("cluster")
    form = StepOptionsForm(step, {})
    qtbot.addWidget(form)
    layout = form.layout()
    assert isinstance(layout, QFormLayout)
    for f in dataclasses.fields(step.config_type):
        editor = form.editors[f.name]
        label = layout.labelForField(editor)
        assert editor.toolTip() == option_help(f) != ""
        assert label.toolTip() == option_help(f) and label.text() == f.name.replace("_", " ")


def test_list_steps_says_int8_is_smaller_not_faster_for_the_int8_steps_only(capsys):
    out = list_steps(capsys)
    note = int8_note()
    assert "smaller" in note and "not faster" in note and cpu_description() in note
    int8 = [s.name for s in all_steps() if makes_int8(s)]
    assert sorted(int8) == ["int8-auto", "int8-dynamic", "int8-static"]  # from the steps' declarations
    blocks: dict[str, list[str]] = {}
    for line in out.splitlines():
        if not line.startswith(" "):
            blocks[line.split(":")[0].split(" ")[0]] = []
        else:
            blocks[list(blocks)[-1]].append(line)
    for name, lines in blocks.items():
        assert (f"  note: {note}" in lines) == (name in int8), name


def test_the_cpu_is_named_with_whether_it_has_vnni(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse avx2\n")
    assert describe_cpu(str(info)) == "Test CPU 9000, no VNNI"
    info.write_text("model name\t: Test CPU 9001\nflags\t\t: fpu avx512_vnni\n")
    assert describe_cpu(str(info)) == "Test CPU 9001, with VNNI"
    assert "On this CPU (Test CPU 9001, with VNNI)" in int8_note(describe_cpu(str(info)))
    assert describe_cpu(str(tmp_path / "absent")) not in ("", "unknown CPU, no VNNI")  # no flags read: the name alone
