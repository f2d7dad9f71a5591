"""A fake ``adb`` program and the helpers that set it up (see ``adb`` in this folder for what it speaks)."""
