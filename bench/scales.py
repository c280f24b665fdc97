"""Seconds per training step of each ``python -m lec16 train`` model at its ``paper`` scale, on this
machine, and what the paper's schedule then costs.

Each training the command makes is built with the sizes its chapter's setup function gives at
``paper`` scale and trained by its own trainer (``vae.train_vae``, ``diffusion.train_diffusion``,
``flows.train_nice``, ``gan.train_gan``, ``lapgan.train_lapgan``, ``ssvae.train_m2``,
``gsn.train_gsn``, ``rbm.train_rbm``, ``dbm.train_dbm``, ``wake_sleep.train_helmholtz``) for
two short epochs of ``steps`` batches of the paper's batch size on synthetic data of the right
shape and range (the cost of a step does not depend on the pixels; NICE, whose paper settings
need real images to stay finite, gets MNIST digits and the default scale's Adam betas: the
paper's diverge). The second epoch is timed, the first being a warm-up; the per-epoch
evaluation runs on a handful of examples, so the time is the training step's. The schedule
(epochs x examples / batch, times the trainings of that kind: M2's draws of the labels) is the
paper's, as the setup functions write it down. A command that makes several kinds of
training (the RBM's methods, the flow VAEs' K) has one row per kind; its cost is their sum.
HVI's and the planar flows' fits (a 2-D density, no data set, minutes on a CPU) are not
timed."""

from __future__ import annotations

import contextlib
import dataclasses
import io

import torch

import lec16
from lec16 import (
    data,
    dbm,
    dbn,
    diffusion,
    flow_vae,
    flows,
    gan,
    gsn,
    iwae,
    lapgan,
    rbm,
    ssvae,
    vae,
)
from lec16 import wake_sleep as ws


def _epoch_seconds(histories) -> float:
    """The second epoch's seconds, summed over the histories (LAPGAN: one per level)."""
    return sum(h.records[1]["seconds"] - h.records[0]["seconds"] for h in histories)


def _row(
    epochs: int, examples: int, batch: int, histories, runs: int = 1, part=None
) -> dict:
    """A training's paper schedule (``runs`` trainings of it) and the seconds of its timed
    epoch; ``part`` names the training among its command's."""
    return {
        "part": part,
        "epochs": epochs,
        "examples": examples,
        "batch": batch,
        "runs": runs,
        "seconds": _epoch_seconds(histories),
    }


