"""Every public function and model of lec16 keeps its outputs on its inputs' device.

CI has no GPU, so the device bugs that break a Colab GPU run ("Expected all tensors to be on the same
device, cuda:0 and cpu") are caught here on the ``meta`` device: it propagates shapes and devices
without arithmetic, and a tensor created without ``device=`` lands on the CPU, where mixing it with
a meta tensor is an error or leaves a CPU output. Each case also runs on the CPU (real arithmetic)
and, when one is present, on CUDA.

``test_every_public_callable_is_covered`` fails when a module gains a public function that neither
appears in CASES nor in NOT_ON_META with its reason, so new chapters cannot skip this check.
"""

import importlib
import inspect
import pkgutil

import pytest
import torch
from torch import distributions as D

import lec16
from lec16 import (
    autoencoder,
    data,
    dbm,
    dbn,
    diffusion,
    distributed,
    em,
    evaluation,
    expfam,
    flow_vae,
    flows,
    gan,
    gsn,
    hvi,
    iwae,
    lapgan,
    rbm,
    ssvae,
    vae,
    vi,
    wake_sleep,
)

DEVICES = ["meta", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# every module of lec16 but the experiments (they run on lec16.device() by construction, and
# the notebooks run them on CUDA) and __main__
MODULES = ["lec16"] + [
    f"lec16.{info.name}"
    for info in pkgutil.iter_modules(lec16.__path__)
    if not info.name.startswith("_") and info.name != "experiments"
]


def _on(dev, *shape, dtype=torch.float32, positive=False, binary=False):
    x = torch.rand(*shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    x = (x > 0.5).to(dtype) if binary else (x + 0.1 if positive else x)
    return x.to(dev)


def _small_vae(dev, latent=2, **kw):
    return vae.VAE(vae.VAEConfig(hidden=8, latent=latent, **kw)).to(dev)


def _tiny_rbm(dev, n_visible=6, n_hidden=3):
    return rbm.RBM(n_visible, n_hidden).to(dev)


def _rbm_outputs(dev):
    model, v = _tiny_rbm(dev), _on(dev, 4, 6, binary=True)
    return [
        model.energy(v, _on(dev, 4, 3, binary=True)),
        model.free_energy(v),
        model.gibbs_chain(v, 2),
        model.exact_log_partition(),
        model.log_likelihood(v, model.exact_log_partition()),
    ]


def _tiny_dbm(dev):
    return dbm.DBM(6, 4, 3).to(dev)


def _dbm_outputs(dev):
    model, v = _tiny_dbm(dev), _on(dev, 4, 6, binary=True)
    h1, h2 = _on(dev, 4, 4, binary=True), _on(dev, 4, 3, binary=True)
    mu1, mu2 = model.mean_field(v, 3)
    return [
        model.energy(v, h1, h2),
        model.gibbs_step(v, h2),
        model.visible_probs(h1),
        model.mean_field_bound(v, mu1, mu2, model.exact_log_partition()),
        model.log_marginal_h1(h1),
        model.exact_log_likelihood(v),
        model.parameter_tensors(torch.float64),
    ]


def _quadratic(z):
    return -(z**2).sum(-1)


def _hvi_outputs(dev):
    chain = hvi.HamiltonianVI(2, 2).to(dev)
    q0 = D.Independent(D.Normal(_on(dev, 2), _on(dev, 2, positive=True)), 1)
    return [
        chain(_on(dev, 3, 2), _quadratic),
        hvi.log_weights(chain, q0, _quadratic, 4),
    ]


def _helmholtz_outputs(dev, latent="bernoulli"):
    layers = (6, 3, 2) if latent == "bernoulli" else (6, 3)
    model = wake_sleep.HelmholtzMachine(layers, latent).to(dev)
    x = _on(dev, 4, 6, binary=True)
    hidden, log_q = model.infer(x)
    return [
        model.log_weights(x, 3),
        model.log_joint(x, hidden),
        log_q,
        model.log_recognition(x, hidden),
        model.wake_loss(x),
        model.sleep_loss(4),
        model.dream(2),
        model.sample(2),
    ]


def _dae_outputs(dev, corruption="salt_and_pepper"):
    model = gsn.DenoisingAutoencoder(6, 4, corruption, noise=0.3).to(dev)
    x = _on(dev, 4, 6, binary=True)
    return [
        model.corruption(x).sample(),
        model.reconstruction(x),
        model(x, walkback=2),
        model.chain(x, 2),
    ]


def _dbn_outputs(dev):
    bottom = _tiny_rbm(dev)
    net = dbn.DBN([bottom, dbn.transposed(bottom)])
    v = _on(dev, 4, 6, binary=True)
    return [net.bound(v, bottom.exact_log_partition()), net.sample(v[:, :3], 2)]


def _dbn_setup_outputs(dev):
    """The DBN chapter's pieces: its initial top RBM and the bound's mean."""
    bottom = _tiny_rbm(dev)
    top = dbn.initial_top(bottom, 2)
    net = dbn.DBN([bottom, top])
    x = _on(dev, 4, 6, binary=True)
    return [top.weight, dbn.mean_bound(net, x, torch.tensor(1.0, device=dev), 2)]


def _nice_outputs(dev):
    model = flows.NICE(4, n_couplings=2, hidden=8, depth=1).to(dev)
    h, log_det = model(_on(dev, 3, 4))
    return [
        h,
        log_det,
        model.inverse(h),
        model.log_prob(_on(dev, 3, 4)),
        model.sample(2),
    ]


def _small_m2(dev, likelihood="bernoulli"):
    return ssvae.M2(x_dim=6, y_dim=3, z_dim=2, hidden=8, likelihood=likelihood).to(dev)


def _m2_outputs(dev):
    outputs = []
    for likelihood in ssvae.LIKELIHOODS:
        m = _small_m2(dev, likelihood)
        x, y = _on(dev, 4, 6, binary=True), torch.tensor([0, 1, 2, 0], device=dev)
        outputs += [
            m.classify(x),
            m.labelled_bound(x, y),
            m.class_bounds(x),
            m.unlabelled_bound(x),
            *m.encode(x, y),
            m.generate(_on(dev, 4, 2), y),
            m.log_weights(x, 3),
        ]
    return outputs + [_small_m2(dev).sample(2)]


def _gmm(dev):
    k, d = 3, 2
    return em.GMMParams(
        torch.full((k,), 1 / k, device=dev),
        _on(dev, k, d),
        torch.eye(d, device=dev).expand(k, d, d).clone(),
    )


def _gaussian_model(dev):
    return vi.ConjugateGaussian(x=_on(dev, 5, 2, dtype=torch.float64))


def _logistic_model(dev):
    return vi.BayesianLogisticRegression(
        x=_on(dev, 6, 2, dtype=torch.float64),
        y=_on(dev, 6, dtype=torch.float64, binary=True),
        quadrature_points=5,
    )


def _linear_gaussian(dev):
    return iwae.LinearGaussian(
        _on(dev, 4, 2, dtype=torch.float64), _on(dev, 4, dtype=torch.float64), 0.5
    )


def _linear_gaussian_outputs(dev):
    m, x = _linear_gaussian(dev), _on(dev, 4, dtype=torch.float64)
    return [
        m.log_joint(x, _on(dev, 3, 2, dtype=torch.float64)),
        m.log_marginal(x),
        m.posterior(x).mean,
        m.bound_samples(x, m.proposal(x), 3, 2),
    ]


def _vae_outputs(dev):
    m, g = _small_vae(dev), _small_vae(dev, likelihood="gaussian")
    return [
        m(_on(dev, 3, 784, binary=True)),
        vae.score_function_bound(m, _on(dev, 3, 784, binary=True)),
        m.sample(4),
        m.decode(_on(dev, 3, 2)).mean,
        g(_on(dev, 3, 784)),
        g.decode(_on(dev, 3, 2)).stddev,
    ]


def _diffusion_model(dev, parametrization="mean", T=4, time_sampling="uniform"):
    return diffusion.DiffusionModel(
        diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(T, device=dev)),
        diffusion.dense_net(6, T, hidden=8, depth=1, pixel_hidden=3, n_basis=2),
        parametrization,
        time_sampling,
    ).to(dev)


def _time_sampler_outputs(dev):
    sampler = diffusion.TimeSampler(4, "importance", warmup=1).to(dev)
    t, weight = sampler.draw(5)
    sampler.record(t, _on(dev, 5))
    model = _diffusion_model(dev, time_sampling="importance")
    return [t, weight, sampler.probabilities(), *sampler.draw(3), model(_on(dev, 3, 6))]


def _diffusion_outputs(dev):
    chain = diffusion.GaussianDiffusion(diffusion.linear_schedule(4, device=dev))
    x0, xt, t = _on(dev, 3, 6), _on(dev, 3, 6), torch.tensor([1, 2, 4], device=dev)
    outputs = [
        chain.forward_step(x0, t),
        *chain.marginal(x0, t),
        *chain.marginal(x0, 2),
        chain.sample_forward(x0, t),
        *chain.posterior(x0, xt, t),
        chain.prior_kl(x0),
        chain.first_step_log_likelihood(x0),
    ]
    for parametrization in ("mean", "epsilon"):
        model = _diffusion_model(dev, parametrization)
        outputs += [
            model(x0),
            model.bound(x0, 2),
            *model.reverse(xt, torch.tensor([2, 3, 4], device=dev)),
            *model.bound_terms(x0).values(),
        ]
    return outputs


def _inpainting_outputs(dev):
    model = _diffusion_model(dev)
    x, kept = model.sample(3, keep=(4, 0))
    mask = torch.tensor([True, False] * 3, device=dev)
    inpainted, _ = model.sample(3, known=_on(dev, 3, 6), mask=mask)
    return [x, *kept.values(), inpainted]


def _flow_vae_outputs(dev):
    config = flow_vae.FlowVAEConfig(x_dim=6, hidden=8, latent=2, flows=3)
    model = flow_vae.FlowVAE(config).to(dev)
    x = _on(dev, 3, 6, binary=True)
    q0, u_hat, w, b = model.posterior(x)
    return [model(x, 2), model.log_weights(x, 4), q0, u_hat, w, b, model.sample(2)]


def _beta(dev):
    return _on(dev, 4, dtype=torch.float64) - 0.5


# name -> function of the device returning the outputs to check (tensors, distributions, lists of them)
CASES = {
    # autoencoder
    "autoencoder.mlp": lambda dev: autoencoder.mlp([3, 4, 2]).to(dev)(_on(dev, 5, 3)),
    "autoencoder.Autoencoder": lambda dev: (
        autoencoder.Autoencoder(2, 1, 4).to(dev).reconstruction_error(_on(dev, 5, 2))
    ),
    "autoencoder.distance_to_manifold": lambda dev: autoencoder.distance_to_manifold(
        _on(dev, 5, 2), _on(dev, 7, 2)
    ),
    # data
    "data.binarize_dynamic": lambda dev: data.binarize_dynamic(_on(dev, 4, 784)),
    "data.binarize_threshold": lambda dev: data.binarize_threshold(_on(dev, 4, 784)),
    "data.Batches": lambda dev: next(
        iter(data.Batches(_on(dev, 10, 3), _on(dev, 10), batch_size=4))
    ),
    # em
    "em.log_joint": lambda dev: em.log_joint(_on(dev, 6, 2), _gmm(dev)),
    "em.log_likelihood": lambda dev: em.log_likelihood(_on(dev, 6, 2), _gmm(dev)),
    "em.e_step": lambda dev: em.e_step(_on(dev, 6, 2), _gmm(dev)),
    "em.bound": lambda dev: em.bound(
        _on(dev, 6, 2), torch.full((6, 3), 1 / 3, device=dev), _gmm(dev)
    ),
    "em.m_step": lambda dev: list(
        vars(em.m_step(_on(dev, 6, 2), torch.full((6, 3), 1 / 3, device=dev))).values()
    ),
    "em.GMMParams": lambda dev: list(vars(_gmm(dev).clone()).values()),
    # expfam: every closed form of every family
    "expfam.ExponentialFamily": lambda dev: [
        out
        for fam, theta, x in [
            (expfam.BERNOULLI, _on(dev, 3), _on(dev, 3, binary=True)),
            (expfam.CATEGORICAL, _on(dev, 3, 4), torch.eye(4, device=dev)[:3]),
            (
                expfam.GAUSSIAN,
                torch.stack([_on(dev, 3), -_on(dev, 3, positive=True)], -1),
                _on(dev, 3),
            ),
        ]
        for out in (
            fam.stats(x),
            fam.log_partition(theta),
            fam.mean(theta),
            fam.natural(fam.mean(theta)),
            fam.conjugate(fam.mean(theta)),
            fam.log_density(x, theta),
            fam.distribution(theta).entropy(),
        )
    ],
    # gan
    "gan.optimal_discriminator": lambda dev: gan.optimal_discriminator(
        _on(dev, 9), _on(dev, 9)
    ),
    "gan.value": lambda dev: gan.value(_on(dev, 9), _on(dev, 9), _on(dev, 9), 0.1),
    "gan.jensen_shannon": lambda dev: gan.jensen_shannon(_on(dev, 9), _on(dev, 9), 0.1),
    "gan.ToyGenerator": lambda dev: gan.ToyGenerator(4).to(dev)(_on(dev, 5, 1)),
    "gan.ToyDiscriminator": lambda dev: gan.ToyDiscriminator(4).to(dev)(_on(dev, 5, 1)),
    "gan.MLPGenerator": lambda dev: gan.MLPGenerator(latent=3, hidden=8).to(dev)(
        _on(dev, 5, 3)
    ),
    "gan.Maxout": lambda dev: gan.Maxout(4, 3, 2).to(dev)(_on(dev, 5, 4)),
    "gan.MLPDiscriminator": lambda dev: gan.MLPDiscriminator(hidden=4, pieces=2).to(
        dev
    )(_on(dev, 5, 1, 28, 28)),
    "gan.DCGANGenerator": lambda dev: gan.DCGANGenerator(latent=3, width=2).to(dev)(
        _on(dev, 5, 3)
    ),
    "gan.DCGANDiscriminator": lambda dev: gan.DCGANDiscriminator(width=2).to(dev)(
        _on(dev, 5, 1, 28, 28)
    ),
    "gan.latent_size": lambda dev: torch.zeros(
        gan.latent_size(gan.ToyGenerator(4)), device=dev
    ),
    "gan.generate": lambda dev: gan.generate(
        gan.MLPGenerator(latent=3, hidden=8).to(dev).eval(), 7, batch_size=3
    ),
    "gan.discriminator_loss": lambda dev: gan.discriminator_loss(
        _on(dev, 5), _on(dev, 5)
    ),
    "gan.generator_loss": lambda dev: gan.generator_loss(_on(dev, 5)),
    # iwae
    "iwae.iwae_bound": lambda dev: iwae.iwae_bound(_on(dev, 4, 3)),
    "iwae.log_weights": lambda dev: iwae.log_weights(
        _small_vae(dev), _on(dev, 3, 784, binary=True), 4
    ),
    "iwae.objective": lambda dev: [
        iwae.objective(_small_vae(dev), _on(dev, 3, 784, binary=True), 4, kind)
        for kind in iwae.OBJECTIVES
    ],
    "iwae.log_likelihood": lambda dev: iwae.log_likelihood(
        _small_vae(dev), _on(dev, 3, 784, binary=True), k=5, chunk=2
    ),
    "evaluation.nearest_neighbours": lambda dev: evaluation.nearest_neighbours(
        _on(dev, 3, 1, 28, 28), _on(dev, 7, 1, 28, 28), batch_size=2
    ),
    "evaluation.parzen_protocol_split": lambda dev: evaluation.parzen_protocol_split(
        _on(dev, 51_002, 1, 2, 2)
    ),
    "gan.ring_of_gaussians": lambda dev: gan.ring_of_gaussians(5, device=dev),
    "iwae.bounds_by_k": lambda dev: iwae.bounds_by_k(
        _small_vae(dev), _on(dev, 3, 784, binary=True), ks=(1, 2, 4), chunk=3
    ),
    "iwae.LinearGaussian": lambda dev: _linear_gaussian_outputs(dev),
    # lapgan
    "lapgan.downsample": lambda dev: lapgan.downsample(_on(dev, 2, 1, 8, 8)),
    "lapgan.upsample": lambda dev: lapgan.upsample(_on(dev, 2, 1, 4, 4)),
    "lapgan.gaussian_pyramid": lambda dev: lapgan.gaussian_pyramid(
        _on(dev, 2, 1, 8, 8), 3
    ),
    "lapgan.laplacian_pyramid": lambda dev: lapgan.laplacian_pyramid(
        _on(dev, 2, 1, 8, 8), 3
    ),
    "lapgan.reconstruct": lambda dev: lapgan.reconstruct(
        lapgan.laplacian_pyramid(_on(dev, 2, 1, 8, 8), 3)
    ),
    "lapgan.training_pairs": lambda dev: [
        t for pair in lapgan.training_pairs(_on(dev, 2, 1, 8, 8), 3)[0] for t in pair
    ],
    "lapgan.ResidualGenerator": lambda dev: lapgan.ResidualGenerator(4).to(dev)(
        _on(dev, 2, 1, 8, 8), _on(dev, 2, 1, 8, 8)
    ),
    "lapgan.ResidualDiscriminator": lambda dev: lapgan.ResidualDiscriminator(8, 4).to(
        dev
    )(_on(dev, 2, 1, 8, 8), _on(dev, 2, 1, 8, 8)),
    "lapgan.generate": lambda dev: lapgan.generate(
        gan.MLPGenerator(3, 8, 16, (1, 4, 4)).to(dev).eval(),
        [lapgan.ResidualGenerator(4).to(dev).eval()],
        5,
        batch_size=2,
    ),
    "lapgan.refine": lambda dev: [
        t
        for part in lapgan.refine(
            _on(dev, 2, 1, 4, 4), [lapgan.ResidualGenerator(4).to(dev).eval()]
        )
        for t in part
    ],
    "lapgan.sample": lambda dev: [
        t
        for part in lapgan.sample(
            gan.MLPGenerator(3, 8, 16, (1, 4, 4)).to(dev).eval(),
            [lapgan.ResidualGenerator(4).to(dev).eval()],
            2,
        )
        for t in part
    ],
    # flows
    "flows.PlanarFlow": lambda dev: flows.PlanarFlow(2).to(dev)(_on(dev, 3, 2)),
    "flows.PlanarCascade": lambda dev: flows.PlanarCascade(2, 3).to(dev)(
        _on(dev, 3, 2)
    ),
    "flows.RadialFlow": lambda dev: flows.RadialFlow(2).to(dev)(_on(dev, 3, 2)),
    "flows.Flow": lambda dev: flows.Flow([flows.PlanarFlow(2), flows.RadialFlow(2)]).to(
        dev
    )(_on(dev, 3, 2)),
    "flows.planar_steps": lambda dev: flows.planar_steps(  # one flow per example
        _on(dev, 4, 3, 2), _on(dev, 3, 5, 2), _on(dev, 3, 5, 2), _on(dev, 3, 5)
    ),
    "flows.planar_u_hat": lambda dev: flows.planar_u_hat(
        _on(dev, 5, 2), _on(dev, 5, 2)
    ),
    "flow_vae.FlowVAE": lambda dev: _flow_vae_outputs(dev),
    "evaluation.mmd": lambda dev: evaluation.mmd(_on(dev, 4, 2), _on(dev, 5, 2)),
    "evaluation.misclassified": lambda dev: evaluation.misclassified(
        torch.nn.Linear(3, 4).to(dev), _on(dev, 5, 3), torch.arange(5, device=dev) % 4
    ),
    # diffusion
    "diffusion.GaussianDiffusion": _diffusion_outputs,
    "diffusion.DiffusionModel": _inpainting_outputs,
    "diffusion.TimeSampler": _time_sampler_outputs,
    "diffusion.sohl_dickstein_schedule": lambda dev: diffusion.sohl_dickstein_schedule(
        5, device=dev
    ),
    "diffusion.linear_schedule": lambda dev: diffusion.linear_schedule(5, device=dev),
    "diffusion.dequantize": lambda dev: diffusion.dequantize(_on(dev, 3, 1, 4, 4)),
    "flows.nice_mnist": lambda dev: (
        flows.nice_mnist(hidden=8, depth=1).to(dev).log_prob(_on(dev, 2, 784))
    ),
    "diffusion.mnist_model": lambda dev: diffusion.mnist_model(
        20, "epsilon", hidden=8, depth=2
    ).to(dev)(_on(dev, 2, 784)),
    "diffusion.gaussian_kl": lambda dev: diffusion.gaussian_kl(
        _on(dev, 3, 2),
        _on(dev, 3, 2, positive=True),
        _on(dev, 3, 2),
        _on(dev, 3, 2, positive=True),
    ),
    "diffusion.temporal_basis": lambda dev: diffusion.temporal_basis(6, 3, device=dev),
    "diffusion.NormalizedRBF": lambda dev: diffusion.NormalizedRBF(2, 4).to(dev)(
        _on(dev, 3, 2)
    ),
    "diffusion.ReverseNet": lambda dev: diffusion.swiss_roll_net(4, units=3).to(dev)(
        _on(dev, 3, 2), torch.tensor([1, 2, 4], device=dev)
    ),
    "diffusion.swiss_roll_net": lambda dev: diffusion.swiss_roll_net(4).to(dev)(
        _on(dev, 3, 2), 3
    ),
    "diffusion.dense_net": lambda dev: diffusion.dense_net(
        6, 4, hidden=8, depth=1, pixel_hidden=3, n_basis=2
    ).to(dev)(_on(dev, 3, 6), 2),
    "diffusion.leaky_rectifier": lambda dev: diffusion.leaky_rectifier()(_on(dev, 3)),
    "diffusion.trajectory_log_ratio": lambda dev: diffusion.trajectory_log_ratio(
        _diffusion_model(dev), _on(dev, 3, 6)
    ),
    "diffusion.trajectory_log_ratios": lambda dev: diffusion.trajectory_log_ratios(
        _diffusion_model(dev), _on(dev, 3, 6), 2
    ),
    "diffusion.importance_log_likelihood": lambda dev: (
        diffusion.importance_log_likelihood(_diffusion_model(dev), _on(dev, 3, 6), 2)
    ),
    "diffusion.mean_bound": lambda dev: diffusion.mean_bound(
        _diffusion_model(dev), _on(dev, 5, 6), 2, batch_size=2
    ),
    "diffusion.swiss_roll": lambda dev: diffusion.swiss_roll(5, device=dev),
    "diffusion.swiss_roll_log_density": lambda dev: diffusion.swiss_roll_log_density(
        _on(dev, 3, 2), n_grid=10
    ),
    # one process: the model and the values themselves
    "distributed.wrap": lambda dev: distributed.wrap(torch.nn.Linear(2, 1).to(dev))(
        _on(dev, 3, 2)
    ),
    "distributed.unwrap": lambda dev: distributed.unwrap(torch.nn.Linear(2, 1).to(dev))(
        _on(dev, 3, 2)
    ),
    "distributed.mean_over_ranks": lambda dev: distributed.mean_over_ranks(_on(dev, 3)),
    "distributed.wrap_loss": lambda dev: distributed.wrap_loss(
        lambda x: x.sum(), [torch.nn.Parameter(_on(dev, 2))]
    )(_on(dev, 3, 2)),
    "distributed.own_rows": lambda dev: distributed.own_rows(_on(dev, 4, 2)),
    "distributed.gather_rows": lambda dev: distributed.gather_rows(_on(dev, 4, 2)),
    "flows.planar_flow": lambda dev: flows.planar_flow(2, 2).to(dev)(_on(dev, 3, 2)),
    "flows.FlowDistribution": lambda dev: flows.FlowDistribution(
        D.Independent(
            D.Normal(torch.zeros(2, device=dev), torch.ones(2, device=dev)), 1
        ),
        flows.planar_flow(2, 2).to(dev),
    ).rsample_with_log_prob(4),
    "flows.logistic": lambda dev: flows.logistic(dev).rsample((3,)),
    "flows.NICE": lambda dev: _nice_outputs(dev),
    "flows.free_energy": lambda dev: flows.free_energy(
        flows.NICE(2, 2, hidden=4, depth=1, prior="gaussian").to(dev),
        lambda z: flows.energy("U1", z),
        5,
    ),
    "flows.dequantize": lambda dev: flows.dequantize(_on(dev, 3, 4)),
    "flows.mean_log_likelihood": lambda dev: flows.mean_log_likelihood(
        flows.NICE(4, 2, hidden=4, depth=1).to(dev), _on(dev, 5, 4), batch_size=2
    ),
    "flows.energy": lambda dev: [
        flows.energy(n, _on(dev, 3, 2)) for n in flows.ENERGIES
    ],
    # dbm
    "dbm.DBM": _dbm_outputs,
    "dbm.from_rbm": lambda dev: dbm.from_rbm(_tiny_rbm(dev), 2).weight2,
    "dbm.ais_log_weights": lambda dev: dbm.ais_log_weights(
        _tiny_dbm(dev), 4, 10, _on(dev, 6)
    ),
    "dbm.ais_log_likelihood": lambda dev: dbm.ais_log_likelihood(
        _tiny_dbm(dev), _on(dev, 3, 6, binary=True), 1.0, 2, 10
    ),
    "dbm.FantasyParticles": lambda dev: list(
        dbm.FantasyParticles(_on(dev, 3, 6), _on(dev, 3, 3)).buffers()
    ),
    "dbm.contrastive_loss": lambda dev: dbm.contrastive_loss(
        _tiny_dbm(dev),
        _on(dev, 3, 6, binary=True),
        _on(dev, 3, 4),
        _on(dev, 3, 3),
        (_on(dev, 3, 6), _on(dev, 3, 4), _on(dev, 3, 3)),
    ),
    # wake_sleep
    "wake_sleep.HelmholtzMachine": lambda dev: (
        _helmholtz_outputs(dev) + _helmholtz_outputs(dev, "gaussian")
    ),
    "wake_sleep.hidden_states": lambda dev: wake_sleep.hidden_states(
        wake_sleep.HelmholtzMachine((6, 3, 2)).to(dev)
    ),
    "wake_sleep.exact_log_likelihood": lambda dev: wake_sleep.exact_log_likelihood(
        wake_sleep.HelmholtzMachine((6, 3, 2)).to(dev), _on(dev, 4, 6, binary=True)
    ),
    # gsn
    "gsn.DenoisingAutoencoder": lambda dev: (
        _dae_outputs(dev) + _dae_outputs(dev, "gaussian")
    ),
    "gsn.chains_from_noise": lambda dev: gsn.chains_from_noise(
        gsn.DenoisingAutoencoder(6, 4).to(dev), n_chains=3, n_steps=4, keep_every=2
    ),
    "rbm.at_base_rates": lambda dev: (
        rbm.at_base_rates(_tiny_rbm(dev), _on(dev, 6)).visible_bias
    ),
    "gsn.transition_matrix": lambda dev: gsn.transition_matrix(
        gsn.DenoisingAutoencoder(3, 4).to(dev),
        _on(dev, 8, 3, binary=True),
        _on(dev, 8, 3, binary=True),
    ),
    # hvi
    "hvi.score": lambda dev: hvi.score(_quadratic, _on(dev, 3, 2)),
    "hvi.leapfrog": lambda dev: hvi.leapfrog(
        _on(dev, 3, 2), _on(dev, 3, 2), _quadratic, 0.1, 2
    ),
    "hvi.ReverseModel": lambda dev: hvi.ReverseModel(2).to(dev)(_on(dev, 3, 2)),
    "hvi.HamiltonianVI": _hvi_outputs,
    "hvi.log_weights": lambda dev: _hvi_outputs(dev)[1],
    # dbn
    "dbn.transposed": lambda dev: dbn.transposed(_tiny_rbm(dev)).weight,
    "dbn.initial_top": _dbn_setup_outputs,
    "dbn.mean_bound": _dbn_setup_outputs,
    "flows.enveloped_energy": lambda dev: flows.enveloped_energy("U3")(_on(dev, 4, 2)),
    "flows.Seeds": lambda dev: flows.Seeds(
        [flows.energy_fit_model("NICE", 2, dev) for _ in range(2)]
    ).rsample_with_log_prob(3),
    "flows.blockwise": lambda dev: flows.blockwise(
        [flows.enveloped_energy(n) for n in flows.ENERGIES]
    )(_on(dev, 8, 2)),
    "flows.energy_fit_model": lambda dev: [
        flows.energy_fit_model(family, 2, dev).sample(3)
        for family in flows.FIT_FAMILIES
    ],
    "flow_vae.sampled_kl_bound": lambda dev: flow_vae.sampled_kl_bound(
        flow_vae.FlowVAE(flow_vae.FlowVAEConfig(hidden=4, latent=2, flows=2)).to(dev),
        _on(dev, 3, 784, binary=True),
    ),
    "dbn.DBN": lambda dev: _dbn_outputs(dev),
    "dbn.enumerated_bound": lambda dev: dbn.enumerated_bound(
        dbn.DBN([_tiny_rbm(dev), _tiny_rbm(dev, 3, 2)]), _on(dev, 4, 6, binary=True)
    ),
    # rbm
    "rbm.RBM": _rbm_outputs,
    "rbm.base_rate_bias": lambda dev: rbm.base_rate_bias(_on(dev, 5, 6, binary=True)),
    "rbm.ais_betas": lambda dev: rbm.ais_betas(10, device=dev),
    "rbm.all_states": lambda dev: rbm.all_states(3, device=dev),
    "rbm.binary_states": lambda dev: list(rbm.binary_states(3, dev, chunk=4)),
    "rbm.states_probability": lambda dev: rbm.states_probability(
        rbm.all_states(3, device=dev), _on(dev, 2, 3)
    ),
    "rbm.ais_log_weights": lambda dev: rbm.ais_log_weights(
        _tiny_rbm(dev), 4, 10, _on(dev, 6)
    ),
    "rbm.PersistentChains": lambda dev: rbm.PersistentChains(_on(dev, 3, 6)).state,
    "rbm.contrastive_loss": lambda dev: rbm.contrastive_loss(
        _tiny_rbm(dev), _on(dev, 3, 6, binary=True), _on(dev, 3, 6, binary=True)
    ),
    "rbm.reconstruction_error": lambda dev: rbm.reconstruction_error(
        _tiny_rbm(dev), _on(dev, 3, 6, binary=True)
    ),
    "rbm.exact_cd_gradient": lambda dev: rbm.exact_cd_gradient(
        _tiny_rbm(dev), _on(dev, 3, 6, binary=True), _on(dev, 3), k=2
    ),
    "rbm.enumerated_hidden_posterior": lambda dev: rbm.enumerated_hidden_posterior(
        _tiny_rbm(dev), _on(dev, 3, 6, binary=True)
    ),
    "rbm.factorised_hidden_posterior": lambda dev: rbm.factorised_hidden_posterior(
        _tiny_rbm(dev), _on(dev, 3, 6, binary=True)
    ),
    # ssvae
    "ssvae.classifier_network": lambda dev: ssvae.classifier_network(6, 8).to(dev)(
        _on(dev, 3, 6)
    ),
    "ssvae.M2": lambda dev: _m2_outputs(dev),
    "ssvae.objective": lambda dev: list(
        ssvae.objective(
            _small_m2(dev),
            _on(dev, 3, 6, binary=True),
            torch.tensor([0, 1, 2], device=dev),
            _on(dev, 4, 6, binary=True),
            3,
            4,
        ).values()
    ),
    "ssvae.m1_codes": lambda dev: ssvae.m1_codes(
        _small_vae(dev), _on(dev, 5, 784), batch_size=2
    ),
    "ssvae.active_dims": lambda dev: ssvae.active_dims(_on(dev, 5, 4)),
    "ssvae.code_means": lambda dev: ssvae.code_means(_on(dev, 5, 4)),
    "ssvae.sample_codes": lambda dev: ssvae.sample_codes(_on(dev, 5, 4)),
    # vae
    "vae.gaussian_kl": lambda dev: vae.gaussian_kl(_on(dev, 3, 2), _on(dev, 3, 2)),
    "vae.reparametrize": lambda dev: vae.reparametrize(
        _on(dev, 3, 2), _on(dev, 3, 2), 4
    ),
    "vae.VAE": lambda dev: _vae_outputs(dev),
    "vae.elbo": lambda dev: vae.elbo(
        _small_vae(dev), _on(dev, 5, 784, binary=True), batch_size=2
    ),
    "vae.bounds": lambda dev: vae.bounds(
        _small_vae(dev), _on(dev, 5, 784, binary=True), batch_size=2
    ),
    "vae.latent_grid": lambda dev: vae.latent_grid(3, device=dev),
    "vae.score_function_bound": lambda dev: vae.score_function_bound(
        _small_vae(dev), _on(dev, 3, 784, binary=True)
    ),
    # vi
    "vi.mean_field_gaussian": lambda dev: vi.mean_field_gaussian(_beta(dev)).rsample(),
    "vi.entropy": lambda dev: vi.entropy(_beta(dev)),
    "vi.expectation_grad": lambda dev: [
        vi.expectation_grad(_gaussian_model(dev).log_joint, _beta(dev), 3, e)
        for e in vi.ESTIMATORS
    ],
    "vi.elbo_grad": lambda dev: vi.elbo_grad(
        _gaussian_model(dev).log_joint, _beta(dev), 3, "reparam"
    ),
    "vi.ConjugateGaussian": lambda dev: [
        *_gaussian_model(dev).posterior(),
        _gaussian_model(dev).log_evidence(),
        _gaussian_model(dev).log_joint(_on(dev, 3, 2, dtype=torch.float64)),
        _gaussian_model(dev).expected_log_joint(_beta(dev)),
    ],
    "vi.BayesianLogisticRegression": lambda dev: [
        _logistic_model(dev).log_joint(_on(dev, 3, 2, dtype=torch.float64)),
        _logistic_model(dev).expected_log_joint(_beta(dev)),
    ],
    "vi.exact_expectation_grad": lambda dev: vi.exact_expectation_grad(
        _logistic_model(dev).expected_log_joint, _beta(dev)
    ),
    "vi.exact_elbo": lambda dev: vi.exact_elbo(_gaussian_model(dev), _beta(dev)),
    # evaluation
    "evaluation.parzen_log_likelihood": lambda dev: evaluation.parzen_log_likelihood(
        _on(dev, 5, 784), _on(dev, 3, 784), 0.2
    ),
    "evaluation.MnistFeatureNet": lambda dev: (
        evaluation.MnistFeatureNet().to(dev).features(_on(dev, 2, 1, 28, 28))
    ),
    "evaluation.as_mnist_images": lambda dev: [
        evaluation.as_mnist_images(_on(dev, 2, 3, 32, 32)),
        evaluation.as_mnist_images(_on(dev, 2, 1, 14, 14)),
        evaluation.as_mnist_images(_on(dev, 2, 784)),
    ],
}

# Public callables that read numbers back to the host (.item(), numpy, scipy, matplotlib) or train,
# so the meta device cannot run them; each has CPU tests, and each is run on CUDA by the notebooks.
NOT_ON_META = {
    "hvi.LogTarget": "a type: a callable z -> log p(x, z)",
    "rbm.base_rate_log_likelihood": "returns a Python float",
    "autoencoder.decoded_curve": "reads the code range with .item()",
    "em.fit_gmm": "records the log-likelihood per iteration with .item()",
    "em.EMResult": "a record of floats",
    "em.init_params": "torch.cov has no meta kernel (test_em checks its device on the CPU)",
    "iwae.active_units": "returns the count as an int",
    "gan.mode_coverage": "returns Python numbers (test_gan checks it on the CPU)",
    "data.binarized_test_set": "draws on a CPU generator (same digits on every device); "
    "test_data checks it returns on the input's device",
    "vae.ExactQuantities": "a record of floats and the grid",
    "evaluation.select_parzen_sigma": "returns Python floats",
    "evaluation.feature_net": "trains or loads a classifier on MNIST",
    "evaluation.features": "returns a numpy array for scipy",
    "evaluation.frechet_distance": "numpy and scipy.linalg.sqrtm",
    "evaluation.frechet_standard_error": "numpy and scipy.linalg.sqrtm",
    "evaluation.sample_quality": "returns Python floats",
    "evaluation.untrained_reference": "numpy and scipy (the Frechet distance)",
    "gan.GANConfig": "a dataclass of numbers",
    "gan.calibrate_batch_norm": "batch norm's cumulative average reads its batch count (test_gan)",
    "gan.train_gan": "trains (the engine's device handling is tested in test_train and by the notebooks)",
    "lapgan.train_lapgan": "trains (as gan.train_gan)",
    "vae.VAEConfig": "a dataclass of numbers",
    "ssvae.M2Config": "a dataclass of numbers",
    "flows.EnergyFitConfig": "a dataclass of numbers",
    "flow_vae.FlowVAEConfig": "a dataclass of numbers",
    "diffusion.DiffusionConfig": "a dataclass of numbers",
    "lapgan.calibrate_batch_norms": "as gan.calibrate_batch_norm (test_gan)",
    "evaluation.confident_share": "returns a Python float",
    "diffusion.Rescaling": "two floats, fitted with .item() (test_diffusion)",
    "diffusion.bits": "a float of a float",
    "diffusion.train_diffusion": "trains (as vae.train_vae); refuses data on another "
    "device than the model (test_bad_inputs)",
    "distributed.rank_and_world": "returns two ints",
    "distributed.is_main": "returns a bool",
    "distributed.own_share": "returns an int",
    "distributed.init_from_env": "joins torchrun's process group (tests/test_distributed.py)",
    "distributed.barrier": "synchronises processes; no tensors",
    "flows.fit_to_energy": "trains (as vae.train_vae)",
    "flows.train_nice": "trains (as vae.train_vae)",
    "flows.NiceConfig": "a dataclass of numbers",
    "flows.bits_per_dim": "a float of a float",
    "rbm.RBMConfig": "a dataclass of numbers",
    "rbm.summarize_ais": "floats from .item() of rbm.ais_log_weights' tensors",
    "dbm.DBMConfig": "a dataclass of numbers",
    "hvi.HVIConfig": "a dataclass of numbers",
    "wake_sleep.WakeSleepConfig": "a dataclass of numbers",
    "wake_sleep.train_helmholtz": "trains (as vae.train_vae); refuses data on another "
    "device",
    "gsn.GSNConfig": "a dataclass of numbers",
    "gsn.train_gsn": "trains (as vae.train_vae); refuses data on another device",
    "gsn.stationary_distribution": "torch.linalg.eig has no meta kernel (test_gsn runs "
    "it on the CPU)",
    "hvi.fit_hvi": "trains (as flows.fit_to_energy)",
    "dbm.ais_log_partition": "summarises dbm.ais_log_weights with .item()",
    "dbm.mean_bound": "returns Python floats and the values (as rbm.mean_log_likelihood)",
    "dbm.train_dbm": "trains (as vae.train_vae); refuses data on another device",
    "rbm.AISResult": "floats and the tensors of rbm.ais_log_weights",
    "rbm.ais_log_partition": "summarises rbm.ais_log_weights with .item()",
    "rbm.mean_log_likelihood": "returns Python floats",
    "rbm.train_rbm": "trains (as vae.train_vae); refuses data on another device",
    "ssvae.SSLConfig": "a dataclass of numbers",
    "ssvae.balanced_labels": "draws per class on the CPU (test_ssvae checks it returns on the "
    "labels' device)",
    "ssvae.check_labels": "checks dtype, shape and range only",
    "ssvae.keep_dims": "a boolean mask has a data-dependent shape, which meta cannot run "
    "(test_ssvae checks it on the CPU)",
    "evaluation.error_rate": "returns a Python float",
    "ssvae.train_m2": "trains (as vae.train_vae)",
    "ssvae.train_supervised": "trains (as vae.train_vae)",
    "vae.TrainConfig": "a dataclass of numbers",
    "vae.check_features": "checks shapes only",
    "vae.burda_lr_factor": "a float of the epoch",
    "vae.make_optimizer": "builds a torch optimizer over given parameters",
    "vae.train_vae": "trains; refuses data on another device than the model (test_bad_inputs)",
    "vae.exact_quantities_2d": "returns Python floats (quadrature on the input's device)",
    "vi.fit_mean_field": "records the exact bound per step with .item()",
    "data.data_root": "a path",
    "data.fetch_mnist": "files",
    "data.load_mnist": "takes device= (test_data)",
    "data.fetch_fashion_mnist": "files",
    "data.load_fashion_mnist": "takes device= (test_data)",
    "data.fetch_frey_face": "files",
    "data.load_frey_face": "takes device= (test_data)",
    "dbn.top_layer_data": "draws on a CPU generator (same draws on every device), as "
    "data.binarized_test_set",
    "dbn.base_rate_top": "returns the exact log Z as a Python float",
    "dbm.train_on_rbm": "trains (as rbm.train_rbm and dbm.train_dbm)",
    "flows.grid_log_partition": "returns log Z as a Python float (quadrature on the given "
    "device)",
}
# modules without tensors in their API, tested on their own (test_core, test_train, test_cli, ...)
NO_TENSORS = {
    "lec16",
    "lec16.checks",
    "lec16.checkpoints",
    "lec16.cli",
    "lec16.plots",
    "lec16.results",
    "lec16.scales",
    "lec16.settings",
    "lec16.train",
}


def _public_callables():
    """The callables each module declares public in ``__all__`` (not its helpers)."""
    for name in MODULES:
        if name in NO_TENSORS:
            continue
        module = importlib.import_module(name)
        short = name.split(".")[-1]
        for attr in module.__all__:
            obj = getattr(module, attr)
            if not callable(obj) or (
                inspect.isclass(obj) and issubclass(obj, BaseException)
            ):
                continue
            yield f"{short}.{attr}"


def test_every_module_declares_its_api():
    undeclared = [
        n for n in MODULES if not hasattr(importlib.import_module(n), "__all__")
    ]
    assert not undeclared, f"declare the public API in __all__: {undeclared}"


def test_every_public_callable_is_covered():
    public = set(_public_callables())
    missing = sorted(public - set(CASES) - set(NOT_ON_META))
    assert not missing, (
        f"add these to CASES (or to NOT_ON_META with a reason): {missing}"
    )
    stale = sorted((set(CASES) | set(NOT_ON_META)) - public)
    assert not stale, f"these are no public API (any more): {stale}"


def _tensors(out):
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, D.Distribution):
        yield out.mean
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors(o)


