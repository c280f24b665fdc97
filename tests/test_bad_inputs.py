"""Bad input gets a clear, actionable error, never a traceback from deep inside torch.

Each case is (what is wrong, a call that does it, the error class, a pattern of its message):
here the engine's, the checkpoints', the data's and the command line's, and in
``tests/bad_inputs_<group>.py`` those of the model modules. The table of cases with the message
each gets is ``tests/bad_inputs.md``; regenerate it with ``python tests/test_bad_inputs.py`` after
adding a case (a test fails while it is out of date).
"""

import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

import bad_inputs_energy
import bad_inputs_gan
import bad_inputs_rest
import bad_inputs_vae
import pytest
import torch

import lec16
from lec16 import (
    checkpoints,
    cli,
    data,
    dbm,
    dbn,
    diffusion,
    em,
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
    vi,
    wake_sleep,
)
from lec16.experiments import gan_mnist

TABLE = Path(__file__).with_name("bad_inputs.md")
SCRATCH = Path(tempfile.gettempdir()) / "lec16-bad-inputs"


def _binary(n=8, d=784):
    return data.binarize_threshold(
        torch.rand(n, d, generator=torch.Generator().manual_seed(0))
    )


def _tiny_vae(**kw):
    return vae.VAE(vae.VAEConfig(hidden=8, latent=2, **kw))


def _fit_with(step, data_=None, checkpoint=None, config=None, module=None, epochs=1):
    module = module or torch.nn.Linear(2, 1)
    return train.fit(
        step,
        data_ if data_ is not None else [torch.zeros(2, 2)] * 2,
        epochs,
        modules={"m": module},
        checkpoint=checkpoint,
        config=config,
    )


def _linear_step(module):
    opt = torch.optim.SGD(module.parameters(), lr=0.1)

    def step(batch):
        loss = module(batch).pow(2).mean()
        train.optimizer_step(opt, loss)
        return {"loss": loss}

    return step


def _labels(n=20):
    return torch.arange(n) % 10


def _scratch_path(name):
    """A path under SCRATCH with no file there yet."""
    SCRATCH.mkdir(exist_ok=True)
    path = SCRATCH / name
    path.unlink(missing_ok=True)
    return path


def _m2_resumed_with_another_alpha():
    """Train a tiny M2 for one epoch, then ask to resume its checkpoint with another alpha."""
    path = _scratch_path("m2.pt")
    x, y = _binary(20, 6), _labels(20)

    def run(alpha):
        model = ssvae.M2(x_dim=6, z_dim=2, hidden=8)
        config = ssvae.SSLConfig(
            epochs=1, batch_size=10, labelled_batch=10, alpha=alpha
        )
        ssvae.train_m2(model, (x, y), x, (x, y), config, checkpoint=path)

    run(0.1)
    run(0.5)


def _flow_vae_resumed_with_other_flows():
    """Train a tiny flow VAE for one epoch, then ask to resume its checkpoint with another K."""
    path = _scratch_path("flow_vae.pt")
    x = _binary(20, 6)
    for k in (2, 3):
        config = flow_vae.FlowVAEConfig(x_dim=6, hidden=8, latent=2, flows=k)
        train_config = vae.TrainConfig(epochs=1, batch_size=10)
        vae.train_vae(flow_vae.FlowVAE(config), x, x, train_config, checkpoint=path)


def _tiny_diffusion(T=4, parametrization="mean"):
    return diffusion.DiffusionModel(
        diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(T)),
        diffusion.swiss_roll_net(T, units=3),
        parametrization,
    )


def _diffusion_resumed_with_other_ema():
    """Train a tiny diffusion model for one epoch, then resume its checkpoint with another EMA."""
    path = _scratch_path("diffusion.pt")
    x = torch.randn(20, 2)
    for decay in (0.9, 0.99):
        config = diffusion.DiffusionConfig(epochs=1, batch_size=10, ema_decay=decay)
        diffusion.train_diffusion(_tiny_diffusion(), x, x, config, checkpoint=path)


def _rbm_resumed_as_pcd():
    """Train a tiny RBM with CD for one epoch, then resume its checkpoint as PCD."""
    path = _scratch_path("rbm.pt")
    x = _binary(20, 6)
    for method in ("cd", "pcd"):
        config = rbm.RBMConfig(epochs=1, batch_size=10, method=method)
        rbm.train_rbm(rbm.RBM(6, 3), x, x, config, checkpoint=path)


def _dbm_resumed_with_more_mean_field_steps():
    """Train a tiny DBM for one epoch, then resume its checkpoint with other settings."""
    path = _scratch_path("dbm.pt")
    x = _binary(20, 6)
    for steps in (5, 10):
        config = dbm.DBMConfig(epochs=1, batch_size=10, mean_field_steps=steps)
        dbm.train_dbm(dbm.DBM(6, 3, 2), x, x, config, checkpoint=path)


def _hvi_resumed_with_another_learning_rate():
    """Fit a one-transition HVI for one epoch, then resume its checkpoint with another lr."""
    path = _scratch_path("hvi.pt")
    q0 = torch.distributions.Independent(
        torch.distributions.Normal(torch.zeros(2), torch.ones(2)), 1
    )
    for lr in (0.01, 0.02):
        config = hvi.HVIConfig(steps=2, steps_per_epoch=2, eval_samples=10, lr=lr)
        hvi.fit_hvi(
            hvi.HamiltonianVI(2, 1), q0, lambda z: -(z**2).sum(-1), config, path
        )


