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
examples would never teach it. Sign convention: here L and U *are* the bounds (maximised); the
paper (and the chapter, which follows it) writes the bounds as -L and -U and minimises -J^alpha. **M1** is a VAE (lec16.vae) trained on all images; **M1+M2** is M2
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

from lec16 import checks, data, distributed, train
from lec16.evaluation import error_rate
from lec16.scales import SEED_LIMIT, check_choice, check_positive, check_seed
from lec16.vae import VAE, VAEConfig, _check_data, check_features, gaussian_kl

__all__ = [
    "LIKELIHOODS",
    "M1_ARCHITECTURE",
    "balanced_labels",
    "classifier_network",
    "M2Config",
    "M2",
    "check_labels",
    "objective",
    "SSLConfig",
    "train_m2",
    "train_supervised",
    "m1_codes",
    "active_dims",
    "keep_dims",
    "code_means",
    "sample_codes",
]

LIKELIHOODS = ("bernoulli", "gaussian")


def balanced_labels(
    y: torch.Tensor, n: int, seed: int, n_classes: int = 10
) -> torch.Tensor:
    """Indices of ``n`` labelled examples, ``n / n_classes`` of each class, drawn without repeats;
    the same indices for the same seed (the paper's ``create_semisupervised``). ``y`` holds
    integer class indices (one-hot labels: pass ``y.argmax(-1)``)."""
    check_positive("n", n, integer=True)
    check_seed("seed", seed)
    check_positive("n_classes", n_classes, integer=True)
    checks.labels("y", y, n_classes=n_classes)
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
    for name, value in (("x_dim", x_dim), ("hidden", hidden), ("y_dim", y_dim)):
        check_positive(name, value, integer=True)
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

    def _check_batch(self, x: torch.Tensor, name: str = "x") -> None:
        """A batch the networks can take: a floating tensor of examples with x_dim features each,
        of the model's dtype and device (types and shapes only: values are not read, so every
        training step can afford it). A Bernoulli likelihood needs binary ``x``: the bounds
        leave that check to torch.distributions, :func:`train_m2` makes it once."""
        checks.tensor(name, x)
        checks.like(name, x, self.enc_x.weight, "the M2")
        check_features(x, self.config.x_dim, "M2")

    def _check_eps(self, eps: torch.Tensor | None, shape: tuple[int, ...]) -> None:
        if eps is None:
            return
        checks.tensor("eps", eps, non_empty=False)
        checks.like("eps", eps, self.enc_x.weight, "the M2")
        if tuple(eps.shape) != shape:
            raise ValueError(
                f"eps must hold one standard normal draw per z, shape {shape}, got "
                f"{tuple(eps.shape)}"
            )

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the classifier q(y | x)."""
        self._check_batch(x)
        return self.classifier(x)

    def encode(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, y) for integer labels ``y``, one per example."""
        self._check_batch(x)
        y = check_labels(y, len(x), self.config.y_dim)
        h = F.softplus(self.enc_x(x.flatten(1)) + self._label_columns(self.enc_y, y))
        return self.enc_out(h).chunk(2, dim=-1)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> D.Distribution:
        """p(x | y, z) over flattened examples; ``y`` integer labels broadcasting with ``z``'s
        leading dimensions (one label per z, or one per row of a (B, Y, z_dim) stack)."""
        checks.tensor("z", z, non_empty=False)
        checks.like("z", z, self.dec_z.weight, "the M2")
        if z.shape[-1] != self.config.z_dim:
            raise ValueError(
                f"z must hold {self.config.z_dim} coordinates in its last dimension "
                f"(z_dim={self.config.z_dim}), got shape {tuple(z.shape)}"
            )
        y = _check_label_values(y, self.config.y_dim)
        try:
            torch.broadcast_shapes(y.shape, z.shape[:-1])
        except RuntimeError:
            raise ValueError(
                f"labels of shape {tuple(y.shape)} do not broadcast with z of shape "
                f"{tuple(z.shape)}: pass one label per z"
            ) from None
        return self._decode(z, y)

    def _decode(self, z: torch.Tensor, y: torch.Tensor) -> D.Distribution:
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
        log_px = self._decode(z, y).log_prob(x.to(z.dtype))
        log_py = -math.log(self.config.y_dim)  # p(y) uniform
        return log_px + log_py - gaussian_kl(mu, logvar)

    def labelled_bound(
        self, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """L(x, y) per example (paper eq. 6), one reparametrized sample (noise ``eps`` of shape
        (B, z_dim) if given). Labels of any integer dtype are taken as int64."""
        self._check_batch(x)
        y = check_labels(y, len(x), self.config.y_dim)
        self._check_eps(eps, (len(x), self.config.z_dim))
        return self._bound(x.flatten(1), y, eps)

    def class_bounds(
        self, x: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """L(x, y) for every label y, shape (B, Y), in one batched pass (``eps``: (B, Y, z_dim))."""
        self._check_batch(x)
        self._check_eps(eps, (len(x), self.config.y_dim, self.config.z_dim))
        labels = torch.arange(self.config.y_dim, device=x.device)
        return self._bound(x.flatten(1), labels, eps, every_label=True)

    def unlabelled_bound(
        self, x: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)) per example (paper eq. 7), labels summed out
        exactly."""
        log_q = F.log_softmax(self.classify(x), dim=-1)
        return (log_q.exp() * (self.class_bounds(x, eps) - log_q)).sum(-1)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """M2 as a density over x alone, p(x) = sum_y p(y) int p(x | y, z) p(z) dz: for each of
        ``k`` draws, one z_y ~ q(z | x, y) per label, log w = log sum_y p(y) p(x | y, z_y) p(z_y)
        / q(z_y | x, y); shape (k, B). The label is summed out exactly, so w is unbiased for p(x):
        the log-mean-exp of the k log weights is IWAE's L_k (:mod:`lec16.iwae`'s estimators take
        any model with this method), a lower bound on log p(x) that tightens as k grows."""
        checks.count("k", k)
        self._check_batch(x)
        x = x.flatten(1)
        prior = D.Normal(0.0, 1.0)
        per_label = []
        for label in range(self.config.y_dim):
            y = torch.full((len(x),), label, device=x.device)
            mu, logvar = self.encode(x, y)
            q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
            z = q.rsample((k,))
            log_px = self._decode(z, y).log_prob(x.to(z.dtype))
            per_label.append(log_px + prior.log_prob(z).sum(-1) - q.log_prob(z))
        log_py = -math.log(self.config.y_dim)  # p(y) uniform
        return torch.stack(per_label).logsumexp(0) + log_py

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` images of the pixel model: y uniform, z ~ N(0, I), then the mean of p(x | y, z)."""
        checks.count("n", n)
        if self.config.likelihood != "bernoulli":
            raise ValueError(
                "sample draws images of M2 on pixels (likelihood 'bernoulli'); this M2 models "
                "M1's codes: decode its draws with M1"
            )
        device = self.dec_z.weight.device
        y = torch.randint(self.config.y_dim, (n,), device=device)
        z = torch.randn(n, self.config.z_dim, device=device)
        return self.generate(z, y)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | y, z): images (or codes) for given styles ``z`` and labels ``y``."""
        return self.decode(z, y).mean


def _integer_labels(y) -> bool:
    return (
        isinstance(y, torch.Tensor)
        and not y.is_floating_point()
        and not y.is_complex()
        and y.dtype != torch.bool
    )


def _check_label_values(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``y`` as int64 if it is an integer tensor of class indices in [0, n_classes)."""
    if not _integer_labels(y):
        raise ValueError(
            f"labels must be an integer tensor of class indices, got "
            f"{f'dtype {y.dtype}' if isinstance(y, torch.Tensor) else type(y).__name__} "
            "(one-hot labels: pass y.argmax(-1))"
        )
    if y.device.type != "meta" and y.numel() and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1}, got values from {int(y.min())} to "
            f"{int(y.max())}"
        )
    return y.long()


