"""newswire's version: the installed distribution's, else the one setup.py declares."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path


def version() -> str:
    try:
        return metadata.version("newswire")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        setup = Path(__file__).resolve().parents[1] / "setup.py"
        found = re.search(r'version="([^"]+)"', setup.read_text()) if setup.exists() else None
        return found[1] if found else "unknown"
