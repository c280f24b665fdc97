"""Semi-supervised learning with deep generative models (Kingma, Rezende, Mohamed & Welling 2014).

Slides "Extension to Semi-Supervised Learning": labels are observed for a few examples and hidden
for the rest. **M2** is the generative model p(y) p(z) p(x | y, z) with p(y) uniform over the
classes, p(z) = N(0, I), and two inference networks, q(z | x, y) (Gaussian) and q(y | x) (the
classifier). Its bounds (the slide's two inequalities; the paper's eqs. 6 and 7) are

    labelled:    log p(x, y) >= L(x, y) = E_q(z|x,y)[log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y)]
    unlabelled:  log p(x)    >= U(x)    = sum_y q(y|x) L(x, y) + H(q(y | x)),

and training maximises the paper's eq. 9,

    J^alpha = sum_labelled L(x, y) + sum_unlabelled U(x) + alpha * E_labelled[log q(y | x)],

with alpha = 0.1 N: the classifier only appears in U, so without the last term the labelled
examples would never teach it. **M1** is a VAE (lec16.vae) trained on all images; **M1+M2** is M2
trained on M1's latent codes z1 ~ q(z1 | x) with a Gaussian p(z1 | y, z2), the slide's
p(x, y, z1, z2) = p(y) p(z2) p(z1 | z2, y) p(x | z1).

The networks follow the authors' code (github.com/dpkingma/nips14-ssl): one hidden layer of
softplus units in each network (500; 300 for M1+M2 with 100 labels), the label entering the
first layer of q(z | x, y) and p(x | y, z) linearly (a one-hot input is a weight column).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

from lec16 import data, distributed, train
from lec16.evaluation import error_rate
from lec16.scales import check_choice, check_positive, choose
from lec16.vae import VAE, TrainConfig, VAEConfig, check_features, gaussian_kl

LIKELIHOODS = ("bernoulli", "gaussian")


def balanced_labels(
    y: torch.Tensor, n: int, seed: int, n_classes: int = 10
) -> torch.Tensor:
    """Indices of ``n`` labelled examples, ``n / n_classes`` of each class, drawn without repeats;
    the same indices for the same seed (the paper's ``create_semisupervised``)."""
    check_positive("n", n, integer=True)
    if n % n_classes:
        raise ValueError(
            f"n={n} labelled examples cannot be split evenly over {n_classes} classes; "
            f"pick a multiple of {n_classes} (the paper uses 100, 600, 1000, 3000)"
        )
    per_class = n // n_classes
    generator = torch.Generator().manual_seed(seed)
    device, y = y.device, y.cpu()
    chosen = []
    for c in range(n_classes):
        members = (y == c).nonzero().flatten()
        if len(members) < per_class:
            raise ValueError(
                f"class {c} has {len(members)} examples, fewer than the {per_class} per class "
                f"that n={n} needs; lower n or use more training data"
            )
        chosen.append(
            members[torch.randperm(len(members), generator=generator)[:per_class]]
        )
    return torch.cat(chosen).sort().values.to(device)


def classifier_network(x_dim: int, hidden: int, y_dim: int = 10) -> nn.Sequential:
    """q(y | x) of M2 as logits: one softplus hidden layer (the authors' MLP_Categorical). Trained
    on the labels alone it is the supervised baseline."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(x_dim, hidden), nn.Softplus(), nn.Linear(hidden, y_dim)
    )


@dataclass(frozen=True)
class M2Config:
    """Sizes of M2; validated on creation. ``likelihood`` is "bernoulli" (pixels) or "gaussian"
    (M1's codes, for M1+M2)."""

    x_dim: int = 784
    y_dim: int = 10
    z_dim: int = 50
    hidden: int = 500
    likelihood: str = "bernoulli"
    min_std: float = (
        0.01  # Gaussian p(x | y, z): a floor on the standard deviation, as in lec16.vae
    )

    def __post_init__(self):
        for name in ("x_dim", "y_dim", "z_dim", "hidden"):
            check_positive(name, getattr(self, name), integer=True)
        check_choice("likelihood", self.likelihood, LIKELIHOODS)
        check_positive("min_std", self.min_std)


class M2(nn.Module):
    """The generative semi-supervised model M2 (paper section 2.2); see the module docstring.

    Per-example bounds: :meth:`labelled_bound` (y integer labels), :meth:`unlabelled_bound`
    (every label summed out in one batched pass) and :meth:`class_bounds` (L(x, y) for every y).
    :meth:`classify` returns the logits of q(y | x).
    """

    def __init__(
        self,
        x_dim: int = 784,
        y_dim: int = 10,
        z_dim: int = 50,
        hidden: int = 500,
        likelihood: str = "bernoulli",
        min_std: float = 0.01,
    ):
        super().__init__()
        self.config = c = M2Config(x_dim, y_dim, z_dim, hidden, likelihood, min_std)
        self.classifier = classifier_network(x_dim, hidden, y_dim)
        # q(z | x, y): the first layer is W_x x + W_y y + b, so W_x x is computed once for all y
        self.enc_x = nn.Linear(x_dim, hidden)
        self.enc_y = nn.Linear(y_dim, hidden, bias=False)
        self.enc_out = nn.Linear(hidden, 2 * z_dim)
        # p(x | y, z), the same way
        self.dec_z = nn.Linear(z_dim, hidden)
        self.dec_y = nn.Linear(y_dim, hidden, bias=False)
        outputs = x_dim * (2 if c.likelihood == "gaussian" else 1)
        self.dec_out = nn.Linear(hidden, outputs)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the classifier q(y | x)."""
        check_features(x, self.config.x_dim, "M2")
        return self.classifier(x)

    def encode(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, y) for integer labels ``y``."""
        check_features(x, self.config.x_dim, "M2")
        h = F.softplus(self.enc_x(x.flatten(1)) + self._label_columns(self.enc_y, y))
        return self.enc_out(h).chunk(2, dim=-1)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> D.Distribution:
        """p(x | y, z) over flattened examples; ``y`` integer labels broadcasting with ``z``."""
        out = self.dec_out(
            F.softplus(self.dec_z(z) + self._label_columns(self.dec_y, y))
        )
        if self.config.likelihood == "bernoulli":
            return D.Independent(D.Bernoulli(logits=out), 1)
        mean, logvar = out.chunk(2, dim=-1)
        std = (self.config.min_std**2 + logvar.exp()).sqrt()
        return D.Independent(D.Normal(mean, std), 1)

    @staticmethod
    def _label_columns(layer: nn.Linear, y: torch.Tensor) -> torch.Tensor:
        """``layer(one_hot(y))``, the columns of its weight; a one-hot product rather than an
        index, whose backward (a scatter-add) is several times slower on CPU."""
        return F.one_hot(y, layer.in_features).to(layer.weight.dtype) @ layer.weight.t()

    def _bound(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: torch.Tensor | None,
        every_label: bool = False,
    ) -> torch.Tensor:
        """L(x, y) with one reparametrized z per (x, y) and the KL in closed form: per example for
        labels ``y`` (B,), or for every example and every label (``y`` = all labels, (Y,)), (B, Y)."""
        hx = self.enc_x(x)
        if (
            every_label
        ):  # (B, 1, H) + (Y, H): W_x x once, broadcast against the label columns
            hx, x = hx.unsqueeze(1), x.unsqueeze(1)
        mu, logvar = self.enc_out(
            F.softplus(hx + self._label_columns(self.enc_y, y))
        ).chunk(2, dim=-1)
        if eps is None:
            eps = torch.randn_like(mu)
        z = mu + (0.5 * logvar).exp() * eps
        log_px = self.decode(z, y).log_prob(x.to(z.dtype))
        log_py = -math.log(self.config.y_dim)  # p(y) uniform
        return log_px + log_py - gaussian_kl(mu, logvar)

    def labelled_bound(
        self, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """L(x, y) per example (paper eq. 6), one reparametrized sample (noise ``eps`` if given)."""
        check_features(x, self.config.x_dim, "M2")
        check_labels(y, len(x), self.config.y_dim)
        return self._bound(x.flatten(1), y, eps)

    def class_bounds(
        self, x: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """L(x, y) for every label y, shape (B, Y), in one batched pass (``eps``: (B, Y, z_dim))."""
        check_features(x, self.config.x_dim, "M2")
        labels = torch.arange(self.config.y_dim, device=x.device)
        return self._bound(x.flatten(1), labels, eps, every_label=True)

    def unlabelled_bound(
        self, x: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)) per example (paper eq. 7), labels summed out
        exactly."""
        log_q = F.log_softmax(self.classify(x), dim=-1)
        return (log_q.exp() * (self.class_bounds(x, eps) - log_q)).sum(-1)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | y, z): images (or codes) for given styles ``z`` and labels ``y``."""
        return self.decode(z, y).mean


def check_labels(y: torch.Tensor, n: int, n_classes: int) -> None:
    """A clear error for labels that are not ``n`` integers in [0, n_classes)."""
    if y.dtype in (
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
    ) or y.shape != (n,):
        raise ValueError(
            f"labels must be a 1-D integer tensor of {n} class indices, got dtype {y.dtype} and "
            f"shape {tuple(y.shape)} (one-hot labels: pass y.argmax(-1))"
        )
    if y.device.type != "meta" and len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1}, got values from {int(y.min())} to "
            f"{int(y.max())}"
        )


def objective(
    model: M2,
    x_labelled: torch.Tensor,
    y_labelled: torch.Tensor,
    x_unlabelled: torch.Tensor | None,
    n_labelled: int,
    n_unlabelled: int,
    alpha: float = 0.1,
) -> dict[str, torch.Tensor]:
    """The paper's eq. 9 divided by the data set size N = n_labelled + n_unlabelled, from one batch
    of each kind (the authors' weighting): (n_l mean L + n_u mean U) / N + alpha mean log q(y|x),
    i.e. the paper's alpha = 0.1 N on the expectation. Returns the terms, and ``loss`` = -that.
    Without unlabelled data (``x_unlabelled`` None, ``n_unlabelled`` 0) it is the fully supervised
    M2 of the paper's figures."""
    terms = {"labelled_bound": model.labelled_bound(x_labelled, y_labelled).mean()}
    terms["log_q"] = -F.cross_entropy(model.classify(x_labelled), y_labelled)
    bound = n_labelled * terms["labelled_bound"]
    if x_unlabelled is not None:
        terms["unlabelled_bound"] = model.unlabelled_bound(x_unlabelled).mean()
        bound = bound + n_unlabelled * terms["unlabelled_bound"]
    bound = bound / (n_labelled + n_unlabelled)
    return {"loss": -(bound + alpha * terms["log_q"]), **terms}


@dataclass(frozen=True)
class SSLConfig:
    """How to train M2 on a labelled and an unlabelled stream."""

    epochs: int = 10
    batch_size: int = (
        100  # unlabelled examples per step; an epoch is one pass over them
    )
    labelled_batch: int = 100  # labelled examples per step (the labelled set is cycled)
    lr: float = 3e-4  # Adam, beta1 = 0.9, as the authors' code
    alpha: float = 0.1  # the paper's alpha / N
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size", "labelled_batch"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)
        check_positive("alpha", self.alpha)


def train_m2(
    model: M2,
    labelled: tuple[torch.Tensor, torch.Tensor],
    unlabelled: torch.Tensor | None,
    test: tuple[torch.Tensor, torch.Tensor],
    config: SSLConfig,
    transform=None,
    checkpoint=None,
    desc: str = "M2",
) -> train.History:
    """Maximise :func:`objective` with Adam: one `fit` over two streams (unlabelled batches set the
    epoch, labelled batches are cycled; ``unlabelled`` None trains on the labels alone, an epoch
    being one pass over them). ``transform`` is applied to every batch of examples (dynamic
    binarization for pixels, a fresh z1 ~ q(z1 | x) for M1's codes). The test error of q(y | x)
    is recorded after each epoch. Under torchrun each rank takes its slice of every unlabelled
    batch and the whole labelled batch (a few examples: the authors' schedule has 1 per step
    with 100 labels, which cannot be split), and DDP averages the gradients of the
    objective."""
    x_l, y_l = labelled
    check_labels(y_l, len(x_l), model.config.y_dim)
    check_labels(test[1], len(test[0]), model.config.y_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    streams = {}
    if unlabelled is not None:
        streams["unlabelled"] = data.Batches(
            unlabelled,
            batch_size=config.batch_size,
            seed=config.seed,
            transform=transform,
        )
    streams["labelled"] = data.Batches(
        x_l,
        y_l,
        batch_size=min(config.labelled_batch, len(x_l)),
        seed=config.seed + 1,
        transform=transform,
        # the same labelled batch on every rank; alone, the labels are sharded as data
        **({"rank": 0, "world_size": 1} if unlabelled is not None else {}),
    )
    n_unlabelled = 0 if unlabelled is None else len(unlabelled)
    loss = distributed.wrap_loss(
        lambda x_b, y_b, x_u: objective(
            model, x_b, y_b, x_u, len(x_l), n_unlabelled, config.alpha
        ),
        model.parameters(),
    )

    def step(batch):
        x_u = batch["unlabelled"][0] if unlabelled is not None else None
        terms = loss(*batch["labelled"], x_u)
        train.optimizer_step(optimizer, terms["loss"])
        return terms

    return train.fit(
        step,
        streams,
        config.epochs,
        modules={"model": model},
        optimizers={"opt": optimizer},
        evaluate=lambda: {"test_error": error_rate(model.classify, *test)},
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "model": model, "n_labelled": len(x_l)},
    )


def train_supervised(
    net: nn.Module,
    labelled: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    config: SSLConfig,
    checkpoint=None,
    desc: str = "baseline",
) -> train.History:
    """The supervised-only baseline: ``net`` (:func:`classifier_network`) trained by cross-entropy
    on the labelled examples alone (``config.epochs`` passes over them, batches of
    ``config.labelled_batch``), with the test error after each pass."""
    x_l, y_l = labelled
    check_labels(y_l, len(x_l), int(net[-1].out_features))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    batches = data.Batches(
        x_l, y_l, batch_size=min(config.labelled_batch, len(x_l)), seed=config.seed + 1
    )
    parallel = distributed.wrap(net)
    return train.fit(
        train.classification_step(parallel, optimizer),
        batches,
        config.epochs,
        modules={"net": parallel},
        optimizers={"opt": optimizer},
        evaluate=lambda: {"test_error": error_rate(net, *test)},
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "net": net, "n_labelled": len(x_l)},
    )


