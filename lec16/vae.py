"""The variational autoencoder of the slides (Kingma & Welling 2014; Rezende et al. 2014).

p(z) = N(0, I); q(z | x) = N(mu(x), diag sigma^2(x)) with z = mu + sigma * eps (the reparametrization);
p(x | z) Bernoulli (binarized MNIST) or Gaussian N(mu(z), diag Sigma(z)) (slide "Variational
Autoencoder"; Frey Face). The bound of slide "Variational Autoencoders",

    L(x) = -KL(q(z | x) || p(z)) + E_q log p(x | z),

is estimated with the KL in closed form (:func:`gaussian_kl`) and S reparametrized samples.
The MLPs follow Kingma & Welling's appendix C: one tanh hidden layer in the encoder and in the
decoder (500 units for MNIST, 200 for Frey Face), and a sigmoid on the Gaussian decoder's mean;
``depth=2`` with 200 units and 50 latents is Burda et al.'s one-stochastic-layer model (lec16.iwae).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import distributions as D
from torch import nn

from lec16 import checks, data, distributed, train
from lec16.scales import check_choice, check_positive, check_seed

__all__ = [
    "VAEConfig",
    "gaussian_kl",
    "reparametrize",
    "VAE",
    "check_features",
    "elbo",
    "bounds",
    "TrainConfig",
    "burda_lr_factor",
    "make_optimizer",
    "train_vae",
    "score_function_bound",
    "latent_grid",
    "ExactQuantities",
    "exact_quantities_2d",
]

BOUNDS = ("elbo", "vae", "iwae", "score_function")  # VAE.forward's bounds

LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of the model; validated on creation."""

    x_dim: int = 784
    hidden: int = 500
    latent: int = 20
    likelihood: str = "bernoulli"
    depth: int = 1  # tanh hidden layers in the encoder and in the decoder (Burda et al. 2016 use 2)
    # Gaussian decoder: variance = min_std^2 + exp(output). Without a floor the likelihood is
    # unbounded on constant pixels (MNIST's background): the variance collapses and training diverges.
    min_std: float = 0.01

    def __post_init__(self):
        for name in ("x_dim", "hidden", "latent", "depth"):
            check_positive(name, getattr(self, name), integer=True)
        check_choice("likelihood", self.likelihood, LIKELIHOODS)
        check_positive("min_std", self.min_std)


