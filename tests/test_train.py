"""The training engine: losses fall, resume is exact, NaN guard, checkpoint errors."""
import pytest
import torch

from lec16 import data, train


class Interrupt(Exception):
    pass


def _problem(seed=0):
    """A noisy linear regression: the step draws noise from torch's global RNG, as VAEs do."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(256, generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched, data.Batches(x, y, batch_size=32, seed=seed)


def _step(model, opt, fail_at=None, counter=None):
    def step(batch):
        x, y = batch
        if counter is not None:
            counter[0] += 1
            if counter[0] == fail_at:
                raise Interrupt()
        loss = ((model(x + 0.01 * torch.randn_like(x)).squeeze(1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}
    return step


def _fit(model, opt, sched, batches, epochs, path, step=None, **kw):
    return train.fit(step or _step(model, opt), batches, epochs, modules={"m": model}, optimizers={"o": opt},
                     schedulers={"s": sched}, checkpoint=path, **kw)


def test_loss_falls_and_history_records_epochs(tmp_path):
    model, opt, sched, batches = _problem()
    history = _fit(model, opt, sched, batches, 4, tmp_path / "c.pt",
                   evaluate=lambda: {"w0": model.weight[0, 0]})
    assert history["epoch"] == [1, 2, 3, 4]
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    assert abs(history["w0"][-1] - 1.0) < 0.1
    assert history["seconds"] == sorted(history["seconds"])
    with pytest.raises(KeyError, match="no metric 'acc'"):
        history["acc"]


def test_resume_after_interruption_ends_where_an_uninterrupted_run_ends(tmp_path):
    model, opt, sched, batches = _problem()
    reference = _fit(model, opt, sched, batches, 5, tmp_path / "ref.pt")
    expected = [p.detach().clone() for p in model.parameters()]

    model, opt, sched, batches = _problem()
    counter = [0]
    with pytest.raises(Interrupt):  # dies in the middle of epoch 4 (8 steps per epoch)
        _fit(model, opt, sched, batches, 5, tmp_path / "run.pt", step=_step(model, opt, fail_at=28, counter=counter))
    assert train.load_checkpoint(tmp_path / "run.pt")["epoch"] == 3  # lost less than one epoch

    model, opt, sched, batches = _problem(seed=0)
    torch.manual_seed(999)  # a resumed process starts with other RNG state: the checkpoint restores it
    resumed = _fit(model, opt, sched, batches, 5, tmp_path / "run.pt")
    for got, want in zip(model.parameters(), expected):
        assert torch.equal(got, want)
    assert resumed["loss"] == reference["loss"]


def test_a_finished_run_is_not_trained_again(tmp_path):
    model, opt, sched, batches = _problem()
    first = _fit(model, opt, sched, batches, 2, tmp_path / "c.pt")
    model, opt, sched, batches = _problem()
    again = _fit(model, opt, sched, batches, 2, tmp_path / "c.pt",
                 step=lambda b: pytest.fail("a finished run must not take another step"))
    assert again.records == first.records


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    model, opt, sched, batches = _problem()
    path = tmp_path / "c.pt"
    _fit(model, opt, sched, batches, 2, path)
    before = path.read_bytes()
    good = _step(model, opt)
    calls = [0]

    def step(batch):
        calls[0] += 1
        return {"loss": torch.tensor(float("nan"))} if calls[0] == 3 else good(batch)

    with pytest.raises(train.NonFiniteLossError, match=r"loss became nan at epoch 3, step 3.*c\.pt \(epoch 2\)"):
        _fit(model, opt, sched, batches, 4, path, step=step)
    assert path.read_bytes() == before


def test_nan_parameters_that_break_the_step_are_reported_clearly(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt")

    def step(batch):
        with torch.no_grad():
            model.weight.fill_(float("nan"))
        torch.distributions.Normal(model(batch[0]).squeeze(1), 1.0)  # validation raises ValueError on NaN
        return {"loss": torch.tensor(0.0)}

    with pytest.raises(train.NonFiniteLossError, match=r"parameters became NaN.*c\.pt \(epoch 1\)"):
        _fit(model, opt, sched, batches, 3, tmp_path / "c.pt", step=step)


def test_other_value_errors_propagate(tmp_path):
    model, opt, sched, batches = _problem()
    with pytest.raises(ValueError, match="a bug in the step"):
        _fit(model, opt, sched, batches, 1, None, step=lambda b: (_ for _ in ()).throw(ValueError("a bug in the step")))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"\x00garbage")
    model, opt, sched, batches = _problem()
    with pytest.raises(train.CheckpointError, match="corrupt.*delete it"):
        _fit(model, opt, sched, batches, 2, path)


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt")
    other = torch.nn.Linear(4, 1)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(train.CheckpointError, match="does not fit module 'm'.*another architecture"):
        train.fit(_step(other, other_opt), batches, 2, modules={"m": other}, optimizers={"o": other_opt},
                  schedulers={"s": torch.optim.lr_scheduler.StepLR(other_opt, 2)}, checkpoint=tmp_path / "c.pt")


def test_checkpoint_of_another_config_is_a_clear_error(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt", config={"n": 100})
    with pytest.raises(train.CheckpointError, match="written with config"):
        _fit(model, opt, sched, batches, 2, tmp_path / "c.pt", config={"n": 200})


def test_checkpoint_path_separates_scales(monkeypatch, tmp_path):
    monkeypatch.setenv("LEC16_CHECKPOINTS", str(tmp_path))
    assert train.checkpoint_path("vae", "smoke") == tmp_path / "smoke" / "vae.pt"
    assert train.checkpoint_path("vae", "smoke") != train.checkpoint_path("vae", "default")


def test_invalid_epochs():
    model, opt, sched, batches = _problem()
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        _fit(model, opt, sched, batches, 0, None)
