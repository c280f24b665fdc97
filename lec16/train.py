"""The training protocol every chapter uses: one optimizer step, epochs of ``step(batch)``,
per-step hooks, history; checkpoints and resume through :mod:`lec16.checkpoints`.

A chapter writes its own ``step`` (forward, the loss, :func:`optimizer_step` for each optimizer;
it returns a dict of scalar metrics with a ``loss``), and :func:`fit` does the rest:

* one or several data streams: ``fit(step, {"unlabelled": u, "labelled": l}, ...)`` hands the
  step a dict of batches; the first stream sets the length of an epoch, the others are cycled;
  :class:`Steps` for a trainer without data;
* per-step schedulers and hooks (:class:`EMA` of the weights, :func:`warmup` of the learning
  rate), checkpointed with the rest;
* metrics summed on the device and read (one host sync) at log intervals and at the end of each
  epoch; per-epoch means, plus whatever ``evaluate(epoch)`` returns, in a :class:`History`;
* an atomic checkpoint after every epoch (:class:`lec16.checkpoints.Run`); a rerun resumes after
  the last finished epoch and ends exactly where an uninterrupted run would; a checkpoint of
  another configuration is refused with the fields that differ;
* a non-finite loss stops training with :class:`NonFiniteLossError`, keeping the last good
  checkpoint;
* a :class:`Log` prints the run (a bar, or a line per epoch).

All randomness in lec16 comes from torch's generators, which is why the checkpoint restores those.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from lec16 import checkpoints, distributed, settings
from lec16.scales import check_positive

__all__ = [
    "NonFiniteLossError",
    "Interrupted",
    "History",
    "Snapshots",
    "optimizer_step",
    "warmup",
    "EMA",
    "compile_if_cuda",
    "Steps",
    "Log",
    "default_log",
    "fit",
    "classification_step",
]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`; its message says where the run stopped and where a rerun
    resumes."""


class History:
    """Per-epoch records, e.g. ``{"epoch": 3, "loss": 97.2, "test_elbo": -99.1, "seconds": 41.0,
    "processes": 1}``,
    and ``samples``: images a trainer drew after each epoch (``train_gan``'s fixed-latent
    snapshots, checkpointed through :class:`Snapshots`)."""

    def __init__(
        self,
        records: list[dict[str, float]] | None = None,
        samples: list[torch.Tensor] | None = None,
    ):
        self.records = list(records or [])
        self.samples = list(samples or [])

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


class Snapshots:
    """What a trainer draws after each epoch (``train_gan``'s images of fixed latents), kept in
    the checkpoint: pass it to :func:`fit` among the ``hooks``, and a resumed run still has
    every epoch's images. Hooks are called after every step; calling this one does nothing."""

    def __init__(self):
        self.images: list[torch.Tensor] = []

    def __call__(self) -> None:
        pass

    def append(self, images: torch.Tensor) -> None:
        self.images.append(images.detach().cpu())

    def state_dict(self) -> dict[str, list[torch.Tensor]]:
        return {"images": list(self.images)}

    def load_state_dict(self, state: Mapping[str, list[torch.Tensor]]) -> None:
        self.images = list(state["images"])


# --- The optimizer step and per-step hooks ---------------------------------------------------


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    clip_grad_norm: float | None = None,
) -> None:
    """One update: zero the gradients, backpropagate ``loss``, clip the gradients' global norm to
    ``clip_grad_norm`` (if given), step. Per-step learning-rate schedules go to ``fit``'s
    ``step_schedulers``, which steps them right after each training step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad_norm is not None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
    optimizer.step()


def warmup(
    optimizer: torch.optim.Optimizer, steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A linear learning-rate warm-up over ``steps`` steps (then constant), for ``step_schedulers``."""
    check_positive("steps", steps, integer=True)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / steps)
    )


