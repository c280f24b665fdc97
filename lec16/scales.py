"""Run scales and notebook metrics.

Every notebook runs one code path at three scales:

* ``smoke``: seconds per notebook, a few hundred examples (CI);
* ``default``: what the committed notebook outputs show (minutes on 2 CPU cores);
* ``paper``: the paper's setup, meant for a GPU.

A notebook's ``parameters`` cell sets ``scale = lec16.default_scale()`` (papermill can override
it with ``-p scale smoke``); its chapter's experiment (:mod:`lec16.experiments`) picks every size
with :func:`choose`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SCALES",
    "check_choice",
    "check_positive",
    "check_non_negative_int",
    "check_seed",
    "default_scale",
    "choose",
    "metrics_path",
    "record_metrics",
]

SCALES = ("smoke", "default", "paper")


def check_choice(name: str, value: Any, allowed) -> Any:
    """Return ``value`` if it is one of ``allowed``; otherwise a ValueError listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not valid; choose one of: {', '.join(map(repr, allowed))}"
        )
    return value


def check_positive(name: str, value: Any, integer: bool = False) -> Any:
    """Return ``value`` if it is a positive (int, when ``integer``) number; otherwise a ValueError."""
    kind = int if integer else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kind)
        or not value > 0
        or not math.isfinite(value)
    ):
        what = "a positive int" if integer else "a positive finite number"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_non_negative_int(name: str, value: Any, meaning: str = "") -> Any:
    """Return ``value`` if it is an int >= 0 (not a bool); otherwise a ValueError that says what
    ``name`` counts (``meaning``)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        what = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must be a non-negative int{what}, got {value!r}")
    return value


SEED_LIMIT = 2**32
"""seeds are in [0, 2**32): NumPy's range, the narrowest of the generators lec16 seeds"""


def check_seed(name: str, value: Any) -> Any:
    """Return ``value`` if it is a seed every generator takes as it is (an int in
    [0, 2**32)); otherwise a ValueError. A larger seed would be folded into that range by
    NumPy, so two seeds would give one run."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 0 <= value < SEED_LIMIT
    ):
        raise ValueError(
            f"{name} must be an int in [0, 2**32 - 1] (the range of NumPy's generator), got "
            f"{value!r}"
        )
    return value


def default_scale() -> str:
    """The scale named by ``LEC16_SCALE`` (``default`` when unset), validated."""
    from lec16 import settings

    return settings.scale()


def choose(scale: str, **per_scale: Any) -> Any:
    """Pick the value for ``scale`` from ``smoke=..., default=..., paper=...``.

    >>> choose("smoke", smoke=200, default=10_000, paper=60_000)
    200
    """
    check_choice("scale", scale, SCALES)
    missing = [s for s in SCALES if s not in per_scale]
    extra = [s for s in per_scale if s not in SCALES]
    if missing or extra:
        raise ValueError(
            f"choose() needs exactly the scales {SCALES}; missing {missing}, unknown {extra}"
        )
    return per_scale[scale]


def _plain(value: Any) -> Any:
    """JSON-friendly copy: tensors and numpy scalars become Python numbers/lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def metrics_path(chapter: str, directory: Path | None = None) -> Path:
    """The file of a chapter's metrics: ``<directory or metrics_dir()>/<chapter>.json``."""
    from lec16 import settings

    return Path(directory or settings.metrics_dir()) / f"{chapter}.json"


def record_metrics(
    chapter: str, metrics: Mapping[str, Any], directory: Path | None = None
) -> None:
    """Write a chapter's key numbers to ``<metrics_dir>/<chapter>.json`` (atomically).

    ``chapter`` is the chapter's slug (``"vae_mnist"``, not the notebook's number), so inserting a
    chapter renames nothing. The notebook tests read these files to check what each chapter
    computed. Returns nothing, so a notebook's last line shows nothing on the page.
    """
    if not isinstance(chapter, str) or not chapter.replace("_", "").isalnum():
        raise ValueError(
            f"chapter must be a slug of letters, digits and underscores, got {chapter!r}"
        )
    try:
        text = json.dumps(
            _plain(dict(metrics)), indent=2, sort_keys=True, allow_nan=True
        )
    except TypeError as err:
        raise ValueError(
            f"record_metrics({chapter!r}): every value must be a number, string, bool, list, dict, "
            f"tensor or array ({err}); convert it, e.g. with float(...) or str(...)"
        ) from None
    path = metrics_path(chapter, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