def _check_moments(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Means and log-variances of one Gaussian per row: floating tensors of one shape."""
    checks.tensor("mu", mu, non_empty=False)
    checks.tensor("logvar", logvar, non_empty=False)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu has shape {tuple(mu.shape)} but logvar has shape {tuple(logvar.shape)}: pass "
            "one log-variance per mean (the two halves of an encoder's output)"
        )


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per example (Kingma & Welling 2014, appendix B):
    1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2). ``mu`` and ``logvar`` have one shape."""
    _check_moments(mu, logvar)
    return _gaussian_kl(mu, logvar)


def _gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


def reparametrize(
    mu: torch.Tensor, logvar: torch.Tensor, n_samples: int = 1
) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): shape (n_samples, *mu.shape), differentiable in mu, logvar."""
    _check_moments(mu, logvar)
    checks.count("n_samples", n_samples)
    return _reparametrize(mu, logvar, n_samples)


def _reparametrize(
    mu: torch.Tensor, logvar: torch.Tensor, n_samples: int
) -> torch.Tensor:
    eps = torch.randn((n_samples, *mu.shape), dtype=mu.dtype, device=mu.device)
    return mu + (0.5 * logvar).exp() * eps


class VAE(nn.Module):
    """Encoder x -> (mu, log sigma^2), decoder z -> p(x | z); see the module docstring."""

    def __init__(self, config: VAEConfig = VAEConfig()):
        if not isinstance(config, VAEConfig):
            raise ValueError(
                f"{type(self).__name__} needs a VAEConfig, got {type(config).__name__}: build it "
                f"with {type(self).__name__}(VAEConfig(x_dim=..., latent=...))"
            )
        super().__init__()
        self.config = config
        h = config.hidden

        def tanh_layers(inputs):
            sizes = [inputs] + [h] * config.depth
            return [
                layer
                for a, b in zip(sizes, sizes[1:])
                for layer in (nn.Linear(a, b), nn.Tanh())
            ]

        self.encoder = nn.Sequential(nn.Flatten(), *tanh_layers(config.x_dim))
        self.enc_mu = nn.Linear(h, config.latent)
        self.enc_logvar = nn.Linear(h, config.latent)
        outputs = config.x_dim * (2 if config.likelihood == "gaussian" else 1)
        self.decoder = nn.Sequential(*tanh_layers(config.latent), nn.Linear(h, outputs))

    def _check_batch(self, x: torch.Tensor) -> None:
        """A batch the networks can take: a floating tensor of examples with x_dim features each,
        of the model's dtype and device (checks of shapes and types only: values are not read,
        so every training step can afford them)."""
        who = type(self).__name__
        checks.tensor("x", x)
        checks.like("x", x, self.enc_mu.weight, f"the {who}")
        check_features(x, self.config.x_dim, who)

    def _check_latents(self, z: torch.Tensor) -> None:
        checks.tensor("z", z, non_empty=False)
        checks.like("z", z, self.enc_mu.weight, f"the {type(self).__name__}")
        if z.shape[-1] != self.config.latent:
            raise ValueError(
                f"z must hold {self.config.latent} latent coordinates in its last dimension "
                f"(latent={self.config.latent}), got shape {tuple(z.shape)}"
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x) for a batch ``x`` of examples."""
        self._check_batch(x)
        h = self.encoder(x)
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z: torch.Tensor) -> D.Distribution:
        """p(x | z) over flattened images, one independent factor per pixel; ``z`` has the
        latents in its last dimension."""
        self._check_latents(z)
        return self._decode(z)

    def _decode(self, z: torch.Tensor) -> D.Distribution:
        out = self.decoder(z)
        if self.config.likelihood == "bernoulli":
            return D.Independent(D.Bernoulli(logits=out), 1)
        mean_logit, logvar = out.chunk(2, dim=-1)
        std = (self.config.min_std**2 + logvar.exp()).sqrt()
        return D.Independent(D.Normal(torch.sigmoid(mean_logit), std), 1)

    def forward(
        self, x: torch.Tensor, n_samples: int = 1, bound: str = "elbo"
    ) -> torch.Tensor:
        """A lower bound on log p(x) per example, from ``n_samples`` = S samples of q(z | x).

        ``elbo``: the Monte Carlo bound of slide "Variational Autoencoders",
        -KL(q(z|x) || p(z)) + (1/S) sum_s log p(x | z_s), z_s = mu(x) + sigma(x) eps_s;
        ``vae``: the same bound with the KL sampled too, (1/S) sum_s log w_s; ``iwae``: Burda et
        al.'s L_S = log (1/S) sum_s w_s (:mod:`lec16.iwae`), with w_s from :meth:`log_weights`;
        ``score_function``: the value of ``vae``, with the encoder's gradient by the score
        function instead of the reparametrization (:func:`score_function_bound`).
        Training objectives go through here, so that DistributedDataParallel sees them.
        ``x`` is checked for its type, shape, dtype and device, not its values: a Bernoulli
        decoder needs binary ``x`` (:func:`elbo` checks that once for a whole data set)."""
        check_choice("bound", bound, BOUNDS)
        checks.count("n_samples", n_samples)
        if bound == "score_function":
            return self._score_function_surrogate(x, n_samples)
        if bound != "elbo":
            log_w = self.log_weights(x, n_samples)
            if bound == "vae":
                return log_w.mean(0)
            return torch.logsumexp(log_w, 0) - math.log(n_samples)
        mu, logvar = self.encode(x)
        z = _reparametrize(mu, logvar, n_samples)
        log_px = self._decode(z).log_prob(x.flatten(1).to(z.dtype))  # (S, B)
        return log_px.mean(0) - _gaussian_kl(mu, logvar)

    def _score_function_surrogate(
        self, x: torch.Tensor, n_samples: int
    ) -> torch.Tensor:
        """(1/S) sum_s log w_s at z_s ~ q drawn with no path to q's parameters, plus a term
        whose value is 0 and whose gradient in the encoder is (1/S) sum_s log w_s grad log
        q(z_s | x): the score-function (REINFORCE) estimator of the bound's gradient, with no
        baseline, the one the slides contrast with the reparametrization."""
        mu, logvar = self.encode(x)
        q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
        z = q.sample((n_samples,))
        log_q = q.log_prob(z)
        log_w = self.log_joint(x, z) - log_q
        signal = log_w.detach()
        return (log_w + signal * log_q - (signal * log_q).detach()).mean(0)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(x | z) + log p(z) for latents z of shape (S, B, latent): (S, B)."""
        self._check_batch(x)
        self._check_latents(z)
        prior = D.Independent(D.Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
        return self._decode(z).log_prob(x.flatten(1).to(z.dtype)) + prior.log_prob(z)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log w_i = log p(x, z_i) - log q(z_i | x) for k reparametrized z_i ~ q(z | x): shape
        (k, B); their mean is the k-sample bound estimate, their log-mean-exp IWAE's L_k."""
        checks.count("k", k)
        mu, logvar = self.encode(x)
        q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
        z = q.rsample((k,))
        return self.log_joint(x, z) - q.log_prob(z)

    @torch.no_grad()
    def sample(self, n: int, mean: bool = True) -> torch.Tensor:
        """n images from the model: z ~ p(z), then the mean of p(x | z) (or a draw from it)."""
        checks.count("n", n)
        device = next(self.parameters()).device
        p = self._decode(torch.randn(n, self.config.latent, device=device))
        return p.mean if mean else p.sample()


