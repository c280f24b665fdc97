"""Seconds per training step of every training that ``python -m lec16 train`` makes at ``paper``
scale, on this machine, and what the paper's schedule then costs.

Nothing here builds a model: each chapter's experiment trains as it does at ``paper`` scale
(``experiment.train(Setup.at("paper"), load_data(...))``, the chapter's own models, sizes, batch
and data), while :func:`timed_fits` stands in for :func:`lec16.train.fit`. For each call it
records the run's schedule (its epochs, and the batches of an epoch), then trains one short epoch
of ``warmup + steps`` batches, without a checkpoint, and times each of the last ``steps`` steps
(the step itself; the per-epoch evaluation is not timed). A step that diverges (NICE's paper
Adam, beta2 = 0.01, does within a few dozen steps) still costs what it costs: the run stops
there and the steps timed so far count. Trainings with the same modules and settings but for the
seed (M2's draws of the labels) are timed once and counted once per run. HVI's and the planar
flows' fits draw their own samples: ``train.Steps``, timed the same way. Each part of a chapter
trains on its own (``train(..., parts=[part])``), so that a part that needs another trained for
real (M1+M2's M2 needs the codes of a trained M1) stops only itself.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Mapping

import torch

import lec16
from lec16 import checkpoints, experiments, train


class _First:
    """The first ``n`` batches of a stream (its ``set_epoch`` passed on)."""

    def __init__(self, stream, n: int):
        self.stream, self.n = stream, min(n, len(stream))

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.stream, "set_epoch"):
            self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for i, batch in enumerate(self.stream):
            if i == self.n:
                return
            yield batch


def _without_seeds(identity):
    """A run's identity with its seeds left out: runs that differ only by them cost the same."""
    if isinstance(identity, dict):
        return {k: _without_seeds(v) for k, v in identity.items() if k != "seed"}
    if isinstance(identity, list):
        return [_without_seeds(v) for v in identity]
    return identity


@contextlib.contextmanager
def timed_fits(steps: int, warmup: int):
    """Within the block, ``lec16.train.fit`` trains ``warmup + steps`` batches of one epoch
    and records, per training, its ``desc``, its schedule and the seconds of its timed steps."""
    runs: list[dict] = []
    fit = train.fit
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)

    def timed_fit(step, data, epochs, *, modules, checkpoint=None, config=None, **kw):
        streams = dict(data) if isinstance(data, Mapping) else {"": data}
        first = next(iter(streams))
        identity = _without_seeds(
            checkpoints.identity({"config": config, "modules": dict(modules)})
        )
        seen = next((r for r in runs if r["identity"] == identity), None)
        if (
            seen is not None
        ):  # the same training again (another seed): counted, not timed
            seen["runs"] += 1
            n = 1
        else:
            seen = {
                "desc": kw.get("desc", "train"),
                "identity": identity,
                "epochs": epochs,
                "batches": len(streams[first]),
                "runs": 1,
                "seconds": [],
            }
            runs.append(seen)
            n = warmup + steps
        times = seen["seconds"] if seen["runs"] == 1 else []

        def timed_step(batch):
            sync()
            tic = time.perf_counter()
            metrics = step(batch)
            sync()
            times.append(time.perf_counter() - tic)
            return metrics

        streams[first] = _First(streams[first], n)
        short = streams if isinstance(data, Mapping) else streams[first]
        try:
            return fit(timed_step, short, 1, modules=modules, config=config, **kw)
        except train.NonFiniteLossError:
            seen["diverged"] = True
            return train.History([{"epoch": 1, "loss": float("nan")}])

    train.fit = timed_fit
    try:
        yield runs
    finally:
        train.fit = fit


def run(steps: int | None = None, slugs=None) -> dict:
    """For every training of every trainable experiment (or of ``slugs``): the paper's epochs,
    batches per epoch and runs, the measured seconds per step on ``lec16.device()`` (the median
    of the timed steps), and the hours of the schedule there."""
    device = lec16.device()
    steps = steps or (50 if device.type == "cuda" else 20)
    warmup = 5
    rows = []
    for slug, module in experiments.trainable().items():
        if slugs is not None and slug not in slugs:
            continue
        setup = module.Setup.at("paper")
        with timed_fits(steps, warmup) as runs:
            loaded = module.load_data(setup)
            for part in module.PARTS:
                try:
                    module.train(setup, loaded, root=None, parts=[part])
                except (ValueError, RuntimeError) as err:
                    # a training that needs another trained for real (M1+M2's M2 the codes
                    # that M1 uses): the rows so far stand, the rest of the part is not timed
                    print(
                        f"{slug} {part}: timed up to here; {type(err).__name__}: {err}"
                    )
        for r in runs:
            timed = r["seconds"][warmup:] or r["seconds"]
            per_step = statistics.median(timed) if timed else float("nan")
            total_steps = r["runs"] * r["epochs"] * r["batches"]
            rows.append(
                {
                    "name": f"{slug}: {r['desc']}",
                    "runs": r["runs"],
                    "epochs": r["epochs"],
                    "batches": r["batches"],
                    "steps": total_steps,
                    "seconds_per_step": per_step,
                    "hours": total_steps * per_step / 3600,
                    "diverged": r.get("diverged", False),
                }
            )
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "timed_steps": steps,
        "rows": rows,
    }
