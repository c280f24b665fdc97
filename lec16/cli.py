"""``python -m lec16 train MODEL --scale {smoke,default,paper}``: train a model of the book
outside a notebook, on one process or under ``torchrun --nproc_per_node N -m lec16 train ...``
(DistributedDataParallel: NCCL on GPUs, Gloo on CPUs; see :mod:`lec16.distributed`).

A run writes ``<out>/checkpoints/<model>_<scale>.pt`` after every epoch (a rerun resumes from
it; one written by another configuration is refused) and ``<out>/metrics/<model>.json``, the
key numbers and the history, as the notebooks record theirs. Each model's sizes at each scale
come from the same function its chapter calls, so the command and the book train the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import lec16
from lec16 import data, diffusion, distributed, evaluation, iwae, train, vae
from lec16.scales import SCALES, metrics_path, record_metrics


def _binarized_mnist(n_train: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n_train`` training digits (grey levels, binarized afresh while training) and
    the book's one fixed binarization of the 10,000 test digits, flattened, on ``device``."""
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0][:n_train].flatten(1)
    x_test = data.binarized_test_set(
        data.load_mnist("test", device=device)[0].flatten(1)
    )
    return x_train, x_test


def _mnist_vae(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The VAE chapter's MNIST VAE (20 latents, one tanh layer of 500 units, Bernoulli)."""
    n_train, config = vae.scale_setup(scale, seed)
    if epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    device = lec16.device()
    x_train, x_test = _binarized_mnist(n_train, device)
    lec16.seed_everything(seed)
    model = vae.VAE(vae.VAEConfig(latent=20)).to(device)
    # the reference a broken model would not beat
    untrained = vae.elbo(model, x_test).item()
    history = vae.train_vae(
        model,
        x_train,
        x_test,
        config,
        checkpoint=out / "checkpoints" / f"vae_{scale}.pt",
        desc="vae",
    )
    return {
        "test_bound": history.last["test_elbo"],
        "untrained_bound": untrained,
        "test_bound_curve": history["test_elbo"],
        "epochs": history.last["epoch"],
        "seconds": history.last["seconds"],
        "config": dataclasses.asdict(config),
    }


def _mnist_iwae(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The IWAE chapter's headline model: Burda et al.'s architecture trained on L_50 (k = 50), its
    sizes from ``iwae.scale_setup`` and its seeds and evaluation digits as the chapter's, so the
    same run. The test bounds are in nats per digit on the chapter's 1,000 test digits."""
    n_train, config = iwae.scale_setup(scale, seed)
    if epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    device = lec16.device()
    x_train, x_test = _binarized_mnist(n_train, device)
    x_test = x_test[:1000]
    lec16.seed_everything(seed)
    model = vae.VAE(iwae.ARCHITECTURE).to(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        # the reference a broken model would not beat, without touching the run's randomness
        untrained = vae.elbo(model, x_test).item()
    history = vae.train_vae(
        model,
        x_train,
        x_test,
        config,
        objective=lambda m, x: iwae.objective(m, x, 50, "iwae"),
        checkpoint=out / "checkpoints" / f"iwae_{scale}.pt",
        desc="iwae",
    )
    with torch.no_grad():
        l_50 = torch.cat([iwae.objective(model, xb, 50) for xb in x_test.split(100)])
    return {
        "test_bound": history.last["test_elbo"],
        "test_iwae_bound": l_50.mean().item(),
        "untrained_bound": untrained,
        "test_bound_curve": history["test_elbo"],
        "epochs": history.last["epoch"],
        "seconds": history.last["seconds"],
        "config": dataclasses.asdict(config),
    }


def _mnist_diffusion(
    parametrization: str, scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The diffusion chapter's MNIST model: its sizes (``diffusion.mnist_setup``), its data (the
    Parzen protocol's first digits, dequantised, scaled to unit variance) and its seeds, so that
    it trains the chapter's run. The bound K is in nats per digit, of the unit-variance data."""
    setup = diffusion.mnist_setup(scale, seed)
    config = setup.config
    if epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    data.fetch_mnist(quiet=True)
    images = data.load_mnist("train", device=device)[0]
    fit = evaluation.parzen_protocol_split(images)[0][: setup.n_train]
    test = data.load_mnist("test", device=device)[0][: setup.n_test]
    noise = torch.Generator().manual_seed(seed)
    pixels = diffusion.Rescaling.to_unit_variance(fit)
    x_fit = pixels.apply(diffusion.dequantize(fit, noise)).flatten(1)
    x_test = pixels.apply(diffusion.dequantize(test, noise)).flatten(1)
    torch.manual_seed(seed)
    model = diffusion.mnist_model(setup, parametrization).to(device)
    # the reference a broken model would not beat
    untrained = diffusion.mean_bound(model, x_test[:2000]).mean().item()
    history, ema = diffusion.train_diffusion(
        model,
        x_fit,
        x_test[:1000],
        config,
        checkpoint=out / "checkpoints" / f"{_name(parametrization)}_{scale}.pt",
        desc=_name(parametrization),
    )
    return {
        "test_bound": diffusion.mean_bound(ema.module, x_test).mean().item(),
        "untrained_bound": untrained,
        "test_bound_curve": history["test_bound"],
        "steps": setup.steps,
        "epochs": history.last["epoch"],
        "seconds": history.last["seconds"],
        "config": dataclasses.asdict(config),
    }


def _name(parametrization: str) -> str:
    return "diffusion" if parametrization == "mean" else "diffusion_eps"


# name -> (what it is, the chapter that trains it, the function that trains it)
MODELS: dict[str, tuple[str, str, Callable[..., dict[str, Any]]]] = {
    "vae": ("the MNIST VAE", "05_vae_mnist", _mnist_vae),
    "iwae": ("the IWAE with k = 50 (Burda et al.)", "06_iwae", _mnist_iwae),
    "diffusion": (
        "the MNIST diffusion model, the paper's (mu, Sigma)",
        "12_diffusion",
        functools.partial(_mnist_diffusion, "mean"),
    ),
    "diffusion_eps": (
        "the same network predicting the noise (Ho et al.)",
        "12_diffusion",
        functools.partial(_mnist_diffusion, "epsilon"),
    ),
}


def _parser() -> argparse.ArgumentParser:
    models = "\n".join(
        f"  {name:14} {what} ({nb})" for name, (what, nb, _) in MODELS.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m lec16",
        description="Train the models of the lec16 companion outside the notebooks.",
        epilog=f"models:\n{models}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "train",
        help="train MODEL at a scale, resuming from its checkpoint",
        epilog=f"models:\n{models}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("model", choices=sorted(MODELS), metavar="MODEL", help="see below")
    run.add_argument("--scale", choices=SCALES, default="default")
    run.add_argument(
        "--epochs", type=int, help="override the scale's number of epochs (a new run)"
    )
    run.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="checkpoints/ and metrics/ go here",
    )
    run.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive number of epochs, got {args.epochs}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative int, got {args.seed}")
    rank, world = distributed.init_from_env()
    what, _, train_model = MODELS[args.model]
    if rank == 0:
        print(
            f"training {what} at {args.scale} scale on {world} process(es)", flush=True
        )
    try:
        metrics = train_model(args.scale, args.epochs, args.out, args.seed)
    except (train.CheckpointError, data.DataError) as err:
        print(f"python -m lec16 train {args.model}: {err}", file=sys.stderr)
        return 1
    metrics.update(model=args.model, scale=args.scale, processes=world)
    if rank == 0:
        record_metrics(args.model, metrics, directory=args.out / "metrics")
        print(
            f"{args.model}: test bound {metrics['test_bound']:.2f} nats; metrics in "
            f"{metrics_path(args.model, args.out / 'metrics')}"
        )
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
