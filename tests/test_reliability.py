"""Long runs cannot lose or fake their results: checkpoints carry an integrity check and refuse
non-finite state, one writer at a time, writes that fail say why and leave nothing behind, an
unreadable file is not called corrupt, Ctrl-C says where a rerun resumes, and the command line
checks its folders and settings before it trains. Each protection has a test that fails
without it."""

import errno
import json
import multiprocessing
import os
import time

import pytest
import torch

from lec16 import checkpoints, cli, evaluation, settings, train


def _fit(path, epochs=1, step=None, config=None):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)

    def default_step(batch):
        loss = model(batch).pow(2).mean()
        train.optimizer_step(opt, loss)
        return {"loss": loss}

    return train.fit(
        step or default_step,
        [torch.ones(4, 2)] * 3,
        epochs,
        modules={"m": model},
        optimizers={"adam": opt},
        checkpoint=path,
        config=config,
        log=train.Log("run", epochs, bar=False, every=epochs),
    )


def _poke(path, where, value):
    """Overwrite part of a checkpoint's tensor in the file's bytes, as a bad disk would."""
    state = torch.load(path, weights_only=True)
    integrity = state.pop("integrity")
    tensor = where(state)
    tensor.view(-1)[: max(1, tensor.numel() // 2)] = value
    state["integrity"] = integrity  # the check written with the original content
    torch.save(state, path)


# --- Checkpoints that cannot lie ----------------------------------------------------------------


def test_a_damaged_weight_is_refused_not_resumed(tmp_path):
    path = tmp_path / "c.pt"
    _fit(path)
    _poke(path, lambda s: s["modules"]["m"]["weight"], float("nan"))
    with pytest.raises(checkpoints.CheckpointError, match="fails its integrity check"):
        _fit(path, epochs=2)


def test_damaged_optimizer_state_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    _fit(path)
    _poke(path, lambda s: s["optimizers"]["adam"]["state"][0]["exp_avg"], 1e3)
    with pytest.raises(checkpoints.CheckpointError, match="fails its integrity check"):
        _fit(path, epochs=2)


def test_a_checkpoint_saved_with_nan_weights_is_refused(tmp_path):
    """Written whole (its digest matches) but holding a diverged model."""
    path = tmp_path / "c.pt"
    _fit(path)
    state = checkpoints.load(path)
    state["modules"]["m"]["weight"][0, 0] = float("nan")
    checkpoints.save(path, state)
    with pytest.raises(
        checkpoints.CheckpointError,
        match=r"holds NaN or infinite values \(modules.m.weight\)",
    ):
        _fit(path, epochs=2)


def test_a_finished_run_reports_the_numbers_its_checkpoint_verified(tmp_path):
    path = tmp_path / "c.pt"
    first = _fit(path, epochs=2)
    again = _fit(path, epochs=2)  # loaded, verified, not trained
    assert again.records == first.records


def test_an_unreadable_checkpoint_is_not_called_corrupt(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    _fit(path)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(checkpoints, "open", denied, raising=False)
    with pytest.raises(checkpoints.CheckpointError) as err:
        checkpoints.load(path)
    message = str(err.value)
    assert "cannot be read (Permission denied)" in message and "may be fine" in message
    assert "delete" not in message


def test_a_full_disk_is_said_before_writing_and_leaves_no_temporary_file(
    tmp_path, monkeypatch
):
    path = tmp_path / "c.pt"
    usage = checkpoints.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        checkpoints.shutil, "disk_usage", lambda _: usage._replace(free=1000)
    )
    with pytest.raises(checkpoints.CheckpointError) as err:
        _fit(path)
    assert "no space left: it needs" in str(err.value) and "has 0.0 MB free" in str(
        err.value
    )
    assert list(tmp_path.iterdir()) == [tmp_path / ".c.pt.lock"]


def test_a_write_that_fails_midway_removes_its_temporary_file(tmp_path, monkeypatch):
    real_open = open

    class Full:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, _):
            raise OSError(errno.ENOSPC, "No space left on device")

    def opener(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return Full(handle) if "w" in mode else handle

    monkeypatch.setattr(checkpoints, "open", opener, raising=False)
    with pytest.raises(checkpoints.CheckpointError, match="No space left on device"):
        checkpoints.save(tmp_path / "c.pt", {"x": torch.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_a_save_removes_what_a_killed_writer_left(tmp_path):
    path = tmp_path / "c.pt"
    dead = multiprocessing.get_context("spawn").Process(target=int)
    dead.start()
    dead.join()
    orphan = tmp_path / f".c.pt.{dead.pid}.0123abcd.tmp"
    orphan.write_bytes(b"half a checkpoint")
    live = tmp_path / f".c.pt.{os.getpid()}.0123abcd.tmp"  # a writer still at work
    live.write_bytes(b"")
    checkpoints.save(path, {"x": torch.zeros(2)})
    assert not orphan.exists() and live.exists()


def _writer(path, seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        checkpoints.save(path, {"n": n, "w": torch.full((20_000,), float(n))})
        n += 1


def test_two_writers_and_a_reader_never_see_half_a_file(tmp_path):
    """The race of two runs into one folder: unique temporary files, atomic renames."""
    path = tmp_path / "c.pt"
    checkpoints.save(path, {"n": -1, "w": torch.zeros(20_000)})
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(path, 3.0)) for _ in range(2)]
    for w in writers:
        w.start()
    reads, end = 0, time.monotonic() + 3.0
    while time.monotonic() < end:
        state = checkpoints.load(path)  # verified: a half file would fail
        assert bool((state["w"] == state["n"]).all()) or state["n"] == -1
        reads += 1
    for w in writers:
        w.join(timeout=60)
    assert [w.exitcode for w in writers] == [0, 0] and reads > 10
    assert not list(tmp_path.glob("*.tmp"))


def test_a_second_run_into_one_checkpoint_is_refused_at_once(tmp_path):
    path = tmp_path / "c.pt"
    lock = tmp_path / ".c.pt.lock"
    context = multiprocessing.get_context("spawn")
    holder = context.Process(target=_hold, args=(lock, 10.0))
    holder.start()
    try:
        for _ in range(100):  # until the other process holds it
            if lock.exists() and lock.read_text().startswith("pid"):
                break
            time.sleep(0.1)
        with pytest.raises(
            checkpoints.CheckpointError,
            match=rf"checkpoint {path} is being written by another run \(pid {holder.pid}",
        ):
            _fit(path)
    finally:
        holder.terminate()
        holder.join()


def _hold(lock, seconds):
    with checkpoints.exclusive(lock, "test"):
        time.sleep(seconds)


# --- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_says_where_a_rerun_resumes(tmp_path):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def step(batch):
        calls.append(1)
        if len(calls) == 5:  # in epoch 2 of 3 (3 steps an epoch)
            raise KeyboardInterrupt
        loss = model(batch).pow(2).mean()
        train.optimizer_step(opt, loss)
        return {"loss": loss}

    with pytest.raises(train.Interrupted) as err:
        train.fit(
            step,
            [torch.ones(4, 2)] * 3,
            3,
            modules={"m": model},
            optimizers={"o": opt},
            checkpoint=tmp_path / "c.pt",
            desc="vae",
        )
    assert str(err.value) == (
        "vae: interrupted during epoch 2/3; rerun the same command to resume after epoch 1"
    )


# --- The command line ----------------------------------------------------------------------------

CHEAP = ["train", "vae_mnist", "--part", "z2", "--scale", "smoke"]


def test_out_that_is_a_file_fails_before_any_training(tmp_path, capsys):
    out = tmp_path / "runs"
    out.write_text("not a folder")
    tic = time.perf_counter()
    assert cli.main([*CHEAP, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err == f"python -m lec16 train vae_mnist: {out}: --out is a file, not a folder"
    )
    assert time.perf_counter() - tic < 5  # no data loaded, nothing trained


def test_a_second_command_into_one_out_is_refused_naming_the_first(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    lock = tmp_path / "runs" / ".lock"
    context = multiprocessing.get_context("spawn")
    holder = context.Process(target=_hold, args=(lock, 10.0))
    holder.start()
    try:
        for _ in range(100):
            if lock.exists() and lock.read_text().startswith("pid"):
                break
            time.sleep(0.1)
        assert cli.main([*CHEAP, "--out", str(tmp_path / "runs")]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert f"is being written by another run (pid {holder.pid}" in err
    finally:
        holder.terminate()
        holder.join()


def test_ctrl_c_in_the_command_is_one_line(tmp_path, capsys, monkeypatch):
    from lec16.experiments import vae_mnist

    def interrupted(*args, **kwargs):
        raise train.Interrupted(
            "VAE z=2: interrupted during epoch 1/1; rerun the same command to start again"
        )

    monkeypatch.setattr(vae_mnist, "train", interrupted)
    assert cli.main([*CHEAP, "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        "python -m lec16 train vae_mnist: VAE z=2: interrupted during epoch 1/1; rerun "
        "the same command to start again"
    )


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("LEC16_DEVICE", "cuda:7", "LEC16_DEVICE='cuda:7'"),
        ("LEC16_DEVICE", "tpu", "LEC16_DEVICE='tpu' is not a device"),
        ("LEC16_PROGRESS", "yes", "LEC16_PROGRESS='yes': use 1 (a bar) or 0 (no bar)"),
        ("LEC16_SCALE", "huge", "LEC16_SCALE='huge' is not valid"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_work(
    variable, value, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(variable, value)
    tic = time.perf_counter()
    assert cli.main([*CHEAP, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert time.perf_counter() - tic < 5


def test_a_seed_beyond_the_generators_range_is_refused(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([*CHEAP, "--seed", str(2**32)])
    assert done.value.code == 2
    assert "--seed must be an int in [0, 2**32 - 1]" in capsys.readouterr().err


# --- A writable cache -------------------------------------------------------------------------


def test_a_read_only_data_folder_keeps_the_classifier_in_a_cache(tmp_path, monkeypatch):
    data_root = tmp_path / "shared"
    monkeypatch.setenv("LEC16_DATA", str(data_root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LEC16_CACHE", raising=False)
    assert settings.cache_dir() == data_root / "classifiers"
    monkeypatch.setattr(settings, "_writable", lambda folder: False)
    assert settings.cache_dir() == tmp_path / "cache" / "lec16"
    monkeypatch.setenv("LEC16_CACHE", str(tmp_path / "mine"))
    assert settings.cache_dir() == tmp_path / "mine"


def test_the_feature_classifier_is_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LEC16_CACHE", str(tmp_path))
    net = evaluation.MnistFeatureNet()
    checkpoints.save(tmp_path / "mnist_cnn.pt", {"model": net.state_dict()})
    loaded, _ = evaluation.feature_net(
        "cpu"
    )  # loaded, not trained (that takes a minute)
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_metrics_record_the_seed_the_run_used(tmp_path):
    assert cli.main([*CHEAP, "--out", str(tmp_path), "--seed", "7"]) == 0
    metrics = json.loads((tmp_path / "metrics" / "vae_mnist.json").read_text())
    assert metrics["setup"]["seed"] == 7