def check_labels(y: torch.Tensor, n: int, n_classes: int) -> torch.Tensor:
    """A clear error for labels that are not ``n`` integers in [0, n_classes); the labels as
    int64 otherwise (the dtype the label layers and the cross-entropy take)."""
    if not _integer_labels(y) or y.shape != (n,):
        seen = (
            f"dtype {y.dtype} and shape {tuple(y.shape)}"
            if isinstance(y, torch.Tensor)
            else f"a {type(y).__name__}"
        )
        raise ValueError(
            f"labels must be a 1-D integer tensor of {n} class indices, got {seen} (one-hot "
            "labels: pass y.argmax(-1))"
        )
    return _check_label_values(y, n_classes)


def objective(
    model: M2,
    x_labelled: torch.Tensor,
    y_labelled: torch.Tensor,
    x_unlabelled: torch.Tensor | None,
    n_labelled: int,
    n_unlabelled: int,
    alpha: float = 0.1,
    unlabelled_term: bool = True,
) -> dict[str, torch.Tensor]:
    """The paper's eq. 9 divided by the data set size N = n_labelled + n_unlabelled, from one batch
    of each kind (the authors' weighting): (n_l mean L + n_u mean U) / N + alpha mean log q(y|x),
    i.e. the paper's alpha = 0.1 N on the expectation. Returns the terms, and ``loss`` = -that.
    Without unlabelled data (``x_unlabelled`` None, ``n_unlabelled`` 0) it is the fully supervised
    M2 of the paper's figures. ``unlabelled_term`` False drops n_u mean U and keeps everything
    else, N included: the same M2 without what the unlabelled digits teach (the ablation that
    isolates the paper's claim)."""
    if not isinstance(model, M2):
        raise ValueError(f"model must be a lec16.ssvae.M2, got {type(model).__name__}")
    checks.count("n_labelled", n_labelled)
    checks.count("n_unlabelled", n_unlabelled, minimum=0)
    if (x_unlabelled is None) != (n_unlabelled == 0):
        raise ValueError(
            f"x_unlabelled is {'None' if x_unlabelled is None else 'a batch'} but "
            f"n_unlabelled={n_unlabelled}: pass an unlabelled batch with the size of the "
            "unlabelled set, or None with n_unlabelled=0"
        )
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or not math.isfinite(alpha)
        or alpha < 0
    ):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    model._check_batch(x_labelled)
    y_labelled = check_labels(y_labelled, len(x_labelled), model.config.y_dim)
    terms = {
        "labelled_bound": model._bound(x_labelled.flatten(1), y_labelled, None).mean()
    }
    terms["log_q"] = -F.cross_entropy(model.classify(x_labelled), y_labelled)
    if not isinstance(unlabelled_term, bool):
        raise ValueError(
            f"unlabelled_term must be True or False, got {unlabelled_term!r}"
        )
    bound = n_labelled * terms["labelled_bound"]
    if x_unlabelled is not None and unlabelled_term:
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
        check_seed("seed", self.seed)
        if self.seed == SEED_LIMIT - 1:  # the labelled stream is drawn from seed + 1
            raise ValueError(
                f"seed must be below {SEED_LIMIT - 1}: the labelled batches are drawn from "
                f"seed + 1, got {self.seed}"
            )


