"""Attached phones from ``adb devices -l``, with their model names, and picking one by serial (calling thread)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from segview.phone.adb import Adb, AdbError

USB_DEBUGGING_HINT = "enable USB debugging: Settings > About phone > tap 'Build number' seven times, then Settings > System > Developer options > USB debugging"

# States adb prints, and what the user should do about each one that is not "device".
_STATE_ADVICE = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging?' prompt (no prompt? in Developer options choose 'Revoke USB debugging authorizations' and plug it in again)",
    "offline": "unplug it and plug it in again, or restart adb with 'adb kill-server'",
    "authorizing": "wait a moment: adb is still checking the phone's authorization",
    "connecting": "wait a moment: adb is still connecting",
    "no permissions": "this user may not open the USB device: add a udev rule for the phone (or the 'plugdev' group) and plug it in again",
    "recovery": "the phone is in recovery mode; boot it normally",
    "sideload": "the phone is in sideload mode; boot it normally",
    "bootloader": "the phone is in its bootloader; boot it normally",
}


@dataclass(frozen=True, slots=True)
class PhoneDevice:
    """One line of ``adb devices -l``. ``model`` has spaces (adb prints them as underscores) and may be empty."""

    serial: str
    state: str
    model: str = ""
    product: str = ""
    transport: str = ""  # "usb:1-1", or "tcp" for phones connected over Wi-Fi

    @property
    def ready(self) -> bool:
        return self.state == "device"

    @property
    def source_name(self) -> str:
        return f"adb:{self.serial}"

    @property
    def label(self) -> str:
        """ "Phone: Pixel 7 (SERIAL)", as the studio's source picker shows it."""
        text = f"Phone: {self.model or 'Android'} ({self.serial})"
        return text if self.ready else f"{text} [{self.state}]"

    def problem(self) -> str | None:
        """Why this phone cannot stream now, with what to do; None when it is ready."""
        if self.ready:
            return None
        advice = _STATE_ADVICE.get(self.state, "check the phone's screen and cable")
        return f"phone {self.serial} is {self.state}: {advice}"


_PROPERTY = re.compile(r"(usb|product|model|device|transport_id):(\S*)")


def parse_devices(text: str) -> list[PhoneDevice]:
    """Parse ``adb devices -l``; tolerant of daemon start-up chatter and of adb's older formats."""
    phones = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("*", "List of devices", "adb server", "adb: ")):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        serial, rest = parts
        if rest.startswith("no permissions"):
            state = "no permissions"
        else:
            state = rest.split(None, 1)[0]
        props = dict(_PROPERTY.findall(rest))
        transport = f"usb:{props['usb']}" if "usb" in props else ("tcp" if ":" in serial else "")
        phones.append(PhoneDevice(serial, state, props.get("model", "").replace("_", " "), props.get("product", ""), transport))
    return phones


def list_phones(adb: Adb, *, timeout: float = 15.0, ask_models: bool = True) -> list[PhoneDevice]:
    """Every phone adb sees, in any state (starts the adb server when it is not running).

    ``ask_models`` replaces the model from ``devices -l`` by ``ro.product.model``
    (the exact name) for phones that are ready.
    """
    result = adb.run(["devices", "-l"], timeout=timeout)
    if not result.ok:
        raise AdbError(f"adb cannot list devices: {result.first_error_line()} (try 'adb kill-server', then again)")
    phones = parse_devices(result.stdout)
    if not ask_models:
        return phones
    return [_with_model(adb, p, timeout) for p in phones]


def _with_model(adb: Adb, phone: PhoneDevice, timeout: float) -> PhoneDevice:
    if not phone.ready:
        return phone
    try:
        result = adb.shell(phone.serial, ["getprop", "ro.product.model"], timeout=min(timeout, 5.0))
    except AdbError:
        return phone
    model = result.stdout.strip()
    if not result.ok or not model:
        return phone
    return PhoneDevice(phone.serial, phone.state, model, phone.product, phone.transport)


def pick_phone(phones: list[PhoneDevice], serial: str | None) -> PhoneDevice:
    """The phone named by ``serial`` (or the only one attached), ready to stream; AdbError says why not."""
    if serial:
        matches = [p for p in phones if p.serial == serial]
        if not matches:
            attached = ", ".join(f"{p.serial} ({p.model or p.state})" for p in phones) or "none"
            raise AdbError(f"no phone with serial {serial!r} is attached (attached: {attached}); 'segview devices' lists them")
        phone = matches[0]
    else:
        if not phones:
            raise AdbError(f"no Android phone is attached (adb lists none): plug it in with a data cable and {USB_DEBUGGING_HINT}")
        if len(phones) > 1:
            names = ", ".join(f"adb:{p.serial}" for p in phones)
            raise AdbError(f"{len(phones)} phones are attached; name one: {names}")
        phone = phones[0]
    problem = phone.problem()
    if problem:
        raise AdbError(problem)
    return phone