def check_features(x: torch.Tensor, x_dim: int, who: str) -> torch.Tensor:
    """A clear error, before the first layer's, when ``x`` is not a batch of at least one
    example of ``x_dim`` features (``who`` names the model or the argument); ``x`` otherwise."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(
            f"{who} expects a torch.Tensor of examples, got a {type(x).__name__}: wrap it with "
            "torch.as_tensor(...)"
        )
    features = math.prod(x.shape[1:]) if x.ndim >= 2 else None
    if features != x_dim:
        raise ValueError(
            f"{who} expects examples of {x_dim} features (x_dim={x_dim}), got a tensor of shape "
            f"{tuple(x.shape)}; flatten each example to {x_dim} values or build the model with "
            f"x_dim={features if features is not None else 'the right size'}"
        )
    if len(x) == 0:
        raise ValueError(
            f"{who} got an empty batch (shape {tuple(x.shape)}): pass at least one example"
        )
    return x


def _check_data(
    model: nn.Module, x: torch.Tensor, name: str, binary: bool, hint: str = ""
) -> torch.Tensor:
    """Refuse data the model cannot score, before torch does so deep in a step: a floating
    tensor of examples on the model's dtype and device, of its ``config.x_dim`` features, with
    intensities in [0, 1], binary (when ``binary``) for a Bernoulli likelihood. Reads the values
    once: for a data set, not for every step. ``hint`` ends the message about binary data."""
    checks.tensor(name, x)
    checks.like(name, x, next(model.parameters()), "the model")
    config = getattr(model, "config", None)
    if config is not None:
        check_features(x, config.x_dim, name)
    checks.intensities(name, x)
    if (
        binary
        and getattr(config, "likelihood", None) == "bernoulli"
        and x.device.type != "meta"
        and not ((x == 0) | (x == 1)).all()
    ):
        raise ValueError(
            f"{name} must be binary for a Bernoulli decoder: binarize it with "
            f"lec16.data.binarize_threshold or binarize_dynamic{hint}"
        )
    return x


def elbo(
    model: VAE, x: torch.Tensor, n_samples: int = 1, batch_size: int = 1000
) -> torch.Tensor:
    """Mean bound per example over ``x``, in batches, without gradients. ``x`` is checked once:
    examples of the model's dtype, device and size, intensities in [0, 1], binary for a
    Bernoulli decoder."""
    _check_data(model, x, "x", binary=True)
    checks.count("n_samples", n_samples)
    checks.count("batch_size", batch_size)
    return _elbo(model, x, n_samples, batch_size)


def bounds(
    model: VAE, x: torch.Tensor, n_samples: int = 1, batch_size: int = 1000
) -> torch.Tensor:
    """The bound of every row of ``x`` (one estimate each, from ``n_samples`` samples of q), in
    batches, without gradients; checked as :func:`elbo`, whose mean it is, checks it."""
    _check_data(model, x, "x", binary=True)
    checks.count("n_samples", n_samples)
    checks.count("batch_size", batch_size)
    return _bounds(model, x, n_samples, batch_size)


def _bounds(
    model: VAE, x: torch.Tensor, n_samples: int, batch_size: int
) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat(
            [
                model(x[i : i + batch_size], n_samples)
                for i in range(0, len(x), batch_size)
            ]
        )


def _elbo(model: VAE, x: torch.Tensor, n_samples: int, batch_size: int) -> torch.Tensor:
    return _bounds(model, x, n_samples, batch_size).mean()


def score_function_bound(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """A training objective for :func:`train_vae`: the sampled bound with one z per example,
    its encoder trained by the score-function gradient instead of the reparametrization
    (``bound="score_function"``, through the model's forward, so that DistributedDataParallel
    averages its gradients): the reparametrization removed, all else equal."""
    return model(x, 1, bound="score_function")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; ``optimizer`` is "adam" (our default) or "adagrad" (Kingma & Welling's choice)."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    n_samples: int = 1
    dynamic_binarization: bool = True
    seed: int = 0
    adam_eps: float = 1e-8
    # CUDA fast path (lec16.train.compile_if_cuda): the objective compiled and replayed as a CUDA graph
    compiled: bool = False
    # "constant", or "burda": 3^i epochs at lr * 10^(-i/7) for i = 0, 1, ... (Burda et al. 2016, sec. 5)
    lr_schedule: str = "constant"

    def __post_init__(self):
        for name in ("epochs", "batch_size", "n_samples"):
            check_positive(name, getattr(self, name), integer=True)
        check_seed("seed", self.seed)
        for name in ("dynamic_binarization", "compiled"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"{name} must be True or False, got {getattr(self, name)!r}"
                )
        check_positive("lr", self.lr)
        check_positive("adam_eps", self.adam_eps)
        check_choice("optimizer", self.optimizer, ("adam", "adagrad"))
        check_choice("lr_schedule", self.lr_schedule, ("constant", "burda"))


def burda_lr_factor(epoch: int) -> float:
    """10^(-i/7) during stage i, where stage i lasts 3^i epochs (stage 0 is the first epoch)."""
    checks.count("epoch", epoch, minimum=0)
    stage, end = 0, 1
    while epoch >= end:
        stage += 1
        end += 3**stage
    return 10 ** (-stage / 7)


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """``config.optimizer`` (Adam or Adagrad) over ``params`` with ``config``'s learning rate."""
    _check_train_config(config)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, eps=config.adam_eps)
    return torch.optim.Adagrad(params, lr=config.lr)


