"""Results that can fail: an estimate with its standard error, a claim against a reference, and
the score of a chapter's experiment.

A chapter's headline results are :class:`Claim` s: a value, the reference it must beat (the same
model untrained, or with the chapter's ingredient removed), a margin and a unit. The experiment's
score is a :class:`Result` (a small dataclass of its numbers) whose :meth:`Result.claims` lists
them; the notebook asserts :meth:`Result.check`, the command line prints
:meth:`Result.summary`, and the tests call :meth:`Result.passes`. Uncertainty is one standard
error everywhere (:class:`Estimate`), unless a column says otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lec16.scales import record_metrics

__all__ = [
    "Estimate",
    "Claim",
    "Result",
]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A mean and its standard error (one SE; 0 for an exact number)."""

    mean: float
    se: float = 0.0

    @classmethod
    def of(cls, values: torch.Tensor | Sequence[float]) -> Estimate:
        """The mean of ``values`` (e.g. one per test example) and its standard error,
        ``std / sqrt(n)`` (0 for a single value)."""
        values = torch.as_tensor(values, dtype=torch.float64).flatten()
        if values.numel() == 0:
            raise ValueError("Estimate.of needs at least one value")
        se = values.std().item() / math.sqrt(len(values)) if len(values) > 1 else 0.0
        return cls(values.mean().item(), se)

    @classmethod
    def paired(
        cls, a: torch.Tensor | Sequence[float], b: torch.Tensor | Sequence[float]
    ) -> Estimate:
        """The mean of ``a - b`` over the same examples and its (paired) standard error."""
        a, b = (torch.as_tensor(v, dtype=torch.float64).flatten() for v in (a, b))
        if a.shape != b.shape:
            raise ValueError(
                f"a paired difference needs values on the same examples, got {len(a)} and {len(b)}"
            )
        return cls.of(a - b)

    def format(self, digits: int = 2) -> str:
        """``-103.25 ± 0.21`` (no break between the number and its error)."""
        if self.se == 0:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f}\u00a0±\u00a0{self.se:.{digits}f}"

    def __str__(self) -> str:
        return self.format()


@dataclasses.dataclass(frozen=True)
class Claim:
    """``value`` beats ``reference`` by more than ``margin`` (higher is better when ``higher``,
    else lower). ``against`` names the reference (e.g. "the same network untrained"). A
    negative margin is a tolerance: "not worse than the reference by more than -margin".
    A claim that is not ``asserted`` is reported with its verdict but does not fail the
    chapter: a paper's claim that fails at this budget, named as failing."""

    what: str
    value: float
    reference: float
    against: str
    margin: float = 0.0
    unit: str = ""
    higher: bool = True
    asserted: bool = True

    def passes(self) -> bool:
        if not (math.isfinite(self.value) and math.isfinite(self.reference)):
            return False
        if self.higher:
            return self.value > self.reference + self.margin
        return self.value < self.reference - self.margin

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        op = ">" if self.higher else "<"
        # the reference moves by the margin in the direction the value must go
        shift = self.margin if self.higher else -self.margin
        margin = f" {'+' if shift > 0 else '-'} {abs(shift):.3g}" if self.margin else ""
        verdict = "yes" if self.passes() else "NO"
        reported = "" if self.asserted else " (reported, not asserted)"
        return (
            f"{self.what}: {self.value:.4g}{unit} {op} {self.reference:.4g}{margin} "
            f"({self.against}): {verdict}{reported}"
        )


@dataclasses.dataclass
class Result:
    """The base of every experiment's score: a dataclass of its numbers, with
    :meth:`claims` built from them."""

    def claims(self) -> list[Claim]:
        raise NotImplementedError

    def passes(self) -> bool:
        return all(claim.passes() for claim in self.claims() if claim.asserted)

    def failures(self) -> list[str]:
        return [
            str(claim)
            for claim in self.claims()
            if claim.asserted and not claim.passes()
        ]

    def check(self) -> None:
        """Raise an AssertionError naming every claim that fails (the notebook's assert)."""
        failed = self.failures()
        if failed:
            raise AssertionError("claims that fail:\n" + "\n".join(failed))

    def summary(self) -> str:
        """One line per claim, with its verdict."""
        return "\n".join(str(claim) for claim in self.claims())

    def record(
        self, slug: str, directory: str | Path | None = None, **extra: Any
    ) -> None:
        """Write the numbers and the claims to ``<metrics dir>/<slug>.json``."""
        record_metrics(
            slug,
            {
                **_plain(self),
                **extra,
                "claims": [
                    dataclasses.asdict(c) | {"passes": c.passes()}
                    for c in self.claims()
                ],
                "passes": self.passes(),
            },
            directory,
        )


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a result: dataclasses as dicts, mapping keys as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
