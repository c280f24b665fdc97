"""Every ``LEC16_*`` environment variable, read and validated here and nowhere else.

=====================  =================================================  =====================
variable               what it sets                                       unset
=====================  =================================================  =====================
``LEC16_SCALE``        the scale a notebook or ``python -m lec16`` runs    ``default``
``LEC16_DEVICE``       the device (``cpu``, ``cuda``, ``cuda:1``, ``mps``)  cuda > mps > cpu
``LEC16_DATA``         where the data sets live                           ``data/`` of the checkout
``LEC16_CHECKPOINTS``  the root of the checkpoints, one folder per scale   ``checkpoints/``
``LEC16_METRICS_DIR``  where a chapter records its results (JSON)          ``metrics/``
``LEC16_PROGRESS``     ``1``: a progress bar; ``0``: none                  a bar in a terminal
``LEC16_CACHE``        where derived files go (the feature classifier)    see :func:`cache_dir`
=====================  =================================================  =====================

Relative paths are taken from the working directory (a notebook's is its folder).
:func:`check_all` reads them all at once, so a command refuses a bad value before it starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from lec16.scales import SCALES, check_choice

__all__ = [
    "VARIABLES",
    "scale",
    "device_name",
    "data_root",
    "checkpoints_root",
    "metrics_dir",
    "progress",
    "cache_dir",
    "check_all",
]

VARIABLES = (
    "LEC16_SCALE",
    "LEC16_DEVICE",
    "LEC16_DATA",
    "LEC16_CHECKPOINTS",
    "LEC16_METRICS_DIR",
    "LEC16_PROGRESS",
    "LEC16_CACHE",
)


def _read(name: str) -> str:
    return os.environ.get(name, "").strip()


def scale() -> str:
    """``LEC16_SCALE``, one of :data:`lec16.scales.SCALES` (``default`` when unset)."""
    return check_choice("LEC16_SCALE", _read("LEC16_SCALE") or "default", SCALES)


def device_name() -> str:
    """``LEC16_DEVICE`` as written ('' when unset); :func:`lec16.device` interprets it."""
    return _read("LEC16_DEVICE")


def data_root() -> Path:
    """``LEC16_DATA``; else ``data/`` in the source checkout; else ``./data`` (an installed
    package)."""
    if _read("LEC16_DATA"):
        return Path(_read("LEC16_DATA")).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists():
        return checkout / "data"
    return Path.cwd() / "data"


def checkpoints_root() -> Path:
    """``LEC16_CHECKPOINTS``, else ``checkpoints/``: checkpoints go to ``<root>/<scale>/``."""
    return Path(_read("LEC16_CHECKPOINTS") or "checkpoints").expanduser()


def metrics_dir() -> Path:
    """``LEC16_METRICS_DIR``, else ``metrics/``: a chapter's results go to ``<dir>/<slug>.json``."""
    return Path(_read("LEC16_METRICS_DIR") or "metrics").expanduser()


def progress() -> bool | None:
    """``LEC16_PROGRESS``: True (``1``, a bar), False (``0``, none) or None (unset: the log
    decides, see :func:`lec16.train.default_log`)."""
    wanted = _read("LEC16_PROGRESS")
    if not wanted:
        return None
    if wanted not in ("0", "1"):
        raise ValueError(f"LEC16_PROGRESS={wanted!r}: use 1 (a bar) or 0 (no bar)")
    return wanted == "1"


def cache_dir() -> Path:
    """Where files lec16 derives and reuses (the feature classifier of
    :func:`lec16.evaluation.feature_net`) are kept: ``LEC16_CACHE``; else ``classifiers/`` in
    the data folder, when it can be written; else the platform's cache folder
    (``$XDG_CACHE_HOME`` or ``~/.cache``), ``lec16/`` in it. A read-only data folder (a shared
    mount) thus still gets its classifier trained once and reused."""
    if _read("LEC16_CACHE"):
        return Path(_read("LEC16_CACHE")).expanduser()
    beside_data = data_root() / "classifiers"
    if _writable(beside_data):
        return beside_data
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home).expanduser() / "lec16"


def _writable(folder: Path) -> bool:
    """Whether ``folder`` (or, if it does not exist yet, its nearest existing parent) can be
    written."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def check_all() -> None:
    """Read every variable now, so that a bad value is a one-line error before any work
    (the device, and a progress or scale value nobody would read until later)."""
    import lec16  # the device's check needs torch

    scale()
    progress()
    lec16.device()