def _check_train_config(config) -> None:
    if not isinstance(config, TrainConfig):
        raise ValueError(
            f"config must be a lec16.vae.TrainConfig, got {type(config).__name__}: build it with "
            "TrainConfig(epochs=..., batch_size=...)"
        )


def train_vae(
    model: nn.Module,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    config: TrainConfig,
    objective=None,
    checkpoint=None,
    desc: str = "vae",
    evaluate_samples: int = 1,
    objective_name: str | None = None,
) -> train.History:
    """Maximise ``objective(model, x)`` (default: the model's own bound) over ``x_train``, with the
    test bound (``evaluate_samples`` samples) after each epoch. Data stay on their device; with
    ``dynamic_binarization`` each batch is a fresh Bernoulli draw of the intensities.
    Returns the history, with ``examples_seen`` per epoch. A custom ``objective`` is part of
    the run's identity, by ``objective_name`` (default: the function's name), so that a
    checkpoint trained on another objective is refused rather than resumed.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_train_config(config)
    checks.count("evaluate_samples", evaluate_samples)
    hint = " (training data may stay grey-level with dynamic_binarization=True)"
    _check_data(
        model, x_train, "x_train", binary=not config.dynamic_binarization, hint=hint
    )
    _check_data(model, x_test, "x_test", binary=True, hint=hint)
    # named before compile_if_cuda wraps it, so that the identity is the same on every device
    custom = (
        None
        if objective is None
        else objective_name or getattr(objective, "__name__", "")
    )
    objective = train.compile_if_cuda(
        objective or (lambda m, x: m(x, config.n_samples)),
        config.compiled,
        x_train.device,
    )
    # on several processes (torchrun), DDP averages the gradients of the objective, which must
    # then call the model's forward; on one process this is the model itself
    parallel = distributed.wrap(model)
    optimizer = make_optimizer(model.parameters(), config)
    batches = data.Batches(
        x_train,
        batch_size=config.batch_size,
        seed=config.seed,
        transform=data.binarize_dynamic if config.dynamic_binarization else None,
    )

    def step(batch):
        loss = -objective(parallel, batch[0]).mean()
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    def evaluate(epoch):
        return {
            "test_elbo": _elbo(model, x_test, evaluate_samples, 1000),
            "examples_seen": len(x_train) * epoch,
        }

    schedulers = {}
    if config.lr_schedule == "burda":
        schedulers["lr"] = torch.optim.lr_scheduler.LambdaLR(optimizer, burda_lr_factor)
    return train.fit(
        step,
        batches,
        config.epochs,
        modules={"model": model},
        optimizers={"opt": optimizer},
        schedulers=schedulers,
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "n_train": len(x_train)}
        | ({} if custom is None else {"objective": custom}),
    )


def latent_grid(n: int, device=None) -> torch.Tensor:
    """An n x n grid of 2-D latents at the N(0, 1) quantiles of linearly spaced probabilities, as in
    Kingma & Welling's manifold figures (row-major, the second coordinate decreasing down the rows)."""
    check_positive("n", n, integer=True)
    p = torch.linspace(0.5 / n, 1 - 0.5 / n, n, device=device)
    q = D.Normal(0.0, 1.0).icdf(p)
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([zx, zy], -1).reshape(-1, 2)