class EMA:
    """A per-step hook keeping an exponential moving average of a module's weights (and buffers),
    ``average = d_n * average + (1 - d_n) * weights`` at the n-th update, with torch's
    ``AveragedModel``; ``ema.module`` is the averaged copy to evaluate or sample from.

    The decay warms up, ``d_n = min(decay, (1 + n) / (10 + n))`` (the ``num_updates`` rule of
    TensorFlow's ``ExponentialMovingAverage``): with a constant 0.999, a run of a few thousand
    steps would still carry a large share of its first, untrained weights (0.999^2000 = 14 %)."""

    def __init__(self, module: torch.nn.Module, decay: float = 0.999):
        from torch.optim.swa_utils import AveragedModel

        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        self.source = module
        self.decay = decay
        self.averaged = AveragedModel(
            module, multi_avg_fn=self._average, use_buffers=True
        )

    @torch.no_grad()
    def _average(
        self, averaged: list[torch.Tensor], weights: list[torch.Tensor], n: torch.Tensor
    ) -> None:
        # a tensor weight on the parameters' device: no host sync for the warm-up
        decay = torch.clamp((1 + n) / (10 + n), max=self.decay)
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, weights, 1 - decay.to(averaged[0].dtype))
        else:  # integer buffers (counters) follow the weights
            for average, weight in zip(averaged, weights, strict=True):
                average.copy_(weight)

    @property
    def module(self) -> torch.nn.Module:
        return self.averaged.module

    def __call__(self) -> None:
        self.averaged.update_parameters(self.source)

    def state_dict(self) -> dict[str, Any]:
        return self.averaged.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.averaged.load_state_dict(state)


def compile_if_cuda(fn: Callable, enabled: bool, device: torch.device) -> Callable:
    """The CUDA fast path: ``torch.compile(fn, mode="reduce-overhead")`` (kernels fused, the step
    replayed as a CUDA graph) when ``enabled`` and ``device`` is CUDA; ``fn`` itself elsewhere, so
    the flag never changes a CPU result."""
    if enabled and torch.device(device).type == "cuda":
        return torch.compile(fn, mode="reduce-overhead")
    return fn


# --- fit ----------------------------------------------------------------------------------------


class Steps:
    """``n`` steps per epoch for a trainer without data (a fit to a density draws its own
    samples): the step gets the global step number as its batch (epoch e's steps are
    ``e * n, ..., e * n + n - 1``), so that a schedule in it resumes where it stopped."""

    def __init__(self, n: int):
        self.n, self.epoch = check_positive("steps per epoch", n, integer=True), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(range(self.epoch * self.n, (self.epoch + 1) * self.n))


class Log:
    """What :func:`fit` prints of a run, on stderr: with ``bar``, a tqdm bar and a line per
    epoch; without, a line every ``every`` epochs and at the end, its metrics wrapped to the
    book's 88 columns. Only rank 0 prints. Stderr, because a log is not a result: the notebooks
    keep it, the book's pages leave it out (``nb_output_stderr: remove`` in _config.yml)."""

    def __init__(self, desc: str, epochs: int, bar: bool, every: int):
        self.desc, self.epochs, self.bar, self.every = desc, epochs, bar, every
        self.quiet = distributed.rank_and_world()[0] != 0

    def resumed(self, epoch: int) -> None:
        if not self.quiet:
            print(
                f"{self.desc}: resumed after epoch {epoch}/{self.epochs}",
                file=sys.stderr,
            )

    def batches(self, batches: Iterable, epoch: int, total: int | None):
        """``batches`` behind a progress bar (when shown); its ``running(loss)`` shows the loss."""
        return tqdm(
            batches,
            desc=f"{self.desc} {epoch + 1}/{self.epochs}",
            leave=False,
            disable=self.quiet or not self.bar,
            file=sys.stderr,
            total=total,
        )

    def epoch(self, record: Mapping[str, float]) -> None:
        epoch = record["epoch"]
        if self.quiet or not (
            self.bar or epoch % self.every == 0 or epoch == self.epochs
        ):
            return
        metrics = [
            f"{k} {v:.4g}"
            for k, v in record.items()
            if k not in ("epoch", "seconds", "processes")
        ]
        head = f"{self.desc} epoch {epoch}/{self.epochs}"
        line = f"{head}  {'  '.join(metrics)}  ({record['seconds']:.0f} s)"
        if len(line) > 88:
            # the book's code column: the metrics on indented lines of their own
            glued = "  ".join(m.replace(" ", "\0") for m in metrics)
            rows = textwrap.wrap(glued, 84, break_long_words=False)
            line = f"{head} ({record['seconds']:.0f} s):" + "".join(
                "\n    " + row.replace("\0", " ") for row in rows
            )
        print(line, file=sys.stderr)


