"""Where compression results go by default. Kept free of heavy imports: the studio reads it at start-up.

The folder itself is defined beside the registry's search folders (segview.inference.registry), so
every command that lists models also searches it.
"""

from __future__ import annotations

from segview.inference.registry import USER_MODELS_DIR, default_output_dir

__all__ = ["USER_MODELS_DIR", "default_output_dir"]