@dataclass
class ExactQuantities:
    """For a VAE with a 2-D latent and one x, computed on a grid: log p(x), the bound L(x) without
    Monte Carlo error, KL(q(z|x) || p(z|x)), and the posterior on the grid (for plots)."""

    log_px: float
    bound: float
    kl_to_posterior: float
    grid: torch.Tensor
    log_posterior: torch.Tensor


@torch.no_grad()
def exact_quantities_2d(
    model: VAE, x: torch.Tensor, half_width: float = 6.0, n: int = 241
) -> ExactQuantities:
    """Quadrature over z in [-half_width, half_width]^2 with n^2 points (slide "Variational Autoencoders":
    log p(x) = L + KL(q(z|x) || p(z|x))). Accurate when both posterior and q live inside the window.
    ``x`` is one example (e.g. ``x_test_bin[i]``), binary for a Bernoulli decoder. Works in
    float64 on the input's device (CPU or CUDA; MPS has no float64), for a float32 or a float64
    model (the grid is handed to the decoder in the model's dtype)."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a lec16.vae.VAE, got {type(model).__name__}")
    if getattr(model.config, "flows", 0):
        raise ValueError(
            f"exact_quantities_2d needs the Gaussian q(z | x) of a plain VAE; this "
            f"{type(model).__name__} has {model.config.flows} flows in q, so its KL and bound "
            "would be those of the flows' base distribution"
        )
    checks.tensor("x", x, non_empty=False)
    if x.device.type == "mps":
        raise ValueError(
            "exact_quantities_2d works in float64, which MPS lacks: pass a CPU model and x.cpu()"
        )
    if model.config.latent != 2:
        raise ValueError(
            f"exact_quantities_2d needs a 2-D latent, the model has {model.config.latent}"
        )
    if x.numel() != model.config.x_dim:
        raise ValueError(
            f"exact_quantities_2d takes one example of {model.config.x_dim} values, got a tensor "
            f"of shape {tuple(x.shape)}: pass x[i] for the i-th example of a batch"
        )
    check_positive("half_width", half_width)
    checks.count("n", n, minimum=2)
    _check_data(model, x.reshape(1, -1), "x", binary=True)
    dtype = next(model.parameters()).dtype
    device = x.device
    t = torch.linspace(-half_width, half_width, n, device=device, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(t, t, indexing="xy"), -1).reshape(-1, 2)
    log_cell = 2 * torch.log(t[1] - t[0])
    x = x.reshape(1, -1)
    log_lik = torch.cat(
        [model.decode(g.to(dtype)).log_prob(x).double() for g in grid.split(8192)]
    )
    log_joint = log_lik + D.Normal(0.0, 1.0).log_prob(grid).sum(-1)
    log_px = torch.logsumexp(log_joint, 0) + log_cell
    log_post = log_joint - log_px
    mu, logvar = model.encode(x)
    log_q = (
        D.Normal(mu[0].double(), (0.5 * logvar[0].double()).exp())
        .log_prob(grid)
        .sum(-1)
    )
    q_mass = (log_q + log_cell).exp()
    kl_post = (q_mass * (log_q - log_post)).sum()
    bound = (q_mass * log_lik).sum() - _gaussian_kl(mu.double(), logvar.double())[0]
    return ExactQuantities(log_px.item(), bound.item(), kl_post.item(), grid, log_post)
