"""``segview devices`` and ``segview bench`` with the fake phone, as a user runs them."""

from __future__ import annotations

import json
import os

from cli_tools import assert_one_line_error, run_segview
from fake_adb.fakephone import SERIAL


def segview(*args, env):
    return run_segview(*args, env=env, timeout=120)


def test_devices_lists_the_phone_beside_cameras(fake_phone):
    proc = segview("devices", env=fake_phone.env())
    assert proc.returncode == 0, proc.stderr
    assert "camera" in proc.stdout
    line = next(line for line in proc.stdout.splitlines() if line.startswith(f"adb:{SERIAL}"))
    assert "Pixel 7" in line and "usb:1-1" in line and "ready" in line


def test_devices_explains_an_unauthorized_phone(fake_phone):
    fake_phone.set_device(state="unauthorized")
    proc = segview("devices", env=fake_phone.env())
    assert proc.returncode == 0
    assert "Allow USB debugging" in proc.stdout


def test_devices_without_adb_says_how_to_get_it(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))
    proc = segview("devices", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "phones: adb was not found on PATH" in proc.stdout and "apt-get install adb" in proc.stdout


def test_bench_on_the_phone(fake_phone, brightness_model, tmp_path):
    out = tmp_path / "bench.json"
    proc = segview("bench", "--source", f"adb:{SERIAL}", "--model", brightness_model, "--frames", 30, "--warmup", 3, "--json", out, env=fake_phone.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["source"]["name"] == f"adb:{SERIAL}"
    assert report["models"][0]["frames"] >= 30 and report["models"][0]["fps"] > 0
    assert f"adb:{SERIAL}" in proc.stdout


def test_bench_on_an_unknown_phone_is_one_clear_line(fake_phone, brightness_model):
    proc = segview("bench", "--source", "adb:NOPE", "--model", brightness_model, "--frames", 5, env=fake_phone.env())
    assert_one_line_error(proc, f"no phone with serial 'NOPE' is attached (attached: {SERIAL} (Pixel 7))")


def test_bench_without_adb_is_one_clear_line(tmp_path, brightness_model):
    proc = segview("bench", "--source", "adb", "--model", brightness_model, "--frames", 5, env=dict(os.environ, PATH=str(tmp_path)))
    assert_one_line_error(proc, "adb was not found on PATH; install Android platform tools: 'sudo apt-get install adb'")


def test_bench_on_a_phone_sending_garbage_is_one_clear_line(fake_phone, brightness_model):
    fake_phone.set_stream(garbage=True, garbage_bytes=20000)
    proc = segview("bench", "--source", "adb?wait=2", "--model", brightness_model, "--frames", 5, env=fake_phone.env())
    assert_one_line_error(proc, "sent no video within 2 s: phone FAKE0001 sent 20000 bytes that are not H.264 video")
