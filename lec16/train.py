"""The training protocol every chapter uses: one optimizer step, epochs of ``step(batch)``,
per-step hooks, history, checkpoints, resume.

A chapter writes its own ``step`` (forward, the loss, :func:`optimizer_step` for each optimizer;
it returns a dict of scalar metrics with a ``loss``), and :func:`fit` does the rest:

* one or several data streams: ``fit(step, {"unlabelled": u, "labelled": l}, ...)`` hands the step a
  dict of batches; the first stream sets the length of an epoch, the others are cycled;
* per-step schedulers and hooks (:class:`EMA` of the weights, :func:`warmup` of the learning rate),
  checkpointed with the rest;
* metrics summed on the device and read (one host sync) at log intervals and at the end of each
  epoch; per-epoch means, plus whatever ``evaluate()`` returns, in a :class:`History`;
* an atomic checkpoint after every epoch (``tmp`` then ``os.replace``), holding modules,
  optimizers, schedulers, hooks, history, the torch RNG states and the run's identity (its config
  dataclasses, class names included); a rerun resumes after the last finished epoch and ends
  exactly where an uninterrupted run would; a checkpoint of another configuration is refused with
  the fields that differ;
* a non-finite loss stops training with :class:`NonFiniteLossError`, keeping the last good checkpoint.

All randomness in lec16 comes from torch's generators, which is why the checkpoint restores those.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import random
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from lec16 import distributed
from lec16.scales import check_positive

CHECKPOINT_KEYS = (
    "epoch",
    "config",
    "history",
    "rng",
    "modules",
    "optimizers",
    "schedulers",
)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or belongs to another model or configuration."""


class History:
    """Per-epoch records, e.g. ``{"epoch": 3, "loss": 97.2, "test_elbo": -99.1, "seconds": 41.0}``,
    and ``samples``: images a trainer drew after each epoch of this call (``train_gan``'s
    fixed-latent snapshots), which are not checkpointed."""

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


# --- Checkpoints ------------------------------------------------------------------------------


def checkpoint_path(name: str, scale: str, root: str | Path | None = None) -> Path:
    """Where ``name``'s checkpoint at ``scale`` lives: ``<root>/<scale>/<name>.pt``, ``root``
    defaulting to ``$LEC16_CHECKPOINTS`` or ``checkpoints/`` (beside the notebook), so the
    scales never share a checkpoint. ``python -m lec16 train`` writes into the same layout,
    so a notebook run with ``LEC16_CHECKPOINTS`` set to its folder resumes from (and, when
    finished, just loads) the models it trained."""
    root = (
        root if root is not None else os.environ.get("LEC16_CHECKPOINTS", "checkpoints")
    )
    return Path(root) / scale / f"{name}.pt"


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` to a temporary file, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(dict(state), tmp)
    os.replace(
        tmp, path
    )  # atomic: a reader sees the old checkpoint or the new one, never half of one


def load_checkpoint(
    path: str | Path, map_location=None, required: Iterable[str] = ()
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` onto ``map_location`` (a device; None keeps the
    devices it was saved from). An unreadable file, or one without the ``required`` keys, is a
    :class:`CheckpointError`."""
    path = Path(path)
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        first = str(err).splitlines()[0][:200] if str(err) else ""
        if "device" in first.lower() and "deserialize" in first.lower():
            raise CheckpointError(
                f"checkpoint {path} was saved on a device this machine lacks ({first}); "
                "load it with map_location=lec16.device()"
            ) from None
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a torch file ({type(err).__name__}: "
            f"{first}); delete it to train from scratch"
        ) from None
    missing = [k for k in required if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise CheckpointError(
            f"{path} is a torch file but not a lec16 checkpoint (it lacks {missing}); "
            "pass another checkpoint path, or delete it to train from scratch"
        )
    return saved


def identity(value: Any) -> Any:
    """What identifies a run in its checkpoint, as plain JSON data: a dataclass becomes its class
    name and fields (``{"class": "VAEConfig", "latent": 20, ...}``), a module without a ``config``
    dataclass its class name and parameter shapes, mappings and sequences element-wise."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"class": type(value).__name__, **identity(dataclasses.asdict(value))}
    if isinstance(value, torch.nn.Module):
        config = getattr(value, "config", None)
        if dataclasses.is_dataclass(config):
            return {"class": type(value).__name__, "config": identity(config)}
        shapes = {k: list(v.shape) for k, v in value.state_dict().items()}
        return {"class": type(value).__name__, "shapes": shapes}
    if isinstance(value, Mapping):
        return {str(k): identity(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [identity(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(
        f"a run's config must be dataclasses, modules or JSON-like values; got a {type(value).__name__}: "
        "put its settings in a dataclass or a dict of numbers and strings"
    )


def _differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current)):
            where = f"{prefix}.{key}" if prefix else key
            if key not in saved:
                out.append(f"{where} (not in the checkpoint)")
            elif key not in current:
                out.append(f"{where} (only in the checkpoint)")
            else:
                out += _differences(saved[key], current[key], where)
        return out
    return (
        []
        if saved == current
        else [
            f"{prefix or 'config'}: checkpoint {saved!r:.60}, this run {current!r:.60}"
        ]
    )


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any], rank: int = 0) -> None:
    """Restore the generators; rank r of several processes takes its own saved stream, or, when
    the run had fewer processes, a stream drawn from rank 0's state and its rank."""
    ranks = state.get("ranks", [state["torch"]])
    torch.set_rng_state(ranks[rank if rank < len(ranks) else 0].cpu())
    if rank >= len(ranks):
        _own_stream(rank)
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _own_stream(rank: int) -> None:
    """Give rank r > 0 a torch stream of its own, drawn from the current state (the same on
    every rank) and r: the noise of its slice of each batch (a GAN's latents, a VAE's epsilon)
    then differs from the other ranks', as one process's noise differs across a batch. Rank 0
    keeps the state, so its stream is a single process's."""
    if rank > 0:
        torch.manual_seed(int(torch.randint(2**62, ())) + rank)


