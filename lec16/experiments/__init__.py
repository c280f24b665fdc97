"""One experiment per chapter, named by the chapter's slug: ``lec16.experiments.vae_mnist`` is
the run of ``notebooks/NN_vae_mnist.ipynb``.

An experiment module holds what the chapter's runs are, written once, for the notebook, the
command line (``python -m lec16 train <slug>``), the benchmarks and the tests:

* ``Setup``: a frozen dataclass (a subclass of :class:`Setup`) of every number of the chapter
  that depends on the scale; ``Setup.at(scale, seed)`` reads it from the table of scales and
  ``setup.with_epochs(n)`` changes the length of its training;
* ``load_data(setup)``: the chapter's data, on :func:`lec16.device`;
* ``train(setup, data, root=None, parts=None)``: the chapter's models, each loaded from its
  checkpoint (``setup.checkpoint(name, root)``) when it exists, trained (and checkpointed after
  every epoch) when it does not: the function that trains owns the names;
* ``score(setup, data, trained)``: a :class:`lec16.results.Result` whose claims the notebook
  asserts, the command line prints and the tests check;
* ``PARTS`` (optional): names of the runs that ``train`` can make on their own (``parts=``),
  for a command line that trains one model of a chapter at the paper's scale.

A chapter whose models train in seconds inside the notebook keeps only ``Setup``. Modules whose
name starts with ``_`` are helpers, not experiments.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

import lec16
from lec16 import checkpoints, data
from lec16.scales import SCALES, check_choice, check_seed


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup:
    """The scale and seed of a chapter's runs; each chapter's ``Setup`` adds its sizes."""

    scale: str
    seed: int = 0

    def __post_init__(self):
        check_choice("scale", self.scale, SCALES)
        check_seed("seed", self.seed)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        """The chapter's set-up at ``scale`` (``smoke``, ``default`` or ``paper``)."""
        raise NotImplementedError(f"{cls.__module__}.Setup must define at(scale, seed)")

    @property
    def slug(self) -> str:
        """The chapter's slug: the name of the experiment's module."""
        return type(self).__module__.rsplit(".", 1)[-1]

    def with_epochs(self, epochs: int) -> Setup:
        """The same set-up trained for ``epochs`` epochs (its ``config``'s); chapters whose
        training has several schedules override this."""
        config = getattr(self, "config", None)
        if config is None or not hasattr(config, "epochs"):
            raise NotImplementedError(
                f"{type(self).__module__}.Setup has no config.epochs: override with_epochs"
            )
        return dataclasses.replace(
            self, config=dataclasses.replace(config, epochs=epochs)
        )

    def checkpoint(self, name: str, root: str | Path | None = None) -> Path:
        """The checkpoint ``name`` of this chapter at this scale:
        ``<root>/<scale>/<slug>/<name>.pt`` (``root``: ``$LEC16_CHECKPOINTS`` or
        ``checkpoints/``)."""
        return checkpoints.checkpoint_path(f"{self.slug}/{name}", self.scale, root)


def discover() -> dict[str, ModuleType]:
    """Every experiment module, by slug."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return found


def trainable() -> dict[str, ModuleType]:
    """The experiments that train and score models (``python -m lec16 train`` lists them)."""
    return {
        slug: module
        for slug, module in discover().items()
        if all(hasattr(module, f) for f in ("load_data", "train", "score"))
    }


def chosen(parts, available) -> list[str]:
    """The parts a ``train`` call makes: each of ``parts`` checked against ``available``
    (a one-line error for another name), or every one of ``available`` when ``parts`` is None."""
    if parts is None:
        return list(available)
    for part in parts:
        check_choice("part", part, available)
    return list(parts)


def title(module: ModuleType) -> str:
    """The first line of an experiment's docstring: what it trains."""
    return (module.__doc__ or "").strip().splitlines()[0].rstrip(".")


# --- Data that several chapters share -----------------------------------------------------------


def binarized_mnist(
    n_train: int, device: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n_train`` training digits (grey levels, for fresh binarizations while
    training) and the book's one fixed binarization of the 10,000 test digits, flattened."""
    device = device or lec16.device()
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0][:n_train].flatten(1)
    x_test = data.binarized_test_set(
        data.load_mnist("test", device=device)[0].flatten(1)
    )
    return x_train, x_test