def train_m2(
    model: M2,
    labelled: tuple[torch.Tensor, torch.Tensor],
    unlabelled: torch.Tensor | None,
    test: tuple[torch.Tensor, torch.Tensor],
    config: SSLConfig,
    transform=None,
    checkpoint=None,
    desc: str = "M2",
    unlabelled_term: bool = True,
) -> train.History:
    """Maximise :func:`objective` with Adam: one `fit` over two streams (unlabelled batches set the
    epoch, labelled batches are cycled; ``unlabelled`` None trains on the labels alone, an epoch
    being one pass over them). ``unlabelled_term`` False trains the same steps without U(x)
    (:func:`objective`): the ablation of the unlabelled data, step for step. ``transform`` is applied to every batch of examples (dynamic
    binarization for pixels, a fresh z1 ~ q(z1 | x) for M1's codes). The test error of q(y | x)
    is recorded after each epoch. Under torchrun each rank takes its slice of every unlabelled
    batch and the whole labelled batch (a few examples: the authors' schedule has 1 per step
    with 100 labels, which cannot be split), and DDP averages the gradients of the
    objective. The data are checked once: floating tensors on the model's dtype and device,
    integer labels (taken as int64); for a Bernoulli likelihood, binary examples (intensities
    in [0, 1] when ``transform`` is :func:`lec16.data.binarize_dynamic`)."""
    if not isinstance(model, M2):
        raise ValueError(f"model must be a lec16.ssvae.M2, got {type(model).__name__}")
    if not isinstance(config, SSLConfig):
        raise ValueError(
            f"config must be a lec16.ssvae.SSLConfig, got {type(config).__name__}"
        )
    x_l, y_l = _pair("labelled", labelled)
    x_t, y_t = _pair("test", test)
    _check_examples(model, x_l, "labelled[0]", transform)
    if unlabelled is not None:
        _check_examples(model, unlabelled, "unlabelled", transform)
    model._check_batch(x_t, "test[0]")
    y_l = check_labels(y_l, len(x_l), model.config.y_dim)
    y_t = check_labels(y_t, len(x_t), model.config.y_dim)
    test = (x_t, y_t)
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
            model, x_b, y_b, x_u, len(x_l), n_unlabelled, config.alpha, unlabelled_term
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
        evaluate=lambda epoch: {"test_error": error_rate(model.classify, *test)},
        checkpoint=checkpoint,
        desc=desc,
        # the ablation's identity differs; the full model's stays as it always was
        config={"train": config, "n_labelled": len(x_l)}
        | ({} if unlabelled_term else {"unlabelled_term": False}),
    )


def _pair(name: str, pair) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(
            f"{name} must be a pair (examples, labels), got {type(pair).__name__}"
        )
    return pair[0], pair[1]


