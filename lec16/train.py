"""The training engine every chapter uses: epochs of ``step(batch)``, history, checkpoints, resume.

A chapter writes its own ``step`` (forward, backward, optimizer step(s); it returns a dict of
scalar metrics with a ``loss``), and :func:`fit` does the rest:

* a progress bar over batches in a terminal; elsewhere (notebooks, CI) a plain line every tenth of the run;
* per-epoch means of the step metrics, plus whatever ``evaluate()`` returns, in a :class:`History`;
* an atomic checkpoint after every epoch (``tmp`` then ``os.replace``), holding modules,
  optimizers, schedulers, history and the torch RNG states; a rerun with the same checkpoint
  resumes after the last finished epoch and ends exactly where an uninterrupted run would
  (so an interruption loses at most one epoch, and a finished run is not trained again);
* a non-finite loss stops training with :class:`NonFiniteLossError`, keeping the last good checkpoint.

All randomness in lec16 comes from torch's generators, which is why the checkpoint restores those.
"""
from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from tqdm import tqdm

from lec16.scales import check_positive


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or belongs to another model or configuration."""


class History:
    """Per-epoch records, e.g. ``{"epoch": 3, "loss": 97.2, "test_elbo": -99.1, "seconds": 41.0}``."""

    def __init__(self, records: list[dict[str, float]] | None = None):
        self.records = list(records or [])

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list[float]:
        """One metric over the epochs that recorded it: ``history["loss"]``."""
        values = [r[key] for r in self.records if key in r]
        if not values:
            known = sorted({k for r in self.records for k in r})
            raise KeyError(f"no metric {key!r} in this history; it has {known}")
        return values

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1] if self.records else {}

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, last={self.last})"


def checkpoint_path(name: str, scale: str) -> Path:
    """Where a notebook keeps ``name``'s checkpoint at ``scale``: ``$LEC16_CHECKPOINTS/<scale>/<name>.pt``
    (default ``checkpoints/`` beside the notebook), so the scales never share a checkpoint."""
    return Path(os.environ.get("LEC16_CHECKPOINTS", "checkpoints")) / scale / f"{name}.pt"


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` to a temporary file, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(dict(state), tmp)
    os.replace(tmp, path)  # atomic: a reader sees the old checkpoint or the new one, never half of one


def load_checkpoint(path: str | Path, map_location=None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; an unreadable file is a :class:`CheckpointError`."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a lec16 checkpoint "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                              "delete it to train from scratch") from None


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x):
    # weights_only loading turns the tuples of random.getstate() into lists
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def _restore(kind: str, objects: Mapping[str, Any], saved: Mapping[str, Any], path: Path) -> None:
    if set(objects) != set(saved):
        raise CheckpointError(f"checkpoint {path} holds {kind} {sorted(saved)}, this run has {sorted(objects)}; "
                              "delete it or pass another checkpoint path")
    for name, obj in objects.items():
        try:
            obj.load_state_dict(saved[name])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"checkpoint {path} does not fit {kind[:-1]} {name!r} "
                                  f"({str(err).splitlines()[0][:200]}); it was written for another "
                                  "architecture: delete it or pass another checkpoint path") from None


def _all_finite(modules: Mapping[str, torch.nn.Module]) -> bool:
    return all(torch.isfinite(p).all() for m in modules.values() for p in m.parameters())


def _to_float(value: Any) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def fit(step: Callable[[Any], Mapping[str, Any]], batches: Iterable, epochs: int, *,
        modules: Mapping[str, torch.nn.Module], optimizers: Mapping[str, torch.optim.Optimizer] = None,
        schedulers: Mapping[str, Any] = None, evaluate: Callable[[], Mapping[str, Any]] | None = None,
        checkpoint: str | Path | None = None, config: Mapping[str, Any] | None = None,
        desc: str = "train", amp: bool = False, progress: bool | None = None) -> History:
    """Train for ``epochs`` epochs of ``step(batch)`` over ``batches``; return the :class:`History`.

    ``step`` returns a dict of scalars including ``loss``. ``batches`` is re-iterated every epoch;
    if it has ``set_epoch`` (like :class:`lec16.data.Batches`) it is told the epoch first.
    ``evaluate()`` runs after each epoch with the modules in eval mode and gradients off.
    ``checkpoint`` is a path: written after each epoch, resumed from when it exists (``config``,
    any JSON-like dict, must then equal the one it was written with). ``schedulers`` are stepped
    once per epoch. ``amp`` runs ``step`` under bfloat16 autocast on CUDA (ignored elsewhere).
    ``progress=None`` shows a bar only when stderr is a terminal.
    """
    check_positive("epochs", epochs, integer=True)
    optimizers, schedulers = dict(optimizers or {}), dict(schedulers or {})
    config = dict(config or {})
    history, start = History(), 0
    path = Path(checkpoint) if checkpoint is not None else None

    if path is not None and path.exists():
        saved = load_checkpoint(path)
        if saved.get("config", {}) != config:
            raise CheckpointError(f"checkpoint {path} was written with config {saved.get('config')}, "
                                  f"this run has {config}; delete it or pass another checkpoint path")
        _restore("modules", modules, saved["modules"], path)
        _restore("optimizers", optimizers, saved["optimizers"], path)
        _restore("schedulers", schedulers, saved["schedulers"], path)
        _set_rng_state(saved["rng"])
        history, start = History(saved["history"]), saved["epoch"]
        print(f"{desc}: resumed from {path} after epoch {start}/{epochs}", file=sys.stderr)

    device_type = next((p.device.type for m in modules.values() for p in m.parameters()), "cpu")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if amp and device_type == "cuda"
                else contextlib.nullcontext())
    show_bar = sys.stderr.isatty() if progress is None else progress
    log_every = max(1, epochs // 10)  # without a bar, about ten lines per run
    elapsed = history.last.get("seconds", 0.0)

    for epoch in range(start, epochs):
        tic = time.perf_counter()
        if hasattr(batches, "set_epoch"):
            batches.set_epoch(epoch)
        for m in modules.values():
            m.train()
        sums: dict[str, float] = {}
        n_steps = 0
        bar = tqdm(batches, desc=f"{desc} {epoch + 1}/{epochs}", leave=False, disable=not show_bar, file=sys.stderr)
        for batch in bar:
            where = f"the last good checkpoint {path} (epoch {start})" if path and path.exists() else "no checkpoint"
            try:
                with autocast:
                    metrics = step(batch)
            except ValueError as err:  # e.g. torch.distributions refusing NaN parameters
                if _all_finite(modules):
                    raise
                raise NonFiniteLossError(
                    f"{desc}: the parameters became NaN or infinite before epoch {epoch + 1}, step {n_steps + 1}; "
                    f"training stopped and {where} was kept. Lower the learning rate or check the data.") from err
            metrics = {k: _to_float(v) for k, v in metrics.items()}
            if not math.isfinite(metrics["loss"]):
                raise NonFiniteLossError(
                    f"{desc}: loss became {metrics['loss']} at epoch {epoch + 1}, step {n_steps + 1}; "
                    f"training stopped and {where} was kept. Lower the learning rate or check the data.")
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
            n_steps += 1
            if show_bar and n_steps % 20 == 0:
                bar.set_postfix(loss=f"{metrics['loss']:.4g}")
        record: dict[str, float] = {"epoch": epoch + 1, **{k: v / max(n_steps, 1) for k, v in sums.items()}}
        for scheduler in schedulers.values():
            scheduler.step()
        if evaluate is not None:
            for m in modules.values():
                m.eval()
            with torch.no_grad():
                record.update({k: _to_float(v) for k, v in evaluate().items()})
        elapsed += time.perf_counter() - tic
        record["seconds"] = round(elapsed, 3)
        history.records.append(record)
        if show_bar or (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in record.items() if k not in ("epoch", "seconds"))
            print(f"{desc} epoch {epoch + 1}/{epochs}  {shown}  ({elapsed:.1f} s)", file=sys.stderr if show_bar else sys.stdout)
        start = epoch + 1
        if path is not None:
            save_checkpoint(path, {
                "epoch": epoch + 1, "config": config, "history": history.records, "rng": _rng_state(),
                "modules": {k: m.state_dict() for k, m in modules.items()},
                "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
            })
    return history


def classification_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Callable[[Any], Mapping[str, Any]]:
    """A ``step`` for :func:`fit` on (inputs, labels) batches: cross-entropy of ``model(inputs)``, one update."""
    def step(batch):
        loss = torch.nn.functional.cross_entropy(model(batch[0]), batch[1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    return step
