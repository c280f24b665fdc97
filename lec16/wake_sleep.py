"""The Helmholtz machine and the wake-sleep algorithm (Hinton, Dayan, Frey & Neal 1995; the
slides' "see also: Wake-Sleep"), the older answer to the problem the VAE solves: train a
directed generative model p(x, h) together with a recognition model q(h | x) that stands in
for its intractable posterior.

The machine has stochastic layers x = h_0, h_1, ..., h_L. The generative model runs top down,
p(h_L) prod_l p(h_{l-1} | h_l), and the recognition model bottom up, prod_l q(h_l | h_{l-1});
every conditional is a factorised Bernoulli (a sigmoid belief layer) whose logits are an affine
function of the layer next to it. Wake-sleep alternates two phases, each a maximum-likelihood
step for one model on samples from the other:

* **wake**: h ~ q(h | x) for a data point x, then ascend log p(x, h) in the generative
  parameters. In expectation this is the gradient of the ELBO in those parameters.
* **sleep**: dream (x, h) ~ p(x, h), then ascend log q(h | x) in the recognition parameters.
  In expectation this descends E_{p(x)} KL(p(h | x) || q(h | x)): the KL the wrong way round,
  and under the model's x, not the data's, so the two phases follow no common objective.

``latent="gaussian"`` makes the one hidden layer Gaussian, q(h | x) = N(mu(x), diag sigma^2(x))
and p(h) = N(0, I): then the machine is a VAE with affine encoder and decoder (Kingma & Welling
2014 compare wake-sleep with AEVB on such shared networks, their Figure 2), and ``rule="elbo"``
trains it as one, by reparametrization.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import torch
from torch import distributions as D
from torch import nn

from lec16 import checks, data, distributed, iwae, rbm, train
from lec16.rbm import check_instance
from lec16.scales import check_choice, check_positive, check_seed

__all__ = [
    "LATENTS",
    "MAX_ENUMERATED_HIDDEN",
    "RULES",
    "HelmholtzMachine",
    "WakeSleepConfig",
    "exact_log_likelihood",
    "hidden_states",
    "train_helmholtz",
]

LATENTS = ("bernoulli", "gaussian")
RULES = ("wake-sleep", "wake", "elbo")
MAX_ENUMERATED_HIDDEN = 20


class HelmholtzMachine(nn.Module):
    """Stochastic layers of sizes ``layers`` = (n_visible, n_1, ..., n_L) with affine sigmoid
    belief layers both ways; see the module docstring. ``generative[l]`` maps h_{l+1} to the
    logits of h_l (h_0 = x), ``recognition[l]`` maps h_l to the parameters of q(h_{l+1} | h_l)."""

    def __init__(self, layers: Sequence[int], latent: str = "bernoulli"):
        super().__init__()
        if isinstance(layers, str) or not isinstance(layers, Iterable):
            raise ValueError(
                "layers must be a sequence of sizes, the visible one first, such as "
                f"(784, 200); got {layers!r}"
            )
        layers = tuple(layers)
        if len(layers) < 2:
            raise ValueError(
                f"layers must list the visible size and at least one hidden size, "
                f"got {layers!r}"
            )
        for size in layers:
            check_positive("every layer size", size, integer=True)
        check_choice("latent", latent, LATENTS)
        if latent == "gaussian" and len(layers) != 2:
            raise ValueError(
                "a Gaussian Helmholtz machine has one hidden layer (it is then an affine "
                f"VAE), got layers={layers!r}"
            )
        self.layers, self.latent = layers, latent
        width = 2 if latent == "gaussian" else 1
        self.generative = nn.ModuleList(
            nn.Linear(above, below) for below, above in zip(layers, layers[1:])
        )
        self.recognition = nn.ModuleList(
            nn.Linear(below, width * above) for below, above in zip(layers, layers[1:])
        )
        self.top_logits = nn.Parameter(torch.zeros(layers[-1]))  # Bernoulli p(h_L)

    @property
    def n_hidden(self) -> int:
        return sum(self.layers[1:])

    def generative_parameters(self) -> list[nn.Parameter]:
        """What the wake phase trains: the top layer's prior and the top-down layers."""
        extra = [self.top_logits] if self.latent == "bernoulli" else []
        return extra + list(self.generative.parameters())

    def prior(self, like: torch.Tensor, n: Sequence[int] = ()) -> D.Distribution:
        """p(h_L), batched to ``n`` (dtype and device of ``like``)."""
        if self.latent == "gaussian":
            zeros = like.new_zeros((*n, self.layers[-1]))
            return D.Independent(D.Normal(zeros, torch.ones_like(zeros)), 1)
        logits = self.top_logits.to(like.dtype).expand(*n, self.layers[-1])
        return D.Independent(D.Bernoulli(logits=logits), 1)

    def conditional(self, layer: int, above: torch.Tensor) -> D.Distribution:
        """p(h_layer | h_{layer+1} = ``above``) (layer 0 is x): a factorised Bernoulli."""
        return D.Independent(D.Bernoulli(logits=self.generative[layer](above)), 1)

    def recognize(self, layer: int, below: torch.Tensor) -> D.Distribution:
        """q(h_{layer+1} | h_layer = ``below``): factorised Bernoulli, or Gaussian."""
        out = self.recognition[layer](below)
        if self.latent == "gaussian":
            mean, log_variance = out.chunk(2, dim=-1)
            return D.Independent(D.Normal(mean, (0.5 * log_variance).exp()), 1)
        return D.Independent(D.Bernoulli(logits=out), 1)

    def _check_visible(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != self.layers[0]:
            raise ValueError(
                f"the Helmholtz machine has {self.layers[0]} visible units, got a tensor of "
                f"shape {tuple(x.shape)}: flatten each example to {self.layers[0]} values"
            )
        return x.to(self.top_logits.dtype)

    def check_x(self, x, values=checks.binary) -> torch.Tensor:
        """``x`` checked once at a public entry point: a tensor of examples of n_visible
        values on the machine's device, passing ``values`` (binary: the observations of
        Bernoulli units; :func:`lec16.checks.intensities` for a recognition model's input);
        returned cast to the machine's dtype (integer or boolean states are converted)."""
        x = self._check_visible(checks.tensor("x", x, floating=False))
        checks.like("x", x, self.top_logits, "the Helmholtz machine")
        return values("x", x)

    def check_hidden(self, hidden: Sequence[torch.Tensor]) -> None:
        """``hidden`` = [h_1, ..., h_L]: one tensor per hidden layer, of that layer's size in
        its last dimension, on the machine's device; binary for Bernoulli layers."""
        n = len(self.layers) - 1
        if not isinstance(hidden, (list, tuple)) or len(hidden) != n:
            raise ValueError(
                f"hidden must be a list of {n} tensor(s), one per hidden layer (h_1, ..., "
                f"h_L), got {type(hidden).__name__}"
                + (f" of {len(hidden)}" if isinstance(hidden, (list, tuple)) else "")
            )
        for layer, h in enumerate(hidden, 1):
            name = f"hidden[{layer - 1}]"
            h = checks.tensor(name, h, floating=False)
            if h.shape[-1] != self.layers[layer]:
                raise ValueError(
                    f"{name} has {h.shape[-1]} units in its last dimension but hidden layer "
                    f"{layer} has {self.layers[layer]}"
                )
            h = h.to(self.top_logits.dtype)
            checks.like(name, h, self.top_logits, "the Helmholtz machine")
            if self.latent == "bernoulli":
                checks.binary(name, h)

    def log_joint(
        self, x: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """log p(x, h_1, ..., h_L) for ``hidden`` = [h_1, ..., h_L] (batch shapes broadcast);
        ``x`` binary."""
        self.check_x(x)
        self.check_hidden(hidden)
        return self._log_joint(x, hidden)

    def _log_joint(
        self, x: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        x = self._check_visible(x)
        log_p = self.prior(hidden[-1]).log_prob(hidden[-1])
        for layer, (below, above) in enumerate(zip([x, *hidden[:-1]], hidden)):
            log_p = log_p + self.conditional(layer, above).log_prob(below)
        return log_p

    def log_recognition(
        self, x: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """log q(h_1, ..., h_L | x) (``x`` in [0, 1])."""
        self.check_x(x, checks.intensities)
        self.check_hidden(hidden)
        return self._log_recognition(x, hidden)

    def _log_recognition(
        self, x: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        x = self._check_visible(x)
        log_q = 0
        for layer, (below, above) in enumerate(zip([x, *hidden[:-1]], hidden)):
            log_q = log_q + self.recognize(layer, below).log_prob(above)
        return log_q

    def infer(
        self, x: torch.Tensor, reparametrize: bool = False
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """One draw of [h_1, ..., h_L] ~ q(h | x) per row of ``x`` (in [0, 1]), and log q of
        it; ``reparametrize`` (Gaussian latents only) keeps the draw differentiable."""
        if reparametrize and self.latent != "gaussian":
            raise ValueError(
                "reparametrize=True needs Gaussian latents: Bernoulli draws have no "
                "reparametrized gradient (build the machine with latent='gaussian')"
            )
        self.check_x(x, checks.intensities)
        return self._infer(x, reparametrize)

    def _infer(
        self, x: torch.Tensor, reparametrize: bool = False
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        below, hidden, log_q = self._check_visible(x), [], 0
        for layer in range(len(self.recognition)):
            q = self.recognize(layer, below)
            below = q.rsample() if reparametrize else q.sample()
            hidden.append(below)
            log_q = log_q + q.log_prob(below)
        return hidden, log_q

    def dream(self, n: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``n`` ancestral draws (x, [h_1, ..., h_L]) ~ p(x, h): the sleep phase's data."""
        check_positive("n", n, integer=True)
        above = self.prior(self.top_logits, (n,)).sample()
        hidden = [above]
        for layer in reversed(range(len(self.generative))):
            above = self.conditional(layer, above).sample()
            hidden.insert(0, above)
        return hidden[0], hidden[1:]

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` images: the mean of p(x | h_1) for h ~ p(h) (a dream, drawn without its last
        Bernoulli step)."""
        _, hidden = self.dream(n)
        return torch.sigmoid(self.generative[0](hidden[0]))

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log w = log p(x, h) - log q(h | x) for ``k`` draws h ~ q(h | x) per row: shape (k, B).
        Their mean estimates the ELBO, their log-mean-exp is IWAE's L_k (``lec16.iwae``'s
        estimators take any model with this method). Gaussian draws are reparametrized, so the
        mean is also the VAE's training objective; Bernoulli draws carry no gradient. ``x``
        binary."""
        check_positive("k", k, integer=True)
        self.check_x(x)
        return self._log_weights(x, k)

    def _log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        x = self._check_visible(x)
        hidden, log_q = self._infer(
            x.expand(k, *x.shape), reparametrize=self.latent == "gaussian"
        )
        return self._log_joint(x, hidden) - log_q

    def wake_loss(self, x: torch.Tensor) -> torch.Tensor:
        """-log p(x, h) averaged over the rows of binary ``x``, with h ~ q(h | x) held fixed:
        its gradient is the wake phase's (only the generative parameters receive one)."""
        self.check_x(x)
        return self._wake_loss(x)

    def _wake_loss(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            hidden, _ = self._infer(x)
        return -self._log_joint(x, hidden).mean()

    def sleep_loss(self, n: int) -> torch.Tensor:
        """-log q(h | x) averaged over ``n`` dreams (x, h) ~ p: the sleep phase's loss (only
        the recognition parameters receive a gradient)."""
        check_positive("n", n, integer=True)
        return self._sleep_loss(n)

    def _sleep_loss(self, n: int) -> torch.Tensor:
        with torch.no_grad():
            x, hidden = self.dream(n)
        return -self._log_recognition(x, hidden).mean()


def hidden_states(model: HelmholtzMachine) -> list[torch.Tensor]:
    """Every joint configuration of the hidden layers, one tensor per layer, each of shape
    (2^n_hidden, n_l): for enumerating small Bernoulli machines (refused above
    MAX_ENUMERATED_HIDDEN hidden units)."""
    check_instance("model", model, HelmholtzMachine)
    if model.latent != "bernoulli":
        raise ValueError("only binary hidden layers can be enumerated")
    if model.n_hidden > MAX_ENUMERATED_HIDDEN:
        raise ValueError(
            f"enumerating {model.n_hidden} hidden units means 2^{model.n_hidden} "
            f"configurations; use at most {MAX_ENUMERATED_HIDDEN}, or estimate log p(x) "
            "with lec16.iwae.log_likelihood"
        )
    param = model.top_logits
    states = torch.cat(list(rbm.binary_states(model.n_hidden, param.device)))
    return list(states.to(param.dtype).split(list(model.layers[1:]), dim=-1))


def exact_log_likelihood(model: HelmholtzMachine, x: torch.Tensor) -> torch.Tensor:
    """log p(x) per row of ``x`` (binary), summing p(x, h) over every hidden
    configuration."""
    check_instance("model", model, HelmholtzMachine)
    hidden = [h.unsqueeze(1) for h in hidden_states(model)]  # (2^H, 1, n_l)
    return torch.logsumexp(model.log_joint(x, hidden), 0)


@dataclasses.dataclass(frozen=True)
class WakeSleepConfig:
    """``rule`` "wake-sleep" takes per batch a wake step (Adam on the generative parameters)
    and a sleep step on as many dreams (Adam on the recognition ones); "wake" the wake step
    alone, its recognition model left as initialised (the reference that isolates the sleep
    phase); "elbo" (Gaussian
    latents) takes one Adam step on the reparametrized ELBO, as the VAE. The test ELBO (one
    draw per digit) is recorded after each epoch."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    rule: str = "wake-sleep"
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)
        check_choice("rule", self.rule, RULES)
        check_seed("seed", self.seed)


def train_helmholtz(
    model: HelmholtzMachine,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    config: WakeSleepConfig,
    checkpoint=None,
    desc: str = "wake-sleep",
) -> train.History:
    """Train on ``x_train`` (grey levels in [0, 1], binarized afresh each batch) by
    ``config.rule``, one :func:`lec16.train.fit`; ``x_test`` (binary) gives the test ELBO after
    each epoch. Under torchrun each rank takes its slice of every batch (and dreams as many
    examples in the sleep phase) and DDP averages each phase's gradients."""
    check_instance("model", model, HelmholtzMachine)
    check_instance("config", config, WakeSleepConfig)
    if config.rule == "elbo" and model.latent != "gaussian":
        raise ValueError(
            "the ELBO of binary latents has no reparametrized gradient (it needs a "
            "score-function estimator, as NVIL's); train this machine with "
            "rule='wake-sleep', or build it with latent='gaussian'"
        )
    x_train, x_test = rbm.check_training_data(
        x_train, x_test, model.top_logits, model.layers[0], "Helmholtz machine"
    )
    batches = data.Batches(
        x_train,
        batch_size=config.batch_size,
        seed=config.seed,
        transform=data.binarize_dynamic,
    )
    recognition = list(model.recognition.parameters())
    if config.rule == "elbo":
        optimizers = {"adam": torch.optim.Adam(model.parameters(), lr=config.lr)}
        negative_elbo = distributed.wrap_loss(
            lambda x: -model._log_weights(x, 1).mean(),
            model.generative_parameters() + recognition,  # not a Gaussian's top_logits
        )

        def step(batch):
            loss = negative_elbo(batch[0])
            train.optimizer_step(optimizers["adam"], loss)
            return {"loss": loss}

    else:
        optimizers = {
            "wake": torch.optim.Adam(model.generative_parameters(), lr=config.lr),
            "sleep": torch.optim.Adam(recognition, lr=config.lr),
        }
        # one wrapper per phase, each holding the parameters its phase trains
        wake_loss = distributed.wrap_loss(
            model._wake_loss, model.generative_parameters()
        )
        sleep_loss = distributed.wrap_loss(model._sleep_loss, recognition)

        def step(batch):
            wake = wake_loss(batch[0])
            train.optimizer_step(optimizers["wake"], wake)
            if config.rule == "wake":  # the sleep phase removed: q stays as initialised
                return {"loss": wake}
            sleep = sleep_loss(len(batch[0]))
            train.optimizer_step(optimizers["sleep"], sleep)
            return {"loss": wake, "sleep": sleep}

    def evaluate(epoch):  # one draw of q per test digit: the ELBO's estimate
        return {"test_elbo": iwae.bounds_by_k(model, x_test, (1,)).mean().item()}

    return train.fit(
        step,
        batches,
        config.epochs,
        modules={"model": model},
        optimizers=optimizers,
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "n_train": len(x_train)},
    )