def _check_examples(model: M2, x: torch.Tensor, name: str, transform) -> None:
    """Examples for a stream of :func:`train_m2`, before its ``transform``: a floating tensor on
    the model's dtype and device; when the transform keeps shapes (None or a binarization), of
    the model's x_dim and, for a Bernoulli likelihood, binary (or intensities to binarize)."""
    checks.tensor(name, x)
    checks.like(name, x, model.enc_x.weight, "the M2")
    if transform is None or transform in (
        data.binarize_dynamic,
        data.binarize_threshold,
    ):
        check_features(x, model.config.x_dim, name)
    if model.config.likelihood != "bernoulli":
        return
    if transform is None:
        _check_data(
            model, x, name, binary=True, hint=" (or pass transform=binarize_dynamic)"
        )
    elif transform is data.binarize_dynamic:
        checks.intensities(name, x)


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
    ``config.labelled_batch``), with the test error after each pass. Labels of any integer
    dtype are taken as int64."""
    if not isinstance(config, SSLConfig):
        raise ValueError(
            f"config must be a lec16.ssvae.SSLConfig, got {type(config).__name__}"
        )
    if not isinstance(net, nn.Sequential) or not isinstance(net[-1], nn.Linear):
        raise ValueError(
            "net must be a classifier ending in a linear layer of logits (build it with "
            f"classifier_network), got {type(net).__name__}"
        )
    x_l, y_l = _pair("labelled", labelled)
    x_t, y_t = _pair("test", test)
    param = next(net.parameters())
    for name, x in (("labelled[0]", x_l), ("test[0]", x_t)):
        checks.tensor(name, x)
        checks.like(name, x, param, "the net")
        if len(net) > 1 and isinstance(net[1], nn.Linear):
            check_features(x, net[1].in_features, name)
    n_classes = int(net[-1].out_features)
    y_l = check_labels(y_l, len(x_l), n_classes)
    test = (x_t, check_labels(y_t, len(x_t), n_classes))
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
        evaluate=lambda epoch: {"test_error": error_rate(net, *test)},
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "n_labelled": len(x_l)},
    )


# --- M1: a VAE's codes as the data of M2 ------------------------------------------------------


def _check_codes(codes: torch.Tensor) -> None:
    """Rows ``[mean, log-variance]`` of q(z1 | x), as :func:`m1_codes` returns (types and shapes
    only: :func:`sample_codes` runs on every batch)."""
    checks.tensor("codes", codes, min_dim=2, non_empty=False)
    if codes.ndim != 2 or codes.shape[-1] % 2:
        raise ValueError(
            "codes must be rows [mean, log-variance] of q(z1 | x), shape (N, 2 * latent) as "
            f"m1_codes returns, got shape {tuple(codes.shape)}"
        )


@torch.no_grad()
def m1_codes(m1: VAE, x: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
    """q(z1 | x) of M1 for every example, as one tensor ``[mean, log-variance]`` (N, 2 latent).
    ``x`` is checked once: examples of M1's size, dtype and device, intensities in [0, 1]."""
    if not isinstance(m1, VAE):
        raise ValueError(f"m1 must be a lec16.vae.VAE, got {type(m1).__name__}")
    check_positive("batch_size", batch_size, integer=True)
    _check_data(m1, x, "x", binary=False)
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
    _check_codes(codes)
    checks.count("n", n, minimum=2)
    if len(codes) < 2:
        raise ValueError(
            f"codes has {len(codes)} row(s): a standard deviation needs at least 2 examples"
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not math.isfinite(threshold)
    ):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    mean = codes[:n].chunk(2, -1)[0]
    return mean.std(0) > threshold


def keep_dims(codes: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``codes`` restricted to the dimensions in the boolean mask ``keep`` (mean and log-variance)."""
    _check_codes(codes)
    latent = codes.shape[-1] // 2
    if (
        not isinstance(keep, torch.Tensor)
        or keep.dtype != torch.bool
        or keep.shape != (latent,)
    ):
        seen = (
            f"dtype {keep.dtype} and shape {tuple(keep.shape)}"
            if isinstance(keep, torch.Tensor)
            else f"a {type(keep).__name__}"
        )
        raise ValueError(
            f"keep must be a boolean mask of the {latent} latent dimensions (as active_dims "
            f"returns), got {seen}"
        )
    mean, logvar = codes.chunk(2, -1)
    return torch.cat([mean[:, keep], logvar[:, keep]], -1)


def code_means(codes: torch.Tensor) -> torch.Tensor:
    """The means of q(z1 | x): M1+M2's test inputs (the authors classify the mean)."""
    _check_codes(codes)
    return codes.chunk(2, -1)[0]


def sample_codes(codes: torch.Tensor) -> torch.Tensor:
    """A fresh z1 ~ q(z1 | x) for each row of ``codes`` (the authors resample every minibatch)."""
    _check_codes(codes)
    mean, logvar = codes.chunk(2, -1)
    return mean + (0.5 * logvar).exp() * torch.randn_like(mean)


M1_ARCHITECTURE = VAEConfig(hidden=500, depth=2, latent=50)  # the authors' M1 for MNIST
