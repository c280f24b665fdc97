"""``python -m lec16 train MODEL --scale {smoke,default,paper}``: train a model of the book
outside a notebook, on one process or under ``torchrun --nproc_per_node N -m lec16 train ...``
(DistributedDataParallel: NCCL on GPUs, Gloo on CPUs; see :mod:`lec16.distributed`).

A run writes its checkpoints where its chapter keeps them, ``<out>/checkpoints/<scale>/<name>.pt``
(:func:`lec16.train.checkpoint_path`), after every epoch (a rerun resumes from them; one
written by another configuration is refused), and ``<out>/metrics/<model>.json``, the key
numbers and the history, as the notebooks record theirs. Each model's sizes at each scale come
from the same function its chapter calls, so the command and the book train the same run: a
notebook executed with ``LEC16_CHECKPOINTS=<out>/checkpoints`` loads the trained models
instead of training them.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import lec16
from lec16 import (
    data,
    diffusion,
    distributed,
    evaluation,
    flows,
    gan,
    iwae,
    lapgan,
    train,
    vae,
)
from lec16.scales import SCALES, metrics_path, record_metrics


def _with_epochs(config: Any, epochs: int | None) -> Any:
    """The scale's training ``config``, with ``--epochs`` in place of its epochs when given."""
    return config if epochs is None else dataclasses.replace(config, epochs=epochs)


def _run_record(history: train.History, config: Any) -> dict[str, Any]:
    """What every metrics file records of the run itself: epochs, seconds, configuration."""
    return {
        "epochs": history.last["epoch"],
        "seconds": history.last["seconds"],
        "config": dataclasses.asdict(config),
    }


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
    config = _with_epochs(config, epochs)
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
        checkpoint=train.checkpoint_path("vae_mnist_z20", scale, out / "checkpoints"),
        desc="vae",
    )
    return {
        "test_bound": history.last["test_elbo"],
        "untrained_bound": untrained,
        "test_bound_curve": history["test_elbo"],
        **_run_record(history, config),
    }


def _mnist_iwae(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The IWAE chapter's headline model: Burda et al.'s architecture trained on L_50 (k = 50), its
    sizes from ``iwae.scale_setup`` and its seeds and evaluation digits as the chapter's, so the
    same run. The test bounds are in nats per digit on the chapter's 1,000 test digits."""
    n_train, config = iwae.scale_setup(scale, seed)
    config = _with_epochs(config, epochs)
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
        checkpoint=train.checkpoint_path("iwae_k50", scale, out / "checkpoints"),
        desc="iwae",
    )
    with torch.no_grad():
        l_50 = torch.cat([iwae.objective(model, xb, 50) for xb in x_test.split(100)])
    return {
        "test_bound": history.last["test_elbo"],
        "test_iwae_bound": l_50.mean().item(),
        "untrained_bound": untrained,
        "test_bound_curve": history["test_elbo"],
        **_run_record(history, config),
    }


def _mnist_diffusion(
    parametrization: str, scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The diffusion chapter's MNIST model: its sizes (``diffusion.mnist_setup``), its data (the
    Parzen protocol's first digits, dequantised, scaled to unit variance) and its seeds, so that
    it trains the chapter's run. The bound K is in nats per digit, of the unit-variance data."""
    setup = diffusion.mnist_setup(scale, seed)
    config = _with_epochs(setup.config, epochs)
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
        checkpoint=train.checkpoint_path(
            f"diffusion_mnist_{parametrization}", scale, out / "checkpoints"
        ),
        desc=_name(parametrization),
    )
    return {
        "test_bound": diffusion.mean_bound(ema.module, x_test).mean().item(),
        "untrained_bound": untrained,
        "test_bound_curve": history["test_bound"],
        "steps": setup.steps,
        **_run_record(history, config),
    }


