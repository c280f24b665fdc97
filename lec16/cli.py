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
import torch.nn.functional as F

import lec16
from lec16 import (
    data,
    dbm,
    dbn,
    diffusion,
    distributed,
    evaluation,
    flow_vae,
    flows,
    gan,
    gsn,
    hvi,
    iwae,
    lapgan,
    rbm,
    ssvae,
    train,
    vae,
)
from lec16 import wake_sleep as ws
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


def _mnist_flow_vae(
    scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The flows chapter's VAEs with K planar flows in q(z | x) (``flow_vae.mnist_setup``: the
    VAE, the VAE on the flows' sampled KL, and each K), each scored by its test bound and L_5000
    in nats per digit on the VAE chapter's test set, beside its untrained copy's bound."""
    setup = flow_vae.mnist_setup(scale, seed)
    config = _with_epochs(setup.config, epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    x_train, x_test = _binarized_mnist(setup.n_train, device)
    models, runs, seconds = {}, {}, 0.0
    for name, (k, objective) in setup.variants().items():
        torch.manual_seed(
            seed
        )  # every K starts from the same networks, as in the chapter
        model = flow_vae.FlowVAE(
            flow_vae.FlowVAEConfig(latent=setup.latent, flows=k)
        ).to(device)
        untrained = vae.elbo(model, x_test).item()
        history = vae.train_vae(
            model,
            x_train,
            x_test,
            config,
            objective=objective,
            checkpoint=train.checkpoint_path(
                flow_vae.checkpoint_name(k, objective), scale, out / "checkpoints"
            ),
            desc=f"flow_vae {name}",
        )
        seconds += history.last["seconds"]
        models[name] = model.eval()
        runs[name] = {
            "untrained_bound": untrained,
            "test_bound_curve": history["test_elbo"],
        }
    torch.manual_seed(seed)  # the chapter's evaluation
    for name, model in models.items():
        with torch.no_grad():  # one sample of q per test digit
            bound = torch.cat([model(batch) for batch in x_test.split(1000)])
        log_lik = iwae.log_likelihood(model, x_test[: setup.n_test_nll], k=5000)
        runs[name].update(
            test_bound=bound.mean().item(),
            test_log_likelihood_k5000=log_lik.mean().item(),
        )
    return {
        "runs": runs,
        "epochs": config.epochs,
        "seconds": seconds,
        "config": dataclasses.asdict(dataclasses.replace(setup, config=config)),
    }


def _energy_fits(
    scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The flows chapter's fits of planar flows (K = 2, 8, 32) and a small NICE to Rezende &
    Mohamed's four 2-D targets (``flows.energy_fit_setup``; ``--epochs`` counts evaluations
    of ``steps_per_epoch`` steps), each scored by KL(q || p) in nats, the free energy plus
    log Z from a grid, beside the untrained flow's."""
    config = flows.energy_fit_setup(scale, seed)
    if epochs is not None:
        config = dataclasses.replace(config, steps=epochs * config.steps_per_epoch)
    device = lec16.device()
    lec16.seed_everything(seed)
    runs, seconds = {}, 0.0
    for name in flows.ENERGIES:
        target = flows.enveloped_energy(name)
        log_z = flows.grid_log_partition(target, device)
        for kind in flows.FIT_KINDS:
            label = "NICE" if kind == "NICE" else f"K={kind}"
            torch.manual_seed(seed)  # the chapter's initialisation of every fit
            q = flows.energy_fit_model(kind, device)
            with torch.no_grad():
                untrained = flows.free_energy(q, target, config.eval_samples).item()
            history = flows.fit_to_energy(
                q,
                target,
                config,
                checkpoint=train.checkpoint_path(
                    f"flow_{name}_{kind}", scale, out / "checkpoints"
                ),
                desc=f"{name} {label}",
            )
            seconds += history.last["seconds"]
            runs[f"{name} {label}"] = {
                "kl": history.last["free_energy"] + log_z,
                "untrained_kl": untrained + log_z,
                "kl_curve": [f + log_z for f in history["free_energy"]],
            }
    return {
        "runs": runs,
        "epochs": config.steps // config.steps_per_epoch,
        "seconds": seconds,
        "config": dataclasses.asdict(config),
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


def _mnist_gsn(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The GSN chapter's two MNIST DAE chains (``gsn.mnist_setup``: walkback 1 and 2), trained
    on its digits and scored as its samples are: every 20th state of chains from noise, by the
    GAN chapters' metrics and the classifier's confident share, beside an untrained DAE's."""
    setup = _with_epochs(gsn.mnist_setup(scale, seed), epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    fit, validation, test = _gan_digits(device)
    net, _ = evaluation.feature_net(device)
    runs, seconds = {}, 0.0
    for walkback in setup.walkbacks:
        torch.manual_seed(seed)  # the chapter's initialisations
        dae, untrained = (
            gsn.mnist_dae(setup).to(device),
            gsn.mnist_dae(setup).to(device),
        )
        history = gsn.train_gsn(
            dae,
            fit[: setup.n_train],
            setup.config(walkback),
            checkpoint=train.checkpoint_path(
                f"gsn_mnist_walkback{walkback}", scale, out / "checkpoints"
            ),
            desc=f"gsn walkback {walkback}",
        )
        seconds += history.last["seconds"]
        if not distributed.is_main():
            continue
        samples, untrained_samples = (
            gsn.mnist_chains(m, setup).reshape(-1, 1, 28, 28) for m in (dae, untrained)
        )
        runs[f"walkback {walkback}"] = {
            **_sample_quality(samples, untrained_samples, validation, test, net),
            "confident": evaluation.confident_share(net, samples),
            "untrained_confident": evaluation.confident_share(net, untrained_samples),
            "loss": history["loss"],
        }
    return {
        "runs": runs,
        "epochs": setup.epochs,
        "seconds": seconds,
        "config": dataclasses.asdict(setup),
    }


def _mnist_rbm(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The RBM chapter's MNIST comparison (``rbm.mnist_setup``: CD-1, CD-3, PCD-1, and CD-25 at
    ``paper``) from one initial RBM, each scored by the test log-likelihood in nats with log Z
    from AIS, beside the base-rate model (W = 0, where the RBMs start)."""
    setup = _with_epochs(rbm.mnist_setup(scale, seed), epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    x_train, x_test = _binarized_mnist(setup.n_train, device)
    base_bias = rbm.base_rate_bias(x_train)
    base_log_lik = _base_rate_log_likelihood(x_test, base_bias)
    torch.manual_seed(seed)  # the chapter's initial RBM, then its runs in its order
    initial = _at_base_rates(rbm.RBM(784, setup.n_hidden).to(device), base_bias)
    runs, seconds = {}, 0.0
    for name, config in setup.configs().items():
        model = rbm.RBM(784, setup.n_hidden).to(device)
        model.load_state_dict(initial.state_dict())
        history = rbm.train_rbm(
            model,
            x_train,
            x_test,
            config,
            checkpoint=train.checkpoint_path(
                f"rbm_{name.lower()}", scale, out / "checkpoints"
            ),
            desc=name,
        )
        seconds += history.last["seconds"]
        runs[name] = (model, history)
    metrics = {}
    for name, (model, history) in runs.items():
        torch.manual_seed(seed)
        ais = rbm.ais_log_partition(model, setup.n_runs, setup.n_betas, base_bias)
        log_lik, se = rbm.mean_log_likelihood(model, x_test, ais.log_z)
        metrics[name] = {
            "test_log_likelihood": log_lik,
            "test_log_likelihood_se": se,
            "log_z": [ais.log_z, ais.log_z_low, ais.log_z_high],
            "base_rate_log_likelihood": base_log_lik,
            "test_reconstruction": history["test_reconstruction"],
        }
    return {
        "runs": metrics,
        "epochs": setup.epochs,
        "seconds": seconds,
        "config": dataclasses.asdict(setup),
    }


def _mnist_wake_sleep(
    scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The wake-sleep chapter's three MNIST machines (``wake_sleep.mnist_setup``: a Helmholtz
    machine and a Gaussian one by wake-sleep, the Gaussian one as a VAE by the ELBO), each
    scored by IWAE's L_k and the ELBO on the chapter's test digits, in nats, beside its
    untrained copy's L_k."""
    setup = _with_epochs(ws.mnist_setup(scale, seed), epochs)
    device = lec16.device()
    lec16.seed_everything(seed)
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0][: setup.n_train].flatten(1)
    x_test = data.binarized_test_set(
        data.load_mnist("test", device=device)[0][: setup.n_test].flatten(1)
    )
    runs, seconds = {}, 0.0
    for name, (latent, rule) in ws.MNIST_RUNS.items():
        torch.manual_seed(seed)  # the chapter's initialisation of each machine
        model = ws.HelmholtzMachine(setup.layers, latent).to(device)
        untrained = copy.deepcopy(model)
        history = ws.train_helmholtz(
            model,
            x_train,
            x_test,
            setup.config(rule),
            checkpoint=train.checkpoint_path(
                f"helmholtz_{latent}_{rule}", scale, out / "checkpoints"
            ),
            desc=name,
        )
        seconds += history.last["seconds"]
        torch.manual_seed(seed)
        elbo, bound = iwae.bounds_by_k(model, x_test, (1, setup.k_eval))
        reference = iwae.bounds_by_k(untrained, x_test, (min(setup.k_eval, 100),))
        runs[name] = {
            "test_bound": bound.mean().item(),
            "test_elbo": elbo.mean().item(),
            "untrained_bound": reference[0].mean().item(),
            "test_elbo_curve": history["test_elbo"],
        }
    return {
        "runs": runs,
        "epochs": setup.epochs,
        "seconds": seconds,
        "config": dataclasses.asdict(setup),
    }


def _mnist_dbn(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The DBN chapter's 784 - 500 - 500 network (``dbn.mnist_setup``; 2000 top units at
    ``paper``), trained greedily with PCD-1 (``--epochs`` sets each layer's), scored by the
    variational bound on log p(v) in nats with the top RBM's log Z from AIS, beside the bound
    with a top RBM that learned only its data's base rates."""
    setup = dbn.mnist_setup(scale, seed)
    if epochs is not None:
        setup = dataclasses.replace(
            setup, layer_config=_with_epochs(setup.layer_config, epochs)
        )
    device = lec16.device()
    lec16.seed_everything(seed)
    x_train, x_test = _binarized_mnist(setup.n_train, device)
    base_bias = rbm.base_rate_bias(x_train)
    torch.manual_seed(seed)  # the chapter's bottom RBM
    bottom = _at_base_rates(rbm.RBM(784, setup.n_hidden).to(device), base_bias)
    checkpoints = out / "checkpoints"
    bottom_history = rbm.train_rbm(
        bottom,
        x_train,
        x_test,
        setup.layer_config,
        checkpoint=train.checkpoint_path("dbn_bottom", scale, checkpoints),
        desc="bottom RBM",
    )
    h_train, h_test = dbn.top_layer_data(bottom, x_train, x_test, seed)
    top = dbn.initial_top(bottom, setup.n_top)
    top_history = rbm.train_rbm(
        top,
        h_train,
        h_test,
        setup.layer_config,
        checkpoint=train.checkpoint_path("dbn_top", scale, checkpoints),
        desc="top RBM",
    )
    torch.manual_seed(seed)
    top_ais = rbm.ais_log_partition(
        top, setup.n_runs, setup.n_betas, rbm.base_rate_bias(h_train)
    )
    base_top, base_log_z = dbn.base_rate_top(h_train, setup.n_top)
    bounds = {}
    for name, (layer, log_z) in {
        "trained": (top, top_ais.log_z),
        "base_rate": (base_top, base_log_z),
    }.items():
        torch.manual_seed(seed)
        net = dbn.DBN([bottom, layer])
        bounds[name] = dbn.mean_bound(net, x_test, log_z, setup.n_draws).mean().item()
    return {
        "test_bound": bounds["trained"],
        "base_rate_bound": bounds["base_rate"],
        "top_log_z": [top_ais.log_z, top_ais.log_z_low, top_ais.log_z_high],
        "epochs": setup.layer_config.epochs,
        "seconds": bottom_history.last["seconds"] + top_history.last["seconds"],
        "config": dataclasses.asdict(setup),
    }


def _mnist_dbm(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The DBM chapter's 784 - 500 - 500 DBM (``dbm.mnist_setup``; 500 - 1000 at ``paper``)
    on its PCD-1 RBM (``--epochs`` sets the joint training's), scored by the mean-field bound
    on log p(v) in nats with log Z from AIS, beside the RBM's log-likelihood and the base-rate
    model's."""
    setup = dbm.mnist_setup(scale, seed)
    if epochs is not None:
        setup = dataclasses.replace(
            setup, dbm_config=_with_epochs(setup.dbm_config, epochs)
        )
    device = lec16.device()
    lec16.seed_everything(seed)
    x_train, x_test = _binarized_mnist(setup.n_train, device)
    base_bias = rbm.base_rate_bias(x_train)
    torch.manual_seed(seed)  # the chapter's run
    bottom, model, rbm_history, dbm_history = dbm.train_on_rbm(
        setup.sizes,
        x_train,
        x_test,
        setup.rbm_config,
        setup.dbm_config,
        [
            train.checkpoint_path(f"dbm_{part}", scale, out / "checkpoints")
            for part in ("rbm", "dbm")
        ],
    )
    torch.manual_seed(seed)
    rbm_ais = rbm.ais_log_partition(bottom, setup.n_runs, setup.n_betas, base_bias)
    rbm_log_lik, _ = rbm.mean_log_likelihood(bottom, x_test, rbm_ais.log_z)
    torch.manual_seed(seed)
    dbm_ais = dbm.ais_log_partition(model, setup.n_runs, setup.n_betas, base_bias)
    bound, se, _ = dbm.mean_bound(model, x_test, dbm_ais.log_z)
    return {
        "test_bound": bound,
        "test_bound_se": se,
        "base_rate_log_likelihood": _base_rate_log_likelihood(x_test, base_bias),
        "rbm_log_likelihood": rbm_log_lik,
        "log_z": [dbm_ais.log_z, dbm_ais.log_z_low, dbm_ais.log_z_high],
        "epochs": dbm_history.last["epoch"],
        "seconds": rbm_history.last["seconds"] + dbm_history.last["seconds"],
        "config": dataclasses.asdict(setup),
    }


def _ppca_hvi(scale: str, epochs: int | None, out: Path, seed: int) -> dict[str, Any]:
    """The MCMC-inside-VI chapter's Hamiltonian VI chains (``hvi.ppca_setup``: one per number
    of transitions T; ``--epochs`` counts evaluations of ``steps_per_epoch`` Adam steps) on
    the IWAE chapter's probabilistic PCA, each scored by its auxiliary bound on log p(x0) in
    nats (2 standard errors), beside the same chain untrained and the exact log p(x0)."""
    setup = hvi.ppca_setup(scale, seed)
    if epochs is not None:
        config = dataclasses.replace(
            setup.config, steps=epochs * setup.config.steps_per_epoch
        )
        setup = dataclasses.replace(setup, config=config)
    lec16.seed_everything(seed)
    ppca, x0, q0 = iwae.example_ppca(lec16.device())
    results = hvi.fit_each_length(
        setup, q0, lambda z: ppca.log_joint(x0, z), scale, out / "checkpoints"
    )
    log_px = ppca.log_marginal(x0).item()
    runs = {
        f"T={T}": {
            "bound": r["bound"],
            "bound_pm": r["pm"],
            "untrained_bound": r["untrained"],
            "log_px": log_px,
        }
        for T, r in results.items()
    }
    return {
        "runs": runs,
        "epochs": setup.config.steps // setup.config.steps_per_epoch,
        "seconds": sum(r["seconds"] for r in results.values()),
        "config": dataclasses.asdict(setup),
    }


def _base_rate_log_likelihood(x: torch.Tensor, base_bias: torch.Tensor) -> float:
    """The mean log-likelihood of binary ``x`` under the base-rate model (independent pixels
    of log-odds ``base_bias``): the reference of the Boltzmann machines' chapters."""
    return (x @ base_bias - F.softplus(base_bias).sum()).mean().item()


def _at_base_rates(model: rbm.RBM, base_bias: torch.Tensor) -> rbm.RBM:
    """``model`` with its visible biases at the data's base rates, as the chapters start."""
    with torch.no_grad():
        model.visible_bias.copy_(base_bias)
    return model


def _mnist_ssl(
    codes: bool, scale: str, epochs: int | None, out: Path, seed: int
) -> dict[str, Any]:
    """The semi-supervised chapter's M2 on the pixels (``codes`` False) or M1+M2 on M1's codes
    (M1 trained first), its sizes and schedules from ``ssvae.mnist_setup`` (``--epochs`` sets
    M2's), one model per number of labels and draw of them, each scored by its classifier's
    test error in % beside its untrained copy's."""
    setup = ssvae.mnist_setup(scale, seed)
    device = lec16.device()
    lec16.seed_everything(seed)
    data.fetch_mnist(quiet=True)
    x_train, y_train = data.load_mnist("train", device=device)
    x_test, y_test = data.load_mnist("test", device=device)
    x_train, y_train = x_train[: setup.n_train].flatten(1), y_train[: setup.n_train]
    x_test = x_test.flatten(1)
    checkpoints, name = out / "checkpoints", "M1+M2" if codes else "M2"
    inputs, test_inputs, metrics, seconds = x_train, x_test, {}, 0.0
    if codes:
        torch.manual_seed(seed)  # the chapter's M1
        m1 = vae.VAE(ssvae.M1_ARCHITECTURE).to(device)
        m1_history = vae.train_vae(
            m1,
            x_train,
            data.binarized_test_set(x_test)[:1000],
            setup.m1_config,
            checkpoint=train.checkpoint_path("ssl_m1", scale, checkpoints),
            desc="M1",
        )
        m1.eval()
        codes_train = ssvae.m1_codes(m1, x_train)
        keep = ssvae.active_dims(codes_train)
        inputs = ssvae.keep_dims(codes_train, keep)
        test_inputs = ssvae.code_means(
            ssvae.keep_dims(ssvae.m1_codes(m1, x_test), keep)
        )
        metrics.update(
            m1_test_bound=m1_history.last["test_elbo"], active_dims=int(keep.sum())
        )
        seconds += m1_history.last["seconds"]
    runs = {}
    for n_labels in setup.label_counts:
        config = _with_epochs(setup.m2_config(n_labels, codes), epochs)
        for draw in range(setup.label_draws):
            labelled = ssvae.balanced_labels(y_train, n_labels, seed=seed + draw)
            unlabelled = torch.ones(len(x_train), dtype=torch.bool, device=device)
            unlabelled[labelled] = False
            tag = f"N{n_labels}_d{draw}"
            torch.manual_seed(seed + draw)  # the chapter's initialisation
            model = ssvae.M2(
                x_dim=test_inputs.shape[1],  # 784 pixels, or the active codes
                hidden=setup.m2_hidden(n_labels, codes),
                likelihood="gaussian" if codes else "bernoulli",
            ).to(device)
            untrained = ssvae.error_rate(model.classify, test_inputs, y_test)
            history = ssvae.train_m2(
                model,
                (inputs[labelled], y_train[labelled]),
                inputs[unlabelled],
                (test_inputs, y_test),
                config,
                transform=ssvae.sample_codes if codes else data.binarize_dynamic,
                checkpoint=train.checkpoint_path(
                    f"ssl_{name}_{tag}", scale, checkpoints
                ),
                desc=f"{name} {tag}",
            )
            seconds += history.last["seconds"]
            runs[tag] = {
                "test_error": history.last["test_error"],
                "untrained_error": untrained,
                "test_error_curve": history["test_error"],
                "epochs": history.last["epoch"],
            }
    return {
        "runs": runs,
        **metrics,
        "epochs": sorted({run["epochs"] for run in runs.values()}),
        "seconds": seconds,
        "config": dataclasses.asdict(setup),
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
    "planar": (
        "planar flows and NICE fitted to the four 2-D targets (Rezende & Mohamed)",
        "11_normalizing_flows",
        _energy_fits,
    ),
    "flow_vae": (
        "VAEs with planar flows in q(z|x) (Rezende & Mohamed)",
        "11_normalizing_flows",
        _mnist_flow_vae,
    ),
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
    "m2": (
        "M2 on the pixels, for each number of labels (Kingma et al. 2014)",
        "10_semi_supervised",
        functools.partial(_mnist_ssl, False),
    ),
    "m1m2": (
        "M1, then M1+M2 on its codes, for each number of labels",
        "10_semi_supervised",
        functools.partial(_mnist_ssl, True),
    ),
    "gsn": (
        "the DAE chains, walkback 1 and 2 (Bengio et al. 2013)",
        "18_generative_stochastic_networks",
        _mnist_gsn,
    ),
    "rbm": (
        "the RBMs by CD-1, CD-3 and PCD-1 (Salakhutdinov & Murray)",
        "13_boltzmann_machines",
        _mnist_rbm,
    ),
    "wake_sleep": (
        "Helmholtz machines by wake-sleep, and the VAE (Hinton et al. 1995)",
        "17_wake_sleep",
        _mnist_wake_sleep,
    ),
    "dbn": (
        "the deep belief network, two RBMs trained greedily (Hinton et al. 2006)",
        "14_deep_belief_networks",
        _mnist_dbn,
    ),
    "dbm": (
        "the deep Boltzmann machine on its RBM (Salakhutdinov & Hinton 2009)",
        "15_deep_boltzmann_machines",
        _mnist_dbm,
    ),
    "hvi": (
        "Hamiltonian VI chains of T transitions (Salimans et al. 2015)",
        "16_mcmc_and_vi",
        _ppca_hvi,
    ),
}


def _summary(metrics: dict[str, Any]) -> str:
    """The headline numbers of a run, beside its reference's: its untrained copy's, or for the
    Boltzmann machines the base-rate model's."""
    if "runs" in metrics:
        return "; ".join(
            f"{name}: {_summary(run)}" for name, run in metrics["runs"].items()
        )
    if "log_px" in metrics:
        return (
            f"log p(x) - bound {metrics['log_px'] - metrics['bound']:.3f} nats "
            f"(untrained {metrics['log_px'] - metrics['untrained_bound']:.3f})"
        )
    if "kl" in metrics:
        return f"KL {metrics['kl']:.3f} nats (untrained {metrics['untrained_kl']:.3f})"
    if "test_error" in metrics:
        return (
            f"test error {metrics['test_error']:.2f} % "
            f"(untrained {metrics['untrained_error']:.2f} %)"
        )
    for key, what in (
        ("test_log_likelihood", "test log-likelihood"),
        ("test_bound", "test bound"),
    ):
        if key in metrics:
            reference = next(
                (name, metrics[f"{prefix}_{suffix}"])
                for prefix, name in (
                    ("untrained", "untrained"),
                    ("base_rate", "base rates"),
                )
                for suffix in ("log_likelihood", "bound")
                if f"{prefix}_{suffix}" in metrics
            )
            return f"{what} {metrics[key]:.2f} nats ({reference[0]} {reference[1]:.2f})"
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
