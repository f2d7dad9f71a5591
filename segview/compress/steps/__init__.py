"""The built-in compression steps; importing this package registers each of them once.

Imported in the order the wizard and ``segview compress --list-steps`` show them.
"""

from segview.compress.steps import rewrite  # noqa: F401, I001 - registration order is display order
from segview.compress.steps import fp16  # noqa: F401
from segview.compress.steps import int8_static  # noqa: F401
from segview.compress.steps import int8_dynamic  # noqa: F401
from segview.compress.steps import int8_auto  # noqa: F401
from segview.compress.steps import prune  # noqa: F401
from segview.compress.steps import prune_channels  # noqa: F401
from segview.compress.steps import cluster  # noqa: F401
from segview.compress.steps import recover  # noqa: F401 - after the steps it follows
