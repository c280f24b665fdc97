"""Fitting K planar flows to an energy of Rezende & Mohamed's Table 1: lec16 against normflows.

Both sides fit q_K (a standard Gaussian through K planar flows) to U1 by minimising the annealed
free energy E_q[log q + beta U] with Adam (lr 1e-3), batches of ``batch`` samples, the same energy
function (lec16.flows.energy) and the same number of steps. normflows (the maintained library,
installed for the benchmark only: bench/requirements.txt) is used the way its examples do:
``NormalizingFlow(q0=DiagGaussian, flows=[Planar ...], p=target)`` and ``reverse_kld(n, beta)``.
We time ``steps`` steps after a warm-up and report the median of ``repeats`` runs, per K.
"""

from __future__ import annotations

import statistics

import torch
from torch import distributions as D

import lec16
from bench import clock
from lec16 import flows, train


def _energy(z):
    return flows.energy("U1", z)


def _time(step, steps, warmup, device):
    for t in range(warmup):
        step(t)
    tic = clock(device)
    for t in range(steps):
        step(warmup + t)
    return (clock(device) - tic) / steps


def run(
    ks=(2, 8, 32),
    batch: int = 100,
    steps: int = 300,
    warmup: int = 20,
    repeats: int = 3,
):
    import normflows as nf

    class Target(nf.distributions.Target):
        def log_prob(self, z):
            return -_energy(z)

    device = lec16.device()
    rows = []
    for k in ks:
        torch.manual_seed(0)
        base = D.Independent(D.Normal(torch.zeros(2, device=device), 1.0), 1)
        ours = flows.FlowDistribution(base, flows.planar_flow(2, k).to(device))
        opt = torch.optim.Adam(ours.parameters(), lr=1e-3)

        def lec16_step(t, ours=ours, opt=opt):
            beta = min(1.0, 0.01 + t / 10_000)
            train.optimizer_step(opt, flows.free_energy(ours, _energy, batch, beta))

        theirs = nf.NormalizingFlow(
            q0=nf.distributions.DiagGaussian(2, trainable=False),
            flows=[nf.flows.Planar((2,)) for _ in range(k)],
            p=Target(),
        ).to(device)
        their_opt = torch.optim.Adam(theirs.parameters(), lr=1e-3)

        def normflows_step(t, theirs=theirs, their_opt=their_opt):
            beta = min(1.0, 0.01 + t / 10_000)
            loss = theirs.reverse_kld(batch, beta=beta)
            their_opt.zero_grad(set_to_none=True)
            loss.backward()
            their_opt.step()

        ours_s = statistics.median(
            _time(lec16_step, steps, warmup, device) for _ in range(repeats)
        )
        theirs_s = statistics.median(
            _time(normflows_step, steps, warmup, device) for _ in range(repeats)
        )
        rows.append(
            {
                "k": k,
                "lec16_ms": 1000 * ours_s,
                "normflows_ms": 1000 * theirs_s,
                "speedup": theirs_s / ours_s,
            }
        )
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "batch": batch,
        "normflows_version": nf.__version__,
        "rows": rows,
    }
