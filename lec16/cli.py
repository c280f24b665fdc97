"""``python -m lec16``: train a chapter's models outside its notebook, or fetch a data set.

``python -m lec16 train SLUG`` runs the chapter's experiment (:mod:`lec16.experiments`): its
set-up at ``--scale``, its data, its training (every model resumed from, or loaded from, its
checkpoint under ``<out>/checkpoints/<scale>/<slug>/``; one of another configuration is refused)
and its score, whose claims it prints and records in ``<out>/metrics/<slug>.json``. The
notebook runs the same experiment, so a notebook executed with
``LEC16_CHECKPOINTS=<out>/checkpoints`` loads what the command trained. Under
``torchrun --nproc_per_node N -m lec16 train ...`` every process trains its share
(:mod:`lec16.distributed`) and rank 0 scores. ``python -m lec16 fetch mnist`` puts a data set
where the book reads it (:mod:`lec16.data`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from pathlib import Path

import torch

from lec16 import checkpoints, data, distributed, experiments, settings, train
from lec16.scales import SCALES, check_seed


def _parser(trainable: dict) -> argparse.ArgumentParser:
    listing = "experiments (SLUG), and their parts:\n" + "\n".join(
        f"  {slug}: {experiments.title(module)}"
        + "".join(
            f"\n      {p:11} {what}" for p, what in getattr(module, "PARTS", {}).items()
        )
        for slug, module in trainable.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m lec16",
        description="Train the lec16 companion's models outside the notebooks, or fetch data.",
        epilog=listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "train",
        help="train a chapter's models at a scale, resuming from their checkpoints",
        epilog=listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "slug", choices=sorted(trainable), metavar="SLUG", help="see below"
    )
    run.add_argument(
        "--part",
        action="append",
        metavar="PART",
        help="train only this part of the chapter (repeatable; default: all)",
    )
    run.add_argument(
        "--scale",
        choices=SCALES,
        default=None,
        help="default: $LEC16_SCALE, else default",
    )
    run.add_argument("--epochs", type=int, help="train this many epochs (a new run)")
    run.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="checkpoints/ and metrics/ go here",
    )
    run.add_argument("--seed", type=int, default=0)
    fetch = commands.add_parser("fetch", help="make a data set present and verified")
    fetch.add_argument("names", nargs="+", choices=sorted(data.FETCHERS))
    fetch.add_argument("--root", type=Path, default=None, help="default: $LEC16_DATA")
    fetch.add_argument(
        "--optional", action="store_true", help="report a failure, exit 0"
    )
    return parser


def _fetch(args: argparse.Namespace) -> int:
    status = 0
    for name in args.names:
        try:
            print(f"{name}: {data.FETCHERS[name](args.root)}")
        except data.DataError as err:
            print(f"{name}: {err}", file=sys.stderr)
            status = 0 if args.optional else 1
    return status


def _train(args: argparse.Namespace, module, parser: argparse.ArgumentParser) -> int:
    parts = getattr(module, "PARTS", {})
    unknown = [p for p in args.part or [] if p not in parts]
    if unknown:
        known = ", ".join(parts) or "none: it trains as a whole"
        parser.error(f"{args.slug} has no part {unknown[0]!r}; its parts: {known}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive number of epochs, got {args.epochs}")
    try:
        check_seed("--seed", args.seed)
    except ValueError as err:
        parser.error(str(err))
    settings.check_all()  # a bad LEC16_* value is refused before any work
    scale = args.scale or settings.scale()
    setup = module.Setup.at(scale, args.seed)
    if args.epochs is not None:
        try:
            setup = setup.with_epochs(args.epochs)
        except ValueError as err:
            parser.error(str(err))
    rank, world = distributed.init_from_env()
    with _writable(args.out, rank):
        if rank == 0:
            what = ", ".join(args.part) if args.part else "every model"
            print(
                f"{args.slug}: {what} at {scale} scale on {world} process(es)",
                flush=True,
            )
        loaded = module.load_data(setup)
        root = args.out / "checkpoints"
        trained = module.train(setup, loaded, root=root, parts=args.part)
        if rank > 0:
            return 0
        score = module.score(setup, loaded, trained)
        metrics = args.out / "metrics"
        score.record(
            args.slug,
            metrics,
            scale=scale,
            parts=args.part or list(parts),
            processes=world,
            setup=checkpoints.identity(setup),
        )
    print(score.summary())
    print(f"metrics in {metrics / (args.slug + '.json')}")
    return 0 if score.passes() else 3


@contextlib.contextmanager
def _writable(out: Path, rank: int):
    """``out`` made and checked for writing before any work, and held by this run alone
    (rank 0 holds the lock; a second run into it is refused at once, naming the first)."""
    if rank > 0:
        yield
        return
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "--out is a file, not a folder", str(out)
        )
    for folder in (out, out / "checkpoints", out / "metrics"):
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    with checkpoints.exclusive(out / ".lock", f"--out {out}"):
        yield


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (1: an error, 2: a usage error, 3: a claim of
    the trained models failed)."""
    trainable = experiments.trainable()
    parser = _parser(trainable)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return _fetch(args)
    rank = int(os.environ.get("RANK", "0"))  # torchrun's; only rank 0 speaks
    try:
        return _train(args, trainable[args.slug], parser)
    except KeyboardInterrupt as err:  # train.Interrupted says where to resume
        if rank == 0:
            print(
                f"python -m lec16 train {args.slug}: {err or 'interrupted'}",
                file=sys.stderr,
            )
        return 130
    except OSError as err:  # a folder or file: say which, and why
        if rank == 0:
            where = f"{err.filename}: " if err.filename else ""
            print(
                f"python -m lec16 train {args.slug}: {where}{err.strerror or err}",
                file=sys.stderr,
            )
        return 1
    except (
        checkpoints.CheckpointError,
        data.DataError,
        train.NonFiniteLossError,
        ValueError,
    ) as err:
        if rank == 0:
            print(f"python -m lec16 train {args.slug}: {err}", file=sys.stderr)
        return 1
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


__all__ = ["main"]
