"""An M2 training step of lec16 against Pyro's way of training the same model.

Pyro's examples/vae/ss_vae_M2.py trains M2 with SVI: a model and a guide, the label enumerated in
parallel (``TraceEnum_ELBO`` with ``config_enumerate``) for unlabelled batches, and a separate
auxiliary loss for the classifier (the paper's alpha term). The Pyro model below is written here
independently at the sizes of lec16's M2 (784 pixels, 10 classes, 50 latent units, one softplus
layer of 500 units in every network) and trained the way that example does: per step, one SVI
update on an unlabelled batch, one on a labelled batch and one of the auxiliary loss. lec16 takes
one Adam step of ``ssvae.objective`` on the same two batches. Both use Adam (lr 3e-4) and batches
of 100 dynamically binarized MNIST digits; we time ``steps`` steps after a warm-up, take the median
of ``repeats`` runs, and report seconds per epoch over 50,000 unlabelled digits. Pyro is installed
for this benchmark only (bench/requirements.txt); lec16 never imports it.
"""

from __future__ import annotations

import statistics
import warnings

import torch
import torch.nn.functional as F
from torch import nn

import lec16
from bench import clock
from lec16 import data, ssvae, train

X_DIM, Y_DIM, Z_DIM, HIDDEN, BATCH, ALPHA = 784, 10, 50, 500, 100, 0.1
EPOCH_EXAMPLES = 50_000


def _mlp(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, HIDDEN), nn.Softplus(), nn.Linear(HIDDEN, outputs)
    )


class PyroM2(nn.Module):
    """M2 as a Pyro model and guide (p(y) p(z) p(x|y,z); q(y|x) q(z|x,y))."""

    def __init__(self, n_labelled: int, n_total: int):
        super().__init__()
        self.decoder = _mlp(Z_DIM + Y_DIM, X_DIM)
        self.encoder_z = _mlp(X_DIM + Y_DIM, 2 * Z_DIM)
        self.encoder_y = _mlp(X_DIM, Y_DIM)
        self.aux_weight = ALPHA * n_total  # the paper's alpha = 0.1 N

    def model(self, x, y=None):
        import pyro
        import pyro.distributions as dist

        pyro.module("m2", self)
        with pyro.plate("data", len(x)):
            prior = torch.full((len(x), Y_DIM), 1.0 / Y_DIM, device=x.device)
            y = pyro.sample("y", dist.OneHotCategorical(prior), obs=y)
            z = pyro.sample(
                "z",
                dist.Normal(x.new_zeros(len(x), Z_DIM), 1.0).to_event(1),
            )
            logits = self.decoder(torch.cat([z, y], -1))
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(1), obs=x)

    def guide(self, x, y=None):
        import pyro
        import pyro.distributions as dist

        with pyro.plate("data", len(x)):
            if y is None:
                y = pyro.sample("y", dist.OneHotCategorical(logits=self.encoder_y(x)))
            xs = x.expand(y.shape[:-1] + x.shape[-1:])
            mu, logvar = self.encoder_z(torch.cat([xs, y], -1)).chunk(2, -1)
            pyro.sample("z", dist.Normal(mu, (0.5 * logvar).exp()).to_event(1))

    def aux_model(self, x, y):
        """The classification term: log q(y|x) of the labelled batch, weighted by alpha N."""
        import pyro
        import pyro.distributions as dist

        pyro.module("m2", self)
        with pyro.plate("data", len(x)), pyro.poutine.scale(scale=self.aux_weight):
            pyro.sample(
                "y_aux", dist.OneHotCategorical(logits=self.encoder_y(x)), obs=y
            )

    def aux_guide(self, x, y):
        pass


def _batches(x, y, n_labelled, seed):
    labelled = ssvae.balanced_labels(y, n_labelled, seed)
    mask = torch.ones(len(x), dtype=torch.bool)
    mask[labelled] = False
    unl = data.Batches(
        x[mask], batch_size=BATCH, seed=seed, transform=data.binarize_dynamic
    )
    lab = data.Batches(
        x[labelled],
        y[labelled],
        batch_size=BATCH,
        seed=seed + 1,
        transform=data.binarize_dynamic,
    )
    return [(xu, xl, yl) for (xu,), (xl, yl) in zip(unl, lab)]


def _time(step, pairs, steps, warmup, device):
    for xu, xl, yl in pairs[:warmup]:
        step(xu, xl, yl)
    tic = clock(device)
    for xu, xl, yl in pairs[warmup : warmup + steps]:
        step(xu, xl, yl)
    return (clock(device) - tic) / steps


def run(
    steps: int = 40, warmup: int = 5, repeats: int = 3, n_labelled: int = 3000
) -> dict:
    import pyro
    from pyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO, config_enumerate
    from pyro.optim import Adam

    device = lec16.device()
    lec16.seed_everything(0)
    x, y = data.load_mnist("train")
    x, y = x[:EPOCH_EXAMPLES].flatten(1), y[:EPOCH_EXAMPLES]
    pairs = [
        tuple(t.to(device) for t in p)
        for p in _batches(x, y, n_labelled, seed=0)[: warmup + steps]
    ]

    model = ssvae.M2(X_DIM, Y_DIM, Z_DIM, HIDDEN).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)

    def lec16_step(xu, xl, yl):
        terms = ssvae.objective(
            model, xl, yl, xu, n_labelled, EPOCH_EXAMPLES - n_labelled, ALPHA
        )
        train.optimizer_step(optimizer, terms["loss"])

    pyro.clear_param_store()
    pm = PyroM2(n_labelled, EPOCH_EXAMPLES).to(device)
    optim = Adam({"lr": 3e-4})
    svi = SVI(
        pm.model,
        config_enumerate(pm.guide, "parallel", expand=True),
        optim,
        loss=TraceEnum_ELBO(max_plate_nesting=1),
    )
    svi_aux = SVI(pm.aux_model, pm.aux_guide, optim, loss=Trace_ELBO())

    # the labelled step has nothing to enumerate (y is observed), as in Pyro's example
    warnings.filterwarnings("ignore", "TraceEnum_ELBO found no sample sites")

    def pyro_step(xu, xl, yl):
        one_hot = F.one_hot(yl, Y_DIM).to(xl.dtype)
        svi.step(xu)
        svi.step(xl, one_hot)
        svi_aux.step(xl, one_hot)

    lec16_s = statistics.median(
        _time(lec16_step, pairs, steps, warmup, device) for _ in range(repeats)
    )
    pyro_s = statistics.median(
        _time(pyro_step, pairs, steps, warmup, device) for _ in range(repeats)
    )
    per_epoch = (EPOCH_EXAMPLES - n_labelled) / BATCH
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "lec16_seconds_per_epoch": lec16_s * per_epoch,
        "pyro_seconds_per_epoch": pyro_s * per_epoch,
        "speedup": pyro_s / lec16_s,
        "pyro_version": pyro.__version__,
    }
