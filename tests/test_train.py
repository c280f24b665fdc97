"""The training engine: losses fall, resume is exact, NaN guard, checkpoint errors."""

import pytest
import torch

from lec16 import checkpoints, data, train


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
        train.optimizer_step(opt, loss)
        return {"loss": loss}

    return step


def _fit(model, opt, sched, batches, epochs, path, step=None, **kw):
    return train.fit(
        step or _step(model, opt),
        batches,
        epochs,
        modules={"m": model},
        optimizers={"o": opt},
        schedulers={"s": sched},
        checkpoint=path,
        **kw,
    )


def test_loss_falls_and_history_records_epochs(tmp_path):
    model, opt, sched, batches = _problem()
    history = _fit(
        model,
        opt,
        sched,
        batches,
        4,
        tmp_path / "c.pt",
        evaluate=lambda epoch: {"w0": model.weight[0, 0]},
    )
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
        _fit(
            model,
            opt,
            sched,
            batches,
            5,
            tmp_path / "run.pt",
            step=_step(model, opt, fail_at=28, counter=counter),
        )
    assert (
        checkpoints.load(tmp_path / "run.pt")["epoch"] == 3
    )  # lost less than one epoch

    model, opt, sched, batches = _problem(seed=0)
    torch.manual_seed(
        999
    )  # a resumed process starts with other RNG state: the checkpoint restores it
    resumed = _fit(model, opt, sched, batches, 5, tmp_path / "run.pt")
    for got, want in zip(model.parameters(), expected):
        assert torch.equal(got, want)
    assert resumed["loss"] == reference["loss"]


def test_a_finished_run_is_not_trained_again(tmp_path):
    model, opt, sched, batches = _problem()
    first = _fit(model, opt, sched, batches, 2, tmp_path / "c.pt")
    model, opt, sched, batches = _problem()
    again = _fit(
        model,
        opt,
        sched,
        batches,
        2,
        tmp_path / "c.pt",
        step=lambda b: pytest.fail("a finished run must not take another step"),
    )
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

    with pytest.raises(
        train.NonFiniteLossError,
        match=r"loss became nan at epoch 3, steps 1-8.*c\.pt \(epoch 2\)",
    ):
        _fit(model, opt, sched, batches, 4, path, step=step)
    assert path.read_bytes() == before


def test_nan_parameters_that_break_the_step_are_reported_clearly(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt")

    def step(batch):
        with torch.no_grad():
            model.weight.fill_(float("nan"))
        torch.distributions.Normal(
            model(batch[0]).squeeze(1), 1.0
        )  # validation raises ValueError on NaN
        return {"loss": torch.tensor(0.0)}

    with pytest.raises(
        train.NonFiniteLossError, match=r"parameters became NaN.*c\.pt \(epoch 1\)"
    ):
        _fit(model, opt, sched, batches, 3, tmp_path / "c.pt", step=step)


def test_outputs_that_overflow_with_finite_parameters_are_reported_clearly(tmp_path):
    """Finite parameters can still map the data to NaN or inf (a diverging flow at the paper's
    settings): torch.distributions' refusal of the value becomes the engine's clear error."""
    model, opt, sched, batches = _problem()

    def step(batch):
        outputs = model(batch[0]).squeeze(1) * float("nan")
        torch.distributions.Normal(0.0, 1.0).log_prob(outputs)
        return {"loss": torch.tensor(0.0)}

    with pytest.raises(train.NonFiniteLossError, match=r"model's outputs became NaN"):
        _fit(model, opt, sched, batches, 1, tmp_path / "c.pt", step=step)


def test_other_value_errors_propagate(tmp_path):
    model, opt, sched, batches = _problem()
    with pytest.raises(ValueError, match="a bug in the step"):
        _fit(
            model,
            opt,
            sched,
            batches,
            1,
            None,
            step=lambda b: (_ for _ in ()).throw(ValueError("a bug in the step")),
        )


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"\x00garbage")
    model, opt, sched, batches = _problem()
    with pytest.raises(checkpoints.CheckpointError, match="corrupt.*delete it"):
        _fit(model, opt, sched, batches, 2, path)


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt")
    other = torch.nn.Linear(4, 1)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(
        checkpoints.CheckpointError,
        match=r"differing fields: modules.m.shapes.weight: checkpoint \[1, 3\], this run "
        r"\[1, 4\]",
    ):
        train.fit(
            _step(other, other_opt),
            batches,
            2,
            modules={"m": other},
            optimizers={"o": other_opt},
            schedulers={"s": torch.optim.lr_scheduler.StepLR(other_opt, 2)},
            checkpoint=tmp_path / "c.pt",
        )


def test_a_checkpoint_whose_state_does_not_fit_is_a_clear_error(tmp_path):
    """The same identity with another state (the model's code changed under its config)."""
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt")
    saved = checkpoints.load(tmp_path / "c.pt")
    saved["modules"]["m"] = torch.nn.Linear(4, 1).state_dict()
    checkpoints.save(tmp_path / "c.pt", saved)
    with pytest.raises(
        checkpoints.CheckpointError,
        match="does not fit module 'm'.*another architecture",
    ):
        _fit(model, opt, sched, batches, 2, tmp_path / "c.pt")


