"""Checkpoints: where they live, how they are written and read, and what identifies a run.

A checkpoint of :func:`lec16.train.fit` holds everything a run needs to continue exactly where
it stopped (modules, optimizers, schedulers, hooks, history, the random generators) and the run's
*identity*: its configuration as plain JSON data. :class:`Run` resumes from one only when the
identity matches, and otherwise names the fields that differ. Writing is atomic (a temporary file,
then ``os.replace``), so a reader sees the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import glob
import hashlib
import io
import json
import os
import random
import shutil
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from lec16 import distributed, settings

__all__ = [
    "CheckpointError",
    "checkpoint_path",
    "save",
    "load",
    "identity",
    "Run",
]

KEYS = ("epoch", "config", "history", "rng", "modules", "optimizers", "schedulers")


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or belongs to another model or configuration."""


def checkpoint_path(name: str, scale: str, root: str | Path | None = None) -> Path:
    """Where ``name``'s checkpoint at ``scale`` lives: ``<root>/<scale>/<name>.pt``, ``root``
    defaulting to ``$LEC16_CHECKPOINTS`` or ``checkpoints/`` (:mod:`lec16.settings`), so the
    scales never share a checkpoint. ``python -m lec16 train`` writes into the same layout, so a
    notebook run with ``LEC16_CHECKPOINTS`` at its folder loads the models it trained."""
    return (
        Path(root if root is not None else settings.checkpoints_root())
        / scale
        / f"{name}.pt"
    )


