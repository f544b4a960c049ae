"""Where the project's data folders (migrations/, translations/, tenants/) live at run time.

From an editable install they sit beside ``platform/``; in the Docker image ``YISHI_HOME`` names
the folder they were copied to. The current directory is the last resort.
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKERS = ("migrations", "tenants")


def project_root() -> Path:
    home = os.environ.get("YISHI_HOME")
    if home:
        return Path(home).resolve()
    source_root = Path(__file__).resolve().parents[3]  # platform/yishi/core/paths.py -> repo root
    for candidate in (source_root, Path.cwd()):
        if all((candidate / marker).is_dir() for marker in _MARKERS):
            return candidate
    return Path.cwd()
