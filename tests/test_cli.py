"""``python -m lec16``: the command line discovers the experiments, trains one at smoke scale in a
temporary folder, resumes it, refuses another configuration, fetches data, and runs under torchrun
on two CPU processes (Gloo). The experiments' own runs are the notebooks' (nbval at smoke)."""

import json
import os
import subprocess

import pytest
from launch import python_on

from lec16 import cli, experiments

CHEAP = ["vae_mnist", "--part", "z2", "--scale", "smoke"]  # one epoch on 1,000 digits


def test_help_lists_every_experiment_and_its_parts(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for slug, module in experiments.trainable().items():
        assert f"  {slug}: {experiments.title(module)}" in shown
        for part in getattr(module, "PARTS", {}):
            assert f"      {part} " in shown, (slug, part)


def test_every_chapter_with_a_training_is_on_the_command_line():
    """A chapter module with a train() but no load_data()/score() would be silently missing."""
    for slug, module in experiments.discover().items():
        has = [hasattr(module, f) for f in ("load_data", "train", "score")]
        assert all(has) or not any(has), (
            f"{slug}: load_data, train and score go together"
        )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nosuch"], "invalid choice: 'nosuch'"),
        (["train", *CHEAP, "--epochs", "0"], "--epochs must be a positive number"),
        (
            ["train", "vae_mnist", "--part", "z3"],
            "vae_mnist has no part 'z3'; its parts: z2",
        ),
        (["train", *CHEAP, "--seed", "-1"], "--seed must be an int in [0, 2**32 - 1]"),
    ],
)
def test_usage_errors_say_what_to_do(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 2 and message in capsys.readouterr().err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One smoke run of the VAE chapter's 2-D model, in a folder of its own."""
    out = tmp_path_factory.mktemp("cli")
    assert cli.main(["train", *CHEAP, "--out", str(out)]) == 0
    return out


def test_a_run_writes_its_checkpoint_and_its_claims(run):
    assert (run / "checkpoints" / "smoke" / "vae_mnist" / "z2.pt").exists()
    metrics = json.loads((run / "metrics" / "vae_mnist.json").read_text())
    assert metrics["scale"] == "smoke" and metrics["processes"] == 1
    assert metrics["parts"] == ["z2"] and metrics["passes"]
    assert [c["what"] for c in metrics["claims"]] == ["z = 2: test bound"]


def test_a_rerun_loads_the_checkpoint_and_scores_the_same(run, capfd):
    before = json.loads((run / "metrics" / "vae_mnist.json").read_text())
    assert cli.main(["train", *CHEAP, "--out", str(run)]) == 0
    assert "VAE z=2: resumed after epoch 1/1" in capfd.readouterr().err
    assert json.loads((run / "metrics" / "vae_mnist.json").read_text()) == before


def test_a_checkpoint_of_another_configuration_is_refused_in_one_line(run, capsys):
    assert cli.main(["train", *CHEAP, "--out", str(run), "--epochs", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(
        "python -m lec16 train vae_mnist:"
    )
    assert (
        "written by another configuration; differing fields: config.train.epochs" in err
    )


def test_the_scale_comes_from_lec16_scale_when_not_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEC16_SCALE", "huge")
    assert cli.main(["train", "vae_mnist", "--part", "z2", "--out", str(tmp_path)]) == 1
    assert "LEC16_SCALE='huge' is not valid" in capsys.readouterr().err


def test_two_processes_under_torchrun(tmp_path):
    done = subprocess.run(
        python_on(2) + ["-m", "lec16", "train", *CHEAP, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LEC16_PROGRESS": "0"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics" / "vae_mnist.json").read_text())
    assert metrics["processes"] == 2 and metrics["passes"]
