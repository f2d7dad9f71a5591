"""Frame sources and the one grammar that names them (shared by the CLI and the GUI).

    demo                      the bundled clip (loops)
    camera:N | camera:/dev/videoN [?size=WxH&fps=F]
    file:PATH | PATH          a video file [?loop=1]
    folder:PATH | PATH/       a folder of images [?loop=1]

Each scheme registers itself in :mod:`segview.sources.spec`; the phone
(``adb[:SERIAL]``) plugs in the same way.
"""

from segview.sources.base import FrameSource
from segview.sources.spec import SourceSpec, open_source, parse_source

__all__ = ["FrameSource", "SourceSpec", "open_source", "parse_source"]