def _helmholtz_resumed_with_another_rule():
    """Train a Gaussian Helmholtz machine one epoch by wake-sleep, then resume its
    checkpoint as a VAE."""
    path = _scratch_path("helmholtz.pt")
    x = _binary(20, 6)
    for rule in ("wake-sleep", "elbo"):
        config = wake_sleep.WakeSleepConfig(epochs=1, batch_size=10, rule=rule)
        model = wake_sleep.HelmholtzMachine((6, 2), "gaussian")
        wake_sleep.train_helmholtz(model, x, x, config, checkpoint=path)


def _gsn_resumed_with_another_walkback():
    """Train a DAE one epoch with walkback 1, then resume its checkpoint with walkback 2."""
    path = _scratch_path("gsn.pt")
    x = _binary(20, 6)
    for walkback in (1, 2):
        config = gsn.GSNConfig(epochs=1, batch_size=10, walkback=walkback)
        gsn.train_gsn(gsn.DenoisingAutoencoder(6, 4), x, config, checkpoint=path)


def _checkpoint(name, config=None, module=None):
    path = _scratch_path(name)
    module = module or torch.nn.Linear(2, 1)
    _fit_with(_linear_step(module), checkpoint=path, config=config, module=module)
    return path


def _foreign_file():
    path = _scratch_path("foreign.pt")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    return path


def _garbage_file():
    path = _scratch_path("garbage.pt")
    path.write_bytes(b"\x00 not a torch file")
    return path


class NoLatent(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 784)

    def forward(self, z):
        return self.net(z)


def _env(name, value, fn):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        return fn()
    finally:
        os.environ.pop(name) if old is None else os.environ.__setitem__(name, old)


class CommandLineError(Exception):
    """``python -m lec16`` exited with an error: its message, the one line it printed."""


