"""``python -m lec16 train MODEL``: every model trains at smoke scale, beats its untrained copy,
resumes from its checkpoint, and runs under torchrun on two CPU processes (Gloo)."""

import json
import os
import subprocess

import pytest
from launch import python_on

from lec16 import cli

SMOKE_MARGIN = 50  # nats per digit the smoke run must gain over the untrained model


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


@pytest.mark.parametrize("model", sorted(cli.MODELS))
def test_every_model_trains_at_smoke_scale_and_resumes(model, tmp_path):
    out = tmp_path / "run"
    done = _lec16("train", model, "--scale", "smoke", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics" / f"{model}.json").read_text())
    assert metrics["scale"] == "smoke" and metrics["processes"] == 1
    assert metrics["test_bound"] > metrics["untrained_bound"] + SMOKE_MARGIN
    assert (out / "checkpoints" / f"{model}_smoke.pt").exists()
    again = _lec16("train", model, "--scale", "smoke", "--out", str(out))
    epochs = metrics["epochs"]
    assert (
        again.returncode == 0
        and f"resumed after epoch {epochs}/{epochs}" in again.stderr
    )
    assert json.loads((out / "metrics" / f"{model}.json").read_text()) == metrics
    other = _lec16(
        "train", model, "--scale", "smoke", "--out", str(out), "--epochs", "7"
    )
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "written by another configuration; differing fields" in other.stderr


def test_two_processes_under_torchrun(tmp_path):
    out = tmp_path / "run"
    done = _lec16("train", "vae", "--scale", "smoke", "--out", str(out), processes=2)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics" / "vae.json").read_text())
    assert metrics["processes"] == 2
    assert metrics["test_bound"] > metrics["untrained_bound"] + SMOKE_MARGIN