@pytest.fixture
def no_validation():
    # distributions validate their arguments with data-dependent checks, which meta cannot evaluate
    previous = D.Distribution._validate_args
    D.Distribution.set_default_validate_args(False)
    yield
    D.Distribution.set_default_validate_args(previous)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_stay_on_the_inputs_device(name, dev, no_validation):
    torch.manual_seed(0)
    outputs = list(_tensors(CASES[name](torch.device(dev))))
    assert outputs, f"{name} returned no tensor"
    for t in outputs:
        assert t.device.type == dev, (
            f"{name}: an output is on {t.device}, its inputs on {dev}"
        )


def test_the_meta_check_catches_a_tensor_made_without_a_device(
    monkeypatch, no_validation
):
    """Put back one of the bugs the check exists for (vi.ConjugateGaussian.log_evidence building its
    covariance on the CPU) and watch it fail."""

    def buggy(self):
        n = len(self.x)
        cov = self.sigma**2 * torch.eye(n, dtype=self.x.dtype) + self.tau**2
        return (
            D.MultivariateNormal(torch.zeros(n, dtype=self.x.dtype), cov)
            .log_prob(self.x.T)
            .sum()
        )

    monkeypatch.setattr(vi.ConjugateGaussian, "log_evidence", buggy)
    with pytest.raises((AssertionError, RuntimeError, NotImplementedError)):
        test_outputs_stay_on_the_inputs_device("vi.ConjugateGaussian", "meta", None)