# --- M1: a VAE's codes as the data of M2 ------------------------------------------------------


@torch.no_grad()
def m1_codes(m1: VAE, x: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
    """q(z1 | x) of M1 for every example, as one tensor ``[mean, log-variance]`` (N, 2 latent)."""
    return torch.cat(
        [
            torch.cat(m1.encode(x[i : i + batch_size]), -1)
            for i in range(0, len(x), batch_size)
        ]
    )


def active_dims(
    codes: torch.Tensor, n: int = 1000, threshold: float = 0.1
) -> torch.Tensor:
    """The latent dimensions M1 uses: the standard deviation of q(z1 | x)'s mean over the first
    ``n`` examples above ``threshold`` (the authors' code keeps exactly these for M1+M2)."""
    mean = codes[:n].chunk(2, -1)[0]
    return mean.std(0) > threshold


def keep_dims(codes: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``codes`` restricted to the dimensions in the boolean mask ``keep`` (mean and log-variance)."""
    mean, logvar = codes.chunk(2, -1)
    return torch.cat([mean[:, keep], logvar[:, keep]], -1)


def code_means(codes: torch.Tensor) -> torch.Tensor:
    """The means of q(z1 | x): M1+M2's test inputs (the authors classify the mean)."""
    return codes.chunk(2, -1)[0]


def sample_codes(codes: torch.Tensor) -> torch.Tensor:
    """A fresh z1 ~ q(z1 | x) for each row of ``codes`` (the authors resample every minibatch)."""
    mean, logvar = codes.chunk(2, -1)
    return mean + (0.5 * logvar).exp() * torch.randn_like(mean)


M1_ARCHITECTURE = VAEConfig(hidden=500, depth=2, latent=50)  # the authors' M1 for MNIST


@dataclass(frozen=True)
class MnistSetup:
    """The semi-supervised chapter's MNIST runs at one scale (:func:`mnist_setup`): M1 on every
    training digit, then for each number of labels and each draw of them, M2 on the pixels and
    M1+M2 on M1's codes, beside a supervised baseline; and the fully labelled M2s of the style
    figures."""

    scale: str
    n_train: int
    """the first training digits (labelled and unlabelled together)"""
    label_counts: tuple[int, ...]
    label_draws: int
    """draws of the labelled digits per count (mean and spread at ``paper``)"""
    m1_config: TrainConfig
    baseline_config: SSLConfig
    """the supervised baseline: passes over the labelled digits"""
    supervised_config: SSLConfig
    """the fully labelled M2s of the style figures"""
    seed: int = 0

    def m2_config(self, n_labels: int, codes: bool) -> SSLConfig:
        """How M2 (``codes`` False: on the pixels) or M1+M2 (True) is trained with
        ``n_labels`` labels: at ``paper`` the authors' run_2layer_ssl.py (100 or 200 batches
        per epoch, 3000 epochs); else a few CPU epochs with a larger alpha and learning rate
        than the paper's (the chapter lists the differences)."""
        if self.scale == "paper":
            n_batches = 100 if n_labels == 100 else 200
            return SSLConfig(
                epochs=3000,
                batch_size=(self.n_train - n_labels) // n_batches,
                labelled_batch=n_labels // n_batches,
                seed=self.seed,
            )
        if codes:  # default: fewer labels need more passes (10 minutes on 2 CPU cores)
            epochs = 10 if self.scale == "smoke" else (22 if n_labels == 100 else 8)
        else:
            epochs = 2
        return SSLConfig(
            epochs=epochs,
            batch_size=500,
            labelled_batch=100,
            lr=6e-3 if codes else 2e-3,
            alpha=2.0,
            seed=self.seed,
        )

    @staticmethod
    def m2_hidden(n_labels: int, codes: bool) -> int:
        """The authors' sizes: 300 hidden units for M1+M2 with 100 labels, 500 otherwise."""
        return 300 if codes and n_labels == 100 else 500


def mnist_setup(scale: str, seed: int = 0) -> MnistSetup:
    """The chapter's runs at ``scale`` (the chapter and ``python -m lec16 train m2`` and
    ``m1m2``); ``paper``: the paper's four label counts, five draws each, and the authors'
    schedules."""
    return MnistSetup(
        scale=scale,
        n_train=choose(scale, smoke=5000, default=50_000, paper=50_000),
        label_counts=choose(
            scale, smoke=(100,), default=(100, 3000), paper=(100, 600, 1000, 3000)
        ),
        label_draws=choose(scale, smoke=1, default=1, paper=5),
        m1_config=choose(
            scale,
            smoke=TrainConfig(epochs=10, seed=seed),
            default=TrainConfig(epochs=10, seed=seed),
            paper=TrainConfig(epochs=1000, lr=3e-4, seed=seed),
        ),
        baseline_config=SSLConfig(
            epochs=choose(scale, smoke=20, default=50, paper=1000),
            labelled_batch=100,
            lr=1e-3,
            seed=seed,
        ),
        supervised_config=choose(
            scale,
            smoke=SSLConfig(epochs=1, labelled_batch=100, lr=1e-3, seed=seed),
            default=SSLConfig(epochs=3, labelled_batch=100, lr=1e-3, seed=seed),
            paper=SSLConfig(epochs=1000, labelled_batch=100, seed=seed),
        ),
        seed=seed,
    )