def _cli(*argv, **env):
    """Run the command line in this process with ``env`` set; an exit other than 0 raises
    :class:`CommandLineError` with what it printed on stderr (and the exit status)."""
    err, old = io.StringIO(), {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stderr(err):
            try:
                status = cli.main(list(argv))
            except SystemExit as done:  # argparse's usage errors
                status = done.code
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    lines = err.getvalue().strip().splitlines()
    if status:
        raise CommandLineError(f"{lines[-1] if lines else ''} (exit {status})")


def _out_file():
    path = _scratch_path("runs-file")
    path.write_text("a file, not a folder")
    return path


def _damaged_checkpoint():
    """A checkpoint whose weights were overwritten on disk after it was written."""
    path = _checkpoint("damaged.pt")
    state = torch.load(path, weights_only=True)
    state["modules"]["m"]["weight"].fill_(float("nan"))
    torch.save(state, path)  # the integrity check written with the old weights stays
    return path


def _diverged_checkpoint():
    """A checkpoint written whole, holding a diverged (NaN) model."""
    path = _checkpoint("diverged.pt")
    state = checkpoints.load(path)
    state["modules"]["m"]["weight"].fill_(float("nan"))
    checkpoints.save(path, state)
    return path


CHEAP = ("train", "vae_mnist", "--part", "z2", "--scale", "smoke")


CASES = [
    # models and their data
    (
        "VAE given 100 features per example (x_dim=784)",
        lambda: _tiny_vae()(torch.rand(2, 100)),
        ValueError,
        r"expects examples of 784 features .* x_dim=100",
    ),
    (
        "train_vae with a float64 x_test (the model is float32)",
        lambda: vae.train_vae(
            _tiny_vae(), _binary(), _binary().double(), vae.TrainConfig(epochs=1)
        ),
        ValueError,
        r"x_test is torch.float64 .* convert it",
    ),
    (
        "train_vae with data on another device than the model",
        lambda: vae.train_vae(
            _tiny_vae(), _binary().to("meta"), _binary(), vae.TrainConfig(epochs=1)
        ),
        ValueError,
        r"x_train is torch.float32 on meta but the model is torch.float32 on cpu",
    ),
    (
        "train_vae with grey-level test digits for a Bernoulli decoder",
        lambda: vae.train_vae(
            _tiny_vae(), _binary(), torch.full((4, 784), 0.5), vae.TrainConfig(epochs=1)
        ),
        ValueError,
        r"must be binary for a Bernoulli decoder",
    ),
    (
        "train_vae with intensities outside [0, 1]",
        lambda: vae.train_vae(
            _tiny_vae(), 255 * _binary(), _binary(), vae.TrainConfig(epochs=1)
        ),
        ValueError,
        r"intensities in \[0, 1\]",
    ),
    (
        "VAEConfig(latent=0)",
        lambda: vae.VAEConfig(latent=0),
        ValueError,
        r"latent must be a positive int",
    ),
    (
        "VAEConfig(likelihood='poisson')",
        lambda: vae.VAEConfig(likelihood="poisson"),
        ValueError,
        r"likelihood='poisson' is not valid; choose one of",
    ),
    (
        "TrainConfig(optimizer='sgd')",
        lambda: vae.TrainConfig(optimizer="sgd"),
        ValueError,
        r"choose one of: 'adam'",
    ),
    (
        "exact_quantities_2d on a VAE with a 5-D latent",
        lambda: vae.exact_quantities_2d(
            vae.VAE(vae.VAEConfig(hidden=8, latent=5)), _binary(1)
        ),
        ValueError,
        r"needs a 2-D latent",
    ),
    (
        "DCGAN discriminator on 32x32 images",
        lambda: gan.DCGANDiscriminator(width=2)(torch.rand(2, 1, 32, 32)),
        ValueError,
        r"built for \(N, C, 28, 28\) images, got shape \(2, 1, 32, 32\)",
    ),
    (
        "sampling from a generator without `.latent`",
        lambda: gan.generate(NoLatent(), 4),
        ValueError,
        r"no positive int attribute `latent`",
    ),
    (
        "training a GAN whose generator has no `.latent`",
        lambda: gan.train_gan(
            NoLatent(),
            gan.MLPDiscriminator(hidden=4, pieces=2),
            torch.rand(8, 1, 28, 28),
            gan.GANConfig(epochs=1),
        ),
        ValueError,
        r"set generator.latent",
    ),
    (
        "an unknown part of the GAN chapter",
        lambda: gan_mnist.players(gan_mnist.Setup.at("smoke"), "wgan"),
        ValueError,
        r"part='wgan' is not valid; choose one of: 'gan', 'gan_batch_norm', 'dcgan'",
    ),
    (
        "the GAN chapter's sizes at an unknown scale",
        lambda: gan_mnist.Setup.at("huge"),
        ValueError,
        r"scale='huge' is not valid; choose one of: 'smoke', 'default', 'paper'",
    ),
    (
        "GANConfig(beta1=1.0)",
        lambda: gan.GANConfig(beta1=1.0),
        ValueError,
        r"beta1 must be in \[0, 1\)",
    ),
    (
        "iwae.log_likelihood with k=0",
        lambda: iwae.log_likelihood(_tiny_vae(), _binary(2), k=0),
        ValueError,
        r"k must be a positive int, got 0",
    ),
    (
        "iwae.objective with kind='elbo'",
        lambda: iwae.objective(_tiny_vae(), _binary(2), 2, kind="elbo"),
        ValueError,
        r"kind='elbo' is not valid; choose one of: 'iwae', 'vae'",
    ),
    (
        "LAPGAN pyramid of 30x30 images with 3 levels",
        lambda: lapgan.gaussian_pyramid(torch.rand(1, 1, 30, 30), 3),
        ValueError,
        r"must be divisible by 2\^\(levels-1\) = 4",
    ),
    (
        "train_lapgan with 2 entries of epochs for 3 levels",
        lambda: lapgan.train_lapgan(
            (None, None), [(None, None), (None, None)], torch.rand(4, 1, 8, 8), [1, 1]
        ),
        ValueError,
        r"epochs needs one entry per level \(3",
    ),
    # EM and variational inference
    (
        "EM on degenerate data (all points equal) with reg_covar=0",
        lambda: em.fit_gmm(
            torch.ones(20, 2, dtype=torch.float64), 2, n_iter=2, reg_covar=0.0
        ),
        ValueError,
        r"not positive definite.*raise reg_covar",
    ),
    (
        "EM with more components than points",
        lambda: em.fit_gmm(torch.rand(2, 2), 3),
        ValueError,
        r"k=3 components need at least k data points",
    ),
    (
        "EM on a 1-D tensor",
        lambda: em.fit_gmm(torch.rand(10), 2),
        ValueError,
        r"x must have shape \(N, D\)",
    ),
    (
        "EM with a negative reg_covar",
        lambda: em.fit_gmm(torch.rand(10, 2), 2, reg_covar=-1.0),
        ValueError,
        r"reg_covar must be >= 0",
    ),
    (
        "mean-field gradient with estimator='pathwise'",
        lambda: vi.expectation_grad(lambda z: z.sum(-1), torch.zeros(4), 2, "pathwise"),
        ValueError,
        r"estimator='pathwise' is not valid",
    ),
    (
        "leave-one-out baseline with one sample",
        lambda: vi.expectation_grad(
            lambda z: z.sum(-1), torch.zeros(4), 1, "score+baseline"
        ),
        ValueError,
        r"baseline needs n_samples >= 2",
    ),
    # evaluation
    (
        "Parzen window with sigma = 0",
        lambda: evaluation.parzen_log_likelihood(
            torch.rand(5, 4), torch.rand(3, 4), 0.0
        ),
        ValueError,
        r"sigma must be a positive finite number, got 0.0",
    ),
    (
        "Parzen window with sigma < 0",
        lambda: evaluation.parzen_log_likelihood(
            torch.rand(5, 4), torch.rand(3, 4), -0.1
        ),
        ValueError,
        r"sigma must be a positive finite number, got -0.1",
    ),
    (
        "Parzen width candidates that include 0",
        lambda: evaluation.select_parzen_sigma(
            torch.rand(5, 4), torch.rand(3, 4), [0.1, 0.0]
        ),
        ValueError,
        r"every Parzen width sigma must be a positive",
    ),
    (
        "Parzen window of 784-pixel samples for 196-pixel images",
        lambda: evaluation.parzen_log_likelihood(
            torch.rand(5, 784), torch.rand(3, 196), 0.2
        ),
        ValueError,
        r"samples have 784 values each and x has 196",
    ),
    (
        "Frechet distance from one sample",
        lambda: evaluation.frechet_distance(
            torch.rand(1, 8).numpy(), torch.rand(50, 8).numpy()
        ),
        ValueError,
        r"at least 2 samples per set",
    ),
    (
        "Frechet distance between features of different sizes",
        lambda: evaluation.frechet_distance(
            torch.rand(9, 8).numpy(), torch.rand(9, 4).numpy()
        ),
        ValueError,
        r"two \(n, d\) feature arrays of the same d",
    ),
    (
        "classifier features of (N, 5) tensors",
        lambda: evaluation.as_mnist_images(torch.rand(3, 5)),
        ValueError,
        r"images must be \(N, C, H, W\)",
    ),
    # the training engine and checkpoints
    (
        "a step that returns no 'loss'",
        lambda: _fit_with(lambda b: {"error": 1.0}),
        ValueError,
        r"a step must return a dict of scalar metrics with a 'loss'",
    ),
    (
        "a step whose loss is not a scalar",
        lambda: _fit_with(lambda b: {"loss": torch.ones(3)}),
        ValueError,
        r"metric 'loss' of the step must be a scalar, got a tensor of shape \(3,\)",
    ),
    (
        "an empty data stream",
        lambda: _fit_with(lambda b: {"loss": 0.0}, {"unlabelled": [1], "labelled": []}),
        ValueError,
        r"data stream 'labelled' yields no batches",
    ),
    (
        "fewer examples than one batch with drop_last",
        lambda: data.Batches(torch.zeros(10, 2), batch_size=64, drop_last=True),
        ValueError,
        r"fewer than one batch of 64 with drop_last=True",
    ),
    (
        "Batches of tensors of different lengths",
        lambda: data.Batches(torch.zeros(10, 2), torch.zeros(9), batch_size=2),
        ValueError,
        r"tensors differ in length: \[10, 9\]",
    ),
    (
        "fit with epochs=0",
        lambda: _fit_with(lambda b: {"loss": 0.0}, epochs=0),
        ValueError,
        r"epochs must be a positive int, got 0",
    ),
    (
        "a run config holding a non-JSON object",
        lambda: _fit_with(lambda b: {"loss": 0.0}, config={"f": object()}),
        ValueError,
        r"a run's config must be dataclasses, modules or JSON-like values",
    ),
    (
        "a valid torch file that is not a lec16 checkpoint",
        lambda: _fit_with(lambda b: {"loss": 0.0}, checkpoint=_foreign_file()),
        checkpoints.CheckpointError,
        r"is a torch file but not a lec16 checkpoint",
    ),
    (
        "a corrupt checkpoint file",
        lambda: _fit_with(lambda b: {"loss": 0.0}, checkpoint=_garbage_file()),
        checkpoints.CheckpointError,
        r"is damaged or not a torch file.*delete it",
    ),
    (
        "resuming a checkpoint of another configuration",
        lambda: _fit_with(
            lambda b: {"loss": 0.0},
            checkpoint=_checkpoint("config.pt", {"lr": 0.1}),
            config={"lr": 0.2},
            epochs=2,
        ),
        checkpoints.CheckpointError,
        r"differing fields: config.lr: checkpoint 0.1, this run 0.2",
    ),
    (
        "resuming a checkpoint of another architecture",
        lambda: _fit_with(
            lambda b: {"loss": 0.0},
            checkpoint=_checkpoint("arch.pt"),
            module=torch.nn.Linear(3, 1),
            epochs=2,
        ),
        checkpoints.CheckpointError,
        r"differing fields: modules.m.shapes.weight: checkpoint \[1, 2\], this run \[1, 3\]",
    ),
    (
        "EMA with decay 1.5",
        lambda: train.EMA(torch.nn.Linear(2, 1), decay=1.5),
        ValueError,
        r"EMA decay must be in \(0, 1\)",
    ),
    # scales, metrics, devices, seeds
    (
        "record_metrics with a non-JSON value",
        lambda: lec16.record_metrics("chapter", {"model": object()}),
        ValueError,
        r"every value must be a number, string",
    ),
    (
        "record_metrics under a name that is not a slug",
        lambda: lec16.record_metrics("08 gan/mnist", {}),
        ValueError,
        r"chapter must be a slug",
    ),
    (
        "choose() without the paper scale",
        lambda: lec16.choose("smoke", smoke=1, default=2),
        ValueError,
        r"missing \['paper'\]",
    ),
    (
        "LEC16_SCALE=huge",
        lambda: _env("LEC16_SCALE", "huge", lec16.default_scale),
        ValueError,
        r"LEC16_SCALE='huge' is not valid",
    ),
    (
        "LEC16_PROGRESS=yes",
        lambda: _env(
            "LEC16_PROGRESS",
            "yes",
            lambda: train.fit(
                lambda batch: {"loss": batch[0].sum()},
                [(torch.ones(1),)],
                1,
                modules={},
            ),
        ),
        ValueError,
        r"LEC16_PROGRESS='yes': use 1 \(a bar\) or 0 \(no bar\)",
    ),
    (
        "LEC16_DEVICE=gpu",
        lambda: _env("LEC16_DEVICE", "gpu", lec16.device),
        ValueError,
        r"is not a device; use one of cuda, mps, cpu",
    ),
    (
        "seed_everything(-1)",
        lambda: lec16.seed_everything(-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\].*got -1",
    ),
    (
        "loading MNIST from an empty data folder",
        lambda: data.load_mnist("train", root=SCRATCH / "empty"),
        data.DataError,
        r"MNIST is not usable",
    ),
    (
        "ssvae.balanced_labels(y, 105): not a multiple of the classes",
        lambda: ssvae.balanced_labels(_labels(), 105, seed=0),
        ValueError,
        r"pick a multiple of 10",
    ),
    (
        "ssvae.balanced_labels: more labels per class than the class has",
        lambda: ssvae.balanced_labels(_labels(), 30, seed=0),
        ValueError,
        r"class 0 has 2 examples, fewer than the 3 per class",
    ),
    (
        "M2.labelled_bound with one-hot labels",
        lambda: ssvae.M2(x_dim=6).labelled_bound(_binary(2, 6), torch.eye(10)[:2]),
        ValueError,
        r"1-D integer tensor of 2 class indices.*pass y.argmax\(-1\)",
    ),
    (
        "M2.labelled_bound with label 10 of 10 classes",
        lambda: ssvae.M2(x_dim=6).labelled_bound(_binary(2, 6), torch.tensor([3, 10])),
        ValueError,
        r"labels must lie in 0..9, got values from 3 to 10",
    ),
    (
        "M2 on 28x28 images built for M1's 40-dimensional codes",
        lambda: ssvae.M2(x_dim=40).unlabelled_bound(torch.rand(2, 1, 28, 28)),
        ValueError,
        r"M2 expects examples of 40 features .* x_dim=784",
    ),
    (
        "M2(likelihood='poisson')",
        lambda: ssvae.M2(likelihood="poisson"),
        ValueError,
        r"likelihood='poisson' is not valid; choose one of: 'bernoulli', 'gaussian'",
    ),
    (
        "SSLConfig(alpha=0)",
        lambda: ssvae.SSLConfig(alpha=0),
        ValueError,
        r"alpha must be a positive finite number, got 0",
    ),
    (
        "train_m2 resuming a checkpoint written with another alpha",
        _m2_resumed_with_another_alpha,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*alpha",
    ),
    (
        "Batches with a seed beyond NumPy's range (2**32 would repeat seed 0)",
        lambda: data.Batches(torch.zeros(10, 2), batch_size=5, seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "Batches for rank 2 of 2 processes",
        lambda: data.Batches(torch.zeros(10, 2), batch_size=4, rank=2, world_size=2),
        ValueError,
        r"rank must be in \[0, 2\), got 2",
    ),
    (
        "a VAE asked for an unknown bound",
        lambda: _tiny_vae()(torch.zeros(2, 784), 1, bound="elb"),
        ValueError,
        r"bound='elb' is not valid; choose one of: 'elbo', 'vae', 'iwae'",
    ),
    (
        "FlowVAEConfig(flows=-1)",
        lambda: flow_vae.FlowVAEConfig(flows=-1),
        ValueError,
        r"flows must be a non-negative int \(the number K of planar flows\), got -1",
    ),
    (
        "FlowVAE built from a plain VAEConfig",
        lambda: flow_vae.FlowVAE(vae.VAEConfig()),
        ValueError,
        r"FlowVAE needs a FlowVAEConfig \(a VAEConfig plus flows=K\), got VAEConfig",
    ),
    (
        "FlowVAE on images of the wrong size",
        lambda: flow_vae.FlowVAE()(torch.rand(2, 1, 14, 14)),
        ValueError,
        r"FlowVAE expects examples of 784 features",
    ),
    (
        "train_vae resuming a flow VAE's checkpoint with another number of flows",
        _flow_vae_resumed_with_other_flows,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*flows",
    ),
    (
        "flows.energy('U5', z)",
        lambda: flows.energy("U5", torch.zeros(3, 2)),
        ValueError,
        r"name='U5' is not valid; choose one of: 'U1', 'U2', 'U3', 'U4'",
    ),
    (
        "flows.energy on 3-D points",
        lambda: flows.energy("U1", torch.zeros(3, 3)),
        ValueError,
        r"expects a batch of 2-dimensional points, shape \(n, 2\); got \(3, 3\)",
    ),
    (
        "PlanarFlow(2) on a single point without a batch dimension",
        lambda: flows.PlanarFlow(2)(torch.zeros(2)),
        ValueError,
        r"PlanarFlow expects a batch of 2-dimensional points",
    ),
    (
        "NICE(dim=1)",
        lambda: flows.NICE(1),
        ValueError,
        r"NICE needs dim >= 2",
    ),
    (
        "planar_flow(2, k=-1)",
        lambda: flows.planar_flow(2, -1),
        ValueError,
        r"k must be a non-negative int",
    ),
    (
        "EnergyFitConfig(steps=2500, steps_per_epoch=1000)",
        lambda: flows.EnergyFitConfig(steps=2500, steps_per_epoch=1000),
        ValueError,
        r"steps=2500 must be a multiple of steps_per_epoch=1000",
    ),
    (
        "NICE(prior='laplace')",
        lambda: flows.NICE(4, prior="laplace"),
        ValueError,
        r"prior='laplace' is not valid; choose one of: 'logistic', 'gaussian'",
    ),
    (
        "GaussianDiffusion with a rate beta_t = 1.2",
        lambda: diffusion.GaussianDiffusion(torch.tensor([0.1, 1.2])),
        ValueError,
        r"every diffusion rate beta_t must be in \(0, 1\)",
    ),
    (
        "GaussianDiffusion with a 2-D tensor of rates",
        lambda: diffusion.GaussianDiffusion(torch.full((2, 3), 0.1)),
        ValueError,
        r"betas must be a 1-D tensor of T >= 2 diffusion rates",
    ),
    (
        "marginal at t = 50 of a 4-step diffusion",
        lambda: _tiny_diffusion().diffusion.marginal(torch.zeros(3, 2), 50),
        ValueError,
        r"t must be in 0 \.\.\. T = 4, got 50",
    ),
    (
        "DiffusionModel whose network reads out another number of steps",
        lambda: diffusion.DiffusionModel(
            diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(5)),
            diffusion.swiss_roll_net(4),
        ),
        ValueError,
        r"the network reads out 4 time steps but the diffusion has T = 5",
    ),
    (
        "DiffusionModel(parametrization='score')",
        lambda: _tiny_diffusion(parametrization="score"),
        ValueError,
        r"parametrization='score' is not valid; choose one of: 'mean', 'epsilon'",
    ),
    (
        "DiffusionModel(time_sampling='adaptive')",
        lambda: diffusion.DiffusionModel(
            diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(4)),
            diffusion.swiss_roll_net(4, units=3),
            time_sampling="adaptive",
        ),
        ValueError,
        r"time_sampling='adaptive' is not valid; choose one of: 'uniform', 'importance'",
    ),
    (
        "a 2-D diffusion model given 3-D points",
        lambda: _tiny_diffusion()(torch.zeros(5, 3)),
        ValueError,
        r"the model takes examples of 2 values, got 3",
    ),
    (
        "inpainting with known values but no mask",
        lambda: _tiny_diffusion().sample(2, known=torch.zeros(2, 2)),
        ValueError,
        r"inpainting needs both `known` values and their `mask`",
    ),
    (
        "DiffusionConfig(ema_decay=1.5)",
        lambda: diffusion.DiffusionConfig(ema_decay=1.5),
        ValueError,
        r"ema_decay must be in \(0, 1\) or None, got 1.5",
    ),
    (
        "train_diffusion on data of another dimension",
        lambda: diffusion.train_diffusion(
            _tiny_diffusion(),
            torch.zeros(10, 3),
            torch.zeros(10, 3),
            diffusion.DiffusionConfig(epochs=1),
        ),
        ValueError,
        r"x_train has 3 values per example but the model takes 2",
    ),
    (
        "train_diffusion resuming a checkpoint written with another EMA decay",
        _diffusion_resumed_with_other_ema,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*ema_decay",
    ),
    (
        "a DBN whose layers do not fit together",
        lambda: dbn.DBN([rbm.RBM(784, 500), rbm.RBM(400, 100)]),
        ValueError,
        r"layer 0 has 500 hidden units but layer 1 has 400 visible units",
    ),
    (
        "a DBN of no layers",
        lambda: dbn.DBN([]),
        ValueError,
        r"a DBN needs at least one RBM",
    ),
    (
        "RBM(784, 0)",
        lambda: rbm.RBM(784, 0),
        ValueError,
        r"n_hidden must be a positive int, got 0",
    ),
    (
        "an RBM given images of another size",
        lambda: rbm.RBM(784, 10).free_energy(torch.zeros(3, 28)),
        ValueError,
        r"v has 28 units in its last dimension but the RBM has 784 visible units",
    ),
    (
        "exact_log_partition of a 784 x 500 RBM",
        lambda: rbm.RBM(784, 500).exact_log_partition(),
        ValueError,
        r"enumerates 2\^500 states .* estimate log Z with rbm.ais_log_partition",
    ),
    (
        "ais_log_partition with base biases of another length",
        lambda: rbm.ais_log_partition(rbm.RBM(6, 3), 10, 10, torch.zeros(5)),
        ValueError,
        r"base_bias has shape \(5,\); the RBM has 6 visible units",
    ),
    (
        "ais_betas(2)",
        lambda: rbm.ais_betas(2),
        ValueError,
        r"n_betas must be at least 3 \(one per segment\), got 2",
    ),
    (
        "RBMConfig(method='cd-k')",
        lambda: rbm.RBMConfig(method="cd-k"),
        ValueError,
        r"method='cd-k' is not valid; choose one of: 'cd', 'pcd'",
    ),
    (
        "RBMConfig(momentum=1)",
        lambda: rbm.RBMConfig(momentum=1),
        ValueError,
        r"momentum must be in \[0, 1\), got 1",
    ),
    (
        "train_rbm on data of another dimension",
        lambda: rbm.train_rbm(
            rbm.RBM(6, 3), torch.zeros(10, 5), torch.zeros(10, 5), rbm.RBMConfig()
        ),
        ValueError,
        r"x_train has 5 values per example but the RBM has 6 visible units",
    ),
    (
        "train_rbm resuming a CD checkpoint as PCD",
        _rbm_resumed_as_pcd,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*method",
    ),
    (
        "exact_cd_gradient on an RBM too large to enumerate",
        lambda: rbm.exact_cd_gradient(
            rbm.RBM(784, 10), torch.zeros(1, 784), torch.ones(1), k=1
        ),
        ValueError,
        r"at most 16 units per layer, got 784 x 10",
    ),
    (
        "DBM(784, 500, 0)",
        lambda: dbm.DBM(784, 500, 0),
        ValueError,
        r"n_hidden2 must be a positive int, got 0",
    ),
    (
        "a DBM given images of another size",
        lambda: dbm.DBM(784, 10, 5).mean_field(torch.zeros(3, 28)),
        ValueError,
        r"v has 28 units in its last dimension but the DBM has 784 visible units",
    ),
    (
        "exact_log_partition of a 784-500-1000 DBM",
        lambda: dbm.DBM(784, 500, 1000).exact_log_partition(),
        ValueError,
        r"enumerates the 2\^500 states of h1.* dbm.ais_log_partition",
    ),
    (
        "dbm.ais_log_partition with base biases of another length",
        lambda: dbm.ais_log_partition(dbm.DBM(6, 3, 2), 10, 10, torch.zeros(5)),
        ValueError,
        r"base_bias has shape \(5,\); the DBM has 6 visible units",
    ),
    (
        "DBMConfig(mean_field_steps=0)",
        lambda: dbm.DBMConfig(mean_field_steps=0),
        ValueError,
        r"mean_field_steps must be a positive int, got 0",
    ),
    (
        "train_dbm on data of another dimension",
        lambda: dbm.train_dbm(
            dbm.DBM(6, 3, 2), torch.zeros(10, 5), torch.zeros(10, 5), dbm.DBMConfig()
        ),
        ValueError,
        r"x_train has 5 values per example but the DBM has 6 visible units",
    ),
    (
        "train_dbm resuming a checkpoint written with other mean-field steps",
        _dbm_resumed_with_more_mean_field_steps,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*mean_field_steps",
    ),
    (
        "HamiltonianVI with -1 transitions",
        lambda: hvi.HamiltonianVI(2, -1),
        ValueError,
        r"n_transitions must be a non-negative int, got -1",
    ),
    (
        "HVIConfig whose steps are not whole epochs",
        lambda: hvi.HVIConfig(steps=1000, steps_per_epoch=300),
        ValueError,
        r"steps \(1000\) must be a multiple of steps_per_epoch \(300\)",
    ),
    (
        "fit_hvi on a chain of no transitions",
        lambda: hvi.fit_hvi(hvi.HamiltonianVI(2, 0), None, None, hvi.HVIConfig()),
        ValueError,
        r"an HVI with no transitions has nothing to train: its bound is q_0's ELBO",
    ),
    (
        "HVI transitions given points of another dimension",
        lambda: hvi.HamiltonianVI(2, 1)(torch.zeros(4, 3), lambda z: z.sum(-1)),
        ValueError,
        r"z has 3 coordinates but the transitions act on 2",
    ),
    (
        "fit_hvi resuming a checkpoint written with another learning rate",
        _hvi_resumed_with_another_learning_rate,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*lr",
    ),
    (
        "HelmholtzMachine with no hidden layer",
        lambda: wake_sleep.HelmholtzMachine((784,)),
        ValueError,
        r"layers must list the visible size and at least one hidden size",
    ),
    (
        "a Gaussian HelmholtzMachine with two hidden layers",
        lambda: wake_sleep.HelmholtzMachine((784, 200, 100), "gaussian"),
        ValueError,
        r"a Gaussian Helmholtz machine has one hidden layer",
    ),
    (
        "train_helmholtz on the ELBO of binary latents",
        lambda: wake_sleep.train_helmholtz(
            wake_sleep.HelmholtzMachine((6, 2)),
            torch.zeros(4, 6),
            torch.zeros(4, 6),
            wake_sleep.WakeSleepConfig(rule="elbo"),
        ),
        ValueError,
        r"no reparametrized gradient .* rule='wake-sleep', or build it with "
        r"latent='gaussian'",
    ),
    (
        "WakeSleepConfig with an unknown rule",
        lambda: wake_sleep.WakeSleepConfig(rule="sleep-wake"),
        ValueError,
        r"rule=.sleep-wake. is not valid; choose one of: .wake-sleep., .wake., .elbo.",
    ),
    (
        "a Helmholtz machine given images of another size",
        lambda: wake_sleep.HelmholtzMachine((784, 20)).wake_loss(
            torch.zeros(3, 28, 28)
        ),
        ValueError,
        r"has 784 visible units, got a tensor of shape \(3, 28, 28\): flatten",
    ),
    (
        "exact_log_likelihood of a machine too large to enumerate",
        lambda: wake_sleep.exact_log_likelihood(
            wake_sleep.HelmholtzMachine((784, 200)), torch.zeros(1, 784)
        ),
        ValueError,
        r"enumerating 200 hidden units .* lec16.iwae.log_likelihood",
    ),
    (
        "train_helmholtz resuming a checkpoint written with another rule",
        _helmholtz_resumed_with_another_rule,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*rule",
    ),
    (
        "salt-and-pepper noise above 1",
        lambda: gsn.DenoisingAutoencoder(784, 100, noise=1.5),
        ValueError,
        r"salt-and-pepper noise is a probability in \(0, 1\], got 1.5",
    ),
    (
        "DenoisingAutoencoder with an unknown corruption",
        lambda: gsn.DenoisingAutoencoder(784, 100, corruption="dropout"),
        ValueError,
        r"corruption=.dropout. is not valid; choose one of: .salt_and_pepper., .gaussian.",
    ),
    (
        "train_gsn with binarize=True on a Gaussian model",
        lambda: gsn.train_gsn(
            gsn.DenoisingAutoencoder(2, 8, corruption="gaussian"),
            torch.zeros(10, 2),
            gsn.GSNConfig(),
        ),
        ValueError,
        r"binarize=True needs binary data .* binarize=False for real-valued data",
    ),
    (
        "train_gsn on grey levels with binarize=False",
        lambda: gsn.train_gsn(
            gsn.DenoisingAutoencoder(4, 8),
            torch.full((10, 4), 0.5),
            gsn.GSNConfig(binarize=False),
        ),
        ValueError,
        r"binarize=False needs binary data for a salt-and-pepper model",
    ),
    (
        "a DAE given images of another size",
        lambda: gsn.DenoisingAutoencoder(784, 10).chain(torch.zeros(2, 28, 28), 5),
        ValueError,
        r"has 784 inputs, got a tensor of shape \(2, 28, 28\): flatten",
    ),
    (
        "train_gsn resuming a checkpoint written with another walkback",
        _gsn_resumed_with_another_walkback,
        checkpoints.CheckpointError,
        r"written by another configuration; differing fields: .*walkback",
    ),
    # checkpoints that cannot lie
    (
        "loading a checkpoint whose weights changed on disk after it was written",
        lambda: checkpoints.load(_damaged_checkpoint()),
        checkpoints.CheckpointError,
        r"fails its integrity check: its content changed after it was written",
    ),
    (
        "resuming a checkpoint that holds NaN weights",
        lambda: _fit_with(
            lambda b: {"loss": 0.0}, checkpoint=_diverged_checkpoint(), epochs=2
        ),
        checkpoints.CheckpointError,
        r"holds NaN or infinite values \(modules.m.weight\)",
    ),
    (
        "a seed of 2**32 (NumPy would fold it onto seed 0)",
        lambda: lec16.seed_everything(2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    # the command line: one line, before any work
    (
        "python -m lec16 train with --out a file",
        lambda: _cli(*CHEAP, "--out", str(_out_file())),
        CommandLineError,
        r"runs-file: --out is a file, not a folder \(exit 1\)",
    ),
    (
        "python -m lec16 train with LEC16_DEVICE=cuda:7 on a machine without it",
        lambda: _cli(*CHEAP, LEC16_DEVICE="cuda:7"),
        CommandLineError,
        r"LEC16_DEVICE='cuda:7' but torch sees no CUDA device.* \(exit 1\)",
    ),
    (
        "python -m lec16 train with LEC16_DEVICE=tpu",
        lambda: _cli(*CHEAP, LEC16_DEVICE="tpu"),
        CommandLineError,
        r"LEC16_DEVICE='tpu' is not a device.* \(exit 1\)",
    ),
    (
        "python -m lec16 train with LEC16_PROGRESS=yes",
        lambda: _cli(*CHEAP, LEC16_PROGRESS="yes"),
        CommandLineError,
        r"LEC16_PROGRESS='yes': use 1 \(a bar\) or 0 \(no bar\) \(exit 1\)",
    ),
    (
        "python -m lec16 train with LEC16_SCALE=huge and no --scale",
        lambda: _cli("train", "vae_mnist", "--part", "z2", LEC16_SCALE="huge"),
        CommandLineError,
        r"LEC16_SCALE='huge' is not valid.* \(exit 1\)",
    ),
    (
        "python -m lec16 train with --seed 4294967296",
        lambda: _cli(*CHEAP, "--seed", str(2**32)),
        CommandLineError,
        r"--seed must be an int in \[0, 2\*\*32 - 1\].* \(exit 2\)",
    ),
    (
        "python -m lec16 train with a part the chapter does not have",
        lambda: _cli("train", "vae_mnist", "--part", "z3"),
        CommandLineError,
        r"vae_mnist has no part 'z3'; its parts: z2, z5, z10, z20, gaussian \(exit 2\)",
    ),
]


def _message(fn, error):
    # cases that draw random inputs give the same message every time
    torch.manual_seed(0)
    with pytest.raises(error) as info:
        fn()
    return str(info.value)


# the cases of lec16's other modules, one file a group
GROUPS = {
    "The engine, checkpoints, data and the command line": CASES,
    "The VAE family (tests/bad_inputs_vae.py)": bad_inputs_vae.CASES,
    "GANs and sample metrics (tests/bad_inputs_gan.py)": bad_inputs_gan.CASES,
    "Energy models, wake-sleep and GSNs (tests/bad_inputs_energy.py)": (
        bad_inputs_energy.CASES
    ),
    "Flows, diffusion, HVI, EM, exponential families, VI and data "
    "(tests/bad_inputs_rest.py)": bad_inputs_rest.CASES,
}
ALL = [case for cases in GROUPS.values() for case in cases]


def render_table() -> str:
    lines = [
        "# Bad inputs and the errors they get",
        "",
        "Generated by `python tests/test_bad_inputs.py` from the cases in "
        "`tests/test_bad_inputs.py` and `tests/bad_inputs_*.py`.",
    ]
    for title, cases in GROUPS.items():
        lines += [
            "",
            f"## {title}",
            "",
            "| bad input | error | message |",
            "|---|---|---|",
        ]
        for what, fn, error, _ in cases:
            message = (
                _message(fn, error)
                .replace(str(SCRATCH), "<dir>")
                .replace("\n", " ")
                .replace("|", "\\|")
            )
            lines.append(f"| {what} | `{error.__name__}` | {message} |")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("what, fn, error, pattern", ALL, ids=[c[0] for c in ALL])
def test_bad_input_gets_a_clear_error(what, fn, error, pattern):
    message = _message(fn, error)
    assert re.search(pattern, message, re.DOTALL), (
        f"{what}: unexpected message {message!r}"
    )


def test_there_are_cases_for_every_group_and_each_is_named_once():
    assert all(len(cases) >= 30 for cases in GROUPS.values())
    names = [what for what, *_ in ALL]
    assert len(names) == len(set(names)), "two cases share a description"


def test_the_table_in_tests_is_up_to_date():
    assert TABLE.exists() and TABLE.read_text() == render_table(), (
        "tests/bad_inputs.md is out of date: run `python tests/test_bad_inputs.py`"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    TABLE.write_text(render_table())
    print(f"wrote {TABLE} ({len(ALL)} cases)")