def _pixels(
    steps: int, batch: int, device, width: int = 784
) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` batches of grey levels in [0, 1] and 20 binary test examples."""
    return (
        torch.rand(steps * batch, width, device=device),
        torch.rand(20, width, device=device).round(),
    )


def _m2(codes: bool, steps: int, device) -> list[dict]:
    """M2 at each of the paper's label counts (on the pixels, or for M1+M2 on codes of M1's
    50 latents: the active ones are fewer, so this bounds M1+M2's M2 from above), one row
    each, its runs the draws of the labels; M1+M2 also has M1's row."""
    setup = ssvae.mnist_setup("paper")
    rows = []
    if codes:
        torch.manual_seed(0)
        m1 = vae.VAE(ssvae.M1_ARCHITECTURE).to(device)
        config = setup.m1_config
        x, x_test = _pixels(steps, config.batch_size, device)
        history = vae.train_vae(m1, x, x_test, dataclasses.replace(config, epochs=2))
        rows.append(
            _row(config.epochs, setup.n_train, config.batch_size, [history], part="M1")
        )
    x_dim = ssvae.M1_ARCHITECTURE.latent if codes else 784
    for n_labels in setup.label_counts:
        config = setup.m2_config(n_labels, codes)
        torch.manual_seed(0)
        model = ssvae.M2(
            x_dim=x_dim,
            hidden=setup.m2_hidden(n_labels, codes),
            likelihood="gaussian" if codes else "bernoulli",
        ).to(device)
        width = 2 * x_dim if codes else x_dim  # codes: [mean, log-variance]
        x_u = torch.rand(steps * config.batch_size, width, device=device)
        x_l = torch.rand(n_labels, width, device=device)
        y_l = torch.arange(n_labels, device=device) % 10
        test = (torch.rand(20, x_dim, device=device).round(), y_l[:20])
        history = ssvae.train_m2(
            model,
            (x_l, y_l),
            x_u,
            test,
            dataclasses.replace(config, epochs=2),
            transform=ssvae.sample_codes if codes else data.binarize_dynamic,
        )
        n_unlabelled = setup.n_train - n_labels  # an epoch is one pass over them
        rows.append(
            _row(
                config.epochs,
                n_unlabelled,
                config.batch_size,
                [history],
                setup.label_draws,
                part=f"M2, {n_labels} labels",
            )
        )
    return rows


def _flow_vae(steps: int, device) -> list[dict]:
    """The flow VAEs, one row per K (and the VAE on the sampled KL)."""
    setup = flow_vae.mnist_setup("paper")
    config = setup.config
    x, x_test = _pixels(steps, config.batch_size, device)
    rows = []
    for name, (k, objective) in setup.variants().items():
        torch.manual_seed(0)
        model = flow_vae.FlowVAE(
            flow_vae.FlowVAEConfig(latent=setup.latent, flows=k)
        ).to(device)
        history = vae.train_vae(
            model, x, x_test, dataclasses.replace(config, epochs=2), objective=objective
        )
        rows.append(
            _row(config.epochs, setup.n_train, config.batch_size, [history], part=name)
        )
    return rows


def _gsn(steps: int, device) -> list[dict]:
    """The GSN's DAEs, one row per walkback length."""
    setup = gsn.mnist_setup("paper")
    rows = []
    for walkback in setup.walkbacks:
        config = setup.config(walkback)
        x, _ = _pixels(steps, config.batch_size, device)
        torch.manual_seed(0)
        dae = gsn.mnist_dae(setup).to(device)
        history = gsn.train_gsn(dae, x, dataclasses.replace(config, epochs=2))
        rows.append(
            _row(
                config.epochs,
                setup.n_train,
                config.batch_size,
                [history],
                part=f"walkback {walkback}",
            )
        )
    return rows


def _rbm_rows(named_configs, sizes, n_train: int, steps: int, device) -> list[dict]:
    """An RBM of ``sizes`` trained by each of ``named_configs`` (name -> RBMConfig)."""
    rows = []
    for name, config in named_configs.items():
        x, x_test = _pixels(steps, config.batch_size, device, width=sizes[0])
        torch.manual_seed(0)
        model = rbm.RBM(*sizes).to(device)
        history = rbm.train_rbm(model, x, x_test, dataclasses.replace(config, epochs=2))
        rows.append(
            _row(config.epochs, n_train, config.batch_size, [history], part=name)
        )
    return rows


def _rbm(steps: int, device) -> list[dict]:
    """The RBM chapter's methods, one row each."""
    setup = rbm.mnist_setup("paper")
    sizes = (784, setup.n_hidden)
    return _rbm_rows(setup.configs(), sizes, setup.n_train, steps, device)


def _dbn(steps: int, device) -> list[dict]:
    """The DBN's two RBMs (the top one on the bottom one's hidden units)."""
    setup = dbn.mnist_setup("paper")
    rows = []
    for name, sizes in {
        "bottom RBM": (784, setup.n_hidden),
        "top RBM": (setup.n_hidden, setup.n_top),
    }.items():
        rows += _rbm_rows(
            {name: setup.layer_config}, sizes, setup.n_train, steps, device
        )
    return rows


def _dbm(steps: int, device) -> list[dict]:
    """The DBM's RBM, then its joint training."""
    setup = dbm.mnist_setup("paper")
    rows = _rbm_rows(
        {"RBM": setup.rbm_config}, setup.sizes[:2], setup.n_train, steps, device
    )
    config = setup.dbm_config
    x, x_test = _pixels(steps, config.batch_size, device)
    torch.manual_seed(0)
    model = dbm.DBM(*setup.sizes).to(device)
    history = dbm.train_dbm(model, x, x_test, dataclasses.replace(config, epochs=2))
    rows.append(
        _row(config.epochs, setup.n_train, config.batch_size, [history], part="DBM")
    )
    return rows


def _wake_sleep(steps: int, device) -> list[dict]:
    """The wake-sleep chapter's three machines, one row each."""
    setup = ws.mnist_setup("paper")
    rows = []
    for name, (latent, rule) in ws.MNIST_RUNS.items():
        config = setup.config(rule)
        x, x_test = _pixels(steps, config.batch_size, device)
        torch.manual_seed(0)
        model = ws.HelmholtzMachine(setup.layers, latent).to(device)
        history = ws.train_helmholtz(
            model, x, x_test, dataclasses.replace(config, epochs=2)
        )
        rows.append(
            _row(config.epochs, setup.n_train, config.batch_size, [history], part=name)
        )
    return rows


def _vae_like(name: str, steps: int, device) -> dict:
    n_train, config = (vae if name == "vae" else iwae).scale_setup("paper")
    torch.manual_seed(0)
    model = vae.VAE(
        vae.VAEConfig(latent=20) if name == "vae" else iwae.ARCHITECTURE
    ).to(device)
    x = torch.rand(steps * config.batch_size, 784, device=device)
    x_test = torch.rand(20, 784, device=device).round()
    objective = None if name == "vae" else (lambda m, x: iwae.objective(m, x, 50))
    history = vae.train_vae(
        model, x, x_test, dataclasses.replace(config, epochs=2), objective=objective
    )
    return _row(config.epochs, n_train, config.batch_size, [history])


def _diffusion(name: str, steps: int, device) -> dict:
    setup = diffusion.mnist_setup("paper")
    parametrization = "mean" if name == "diffusion" else "epsilon"
    torch.manual_seed(0)
    model = diffusion.mnist_model(setup, parametrization).to(device)
    config = setup.config
    x = torch.randn(steps * config.batch_size, 784, device=device)
    history, _ = diffusion.train_diffusion(
        model,
        x,
        torch.randn(16, 784, device=device),
        dataclasses.replace(config, epochs=2, eval_times=1),
    )
    return _row(config.epochs, setup.n_train, config.batch_size, [history])


def _nice(steps: int, device) -> dict:
    setup = flows.nice_mnist_setup("paper")
    torch.manual_seed(0)
    model = flows.nice_mnist(setup).to(device)
    config = setup.config
    data.fetch_mnist(quiet=True)
    x = data.load_mnist("train", device=device)[0][: steps * config.batch_size]
    # the paper's Adam (beta2 0.01) diverges within a few dozen steps of this network in our
    # runs; the default scale's betas cost the same per step and stay finite
    stable = dataclasses.replace(config, epochs=2, lr=3e-3, betas=(0.9, 0.999))
    test = flows.dequantize(x[:16].flatten(1))
    history = flows.train_nice(model, x, test, stable)
    return _row(config.epochs, setup.n_train, config.batch_size, [history])


def _gan(name: str, steps: int, device) -> dict:
    setup = gan.mnist_setup("paper")
    players = "paper_mlp" if name == "gan" else "dcgan"
    generator, discriminator = (m.to(device) for m in gan.mnist_players(players, setup))
    config = setup.config
    x = torch.rand(steps * config.batch_size, 1, 28, 28, device=device)
    history = gan.train_gan(
        generator, discriminator, x, dataclasses.replace(config, epochs=2)
    )
    return _row(config.epochs, setup.n_train, config.batch_size, [history])


def _lapgan(steps: int, device) -> dict:
    setup = lapgan.mnist_setup("paper")
    coarse, residual = lapgan.mnist_players(setup)
    coarse = tuple(m.to(device) for m in coarse)
    residual = [tuple(m.to(device) for m in pair) for pair in residual]
    batch = 64  # train_lapgan's
    x = torch.rand(steps * batch, 1, 28, 28, device=device)
    histories = lapgan.train_lapgan(coarse, residual, x, (2,) * setup.levels)
    # one "step": a step of every level, each level training for its own epochs
    assert len(set(setup.level_epochs)) == 1, setup.level_epochs
    return _row(setup.level_epochs[0], setup.n_train, batch, histories.values())


MEASURE = {
    "vae": lambda steps, device: [_vae_like("vae", steps, device)],
    "iwae": lambda steps, device: [_vae_like("iwae", steps, device)],
    "diffusion": lambda steps, device: [_diffusion("diffusion", steps, device)],
    "diffusion_eps": lambda steps, device: [_diffusion("diffusion_eps", steps, device)],
    "nice": lambda steps, device: [_nice(steps, device)],
    "gan": lambda steps, device: [_gan("gan", steps, device)],
    "dcgan": lambda steps, device: [_gan("dcgan", steps, device)],
    "lapgan": lambda steps, device: [_lapgan(steps, device)],
    "m2": lambda steps, device: _m2(False, steps, device),
    "m1m2": lambda steps, device: _m2(True, steps, device),
    "flow_vae": _flow_vae,
    "gsn": _gsn,
    "rbm": _rbm,
    "wake_sleep": _wake_sleep,
    "dbn": _dbn,
    "dbm": _dbm,
}
MODELS = tuple(MEASURE)


def run(steps: int | None = None, models=MODELS) -> dict:
    """For every training of every model: the paper's epochs, examples and batch, the
    trainings of that kind, the steps they make, the measured seconds per step on
    ``lec16.device()``, and the hours of the schedule there."""
    device = lec16.device()
    steps = steps or (100 if device.type == "cuda" else 30)
    rows = []
    for name in models:
        with contextlib.redirect_stdout(io.StringIO()):  # the trainers' epoch lines
            measured = MEASURE[name](steps, device)
        for row in measured:
            part = row.pop("part")
            row["name"] = name if part is None else f"{name}: {part}"
            row["seconds_per_step"] = row.pop("seconds") / steps
            row["steps"] = (
                row["runs"] * row["epochs"] * -(-row["examples"] // row["batch"])
            )
            row["hours"] = row["steps"] * row["seconds_per_step"] / 3600
            rows.append(row)
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "timed_steps": steps,
        "rows": rows,
    }