def _as_tuple(x):
    # weights_only loading turns the tuples of random.getstate() into lists
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def _restore(
    kind: str, objects: Mapping[str, Any], saved: Mapping[str, Any], path: Path
) -> None:
    if set(objects) != set(saved):
        raise CheckpointError(
            f"checkpoint {path} holds {kind} {sorted(saved)}, this run has {sorted(objects)}; "
            "delete it or pass another checkpoint path"
        )
    for name, obj in objects.items():
        try:
            obj.load_state_dict(saved[name])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(
                f"checkpoint {path} does not fit {kind[:-1]} {name!r} "
                f"({' '.join(str(err).split())[:240]}); it was written for another "
                "architecture: delete it or pass another checkpoint path"
            ) from None


# --- fit ----------------------------------------------------------------------------------------


def _all_finite(modules: Mapping[str, torch.nn.Module]) -> bool:
    return all(
        torch.isfinite(p).all() for m in modules.values() for p in m.parameters()
    )


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
    evaluate: Callable[[], Mapping[str, Any]] | None = None,
    checkpoint: str | Path | None = None,
    config: Any = None,
    desc: str = "train",
    amp: bool = False,
    progress: bool | None = None,
    log_every: int = 50,
) -> History:
    """Train for ``epochs`` epochs of ``step(batch)``; return the :class:`History`.

    ``data`` is one iterable of batches, or a dict of named streams (the step then gets a dict of
    batches: the first stream sets the epoch, the others are cycled). A stream with ``set_epoch``
    (like :class:`lec16.data.Batches`) is told the pass number first. ``step`` returns a dict of
    scalars including ``loss``, ideally as tensors: they are summed on the device and read every
    ``log_every`` steps and at the end of the epoch, so the step never waits for the host.
    ``schedulers`` are stepped once per epoch, ``step_schedulers`` after every step, then every
    hook in ``hooks`` is called (no arguments); hooks with a ``state_dict`` are checkpointed.
    ``evaluate()`` runs after each epoch with the modules in eval mode and gradients off.
    ``checkpoint`` is a path: written after each epoch, resumed from when it exists; ``config``
    (dataclasses, modules, JSON-like values: see :func:`identity`) must then equal the one it was
    written with. ``amp`` runs ``step`` under bfloat16 autocast on CUDA (ignored elsewhere).
    ``progress`` (None: ``LEC16_PROGRESS=1``/``0`` if set, else on in a terminal or a live
    notebook) shows a tqdm bar and one line per epoch; without it a notebook gets one summary
    line per run (the book's committed outputs) and a script about ten lines per run.
    """
    check_positive("epochs", epochs, integer=True)
    check_positive("log_every", log_every, integer=True)
    streams = _streams(data)
    optimizers, schedulers = dict(optimizers or {}), dict(schedulers or {})
    step_schedulers, hooks = dict(step_schedulers or {}), dict(hooks or {})
    all_schedulers = {
        **schedulers,
        **{f"per-step {k}": s for k, s in step_schedulers.items()},
    }
    stateful_hooks = {k: h for k, h in hooks.items() if hasattr(h, "state_dict")}
    run_identity = json.loads(
        json.dumps(identity(config if config is not None else {}))
    )
    history, start = History(), 0
    path = Path(checkpoint) if checkpoint is not None else None
    device = next(
        (p.device for m in modules.values() for p in m.parameters()),
        torch.device("cpu"),
    )

    rank, world = distributed.rank_and_world()
    # the modules' own state: DDP's wrapper (lec16.distributed.wrap) adds a "module." prefix
    own = {k: distributed.unwrap(m) for k, m in modules.items()}
    if path is not None and path.exists():
        saved = load_checkpoint(path, map_location=device, required=CHECKPOINT_KEYS)
        differences = _differences(saved["config"], run_identity)
        if differences:
            raise CheckpointError(
                f"checkpoint {path} was written by another configuration; differing fields: "
                + "; ".join(differences[:8])
                + ". Delete it or pass another checkpoint path"
            )
        _restore("modules", own, saved["modules"], path)
        _restore("optimizers", optimizers, saved["optimizers"], path)
        _restore("schedulers", all_schedulers, saved["schedulers"], path)
        _restore("hooks", stateful_hooks, saved.get("hooks", {}), path)
        _set_rng_state(saved["rng"], rank)
        history, start = History(saved["history"]), saved["epoch"]
        if rank == 0:
            print(f"{desc}: resumed after epoch {start}/{epochs}", file=sys.stderr)
    else:
        _own_stream(rank)

    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if amp and device.type == "cuda"
        else contextlib.nullcontext()
    )
    show_bar = (_show_progress() if progress is None else progress) and rank == 0
    in_kernel = "ipykernel" in sys.modules
    # without a bar: one line per run in a notebook, about ten in a script's log
    log_epochs = epochs if in_kernel else max(1, epochs // 10)
    elapsed = history.last.get("seconds", 0.0)
    where = "no checkpoint"
    main = next(iter(streams.values()))  # the stream that sets the length of an epoch

    for epoch in range(start, epochs):
        tic = time.perf_counter()
        if path is not None and path.exists():
            where = f"the last good checkpoint {path} (epoch {epoch})"
        for m in modules.values():
            m.train()
        sums: dict[str, Any] = {}
        n_steps, last_read = 0, 0

        def read(upto: int) -> dict[str, float]:
            """One host sync (and one all-reduce on several processes): the running means over
            steps and ranks, and a clear stop if the loss went non-finite."""
            totals = {k: float(v) for k, v in sums.items()}
            if world > 1:
                values = torch.tensor(list(totals.values()), device=device)
                totals = dict(zip(totals, distributed.mean_over_ranks(values).tolist()))
            means = {k: v / upto for k, v in totals.items()}
            if not math.isfinite(means["loss"]):
                steps = (
                    f"step {upto}"
                    if upto - last_read <= 1
                    else f"steps {last_read + 1}-{upto}"
                )
                raise NonFiniteLossError(
                    f"{desc}: loss became {means['loss']} at epoch {epoch + 1}, {steps}; training stopped "
                    f"and {where} was kept. Lower the learning rate or check the data."
                )
            return means

        bar = tqdm(
            _epoch_batches(streams, epoch),
            desc=f"{desc} {epoch + 1}/{epochs}",
            leave=False,
            disable=not show_bar,
            file=sys.stderr,
            total=len(main) if hasattr(main, "__len__") else None,
        )
        for batch in bar:
            try:
                with autocast:
                    metrics = step(batch)
            except (
                ValueError
            ) as err:  # e.g. torch.distributions refusing NaN parameters
                # finite parameters whose outputs overflowed: torch.distributions' own wording
                finite = _all_finite(modules)
                if finite and "but found invalid values" not in str(err):
                    raise
                what = "outputs" if finite else "parameters"
                raise NonFiniteLossError(
                    f"{desc}: the model's {what} became NaN or infinite before epoch {epoch + 1}, step {n_steps + 1}; "
                    f"training stopped and {where} was kept. Lower the learning rate or check the data."
                ) from err
            if n_steps == 0:
                _check_metrics(metrics)
            for k, v in metrics.items():
                v = v.detach() if isinstance(v, torch.Tensor) else v
                # a new tensor either way: a CUDA-graph replay may overwrite the step's own outputs
                sums[k] = sums[k] + v if k in sums else v * 1
            n_steps += 1
            for scheduler in step_schedulers.values():
                scheduler.step()
            for hook in hooks.values():
                hook()
            if n_steps % log_every == 0:
                means = read(n_steps)
                last_read = n_steps
                if show_bar:
                    bar.set_postfix(loss=f"{means['loss']:.4g}")
        if n_steps == 0:
            raise ValueError(
                f"{desc}: the data yielded no batches in epoch {epoch + 1}; give it more data "
                "or a smaller batch_size"
            )
        record: dict[str, float] = {"epoch": epoch + 1, **read(n_steps)}
        for scheduler in schedulers.values():
            scheduler.step()
        if evaluate is not None:
            for m in modules.values():
                m.eval()
            with torch.no_grad():
                record.update({k: float(v) for k, v in evaluate().items()})
        elapsed += time.perf_counter() - tic
        record["seconds"] = round(elapsed, 3)
        history.records.append(record)
        shown = show_bar or (epoch + 1) % log_epochs == 0 or epoch + 1 == epochs
        if shown and rank == 0:
            metrics = [
                f"{k} {v:.4g}"
                for k, v in record.items()
                if k not in ("epoch", "seconds")
            ]
            line = f"{desc} epoch {epoch + 1}/{epochs}  {'  '.join(metrics)}  ({elapsed:.0f} s)"
            if (
                len(line) > 88
            ):  # the book's code column: metrics on indented lines of their own
                rows = textwrap.wrap(
                    "  ".join(m.replace(" ", "\0") for m in metrics),
                    84,
                    break_long_words=False,
                )
                line = (
                    f"{desc} epoch {epoch + 1}/{epochs} ({elapsed:.0f} s):"
                    + "".join("\n    " + row.replace("\0", " ") for row in rows)
                )
            print(line, file=sys.stderr if show_bar else sys.stdout)
        if path is not None:
            rng = _rng_state()
            # on several processes, every rank's generator, so that each resumes its own stream
            if world > 1:
                ranks = [None] * world
                torch.distributed.all_gather_object(ranks, rng["torch"])
                rng["ranks"] = ranks
        if path is not None and rank == 0:
            save_checkpoint(
                path,
                {
                    "epoch": epoch + 1,
                    "config": run_identity,
                    "history": history.records,
                    "rng": rng,
                    "modules": {k: m.state_dict() for k, m in own.items()},
                    "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                    "schedulers": {
                        k: s.state_dict() for k, s in all_schedulers.items()
                    },
                    "hooks": {k: h.state_dict() for k, h in stateful_hooks.items()},
                },
            )
        distributed.barrier()  # no rank starts the next epoch before the checkpoint exists
    return history


def _show_progress() -> bool:
    """A bar when ``LEC16_PROGRESS=1``, none when ``0``; otherwise in a terminal or a notebook
    opened by a person (``make run`` and the tests set ``LEC16_PROGRESS=0``)."""
    wanted = os.environ.get("LEC16_PROGRESS", "").strip()
    if wanted:
        if wanted not in ("0", "1"):
            raise ValueError(f"LEC16_PROGRESS={wanted!r}: use 1 (a bar) or 0 (no bar)")
        return wanted == "1"
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def classification_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> Callable[[Any], Mapping[str, Any]]:
    """A ``step`` for :func:`fit` on (inputs, labels) batches: cross-entropy of ``model(inputs)``, one update."""

    def step(batch):
        loss = torch.nn.functional.cross_entropy(model(batch[0]), batch[1])
        optimizer_step(optimizer, loss)
        return {"loss": loss}

    return step
