"""``python -m lec16 train MODEL``: every model trains at smoke scale, beats its untrained copy
and writes the checkpoints its chapter would (so that the notebook loads them); a rerun
resumes from them (checked for two models); the command runs under torchrun on two CPU
processes (Gloo)."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from launch import python_on

from lec16 import cli

SMOKE_MARGIN = 50  # nats per digit the smoke run must gain over the untrained model
# the checkpoints each model's chapter keeps (lec16.train.checkpoint_path names)
CHAPTER_CHECKPOINTS = {
    "vae": ["vae_mnist_z20"],
    "iwae": ["iwae_k50"],
    "diffusion": ["diffusion_mnist_mean"],
    "diffusion_eps": ["diffusion_mnist_epsilon"],
    "nice": ["nice_mnist"],
    "planar": [
        f"flow_{name}_{kind}"
        for name in ("U1", "U2", "U3", "U4")
        for kind in (2, 8, 32)
    ]
    + [f"flow_{name}_NICE" for name in ("U1", "U2", "U3", "U4")],
    "flow_vae": ["flow_vae_k0", "flow_vae_k0_sampled_kl", "flow_vae_k2"],
    "gan": ["gan_mlp_nobn_mnist"],
    "dcgan": ["dcgan_mnist"],
    "lapgan": [f"lapgan_level{k}" for k in range(3)],
    "m2": ["ssl_M2_N100_d0"],
    "m1m2": ["ssl_m1", "ssl_M1+M2_N100_d0"],
    "gsn": ["gsn_mnist_walkback1", "gsn_mnist_walkback2"],
    "rbm": ["rbm_cd-1", "rbm_cd-3", "rbm_pcd-1"],
    "dbn": ["dbn_bottom", "dbn_top"],
    "dbm": ["dbm_rbm", "dbm_dbm"],
    "hvi": ["hvi_T1", "hvi_T4"],
    "wake_sleep": [
        "helmholtz_bernoulli_wake-sleep",
        "helmholtz_gaussian_wake-sleep",
        "helmholtz_gaussian_elbo",
    ],
}


def _lec16(*args, processes=1, timeout=300):
    return subprocess.run(
        python_on(processes) + ["-m", "lec16", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "LEC16_PROGRESS": "0"},
    )


def test_help_lists_every_model():
    done = _lec16("--help")
    assert done.returncode == 0
    for name in cli.MODELS:
        assert f"  {name} " in done.stdout


def test_an_unknown_model_or_bad_epochs_is_a_clear_error():
    done = _lec16("train", "nosuch")
    assert (
        done.returncode == 2 and "invalid choice: 'nosuch' (choose from" in done.stderr
    )
    done = _lec16("train", "vae", "--epochs", "0")
    assert done.returncode == 2 and "--epochs must be a positive number" in done.stderr


def _beats_untrained(metrics):
    """The run's headline numbers against its reference, scored the same way: its untrained
    copy, or the base-rate model for the Boltzmann machines."""
    if "runs" in metrics:  # several models of one chapter
        return all(_beats_untrained(run) for run in metrics["runs"].values())
    if "confident" in metrics:  # a chain's samples (the GSN)
        return (
            metrics["frechet"] < metrics["untrained_frechet"]
            and metrics["confident"] > metrics["untrained_confident"] + 0.1
        )
    if "log_px" in metrics:  # an HVI chain: the MCMC-inside-VI chapter's checks
        pm = metrics["bound_pm"]
        return (
            metrics["untrained_bound"] + pm < metrics["bound"] <= metrics["log_px"] + pm
        )
    if "kl" in metrics:  # a flow fitted to an energy: the flows chapter's check
        return metrics["kl"] < metrics["untrained_kl"] - 0.1
    if "test_error" in metrics:  # a classifier, in %: the semi-supervised chapter's
        return metrics["test_error"] < metrics["untrained_error"] - 30
    if "base_rate_log_likelihood" in metrics:  # the RBM and DBM chapters' check
        ours = metrics.get("test_log_likelihood", metrics.get("test_bound"))
        return ours > metrics["base_rate_log_likelihood"] + 10
    if "base_rate_bound" in metrics:  # the DBN chapter's: a top that learned nothing
        return metrics["test_bound"] > metrics["base_rate_bound"] + 5
    if "test_bound" in metrics:
        return metrics["test_bound"] > metrics["untrained_bound"] + SMOKE_MARGIN
    if "test_log_likelihood" in metrics:
        ours, untrained = (
            metrics["test_log_likelihood"],
            metrics["untrained_log_likelihood"],
        )
        return ours > untrained + SMOKE_MARGIN
    # a GAN: the GAN chapter's own check (its MLP GAN without batch norm may collapse at
    # this scale, as it does at the chapter's, so no sample-quality metric is required)
    gap, untrained_gap = (
        abs(metrics[key] - metrics["real_mean_intensity"])
        for key in ("mean_intensity", "untrained_mean_intensity")
    )
    return gap < 0.5 * untrained_gap


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """The folder of this module's smoke runs: ``LEC16_CLI_RUNS`` when set (``make test`` sets
    it, with ``LEC16_CHECKPOINTS`` at its checkpoints/, so the notebooks' smoke runs load these
    models), else a fresh one. Session scope: the chapter comparison runs after nbval, in a
    second pass over this module, where a module fixture would be made afresh (and every
    model trained again)."""
    shared = os.environ.get("LEC16_CLI_RUNS")
    return Path(shared) if shared else tmp_path_factory.mktemp("cli") / "run"


# when each smoke run's checkpoints were written (path -> st_mtime_ns), for the chapter check
_WRITTEN: dict[Path, int] = {}


def test_every_model_has_its_chapter_checkpoints():
    assert sorted(CHAPTER_CHECKPOINTS) == sorted(cli.MODELS)


def _smoke_run(model, out):
    """The module's smoke run of ``model`` in ``out`` (trained once, by the first test that
    needs it), and its metrics."""
    path = out / "metrics" / f"{model}.json"
    if not path.exists():
        done = _lec16("train", model, "--scale", "smoke", "--out", str(out))
        assert done.returncode == 0, done.stderr[-2000:]
        for name in CHAPTER_CHECKPOINTS[model]:
            checkpoint = out / "checkpoints" / "smoke" / f"{name}.pt"
            _WRITTEN[checkpoint] = checkpoint.stat().st_mtime_ns
    return json.loads(path.read_text())


@pytest.mark.parametrize("model", sorted(cli.MODELS))
def test_every_model_trains_at_smoke_scale(model, runs):
    metrics = _smoke_run(model, runs)
    assert metrics["scale"] == "smoke" and metrics["processes"] == 1
    assert _beats_untrained(metrics), metrics
    for name in CHAPTER_CHECKPOINTS[model]:
        assert (runs / "checkpoints" / "smoke" / f"{name}.pt").exists(), name


# A rerun resumes from the checkpoints instead of training: checked for a model with one
# training run and for one with two trainers and several runs. Every trainer's own resume
# is checked in its unit tests (and the engine's in tests/test_train.py); a rerun repeats the
# whole evaluation, so checking it for all 19 models would add minutes to CI.
@pytest.mark.parametrize("model", ["vae", "m1m2"])
def test_a_rerun_resumes_from_the_checkpoints(model, runs):
    metrics = _smoke_run(model, runs)
    again = _lec16("train", model, "--scale", "smoke", "--out", str(runs))
    assert again.returncode == 0, again.stderr[-2000:]
    epochs = metrics["epochs"]
    for e in epochs if isinstance(epochs, list) else [epochs]:
        assert f"resumed after epoch {e}/{e}" in again.stderr
    assert json.loads((runs / "metrics" / f"{model}.json").read_text()) == metrics


def test_a_checkpoint_of_another_configuration_is_refused(runs):
    """The engine refuses it for every model (lec16.train.fit); checked here for one."""
    _smoke_run("vae", runs)
    other = _lec16(
        "train", "vae", "--scale", "smoke", "--out", str(runs), "--epochs", "7"
    )
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "written by another configuration; differing fields" in other.stderr


@pytest.mark.notebooks
@pytest.mark.after_nbval
@pytest.mark.parametrize("model", sorted(cli.MODELS))
def test_the_chapter_would_load_what_the_command_trained(model, runs):
    """The chapter's smoke run of this session (nbval, under ``make test``) could load the
    command's models: when it shared their folder it left their checkpoints as the command
    wrote them (it loaded them; had its configuration differed, it would have refused them and
    failed); else its own checkpoints carry the same configurations."""
    chapter = Path(os.environ.get("LEC16_CHECKPOINTS", "notebooks/checkpoints"))
    if not (chapter / "smoke" / f"{CHAPTER_CHECKPOINTS[model][0]}.pt").exists():
        pytest.skip("needs the notebooks' smoke runs of this session (make test)")
    _smoke_run(model, runs)
    for name in CHAPTER_CHECKPOINTS[model]:
        ours = runs / "checkpoints" / "smoke" / f"{name}.pt"
        theirs = chapter / "smoke" / f"{name}.pt"
        if ours.resolve() == theirs.resolve():
            if ours not in _WRITTEN:
                pytest.skip("the command's run was not made in this session")
            assert ours.stat().st_mtime_ns == _WRITTEN[ours], (
                f"{name} was trained again"
            )
            continue
        ours, theirs = (torch.load(p, weights_only=True) for p in (ours, theirs))
        assert ours["config"] == theirs["config"], name


def test_two_processes_under_torchrun(tmp_path):
    """The command under torchrun (the GANs' and NICE's DDP: tests/test_distributed.py)."""
    out = tmp_path / "run"
    done = _lec16("train", "vae", "--scale", "smoke", "--out", str(out), processes=2)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics" / "vae.json").read_text())
    assert metrics["processes"] == 2
    assert _beats_untrained(metrics), metrics
