"""Finding adb, listing phones and picking one: parsing adb's output, and the fake adb's command line."""

from __future__ import annotations

import pytest

from fake_adb.fakephone import MODEL, SERIAL, device
from segview.errors import SourceError
from segview.phone.adb import AdbError, AdbNotFound, find_adb, parse_version
from segview.phone.devices import PhoneDevice, list_phones, parse_devices, pick_phone
from segview.sources.spec import open_source

DEVICES_L = """\
* daemon not running; starting now at tcp:5037
* daemon started successfully
List of devices attached
0123456789ABCDEF       device usb:1-1 product:panther model:Pixel_7 device:panther transport_id:1
R58M12345              unauthorized usb:1-2 transport_id:3
emulator-5554          offline transport_id:2
ZY22ABC                no permissions (user in plugdev group; are your udev rules wrong?); see [http://developer.android.com/tools/device.html] usb:1-3 transport_id:4
192.168.1.20:5555      device product:oriole model:Pixel_6 device:oriole transport_id:5

"""


def test_parse_devices_reads_every_state_and_the_model():
    phones = parse_devices(DEVICES_L)
    assert [(p.serial, p.state) for p in phones] == [
        ("0123456789ABCDEF", "device"),
        ("R58M12345", "unauthorized"),
        ("emulator-5554", "offline"),
        ("ZY22ABC", "no permissions"),
        ("192.168.1.20:5555", "device"),
    ]
    assert phones[0].model == "Pixel 7" and phones[0].transport == "usb:1-1" and phones[0].ready
    assert phones[4].transport == "tcp" and phones[4].source_name == "adb:192.168.1.20:5555"
    assert phones[0].label == "Phone: Pixel 7 (0123456789ABCDEF)"
    assert "unauthorized" in phones[1].label
    assert parse_devices("List of devices attached\n\n") == []


def test_pick_phone_explains_each_state():
    phones = parse_devices(DEVICES_L)
    assert pick_phone(phones, "0123456789ABCDEF").serial == "0123456789ABCDEF"
    with pytest.raises(AdbError, match="unauthorized: unlock the phone and accept the 'Allow USB debugging"):
        pick_phone(phones, "R58M12345")
    with pytest.raises(AdbError, match="offline: unplug it and plug it in again"):
        pick_phone(phones, "emulator-5554")
    with pytest.raises(AdbError, match="udev"):
        pick_phone(phones, "ZY22ABC")
    with pytest.raises(AdbError, match="no phone with serial 'NOPE' is attached .*0123456789ABCDEF"):
        pick_phone(phones, "NOPE")
    with pytest.raises(AdbError, match="5 phones are attached; name one: adb:0123456789ABCDEF"):
        pick_phone(phones, None)
    with pytest.raises(AdbError, match="no Android phone is attached .*USB debugging"):
        pick_phone([], None)
    only = [PhoneDevice("X1", "device", "Pixel 8")]
    assert pick_phone(only, None).serial == "X1"


def test_parse_version():
    text = "Android Debug Bridge version 1.0.41\nVersion 29.0.6-debian\nInstalled as /usr/lib/android-sdk/platform-tools/adb\n"
    version = parse_version(text)
    assert (version.version, version.release, version.path) == ("1.0.41", "29.0.6-debian", "/usr/lib/android-sdk/platform-tools/adb")
    with pytest.raises(AdbError):
        parse_version("something else")


def test_fake_adb_lists_the_phone_with_its_model(fake_phone):
    adb = find_adb()
    assert adb.path == str(fake_phone.adb)
    assert adb.version().release == "34.0.5-fake"
    phones = list_phones(adb)
    assert phones == [PhoneDevice(SERIAL, "device", MODEL, "panther", "usb:1-1")]
    # The model came from getprop, asked of that phone by serial, as separate arguments.
    assert ["-s", SERIAL, "shell", "getprop", "ro.product.model"] in [i["argv"] for i in fake_phone.invocations()]


def test_unauthorized_phone_gives_a_clear_message(fake_phone):
    fake_phone.set_device(state="unauthorized")
    with pytest.raises(SourceError, match=f"phone {SERIAL} is unauthorized: unlock the phone and accept"):
        open_source(f"adb:{SERIAL}")
    with pytest.raises(SourceError, match="unauthorized"):
        open_source("adb")


def test_offline_phone_gives_a_clear_message(fake_phone):
    fake_phone.set_device(state="offline")
    with pytest.raises(SourceError, match="offline: unplug it and plug it in again, or restart adb"):
        open_source("adb")


def test_no_phone_and_unknown_serial(fake_phone):
    with pytest.raises(SourceError, match=f"no phone with serial 'NOPE' is attached \\(attached: {SERIAL} \\(Pixel 7\\)\\)"):
        open_source("adb:NOPE")
    fake_phone.state["devices"] = []
    fake_phone.save()
    with pytest.raises(SourceError, match="no Android phone is attached"):
        open_source("adb")


def test_two_phones_need_a_serial(fake_phone):
    fake_phone.state["devices"].append(device("FAKE0002", model="Galaxy S23"))
    fake_phone.save()
    with pytest.raises(SourceError, match="2 phones are attached; name one: adb:FAKE0001, adb:FAKE0002"):
        open_source("adb")


def test_dead_adb_server_is_reported(fake_phone):
    fake_phone.state["server_dead"] = True
    fake_phone.save()
    with pytest.raises(SourceError, match="adb cannot list devices: adb: failed to check server version: cannot connect to daemon"):
        open_source("adb")


def test_no_adb_on_path_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no adb anywhere
    with pytest.raises(AdbNotFound, match="adb was not found on PATH; install Android platform tools: 'sudo apt-get install adb'"):
        find_adb()
    with pytest.raises(SourceError, match="apt-get install adb"):
        open_source("adb:ANY")


def test_a_serial_is_one_argument_never_shell_text(fake_phone, tmp_path):
    target = tmp_path / "pwned"
    with pytest.raises(SourceError, match="no phone with serial"):
        open_source(f"adb:X;touch {target}")
    assert not target.exists()
    adb = find_adb()
    assert adb.command(["shell", "getprop", "ro.product.model"], "a b;c") == [adb.path, "-s", "a b;c", "shell", "getprop", "ro.product.model"]
