"""A tethered Android phone over ADB: its mirrored screen as a live source, its power and thermal metrics.

    adb.py          finding and running the ``adb`` program (argument lists only, never a shell string)
    devices.py      ``adb devices -l``: attached phones, their models, and picking one by serial
    decoder.py      Annex-B H.264 bytes to frames (PyAV, one thread)
    screen.py       ``adb exec-out screenrecord``: restarts, stalls, back-off, on its own threads
    readings.py     parsing ``dumpsys battery``, ``dumpsys thermalservice`` and sysfs into typed readings
    monitor.py      polling those readings once a second on its own thread
    samplers.py     MetricsHub samplers over the monitor (``phone_samplers(serial)``)

The source itself is :mod:`segview.sources.adb_phone` (``adb`` or ``adb:SERIAL``).
Nothing here imports Qt.
"""
