"""Finding and running the ``adb`` program (Android platform tools).

Commands are argument lists handed to :mod:`subprocess` without a shell; a
serial always travels as its own ``-s SERIAL`` pair, so nothing a user types
is ever interpreted by a local shell. The remote commands segview sends
(``dumpsys battery``, ``screenrecord ...``) are constants.

Any thread may use an :class:`Adb`; each call runs its own process.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from segview.errors import AdbError, AdbNotFound  # re-exported: phone's modules and tests import them from here

INSTALL_HINT = (
    "install Android platform tools: 'sudo apt-get install adb' on Debian and Ubuntu, "
    "'brew install android-platform-tools' on macOS, or download them from "
    "https://developer.android.com/tools/releases/platform-tools and put adb on PATH"
)

# How long a plain command (devices, getprop, dumpsys) may take; starting the adb server takes a few seconds.
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_SERVER_PORT = 5037


@dataclass(frozen=True, slots=True)
class AdbResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def first_error_line(self) -> str:
        """The most telling line adb printed (it writes errors to either stream)."""
        for text in (self.stderr, self.stdout):
            for line in text.splitlines():
                line = line.strip()
                if line and not line.startswith("*"):  # "* daemon started successfully"
                    return line
        return f"exit status {self.returncode}"


@dataclass(frozen=True, slots=True)
class AdbVersion:
    version: str  # "1.0.41"
    release: str | None  # platform-tools release, "29.0.6-debian"
    path: str | None  # where adb says it is installed


_VERSION = re.compile(r"Android Debug Bridge version (\S+)")
_RELEASE = re.compile(r"^Version (\S+)", re.MULTILINE)
_INSTALLED = re.compile(r"^Installed as (.+)$", re.MULTILINE)


def parse_version(text: str) -> AdbVersion:
    match = _VERSION.search(text)
    if match is None:
        raise AdbError(f"'adb version' printed something unexpected: {text.strip()[:120]!r}")
    release = _RELEASE.search(text)
    installed = _INSTALLED.search(text)
    return AdbVersion(match.group(1), release.group(1) if release else None, installed.group(1).strip() if installed else None)


def find_adb() -> Adb:
    """The adb on PATH (looked up at each call, so a changed PATH counts); AdbNotFound says how to install it."""
    path = shutil.which("adb")
    if path is None:
        raise AdbNotFound(f"adb was not found on PATH; {INSTALL_HINT}")
    return Adb(path)


@dataclass(frozen=True, slots=True)
class Adb:
    """One adb program. ``run`` waits for the command; ``popen`` starts a streaming one."""

    path: str

    def command(self, args: Sequence[str], serial: str | None = None) -> list[str]:
        prefix = [self.path] + (["-s", serial] if serial else [])
        return prefix + [str(a) for a in args]

    def run(self, args: Sequence[str], serial: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S) -> AdbResult:
        """Run to completion (calling thread). Raises AdbError if adb cannot start or overruns ``timeout``."""
        argv = self.command(args, serial)
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise AdbNotFound(f"adb disappeared from {self.path}; {INSTALL_HINT}") from None
        except PermissionError:
            raise AdbError(f"{self.path} is not executable") from None
        except subprocess.TimeoutExpired:
            raise AdbError(f"'adb {' '.join(argv[1:])}' did not answer within {timeout:.0f} s (is the adb server stuck? try 'adb kill-server')") from None
        except OSError as exc:
            raise AdbError(f"could not run {self.path}: {exc.strerror or exc}") from None
        return AdbResult(proc.returncode, _text(proc.stdout), _text(proc.stderr))

    def popen(self, args: Sequence[str], serial: str | None = None, *, stderr=subprocess.PIPE) -> subprocess.Popen:
        """Start a command whose stdout is read as it comes (binary, unbuffered by Python)."""
        argv = self.command(args, serial)
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, bufsize=0)
        except FileNotFoundError:
            raise AdbNotFound(f"adb disappeared from {self.path}; {INSTALL_HINT}") from None
        except OSError as exc:
            raise AdbError(f"could not run {self.path}: {exc.strerror or exc}") from None

    def version(self) -> AdbVersion:
        result = self.run(["version"], timeout=10)
        if not result.ok:
            raise AdbError(f"'adb version' failed: {result.first_error_line()}")
        return parse_version(result.stdout)

    def shell(self, serial: str | None, command: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> AdbResult:
        """``adb -s SERIAL shell COMMAND...``; ``command`` must be constants, never user input."""
        return self.run(["shell", *command], serial, timeout=timeout)

    def kill_server(self) -> None:
        self.run(["kill-server"], timeout=10)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")


def server_address() -> tuple[str, int]:
    """Where the adb server listens: $ADB_SERVER_SOCKET (tcp:HOST:PORT), else $ANDROID_ADB_SERVER_ADDRESS/PORT, else localhost:5037."""
    spec = os.environ.get("ADB_SERVER_SOCKET", "")
    if spec.startswith("tcp:"):
        host, _, port = spec[4:].rpartition(":")
        if port.isdigit():
            return host or "127.0.0.1", int(port)
    host = os.environ.get("ANDROID_ADB_SERVER_ADDRESS") or "127.0.0.1"
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "")
    return host, int(port) if port.isdigit() else DEFAULT_SERVER_PORT


def server_running(timeout: float = 0.2) -> bool:
    """Whether an adb server answers already (a cheap check: asking adb itself would start one)."""
    host, port = server_address()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