def test_checkpoint_of_another_config_is_a_clear_error(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt", config={"n": 100})
    with pytest.raises(
        checkpoints.CheckpointError,
        match="differing fields: config.n: checkpoint 100, this run 200",
    ):
        _fit(model, opt, sched, batches, 2, tmp_path / "c.pt", config={"n": 200})


def test_checkpoint_path_separates_scales(monkeypatch, tmp_path):
    monkeypatch.setenv("LEC16_CHECKPOINTS", str(tmp_path))
    assert checkpoints.checkpoint_path("vae", "smoke") == tmp_path / "smoke" / "vae.pt"
    assert checkpoints.checkpoint_path("vae", "smoke") != checkpoints.checkpoint_path(
        "vae", "default"
    )


def test_invalid_epochs():
    model, opt, sched, batches = _problem()
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        _fit(model, opt, sched, batches, 0, None)


# --- Foundation v2: streams, per-step hooks, identity, clear errors ---------------------------


def test_two_streams_of_different_lengths_cycle_the_short_one_and_resume_exactly(
    tmp_path,
):
    def run(path, fail_at=None):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        g = torch.Generator().manual_seed(0)
        big, small = torch.randn(96, 3, generator=g), torch.randn(20, 3, generator=g)
        streams = {
            "unlabelled": data.Batches(big, batch_size=16),
            "labelled": data.Batches(small, batch_size=8),
        }
        seen, calls = [], [0]

        def step(batch):
            calls[0] += 1
            if calls[0] == fail_at:
                raise Interrupt()
            seen.append((len(batch["unlabelled"][0]), len(batch["labelled"][0])))
            loss = (
                model(batch["unlabelled"][0]).pow(2).mean()
                + model(batch["labelled"][0]).pow(2).mean()
            )
            train.optimizer_step(opt, loss)
            return {"loss": loss}

        history = train.fit(
            step,
            streams,
            3,
            modules={"m": model},
            optimizers={"o": opt},
            checkpoint=path,
        )
        return history, seen, model

    history, seen, model = run(tmp_path / "a.pt")
    assert len(seen) == 3 * 6  # the first stream sets the epoch: 96 / 16 steps
    assert [s[1] for s in seen[:4]] == [
        8,
        8,
        4,
        8,
    ]  # the labelled stream (20 = 8 + 8 + 4) is cycled
    with pytest.raises(Interrupt):
        run(tmp_path / "b.pt", fail_at=10)
    resumed, _, resumed_model = run(tmp_path / "b.pt")
    assert resumed["loss"] == history["loss"]
    assert torch.equal(resumed_model.weight, model.weight)


def test_per_step_schedulers_and_ema_hook_are_stepped_and_checkpointed(tmp_path):
    model, opt, sched, batches = _problem()
    warm = train.warmup(opt, steps=100)
    ema = train.EMA(model, decay=0.9)
    calls = []
    train.fit(
        _step(model, opt),
        batches,
        2,
        modules={"m": model},
        optimizers={"o": opt},
        step_schedulers={"warmup": warm},
        hooks={"ema": ema, "count": lambda: calls.append(1)},
        checkpoint=tmp_path / "c.pt",
    )
    assert len(calls) == 16 and warm.last_epoch == 16
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 17 / 100)
    assert not torch.equal(
        ema.module.weight, model.weight
    )  # an average lags behind the weights
    saved = checkpoints.load(tmp_path / "c.pt")
    assert "per-step warmup" in saved["schedulers"] and "ema" in saved["hooks"]
    assert torch.equal(saved["hooks"]["ema"]["module.weight"], ema.module.weight)


def test_optimizer_step_clips_the_gradient_norm():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([w], lr=1.0)
    train.optimizer_step(
        opt, (w * torch.tensor([30.0, 40.0, 0.0])).sum(), clip_grad_norm=1.0
    )
    assert torch.allclose(w.detach(), torch.tensor([-0.6, -0.8, 0.0]))


def test_checkpoint_identity_is_the_config_dataclass_and_names_the_fields(tmp_path):
    from lec16 import vae

    x = data.binarize_threshold(
        torch.rand(64, 784, generator=torch.Generator().manual_seed(0))
    )
    model = vae.VAE(
        vae.VAEConfig(latent=2, hidden=16, likelihood="gaussian", min_std=0.01)
    )
    vae.train_vae(
        model,
        x,
        x,
        vae.TrainConfig(epochs=1, batch_size=32),
        checkpoint=tmp_path / "v.pt",
    )
    other = vae.VAE(
        vae.VAEConfig(latent=2, hidden=16, likelihood="gaussian", min_std=0.3)
    )
    with pytest.raises(
        checkpoints.CheckpointError,
        match=r"model\.config\.min_std: checkpoint 0\.01, this run 0\.3",
    ):
        vae.train_vae(
            other,
            x,
            x,
            vae.TrainConfig(epochs=2, batch_size=32),
            checkpoint=tmp_path / "v.pt",
        )