def digest(value: Any) -> str:
    """A SHA-256 of a checkpoint's content: every tensor's dtype, shape and bytes, every other
    value's ``repr``, mappings in key order. What :func:`save` stores and :func:`load` checks."""
    hasher = hashlib.sha256()

    def walk(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu()
            hasher.update(f"tensor {t.dtype} {tuple(t.shape)};".encode())
            if (
                t.dtype == torch.bfloat16
            ):  # NumPy has no bfloat16: the same bits as int16
                t = t.view(torch.int16)
            hasher.update(t.numpy().tobytes())  # C order, whatever the tensor's strides
        elif isinstance(v, Mapping):
            hasher.update(f"map {len(v)};".encode())
            for key in sorted(v, key=str):
                hasher.update(f"{key!r}:".encode())
                walk(v[key])
        elif isinstance(v, (list, tuple)):
            hasher.update(f"seq {len(v)};".encode())
            for item in v:
                walk(item)
        else:
            hasher.update(f"{v!r};".encode())

    walk(value)
    return hasher.hexdigest()


def save(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` and its :func:`digest` atomically: into a temporary file of this writer's
    own, then renamed over ``path``, so a reader sees the old checkpoint or the new one, never
    half of one. The free space is checked first (the old file stays until the new one is
    complete, so the new one's size is needed on top); a failed write (no space, no permission)
    is a :class:`CheckpointError` saying so, and leaves no temporary file."""
    path = Path(path)
    state = {k: v for k, v in state.items() if k != "integrity"}
    state["integrity"] = {"sha256": digest(state)}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getbuffer()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(path)
        free = shutil.disk_usage(path.parent).free
        if free < len(payload):
            raise OSError(
                errno.ENOSPC,
                f"no space left: it needs {len(payload) / 1e6:.1f} MB and "
                f"{path.parent} has {free / 1e6:.1f} MB free (the previous checkpoint stays "
                "until the new one is complete)",
            )
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"could not write checkpoint {path}: {err.strerror or err}; free some space or "
            "choose another folder (--out, or LEC16_CHECKPOINTS)"
        ) from None


def _remove_orphans(path: Path) -> None:
    """Remove the temporary files of ``path`` whose writer died mid-save (killed): their
    process no longer exists."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, and is another user's
        return True
    return True


def load(
    path: str | Path, map_location=None, required: Iterable[str] = ()
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` onto ``map_location`` (a device; None keeps
    the devices it was saved from) and check its :func:`digest`. A file that cannot be read (a
    permission), that is damaged (not a torch file, or content that fails the digest), or that
    lacks the ``required`` keys is a :class:`CheckpointError` that says which."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({err.strerror or err}); the file itself may "
            "be fine: fix its permissions (or the folder's), or choose another folder"
        ) from None
    saved = _torch_load(raw, "cpu", path)  # checked on the CPU, whatever its devices
    missing = [k for k in required if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise CheckpointError(
            f"{path} is a torch file but not a lec16 checkpoint (it lacks {missing}); "
            "pass another checkpoint path, or delete it to train from scratch"
        )
    if isinstance(saved, dict) and "integrity" in saved:
        content = {k: v for k, v in saved.items() if k != "integrity"}
        if digest(content) != saved["integrity"].get("sha256"):
            raise CheckpointError(
                f"checkpoint {path} fails its integrity check: its content changed after it "
                "was written (a damaged disk or an incomplete copy); restore a good copy, or "
                "delete it to train from scratch"
            )
    elif required:
        raise CheckpointError(
            f"checkpoint {path} has no integrity check (an older lec16 wrote it); delete it "
            "to train from scratch"
        )
    if map_location is not None and str(map_location) == "cpu":
        return saved
    return _torch_load(raw, map_location, path)


def _torch_load(raw: bytes, map_location, path: Path) -> Any:
    """``torch.load`` of a file's bytes, its failures as :class:`CheckpointError`."""
    try:
        return torch.load(io.BytesIO(raw), map_location=map_location, weights_only=True)
    except Exception as err:
        first = str(err).splitlines()[0][:200] if str(err) else ""
        if "device" in first.lower() and "deserialize" in first.lower():
            raise CheckpointError(
                f"checkpoint {path} was saved on a device this machine lacks ({first}); "
                "load it with map_location=lec16.device()"
            ) from None
        raise CheckpointError(
            f"checkpoint {path} is damaged or not a torch file ({type(err).__name__}: "
            f"{first}); delete it to train from scratch"
        ) from None


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
        f"a run's config must be dataclasses, modules or JSON-like values; got a "
        f"{type(value).__name__}: put its settings in a dataclass or a dict of numbers and strings"
    )


def differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """The fields in which two identities differ, as readable lines."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current)):
            where = f"{prefix}.{key}" if prefix else key
            if key not in saved:
                out.append(f"{where} (not in the checkpoint)")
            elif key not in current:
                out.append(f"{where} (only in the checkpoint)")
            else:
                out += differences(saved[key], current[key], where)
        return out
    if saved == current:
        return []
    return [f"{prefix or 'config'}: checkpoint {saved!r:.60}, this run {current!r:.60}"]


# --- The random generators ----------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA) and Python generators' states."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], rank: int = 0) -> None:
    """Restore the generators; rank r of several processes takes its own saved stream, or, when
    the run had fewer processes, a stream drawn from rank 0's state and its rank."""
    ranks = state.get("ranks", [state["torch"]])
    torch.set_rng_state(ranks[rank if rank < len(ranks) else 0].cpu())
    if rank >= len(ranks):
        own_stream(rank)
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def own_stream(rank: int) -> None:
    """Give rank r > 0 a torch stream of its own, drawn from the current state (the same on
    every rank) and r: the noise of its slice of each batch (a GAN's latents, a VAE's epsilon)
    then differs from the other ranks', as one process's noise differs across a batch. Rank 0
    keeps the state, so its stream is a single process's."""
    if rank > 0:
        torch.manual_seed(int(torch.randint(2**62, ())) + rank)


def _as_tuple(x):
    # weights_only loading turns the tuples of random.getstate() into lists
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


# --- One writer ---------------------------------------------------------------------------------


@contextlib.contextmanager
def exclusive(lock: str | Path, what: str):
    """Hold an exclusive lock on the file ``lock`` for the block (``fcntl.flock``, released when
    the process ends, however it ends), writing this process's id and command into it. When
    another process holds it, a :class:`CheckpointError` at once names that process and
    ``what`` it holds. (Where ``fcntl`` is missing, on Windows, nothing is locked.)"""
    lock = Path(lock)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a+")
    except OSError as err:
        raise CheckpointError(
            f"cannot write in {lock.parent} ({err.strerror or err}); choose a folder you can "
            "write to"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise CheckpointError(
                f"{what} is being written by another run ({holder}); wait for it to finish, "
                "or use another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {' '.join(sys.argv) or 'python'}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- A run's checkpoint -------------------------------------------------------------------------


class Run:
    """The checkpoint of one :func:`lec16.train.fit` run: the objects it saves and restores
    (``modules``, ``optimizers``, ``schedulers``, ``hooks``: anything with ``state_dict``), its
    ``path`` (None: nothing is saved) and its ``identity``."""

    def __init__(
        self,
        path: str | Path | None,
        identity: Any,
        objects: Mapping[str, Mapping[str, Any]],
    ):
        self.path = Path(path) if path is not None else None
        self.identity = json.loads(json.dumps(identity))
        self.objects = {kind: dict(items) for kind, items in objects.items()}
        self.epoch = 0
        """the epoch in progress (counted from 1), for messages"""
        self.saved_epoch = 0
        """the epochs the checkpoint holds"""

    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def writing(self, rank: int):
        """The block in which this run writes its checkpoint: one process at a time (rank 0;
        nothing to lock without a path)."""
        if self.path is None or rank != 0:
            return contextlib.nullcontext()
        lock = self.path.with_name(f".{self.path.name}.lock")
        return exclusive(lock, f"checkpoint {self.path}")

    def resume(self, device: torch.device, rank: int) -> tuple[list[dict], int]:
        """Restore every object and the generators from the checkpoint; return its history's
        records and the number of epochs it finished. A checkpoint of another configuration,
        or with other objects, is a :class:`CheckpointError` naming what differs."""
        saved = load(self.path, map_location=device, required=KEYS)
        differing = differences(saved["config"], self.identity)
        if differing:
            raise CheckpointError(
                f"checkpoint {self.path} was written by another configuration; differing "
                f"fields: {'; '.join(differing[:8])}. Delete it or pass another checkpoint path"
            )
        for kind in ("modules", "optimizers"):
            where = _non_finite(saved.get(kind, {}), kind)
            if where:
                raise CheckpointError(
                    f"checkpoint {self.path} holds NaN or infinite values ({where}): the run "
                    "diverged before it was saved, or the file was altered; delete it to train "
                    "from scratch (with a lower learning rate if it diverged)"
                )
        for kind, objects in self.objects.items():
            _restore(kind, objects, saved.get(kind, {}), self.path)
        set_rng_state(saved["rng"], rank)
        self.saved_epoch = saved["epoch"]
        return saved["history"], saved["epoch"]

    def save(self, epoch: int, history: list[dict]) -> None:
        """Write the checkpoint after ``epoch`` epochs (rank 0 writes; on several processes every
        rank's generator is gathered, so that each resumes its own stream)."""
        if self.path is None:
            return
        self.saved_epoch = epoch
        rank, world = distributed.rank_and_world()
        rng = rng_state()
        if world > 1:
            ranks = [None] * world
            torch.distributed.all_gather_object(ranks, rng["torch"])
            rng["ranks"] = ranks
        if rank == 0:
            state = {
                "epoch": epoch,
                "config": self.identity,
                "history": history,
                "rng": rng,
            }
            for kind, objects in self.objects.items():
                state[kind] = {k: o.state_dict() for k, o in objects.items()}
            save(self.path, state)


def _non_finite(value: Any, where: str) -> str:
    """The place of the first floating-point tensor in ``value`` with a NaN or an infinity
    ('' when there is none)."""
    if isinstance(value, torch.Tensor):
        bad = value.is_floating_point() and not bool(torch.isfinite(value).all())
        return where if bad else ""
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return ""
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}")
        if found:
            return found
    return ""


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