def default_log(desc: str, epochs: int) -> Log:
    """The log a run gets unless one is passed: a bar when ``LEC16_PROGRESS=1`` or, unset, in a
    terminal or a notebook opened by a person; without a bar, one line per run in a notebook
    (the book's committed outputs) and about ten in a script's log."""
    bar = settings.progress()
    in_kernel = "ipykernel" in sys.modules
    if bar is None:
        bar = sys.stderr.isatty() or in_kernel
    return Log(desc, epochs, bar, every=epochs if in_kernel else max(1, epochs // 10))


def fit(
    step: Callable[[Any], Mapping[str, Any]],
    data: Iterable | Mapping[str, Iterable],
    epochs: int,
    *,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    schedulers: Mapping[str, Any] | None = None,
    step_schedulers: Mapping[str, Any] | None = None,
    hooks: Mapping[str, Callable[[], None]] | None = None,
    evaluate: Callable[[int], Mapping[str, Any]] | None = None,
    checkpoint: str | Path | None = None,
    config: Any = None,
    desc: str = "train",
    amp: bool = False,
    log: Log | None = None,
    log_every: int = 50,
) -> History:
    """Train for ``epochs`` epochs of ``step(batch)``; return the :class:`History`.

    ``data`` is one iterable of batches (:class:`Steps` for a trainer without data), or a dict
    of named streams (the step then gets a dict of batches: the first stream sets the epoch, the
    others are cycled). A stream with ``set_epoch`` (like :class:`lec16.data.Batches`) is told the
    pass number first. ``step`` returns a dict of scalars including ``loss``, ideally as tensors:
    they are summed on the device and read every ``log_every`` steps and at the end of the epoch.
    ``schedulers`` are stepped once per epoch, ``step_schedulers`` after every step, then every
    hook in ``hooks`` is called (no arguments); hooks with a ``state_dict`` are checkpointed.
    ``evaluate(epoch)`` runs after each epoch (counted from 1) with the modules in eval mode and
    gradients off. ``checkpoint`` is a path: written after each epoch, resumed from when it
    exists, refused when the run's identity differs: ``config`` (dataclasses and JSON-like
    values, :func:`lec16.checkpoints.identity`) and the modules' classes and configurations.
    ``amp`` runs ``step`` under bfloat16 autocast on CUDA (ignored elsewhere). ``log`` prints
    the run (default: :func:`default_log`).
    """
    check_positive("epochs", epochs, integer=True)
    check_positive("log_every", log_every, integer=True)
    streams = _streams(data)
    schedulers, step_schedulers = dict(schedulers or {}), dict(step_schedulers or {})
    hooks = dict(hooks or {})
    # the modules' own state: DDP's wrapper (lec16.distributed.wrap) adds a "module." prefix
    own = {k: distributed.unwrap(m) for k, m in modules.items()}
    run = checkpoints.Run(
        checkpoint,
        identity={
            "config": checkpoints.identity(config),
            "modules": checkpoints.identity(own),
        },
        objects={
            "modules": own,
            "optimizers": dict(optimizers or {}),
            "schedulers": {
                **schedulers,
                **{f"per-step {k}": s for k, s in step_schedulers.items()},
            },
            "hooks": {k: h for k, h in hooks.items() if hasattr(h, "state_dict")},
        },
    )
    device = next(
        (p.device for m in own.values() for p in m.parameters()), torch.device("cpu")
    )
    log = log or default_log(desc, epochs)
    rank, world = distributed.rank_and_world()
    with run.writing(rank), _interrupt_says_where(run, desc, epochs):
        history, start = History(), 0
        if run.exists():
            records, start = run.resume(device, rank)
            history = History(records)
            log.resumed(start)
        else:
            checkpoints.own_stream(rank)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if amp and device.type == "cuda"
            else contextlib.nullcontext()
        )
        elapsed = history.last.get("seconds", 0.0)

        for epoch in range(start, epochs):
            run.epoch, tic = epoch + 1, time.perf_counter()
            kept = (
                f"the last good checkpoint {run.path} (epoch {epoch})"
                if run.exists()
                else "no checkpoint"
            )
            for m in modules.values():
                m.train()
            means = _Means(desc, epoch, kept, device)
            batches = log.batches(
                _epoch_batches(streams, epoch), epoch, _length(streams)
            )
            for batch in batches:
                with (
                    autocast,
                    _stopped_on_non_finite(modules, desc, epoch, means.steps, kept),
                ):
                    metrics = step(batch)
                means.add(metrics)
                for scheduler in step_schedulers.values():
                    scheduler.step()
                for hook in hooks.values():
                    hook()
                if means.steps % log_every == 0:
                    # a host sync: a NaN loss stops the run here
                    loss = means.read()["loss"]
                    if log.bar:
                        batches.set_postfix(loss=f"{loss:.4g}")
            record = {"epoch": epoch + 1, **means.read()}
            for scheduler in schedulers.values():
                scheduler.step()
            if evaluate is not None:
                for m in modules.values():
                    m.eval()
                with torch.no_grad():
                    record.update({k: float(v) for k, v in evaluate(epoch + 1).items()})
            elapsed += time.perf_counter() - tic
            # the processes of each epoch: a run resumed under another number keeps both
            record["seconds"], record["processes"] = round(elapsed, 3), world
            history.records.append(record)
            log.epoch(record)
            run.save(epoch + 1, history.records)
            distributed.barrier()  # no rank starts the next epoch before the checkpoint exists
    return history


@contextlib.contextmanager
def _interrupt_says_where(run: checkpoints.Run, desc: str, epochs: int):
    """Ctrl-C as :class:`Interrupted`, saying in which epoch and where a rerun resumes."""
    try:
        yield
    except KeyboardInterrupt:
        done = run.saved_epoch
        resume = f"resume after epoch {done}" if done else "start again"
        if run.path is None:
            resume = "start again (this run keeps no checkpoint)"
        raise Interrupted(
            f"{desc}: interrupted during epoch {run.epoch}/{epochs}; rerun the same command "
            f"to {resume}"
        ) from None


class _Means:
    """The step's metrics summed on the device; :meth:`read` is one host sync (and one
    all-reduce on several processes) giving the running means over steps and ranks, and a clear
    stop if the loss went non-finite."""

    def __init__(self, desc: str, epoch: int, kept: str, device: torch.device):
        self.desc, self.epoch, self.kept, self.device = desc, epoch, kept, device
        self.sums: dict[str, Any] = {}
        self.steps = self.last_read = 0

    def add(self, metrics: Mapping[str, Any]) -> None:
        if self.steps == 0:
            _check_metrics(metrics)
        for k, v in metrics.items():
            v = v.detach() if isinstance(v, torch.Tensor) else v
            # a new tensor either way: a CUDA-graph replay may overwrite the step's own outputs
            self.sums[k] = self.sums[k] + v if k in self.sums else v * 1
        self.steps += 1

    def read(self) -> dict[str, float]:
        if self.steps == 0:
            raise ValueError(
                f"{self.desc}: the data yielded no batches in epoch {self.epoch + 1}; give it "
                "more data or a smaller batch_size"
            )
        totals = {k: float(v) for k, v in self.sums.items()}
        if distributed.rank_and_world()[1] > 1:
            values = torch.tensor(list(totals.values()), device=self.device)
            totals = dict(zip(totals, distributed.mean_over_ranks(values).tolist()))
        means = {k: v / self.steps for k, v in totals.items()}
        if not math.isfinite(means["loss"]):
            first, last = self.last_read + 1, self.steps
            steps = f"step {last}" if last == first else f"steps {first}-{last}"
            raise NonFiniteLossError(
                f"{self.desc}: loss became {means['loss']} at epoch {self.epoch + 1}, {steps}; "
                f"training stopped and {self.kept} was kept. Lower the learning rate or check "
                "the data."
            )
        self.last_read = self.steps
        return means


@contextlib.contextmanager
def _stopped_on_non_finite(modules, desc: str, epoch: int, steps: int, kept: str):
    """Turn torch.distributions' refusal of NaN parameters (a ValueError deep in a step) into
    :class:`NonFiniteLossError`; other ValueErrors pass."""
    try:
        yield
    except ValueError as err:
        finite = all(
            torch.isfinite(p).all() for m in modules.values() for p in m.parameters()
        )
        # finite parameters whose outputs overflowed: torch.distributions' own wording
        if finite and "but found invalid values" not in str(err):
            raise
        what = "outputs" if finite else "parameters"
        raise NonFiniteLossError(
            f"{desc}: the model's {what} became NaN or infinite before epoch {epoch + 1}, step "
            f"{steps + 1}; training stopped and {kept} was kept. Lower the learning rate or "
            "check the data."
        ) from err


def _streams(data: Any) -> dict[str, Any]:
    streams = dict(data) if isinstance(data, Mapping) else {"": data}
    if not streams:
        raise ValueError("fit needs at least one data stream")
    for name, stream in streams.items():
        if hasattr(stream, "__len__") and len(stream) == 0:
            what = f"data stream {name!r}" if name else "the data"
            raise ValueError(
                f"{what} yields no batches (fewer examples than one batch with drop_last, or "
                "no examples at all); give it more data or a smaller batch_size"
            )
    return streams


def _length(streams: Mapping[str, Any]) -> int | None:
    main = next(iter(streams.values()))  # the stream that sets the length of an epoch
    return len(main) if hasattr(main, "__len__") else None


def _cycled(stream: Any, epoch: int) -> Iterable:
    """Endless passes over ``stream``; with ``set_epoch``, pass c of epoch e gets a number that a
    resumed run reproduces."""
    for c in itertools.count():
        if hasattr(stream, "set_epoch"):
            stream.set_epoch(epoch * 1_000_003 + c)
        yield from stream


def _epoch_batches(streams: Mapping[str, Any], epoch: int) -> Iterable:
    names = list(streams)
    main = streams[names[0]]
    if hasattr(main, "set_epoch"):
        main.set_epoch(epoch)
    if names == [""]:
        return main
    others = {name: _cycled(streams[name], epoch) for name in names[1:]}
    return (
        {names[0]: batch, **{name: next(it) for name, it in others.items()}}
        for batch in main
    )


def _check_metrics(metrics: Any) -> None:
    if not isinstance(metrics, Mapping) or "loss" not in metrics:
        raise ValueError(
            f"a step must return a dict of scalar metrics with a 'loss', got {metrics!r:.100}"
        )
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            raise ValueError(
                f"metric {key!r} of the step must be a scalar, got a tensor of shape "
                f"{tuple(value.shape)}: reduce it (e.g. .mean()) before returning it"
            )


def classification_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> Callable[[Any], Mapping[str, Any]]:
    """A ``step`` for :func:`fit` on (inputs, labels) batches: cross-entropy of ``model(inputs)``, one update."""

    def step(batch):
        loss = torch.nn.functional.cross_entropy(model(batch[0]), batch[1])
        optimizer_step(optimizer, loss)
        return {"loss": loss}

    return step