def test_a_torch_file_that_is_not_a_lec16_checkpoint_is_a_clear_error(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    model, opt, sched, batches = _problem()
    with pytest.raises(
        checkpoints.CheckpointError, match="not a lec16 checkpoint.*lacks"
    ):
        _fit(model, opt, sched, batches, 2, tmp_path / "other.pt")


def test_checkpoints_load_onto_another_device_with_map_location(tmp_path):
    model, opt, sched, batches = _problem()
    _fit(model, opt, sched, batches, 1, tmp_path / "c.pt")
    on_meta = checkpoints.load(tmp_path / "c.pt", map_location="meta")
    assert on_meta["modules"]["m"]["weight"].device.type == "meta"
    on_cpu = checkpoints.load(tmp_path / "c.pt", map_location=torch.device("cpu"))
    assert on_cpu["modules"]["m"]["weight"].device.type == "cpu"


@pytest.mark.parametrize(
    "returned, message",
    [
        ({"error": 1.0}, "with a 'loss'"),
        (None, "with a 'loss'"),
        (
            {"loss": torch.ones(4)},
            r"metric 'loss' of the step must be a scalar.*\(4,\)",
        ),
    ],
)
def test_a_step_that_returns_no_scalar_loss_is_a_clear_error(returned, message):
    model, opt, sched, batches = _problem()
    with pytest.raises(ValueError, match=message):
        _fit(model, opt, sched, batches, 1, None, step=lambda b: returned)


def test_empty_streams_are_clear_errors():
    model, opt, sched, _ = _problem()
    with pytest.raises(ValueError, match="fewer than one batch of 64 with drop_last"):
        data.Batches(torch.zeros(10, 3), batch_size=64, drop_last=True)
    with pytest.raises(ValueError, match="'labelled' yields no batches"):
        train.fit(
            lambda b: {"loss": 0.0},
            {"u": [1, 2], "labelled": []},
            1,
            modules={"m": model},
        )
    with pytest.raises(ValueError, match="yielded no batches"):
        train.fit(lambda b: {"loss": 0.0}, iter([]), 1, modules={"m": model})


def test_the_compiled_flag_changes_nothing_on_the_cpu():
    from lec16 import vae

    x = data.binarize_threshold(
        torch.rand(64, 784, generator=torch.Generator().manual_seed(0))
    )
    results = []
    for compiled in (False, True):
        torch.manual_seed(0)
        model = vae.VAE(vae.VAEConfig(latent=2, hidden=16))
        history = vae.train_vae(
            model, x, x, vae.TrainConfig(epochs=2, batch_size=32, compiled=compiled)
        )
        results.append(
            (history["loss"], [p.detach().clone() for p in model.parameters()])
        )
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))
    f = lambda: 1
    assert train.compile_if_cuda(f, True, torch.device("cpu")) is f


def test_metrics_are_read_once_per_log_interval_and_averaged_exactly():
    """The step's tensors are summed on the device; the host reads them every ``log_every``
    steps, so a non-finite loss is reported for the interval in which it happened."""
    losses = [1.0, 2.0, float("nan"), 4.0, 5.0]
    it = iter(losses)
    model = torch.nn.Linear(1, 1)
    with pytest.raises(train.NonFiniteLossError, match="steps 3-4"):
        train.fit(
            lambda b: {"loss": torch.tensor(next(it))},
            [0] * 5,
            1,
            modules={"m": model},
            log_every=2,
        )
    values = iter([1.0, 2.0, 4.5])
    history = train.fit(
        lambda b: {"loss": torch.tensor(next(values)), "n": 1},
        [0] * 3,
        1,
        modules={"m": model},
    )
    assert history["loss"] == [pytest.approx(7.5 / 3)] and history["n"] == [1.0]


def test_long_log_lines_wrap_their_metrics_to_the_book_column(capsys):
    model = torch.nn.Linear(2, 1)
    names = [f"metric_with_a_long_name_{i}" for i in range(6)]

    def step(batch):
        return {
            "loss": model(batch).pow(2).mean(),
            **{n: torch.tensor(1.5) for n in names},
        }

    train.fit(
        step,
        [torch.zeros(2, 2)],
        1,
        modules={"m": model},
        log=train.Log("train", 1, bar=False, every=1),
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) > 2 and all(len(line) <= 88 for line in lines), lines
    assert all(f"{n} 1.5" in "\n".join(lines) for n in names), "a metric split apart"


def test_ema_decay_warms_up_then_holds():
    # d_n = min(decay, (1 + n) / (10 + n)): the n-th update keeps d_n of the average
    w = torch.nn.Linear(1, 1, bias=False)
    ema = train.EMA(w, decay=0.3)
    expected, capped = None, 0
    for n, value in enumerate([0.0, 1.0, 3.0, 7.0, 15.0]):
        with torch.no_grad():
            w.weight.fill_(value)
        ema()
        if n == 0:
            expected = value  # the first update copies the weights
        else:
            d = min(0.3, (1 + n) / (10 + n))
            capped += d == 0.3
            expected = d * expected + (1 - d) * value
        assert ema.module.weight.item() == pytest.approx(expected)
    assert capped == 2  # n = 3, 4 ran at the cap, n = 1, 2 below it