def _mnist_nice(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The flows chapter's MNIST NICE (``flows.nice_mnist``), its sizes from
    ``flows.nice_mnist_setup``, trained on freshly dequantised digits; the exact test
    log-likelihood in nats per digit (pixels in [0, 1]) on the chapter's dequantised test set."""
    setup = flows.nice_mnist_setup(scale, seed)
    config = _with_epochs(setup.config, epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0][: setup.n_train]
    test = flows.dequantize(
        data.load_mnist("test", device=device)[0].flatten(1),
        torch.Generator(device=device).manual_seed(123),
    )
    torch.manual_seed(seed)
    model = flows.nice_mnist(setup).to(device)
    untrained = flows.mean_log_likelihood(model, test).item()
    history = flows.train_nice(
        model,
        x_train,
        test,
        config,
        checkpoint=train.checkpoint_path("nice_mnist", scale, out / "checkpoints"),
        desc="nice",
    )
    return {
        "test_log_likelihood": history.last["test_ll"],
        "untrained_log_likelihood": untrained,
        "bits_per_dim": flows.bits_per_dim(history.last["test_ll"], 784),
        "test_log_likelihood_curve": history["test_ll"],
        **_run_record(history, config),
    }


def _gan_digits(device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Goodfellow et al.'s splits, as the GAN chapters use them: (the 50,000 training digits,
    the 1,000 that choose the Parzen width, the 10,000 test digits), images in [0, 1]."""
    data.fetch_mnist(quiet=True)
    fit, validation, _ = evaluation.parzen_protocol_split(
        data.load_mnist("train", device=device)[0]
    )
    return fit, validation, data.load_mnist("test", device=device)[0]


def _sample_quality(
    samples: torch.Tensor,
    untrained_samples: torch.Tensor,
    validation: torch.Tensor,
    test: torch.Tensor,
    net: evaluation.MnistFeatureNet,
) -> dict[str, Any]:
    """The GAN chapters' metrics of ``samples`` and of the untrained generators' samples,
    the reference a broken generator would not beat."""
    metrics = evaluation.sample_quality(samples, test, validation, net)
    metrics.update(evaluation.untrained_reference(untrained_samples, test, net))
    return metrics


def _mnist_gan(
    players: str, name: str, scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """One of the GAN chapter's MNIST GANs (``gan.mnist_players``), its sizes from
    ``gan.mnist_setup``, trained on its digits and scored by its metrics (Parzen window in
    nats, Frechet distance of classifier features) beside its untrained generator."""
    setup = gan.mnist_setup(scale, seed)
    config = _with_epochs(setup.config, epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    fit, validation, test = _gan_digits(device)
    net, _ = evaluation.feature_net(
        device
    )  # every rank, before training (see feature_net)
    generator, discriminator = (
        m.to(device) for m in gan.mnist_players(players, setup, seed)
    )
    untrained = copy.deepcopy(generator)
    history = gan.train_gan(
        generator,
        discriminator,
        fit[: setup.n_train],
        config,
        checkpoint=train.checkpoint_path(name, scale, out / "checkpoints"),
        desc=name,
    )
    if not distributed.is_main():
        return {}
    torch.manual_seed(seed)  # the chapter's samples
    samples = gan.generate(generator.eval(), setup.n_samples)
    untrained_samples = gan.generate(
        gan.calibrate_batch_norm(untrained), setup.n_samples
    )
    return {
        **_sample_quality(samples, untrained_samples, validation, test, net),
        "loss_d": history["loss_d"],
        "loss_g": history["loss_g"],
        **_run_record(history, config),
    }


def _mnist_lapgan(
    scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The LAPGAN chapter's three-level pyramid (``lapgan.mnist_players``), its sizes from
    ``lapgan.mnist_setup`` (``--epochs`` sets every level's), scored as the GAN chapter's."""
    setup = lapgan.mnist_setup(scale)
    level_epochs = setup.level_epochs if epochs is None else (epochs,) * setup.levels
    device = lec16.device()
    lec16.seed_everything(seed)
    fit, validation, test = _gan_digits(device)
    net, _ = evaluation.feature_net(device)
    coarse, residual = lapgan.mnist_players(setup, seed)
    coarse = tuple(m.to(device) for m in coarse)
    residual = [tuple(m.to(device) for m in pair) for pair in residual]
    # coarsest first, as lapgan.sample takes them
    generators = [g for g, _ in reversed(residual)]
    untrained = copy.deepcopy((coarse[0], generators))
    histories = lapgan.train_lapgan(
        coarse,
        residual,
        fit[: setup.n_train],
        level_epochs,
        seed=seed,
        checkpoint=train.checkpoint_path("lapgan", scale, out / "checkpoints"),
    )
    if not distributed.is_main():
        return {}
    torch.manual_seed(seed)  # the chapter's samples
    samples = lapgan.generate(coarse[0], generators, setup.n_samples)
    lapgan.calibrate_batch_norms(*untrained, fit[:2000])
    untrained_samples = lapgan.generate(*untrained, setup.n_samples)
    return {
        **_sample_quality(samples, untrained_samples, validation, test, net),
        "losses": {
            f"level{k}": {"loss_d": h["loss_d"], "loss_g": h["loss_g"]}
            for k, h in histories.items()
        },
        "epochs": list(level_epochs),
        "seconds": sum(h.last["seconds"] for h in histories.values()),
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
    "nice": ("NICE (Dinh et al.)", "11_normalizing_flows", _mnist_nice),
    "gan": (
        "Goodfellow et al.'s MLP GAN (maxout discriminator)",
        "08_gan_mnist",
        functools.partial(_mnist_gan, "paper_mlp", "gan_mlp_nobn_mnist"),
    ),
    "dcgan": (
        "the DCGAN (Radford et al.)",
        "08_gan_mnist",
        functools.partial(_mnist_gan, "dcgan", "dcgan_mnist"),
    ),
    "lapgan": ("the three-level LAPGAN (Denton et al.)", "09_lapgan", _mnist_lapgan),
}


def _summary(metrics: dict[str, Any]) -> str:
    """The headline numbers of a run, beside its untrained copy's."""
    if "test_log_likelihood" in metrics:
        return (
            f"test log-likelihood {metrics['test_log_likelihood']:.1f} nats "
            f"(untrained {metrics['untrained_log_likelihood']:.1f})"
        )
    if "test_bound" in metrics:
        return (
            f"test bound {metrics['test_bound']:.2f} nats "
            f"(untrained {metrics['untrained_bound']:.2f})"
        )
    return (
        f"Parzen {metrics['parzen']:.0f} nats, Frechet distance {metrics['frechet']:.2f} "
        f"(untrained {metrics['untrained_frechet']:.2f})"
    )


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
            f"{args.model}: {_summary(metrics)}; metrics in "
            f"{metrics_path(args.model, args.out / 'metrics')}"
        )
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
