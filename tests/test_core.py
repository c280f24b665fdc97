"""Device selection, seeding, scales and metric files."""

import json

import pytest
import torch

import lec16
from lec16 import scales


def test_device_prefers_accelerators_then_cpu(monkeypatch):
    monkeypatch.delenv("LEC16_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(lec16, "_mps_available", lambda: False)
    assert lec16.device() == torch.device("cpu")
    monkeypatch.setattr(lec16, "_mps_available", lambda: True)
    assert lec16.device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert lec16.device() == torch.device("cuda")


def test_device_env_override(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LEC16_DEVICE", "cpu")
    assert lec16.device() == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:x"])
def test_device_env_rejects_unknown_names(monkeypatch, bad):
    monkeypatch.setenv("LEC16_DEVICE", bad)
    with pytest.raises(ValueError, match="cuda, mps, cpu"):
        lec16.device()


def test_device_env_refuses_a_missing_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LEC16_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        lec16.device()


def test_seed_everything_repeats_draws():
    lec16.seed_everything(123)
    a = torch.randn(5)
    lec16.seed_everything(123)
    assert torch.equal(a, torch.randn(5))
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*32 - 1\]"):
        lec16.seed_everything(-1)


def test_default_scale_reads_env(monkeypatch):
    monkeypatch.delenv("LEC16_SCALE", raising=False)
    assert lec16.default_scale() == "default"
    monkeypatch.setenv("LEC16_SCALE", "smoke")
    assert lec16.default_scale() == "smoke"
    monkeypatch.setenv("LEC16_SCALE", "huge")
    with pytest.raises(ValueError, match="'smoke', 'default', 'paper'"):
        lec16.default_scale()


def test_choose_picks_and_validates():
    assert lec16.choose("paper", smoke=1, default=2, paper=3) == 3
    with pytest.raises(ValueError, match="choose one of"):
        lec16.choose("tiny", smoke=1, default=2, paper=3)
    with pytest.raises(ValueError, match="missing \\['paper'\\]"):
        lec16.choose("smoke", smoke=1, default=2)


@pytest.mark.parametrize("value", [0, -3, 2.5, True, float("nan"), "4"])
def test_check_positive_int_rejects(value):
    with pytest.raises(ValueError, match="positive int"):
        scales.check_positive("epochs", value, integer=True)


def test_record_metrics_writes_plain_json(tmp_path, monkeypatch):
    monkeypatch.setenv("LEC16_METRICS_DIR", str(tmp_path))
    assert (
        lec16.record_metrics(
            "nb", {"loss": torch.tensor([1.5, 0.5]), "acc": torch.tensor(0.25)}
        )
        is None
    )
    assert json.loads(scales.metrics_path("nb").read_text()) == {
        "acc": 0.25,
        "loss": [1.5, 0.5],
    }
    assert not list(tmp_path.glob("*.tmp"))
