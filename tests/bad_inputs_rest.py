"""Bad inputs of lec16.flows, diffusion, hvi, em, expfam, vi and data, and the errors they get.

Each case is (what is wrong, a call that does it, the error class, a pattern of its message), as in
``tests/test_bad_inputs.py``. Every model here is tiny and untrained.
"""

import torch
from torch import distributions as D

from lec16 import data, diffusion, em, flows, hvi, vi
from lec16.expfam import BERNOULLI, CATEGORICAL, GAUSSIAN


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(
        *shape, generator=torch.Generator().manual_seed(seed), dtype=dtype
    )


def _nice(dim=4):
    torch.manual_seed(0)
    return flows.NICE(dim, n_couplings=2, hidden=4, depth=1)


def _planar_q():
    base = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    return flows.FlowDistribution(base, flows.planar_flow(2, 2))


def _diffusion_model(T=4):
    torch.manual_seed(0)
    return diffusion.DiffusionModel(
        diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(T)),
        diffusion.swiss_roll_net(T, units=3),
    )


def _chain(T=4):
    return diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(T))


def _q0(dim=2):
    return D.Independent(D.Normal(torch.zeros(dim), torch.ones(dim)), 1)


def _quadratic(z):
    return -(z**2).sum(-1)


def _gmm(k=3, d=2, weights=None, dtype=torch.float32):
    return em.GMMParams(
        torch.full((k,), 1 / k, dtype=dtype) if weights is None else weights,
        _rand(k, d, dtype=dtype),
        torch.eye(d, dtype=dtype).expand(k, d, d).clone(),
    )


def _points(n=10, d=2, dtype=torch.float32):
    return _rand(n, d, seed=1, dtype=dtype)


def _detached_target(z):
    return -(z.detach() ** 2).sum(-1)


CASES = [
    # --- flows
    (
        "flows.dequantize of 8-bit pixels in 0 ... 255",
        lambda: flows.dequantize(255 * _rand(3, 4)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "flows.dequantize of uint8 images",
        lambda: flows.dequantize(torch.zeros(3, 4, dtype=torch.uint8)),
        ValueError,
        r"x is torch.uint8, not floating point: convert it",
    ),
    (
        "a float32 PlanarFlow given float64 points",
        lambda: flows.PlanarFlow(2)(_rand(3, 2, dtype=torch.float64)),
        ValueError,
        r"z is torch.float64 on cpu but PlanarFlow is torch.float32 on cpu; convert it",
    ),
    (
        "a float32 RadialFlow given float64 points (silently promoted before)",
        lambda: flows.RadialFlow(2)(_rand(3, 2, dtype=torch.float64)),
        ValueError,
        r"z is torch.float64 on cpu but RadialFlow is torch.float32",
    ),
    (
        "a planar cascade given integer points",
        lambda: flows.planar_flow(2, 3)(torch.zeros(3, 2, dtype=torch.long)),
        ValueError,
        r"z is torch.int64, not floating point",
    ),
    (
        "NICE given an empty batch",
        lambda: _nice()(torch.zeros(0, 4)),
        ValueError,
        r"x is empty \(shape \(0, 4\)\): pass at least one example",
    ),
    (
        "NICE.inverse given a float64 batch",
        lambda: _nice().inverse(_rand(3, 4, dtype=torch.float64)),
        ValueError,
        r"h is torch.float64 on cpu but NICE.inverse is torch.float32",
    ),
    (
        "flows.energy of a list of points",
        lambda: flows.energy("U1", [[0.0, 1.0]]),
        ValueError,
        r"z must be a torch.Tensor, got a list: wrap it with torch.as_tensor",
    ),
    (
        "a Flow given a list of points",
        lambda: flows.Flow([flows.PlanarFlow(2)])([[0.0, 1.0]]),
        ValueError,
        r"z must be a torch.Tensor, got a list",
    ),
    (
        "free_energy of an energy that keeps a trailing dimension (silently (n, n) before)",
        lambda: flows.free_energy(
            _planar_q(), lambda z: (z**2).sum(-1, keepdim=True), 5
        ),
        ValueError,
        r"energy_fn must return one energy per sample, shape \(5,\), got \(5, 1\)",
    ),
    (
        "free_energy of 2.5 samples (already handled)",
        lambda: flows.free_energy(_planar_q(), _quadratic, 2.5),
        ValueError,
        r"n must be a positive int, got 2.5",
    ),
    (
        "free_energy of a q without rsample_with_log_prob",
        lambda: flows.free_energy(flows.planar_flow(2, 2), _quadratic, 5),
        ValueError,
        r"q must have a method rsample_with_log_prob\(n\).*got a PlanarCascade",
    ),
    (
        "free_energy at a negative inverse temperature",
        lambda: flows.free_energy(_planar_q(), _quadratic, 5, beta=-1.0),
        ValueError,
        r"beta must be a finite number >= 0",
    ),
    (
        "FlowDistribution on a base without reparametrized samples",
        lambda: flows.FlowDistribution(
            D.Bernoulli(torch.full((2,), 0.5)), flows.planar_flow(2, 2)
        ),
        ValueError,
        r"base must be a torch.distributions.Distribution with reparametrized samples",
    ),
    (
        "planar_steps with biases for 2 flows and weights for 3 (zip dropped one before)",
        lambda: flows.planar_steps(
            torch.zeros(4, 2), torch.zeros(3, 2), torch.ones(3, 2), torch.zeros(2)
        ),
        ValueError,
        r"b must hold one bias per flow, shape \(\.\.\., K\) with K = 3, got \(2,\)",
    ),
    (
        "planar_u_hat of u and w of different shapes",
        lambda: flows.planar_u_hat(torch.zeros(3, 2), torch.ones(2)),
        ValueError,
        r"u and w must have the same shape",
    ),
    (
        "energy_fit_model('nice')",
        lambda: flows.energy_fit_model("nice", 2),
        ValueError,
        r"family='nice' is not valid; choose one of: 'planar', 'radial', 'NICE'",
    ),
    (
        "Seeds of a planar flow and a NICE",
        lambda: flows.Seeds([_planar_q(), _nice(2)]),
        ValueError,
        r"Seeds needs copies of one model: their parameters differ",
    ),
    (
        "blockwise energies of 5 points in 2 blocks",
        lambda: flows.blockwise([_quadratic, _quadratic])(_rand(5, 2)),
        ValueError,
        r"5 points do not split into 2 equal blocks",
    ),
    (
        "importance_log_likelihood with no trajectories",
        lambda: diffusion.importance_log_likelihood(_diffusion_model(), _rand(3, 2), 0),
        ValueError,
        r"n_trajectories must be a positive int, got 0",
    ),
    (
        "bits_per_dim of 0 dimensions",
        lambda: flows.bits_per_dim(100.0, 0),
        ValueError,
        r"dim must be a positive int, got 0",
    ),
    (
        "NiceConfig with a seed beyond NumPy's range",
        lambda: flows.NiceConfig(seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "NiceConfig with one Adam beta",
        lambda: flows.NiceConfig(betas=(0.9,)),
        ValueError,
        r"betas must be two numbers in \[0, 1\) \(Adam's beta1, beta2\), got \(0.9,\)",
    ),
    (
        "EnergyFitConfig(seed=-1)",
        lambda: flows.EnergyFitConfig(seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "fit_to_energy with a dict for its config",
        lambda: flows.fit_to_energy(_planar_q(), _quadratic, {"steps": 10}),
        ValueError,
        r"config must be a flows.EnergyFitConfig, got a dict",
    ),
    (
        "grid_log_partition over a window of width 0",
        lambda: flows.grid_log_partition(_quadratic, half_width=0.0),
        ValueError,
        r"half_width must be a positive finite number, got 0.0",
    ),
    (
        "train_nice on 8-bit pixels in 0 ... 255",
        lambda: flows.train_nice(
            _nice(), 255 * _rand(8, 4), _rand(8, 4), flows.NiceConfig(epochs=1)
        ),
        ValueError,
        r"x_train must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "train_nice on examples of another size",
        lambda: flows.train_nice(
            _nice(), _rand(8, 5), _rand(8, 5), flows.NiceConfig(epochs=1)
        ),
        ValueError,
        r"x_train has 5 values per example but the NICE model has dim=4",
    ),
    (
        "train_nice on float64 test data for a float32 model",
        lambda: flows.train_nice(
            _nice(), _rand(8, 4), _rand(8, 4).double(), flows.NiceConfig(epochs=1)
        ),
        ValueError,
        r"x_test is torch.float64 on cpu but the model is torch.float32 on cpu",
    ),
    (
        "mean_log_likelihood in batches of 0",
        lambda: flows.mean_log_likelihood(_nice(), _rand(4, 4), batch_size=0),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "NICE with 0 hidden units (already handled)",
        lambda: flows.NICE(4, hidden=0),
        ValueError,
        r"hidden must be a positive int, got 0",
    ),
    # --- diffusion
    (
        "marginal at a tensor of times beyond T (an IndexError before)",
        lambda: _chain().marginal(torch.zeros(3, 2), torch.tensor([1, 2, 50])),
        ValueError,
        r"t must be in 0 \.\.\. T = 4, got times from 1 to 50",
    ),
    (
        "marginal at float times",
        lambda: _chain().marginal(torch.zeros(3, 2), torch.tensor([1.0, 2.0, 3.0])),
        ValueError,
        r"t must hold integer times 0 \.\.\. T = 4, got a tensor of dtype torch.float32",
    ),
    (
        "marginal at 2 times for 3 examples",
        lambda: _chain().marginal(torch.zeros(3, 2), torch.tensor([1, 2])),
        ValueError,
        r"t must be an int or a 1-D tensor of one time per example \(3 here\), got shape "
        r"\(2,\)",
    ),
    (
        "marginal at t = 2.0",
        lambda: _chain().marginal(torch.zeros(3, 2), 2.0),
        ValueError,
        r"t must be an int or an integer tensor of times 0 \.\.\. T = 4, got 2.0",
    ),
    (
        "marginal of data on another device than the diffusion",
        lambda: _chain().marginal(torch.zeros(3, 2, device="meta"), 2),
        ValueError,
        r"x0 is on meta but the diffusion is on cpu: move it",
    ),
    (
        "sample_forward with noise of another shape (broadcast before)",
        lambda: _chain().sample_forward(torch.zeros(3, 2), 2, noise=torch.zeros(2)),
        ValueError,
        r"noise must have x0's shape \(3, 2\), got \(2,\)",
    ),
    (
        "posterior with x_t of another shape than x_0",
        lambda: _chain().posterior(torch.zeros(3, 2), torch.zeros(3, 5), 2),
        ValueError,
        r"xt and x0 must hold examples of the same shape",
    ),
    (
        "step_kl at t = 1 (a torch.distributions error before)",
        lambda: _diffusion_model().step_kl(torch.zeros(3, 2), 1),
        ValueError,
        r"t must be in 2 \.\.\. T = 4, got 1",
    ),
    (
        "reverse at a tensor time 0 (basis[-1], a silent wrong readout, before)",
        lambda: _diffusion_model().reverse(torch.zeros(3, 2), torch.tensor([0, 2, 3])),
        ValueError,
        r"t must be in 2 \.\.\. T = 4, got times from 0 to 3",
    ),
    (
        "a ReverseNet read out at t = 0",
        lambda: diffusion.swiss_roll_net(4, units=3)(
            torch.zeros(3, 2), torch.tensor([0, 1, 2])
        ),
        ValueError,
        r"t must be in 1 \.\.\. T = 4, got times from 0 to 2",
    ),
    (
        "a diffusion model given an empty batch",
        lambda: _diffusion_model()(torch.zeros(0, 2)),
        ValueError,
        r"x0 is empty \(shape \(0, 2\)\)",
    ),
    (
        "a diffusion model given one example without a batch dimension",
        lambda: _diffusion_model().bound(torch.zeros(2)),
        ValueError,
        r"x0 must have at least 2 dimension\(s\) \(examples first\), got shape \(2,\)",
    ),
    (
        "a float32 diffusion model given float64 data",
        lambda: _diffusion_model().bound_terms(torch.zeros(3, 2, dtype=torch.float64)),
        ValueError,
        r"x0 is torch.float64 on cpu but the model is torch.float32 on cpu",
    ),
    (
        "train_diffusion with an empty test set (an IndexError before)",
        lambda: diffusion.train_diffusion(
            _diffusion_model(),
            torch.zeros(10, 2),
            torch.zeros(0, 2),
            diffusion.DiffusionConfig(epochs=1),
        ),
        ValueError,
        r"x_test is empty \(shape \(0, 2\)\)",
    ),
    (
        "train_diffusion with a dict for its config",
        lambda: diffusion.train_diffusion(
            _diffusion_model(), torch.zeros(10, 2), torch.zeros(10, 2), {"epochs": 1}
        ),
        ValueError,
        r"config must be a diffusion.DiffusionConfig, got a dict",
    ),
    (
        "diffusion.dequantize of 8-bit pixels in 0 ... 255",
        lambda: diffusion.dequantize(255 * _rand(3, 1, 4, 4)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "linear_schedule ending at a rate of 2",
        lambda: diffusion.linear_schedule(10, end=2.0),
        ValueError,
        r"end must be a number in \(0, 1\), got 2.0",
    ),
    (
        "sohl_dickstein_schedule with first_step 1.5",
        lambda: diffusion.sohl_dickstein_schedule(10, first_step=1.5),
        ValueError,
        r"first_step must be a number in \[0, 1\), got 1.5",
    ),
    (
        "gaussian_kl of a negative variance (a torch.distributions error before)",
        lambda: diffusion.gaussian_kl(
            torch.zeros(3, 2), -torch.ones(3, 2), torch.zeros(3, 2), torch.ones(3, 2)
        ),
        ValueError,
        r"var_q must be positive \(a variance, not a standard deviation or a log variance\)",
    ),
    (
        "inpainting with a mask of the wrong size",
        lambda: _diffusion_model().sample(
            3, known=torch.zeros(3, 2), mask=torch.tensor([True, False, True])
        ),
        ValueError,
        r"mask must hold one flag per value, shape \(2,\) or \(3, 2\), got \(3,\)",
    ),
    (
        "inpainting with a mask of 0.5",
        lambda: _diffusion_model().sample(
            3, known=torch.zeros(3, 2), mask=torch.full((2,), 0.5)
        ),
        ValueError,
        r"mask must be boolean \(True where the value is known\) or hold only 0 and 1",
    ),
    (
        "sample keeping a time beyond T (silently not kept before)",
        lambda: _diffusion_model().sample(2, keep=(4, 50)),
        ValueError,
        r"keep lists times in 0 \.\.\. T = 4 whose states to return, got 50",
    ),
    (
        "a TimeSampler of 1 step",
        lambda: diffusion.TimeSampler(1),
        ValueError,
        r"a diffusion needs T >= 2 steps, got T=1",
    ),
    (
        "TimeSampler.record of times outside 2 ... T",
        lambda: diffusion.TimeSampler(4, "importance").record(
            torch.tensor([1, 2]), torch.ones(2)
        ),
        ValueError,
        r"t must be in 2 \.\.\. T = 4, got times from 1 to 2",
    ),
    (
        "TimeSampler.record of 3 losses for 2 times",
        lambda: diffusion.TimeSampler(4, "importance").record(
            torch.tensor([2, 3]), torch.ones(3)
        ),
        ValueError,
        r"t and losses must be 1-D tensors of one time and one loss per example",
    ),
    (
        "Rescaling.to_unit_variance of data holding NaN",
        lambda: diffusion.Rescaling.to_unit_variance(torch.tensor([1.0, float("nan")])),
        ValueError,
        r"x holds NaN or infinite values",
    ),
    (
        "Rescaling with scale 0",
        lambda: diffusion.Rescaling(shift=0.0, scale=0.0),
        ValueError,
        r"scale must be a positive finite number, got 0.0",
    ),
    (
        "swiss_roll with a negative noise",
        lambda: diffusion.swiss_roll(10, noise=-0.5),
        ValueError,
        r"noise must be a finite number >= 0, got -0.5",
    ),
    (
        "swiss_roll_log_density of 3-D points",
        lambda: diffusion.swiss_roll_log_density(torch.zeros(4, 3)),
        ValueError,
        r"x must hold 2-D points, shape \(n, 2\), got \(4, 3\)",
    ),
    (
        "diffusion.bits per 0 dimensions",
        lambda: diffusion.bits(10.0, per=0),
        ValueError,
        r"per must be a positive int, got 0",
    ),
    (
        "DiffusionConfig with a seed beyond NumPy's range",
        lambda: diffusion.DiffusionConfig(seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "DiffusionModel with a plain torch layer for its network",
        lambda: diffusion.DiffusionModel(_chain(), torch.nn.Linear(2, 4)),
        ValueError,
        r"net must be a ReverseNet \(swiss_roll_net, dense_net\), got a Linear",
    ),
    (
        "temporal_basis of 0 steps",
        lambda: diffusion.temporal_basis(0),
        ValueError,
        r"T must be a positive int, got 0",
    ),
    (
        "dense_net of 0 hidden units",
        lambda: diffusion.dense_net(6, 4, hidden=0),
        ValueError,
        r"hidden must be a positive int, got 0",
    ),
    (
        "mean_bound in batches of 0",
        lambda: diffusion.mean_bound(
            _diffusion_model(), torch.zeros(4, 2), batch_size=0
        ),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "sampling 0 points from a diffusion model (already handled)",
        lambda: _diffusion_model().sample(0),
        ValueError,
        r"n must be a positive int, got 0",
    ),
    # --- hvi
    (
        "leapfrog with a momentum of another shape",
        lambda: hvi.leapfrog(torch.zeros(3, 2), torch.zeros(2), _quadratic, 0.1),
        ValueError,
        r"v must have z's shape \(3, 2\) \(one momentum per coordinate\), got \(2,\)",
    ),
    (
        "leapfrog with step size 0",
        lambda: hvi.leapfrog(torch.zeros(3, 2), torch.zeros(3, 2), _quadratic, 0.0),
        ValueError,
        r"step_size must be a positive finite number, got 0.0",
    ),
    (
        "score of a log-target that detaches z",
        lambda: hvi.score(_detached_target, torch.zeros(3, 2)),
        ValueError,
        r"log_target\(z\) must be a tensor that depends differentiably on z",
    ),
    (
        "log_weights of a log-target that keeps a trailing dimension (broadcast before)",
        lambda: hvi.log_weights(
            hvi.HamiltonianVI(2, 1), _q0(), lambda z: -(z**2).sum(-1, keepdim=True), 4
        ),
        ValueError,
        r"log_target must return one value per point, shape \(4,\), got \(4, 1\)",
    ),
    (
        "log_weights of a factorised q0 without Independent",
        lambda: hvi.log_weights(
            hvi.HamiltonianVI(2, 1),
            D.Normal(torch.zeros(2), torch.ones(2)),
            _quadratic,
            4,
        ),
        ValueError,
        r"q0 must be a distribution of 2-dimensional points.*Independent\(q0, 1\)",
    ),
    (
        "log_weights of a q0 of another dimension",
        lambda: hvi.log_weights(hvi.HamiltonianVI(2, 1), _q0(3), _quadratic, 4),
        ValueError,
        r"event shape \(2,\), got \(3,\)",
    ),
    (
        "a float32 HVI chain given float64 points (a matmul dtype error before)",
        lambda: hvi.HamiltonianVI(2, 1)(
            torch.zeros(4, 2, dtype=torch.float64), _quadratic
        ),
        ValueError,
        r"z is torch.float64 on cpu but the HVI model is torch.float32 on cpu",
    ),
    (
        "HamiltonianVI(2, True)",
        lambda: hvi.HamiltonianVI(2, True),
        ValueError,
        r"n_transitions must be a non-negative int, got True",
    ),
    (
        "ReverseModel(0)",
        lambda: hvi.ReverseModel(0),
        ValueError,
        r"dim must be a positive int, got 0",
    ),
    (
        "ReverseModel.set_gaussian with a covariance that is not positive definite",
        lambda: hvi.ReverseModel(2).set_gaussian(
            torch.zeros(2, 2), torch.zeros(2), -torch.eye(2)
        ),
        ValueError,
        r"covariance must be positive definite",
    ),
    (
        "ReverseModel.set_gaussian with a scalar bias (broadcast before)",
        lambda: hvi.ReverseModel(2).set_gaussian(
            torch.zeros(2, 2), torch.tensor(1.0), torch.eye(2)
        ),
        ValueError,
        r"bias must have shape \(2,\), got \(\)",
    ),
    (
        "HVIConfig(seed=-1)",
        lambda: hvi.HVIConfig(seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "fit_hvi with no q0",
        lambda: hvi.fit_hvi(hvi.HamiltonianVI(2, 1), None, _quadratic, hvi.HVIConfig()),
        ValueError,
        r"q0 must be a torch.distributions.Distribution with reparametrized samples",
    ),
    (
        "fit_hvi with a dict for its config",
        lambda: hvi.fit_hvi(hvi.HamiltonianVI(2, 1), _q0(), _quadratic, {"steps": 2}),
        ValueError,
        r"config must be an hvi.HVIConfig, got a dict",
    ),
    # --- em
    (
        "em.log_joint of 2-D points under a 3-D mixture",
        lambda: em.log_joint(_points(), _gmm(d=3)),
        ValueError,
        r"the mixture is over 3 dimensions but x has 2 per point",
    ),
    (
        "em.log_likelihood with weights that do not sum to 1 (a wrong number before)",
        lambda: em.log_likelihood(
            _points(), _gmm(weights=torch.tensor([0.5, 0.5, 0.5]))
        ),
        ValueError,
        r"the mixture weights must be probabilities that sum to 1, got \[0.5, 0.5, 0.5\]",
    ),
    (
        "em.e_step of float32 points under a float64 mixture",
        lambda: em.e_step(_points(), _gmm(dtype=torch.float64)),
        ValueError,
        r"x is torch.float32 on cpu but the mixture is torch.float64 on cpu",
    ),
    (
        "em.bound with rows of q that do not sum to 1 (a wrong number before)",
        lambda: em.bound(_points(), torch.ones(10, 3), _gmm()),
        ValueError,
        r"q must hold probabilities, every row summing to 1",
    ),
    (
        "em.bound with q for another number of components",
        lambda: em.bound(_points(), torch.full((10, 2), 0.5), _gmm()),
        ValueError,
        r"q must hold the responsibilities of the 10 points, shape \(10, 3\), got \(10, 2\)",
    ),
    (
        "em.m_step with a component of no responsibility (NaN parameters before)",
        lambda: em.m_step(_points(), torch.tensor([[1.0, 0.0]]).expand(10, 2)),
        ValueError,
        r"components \[1\] have no responsibility",
    ),
    (
        "em.m_step with float32 q for float64 points",
        lambda: em.m_step(_points(dtype=torch.float64), torch.full((10, 2), 0.5)),
        ValueError,
        r"q is torch.float32 on cpu but x is torch.float64 on cpu",
    ),
    (
        "GMMParams with covariances of another size",
        lambda: em.GMMParams(torch.full((3,), 1 / 3), torch.zeros(3, 2), torch.eye(3)),
        ValueError,
        r"covariances must have shape \(K, D, D\) = \(3, 2, 2\), got \(3, 3\)",
    ),
    (
        "em.init_params from one point (a NaN covariance before)",
        lambda: em.init_params(torch.zeros(1, 2), 1),
        ValueError,
        r"x needs at least 2 points to estimate the data covariance",
    ),
    (
        "em.init_params with more components than points (fewer means before)",
        lambda: em.init_params(_points(4), 5),
        ValueError,
        r"k=5 components need at least k data points, got 4",
    ),
    (
        "em.fit_gmm of integer points",
        lambda: em.fit_gmm(torch.zeros(10, 2, dtype=torch.long), 2),
        ValueError,
        r"x is torch.int64, not floating point",
    ),
    (
        "em.fit_gmm from a float64 init on float32 points",
        lambda: em.fit_gmm(_points(), 3, init=_gmm(dtype=torch.float64)),
        ValueError,
        r"x is torch.float32 on cpu but the mixture is torch.float64 on cpu",
    ),
    (
        "em.fit_gmm with a seed beyond NumPy's range",
        lambda: em.fit_gmm(_points(), 2, seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "em.fit_gmm with reg_covar given as a string (a TypeError before)",
        lambda: em.fit_gmm(_points(), 2, reg_covar="1e-6"),
        ValueError,
        r"reg_covar must be >= 0, got '1e-6'",
    ),
    (
        "em.fit_gmm with 2.5 components (already handled)",
        lambda: em.fit_gmm(_points(), 2.5),
        ValueError,
        r"k must be a positive int, got 2.5",
    ),
    # --- expfam
    (
        "Bernoulli log-density of a grey level",
        lambda: BERNOULLI.log_density(torch.tensor([0.5]), torch.tensor(0.3)),
        ValueError,
        r"x must be 0 or 1 in the Bernoulli family: binarize grey levels first",
    ),
    (
        "categorical log-density of class indices (a wrong number before)",
        lambda: CATEGORICAL.log_density(torch.tensor([2, 0, 1]), torch.zeros(3)),
        ValueError,
        r"x must be one-hot along its last dimension.*one_hot\(x, K\)",
    ),
    (
        "categorical log-density with theta of another number of categories",
        lambda: CATEGORICAL.log_density(torch.eye(4), torch.zeros(3)),
        ValueError,
        r"x has 4 statistics per point but theta has 3 entries",
    ),
    (
        "Gaussian mean parameter of theta outside Omega (a negative variance before)",
        lambda: GAUSSIAN.mean(torch.tensor([0.1, 0.5])),
        ValueError,
        r"theta must lie in Omega = \{theta_2 < 0\}",
    ),
    (
        "Gaussian distribution of theta outside Omega",
        lambda: GAUSSIAN.distribution(torch.tensor([0.1, 0.0])),
        ValueError,
        r"theta must lie in Omega = \{theta_2 < 0\}",
    ),
    (
        "Gaussian natural parameter of a negative variance",
        lambda: GAUSSIAN.natural(torch.tensor([2.0, 1.0])),
        ValueError,
        r"mu = \(E x, E x\^2\) must have E x\^2 > \(E x\)\^2 \(a positive variance\)",
    ),
    (
        "Gaussian log-partition of three natural parameters",
        lambda: GAUSSIAN.log_partition(torch.zeros(3)),
        ValueError,
        r"theta must have a last dimension of 2 indexing the statistics, got shape \(3,\)",
    ),
    (
        "Bernoulli natural parameter of a mean 1.5 (NaN before)",
        lambda: BERNOULLI.natural(torch.tensor(1.5)),
        ValueError,
        r"mu must be a Bernoulli mean parameter, a probability in \[0, 1\]",
    ),
    (
        "categorical natural parameter of weights that do not sum to 1",
        lambda: CATEGORICAL.natural(torch.tensor([0.5, 0.6])),
        ValueError,
        r"mu must be a categorical mean parameter, probabilities >= 0 summing to 1",
    ),
    (
        "categorical mean of a scalar theta",
        lambda: CATEGORICAL.mean(torch.tensor(1.0)),
        ValueError,
        r"theta must have a last dimension indexing the statistics, got shape \(\)",
    ),
    (
        "Bernoulli log-partition of an integer theta",
        lambda: BERNOULLI.log_partition(torch.tensor([1, 2])),
        ValueError,
        r"theta is torch.int64, not floating point",
    ),
    # --- vi
    (
        "mean_field_gaussian of an odd number of parameters (broadcast before)",
        lambda: vi.mean_field_gaussian(torch.zeros(3)),
        ValueError,
        r"beta must hold \(m, log s\) along its last dimension, an even number of values",
    ),
    (
        "expectation_grad of a log-joint that keeps a trailing dimension",
        lambda: vi.expectation_grad(
            lambda z: z.sum(-1, keepdim=True), torch.zeros(4), 3, "score"
        ),
        ValueError,
        r"log_joint must return one value per sample, shape \(3,\), got \(3, 1\)",
    ),
    (
        "ConjugateGaussian of 1-D data",
        lambda: vi.ConjugateGaussian(torch.zeros(5)),
        ValueError,
        r"x must have shape \(n, d\), got \(5,\)",
    ),
    (
        "ConjugateGaussian with sigma = 0",
        lambda: vi.ConjugateGaussian(torch.zeros(5, 2), sigma=0.0),
        ValueError,
        r"sigma must be a positive finite number, got 0.0",
    ),
    (
        "ConjugateGaussian.log_joint of 3-D z for 2-D data",
        lambda: vi.ConjugateGaussian(torch.zeros(5, 2)).log_joint(torch.zeros(4, 3)),
        ValueError,
        r"z has 3 coordinates but the model has d = 2",
    ),
    (
        "ConjugateGaussian.expected_log_joint of 6 parameters for d = 2",
        lambda: vi.ConjugateGaussian(torch.zeros(5, 2)).expected_log_joint(
            torch.zeros(6)
        ),
        ValueError,
        r"beta must hold \(m, log s\) along its last dimension, 2 d = 4 of values",
    ),
    (
        "BayesianLogisticRegression with labels -1 and +1 (a wrong number before)",
        lambda: vi.BayesianLogisticRegression(
            torch.zeros(4, 2), torch.tensor([-1.0, 1.0, 1.0, -1.0])
        ),
        ValueError,
        r"y must hold labels 0 and 1 \(labels -1 and \+1: pass \(y \+ 1\) / 2\)",
    ),
    (
        "BayesianLogisticRegression with 3 labels for 4 rows",
        lambda: vi.BayesianLogisticRegression(torch.zeros(4, 2), torch.ones(3)),
        ValueError,
        r"y must hold one label per row of x, shape \(4,\), got \(3,\)",
    ),
    (
        "expected_log_joint by quadrature in 6 dimensions",
        lambda: vi.BayesianLogisticRegression(
            torch.zeros(4, 6), torch.ones(4)
        ).expected_log_joint(torch.zeros(12)),
        ValueError,
        r"quadrature grid would have quadrature_points\^d = 80\^6 points",
    ),
    (
        "exact_elbo of a model without a closed form",
        lambda: vi.exact_elbo(object(), torch.zeros(4)),
        ValueError,
        r"model must have a method log_joint",
    ),
    (
        "fit_mean_field from an odd number of parameters",
        lambda: vi.fit_mean_field(
            vi.ConjugateGaussian(torch.zeros(5, 2)), torch.zeros(3), "reparam", 2, 5
        ),
        ValueError,
        r"beta must hold \(m, log s\) along its last dimension",
    ),
    (
        "expectation_grad from 2.5 samples (already handled)",
        lambda: vi.expectation_grad(lambda z: z.sum(-1), torch.zeros(4), 2.5, "score"),
        ValueError,
        r"n_samples must be a positive int, got 2.5",
    ),
    # --- data
    (
        "binarize_dynamic of 8-bit pixels in 0 ... 255 (a torch RuntimeError before)",
        lambda: data.binarize_dynamic(255 * _rand(2, 4)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "binarize_threshold of 8-bit pixels in 0 ... 255 (all ones before)",
        lambda: data.binarize_threshold(255 * _rand(2, 4)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "binarize_threshold at 127",
        lambda: data.binarize_threshold(_rand(2, 4), threshold=127),
        ValueError,
        r"threshold must be a number in \[0, 1\], got 127",
    ),
    (
        "binarized_test_set of 8-bit pixels in 0 ... 255",
        lambda: data.binarized_test_set(255 * _rand(2, 4)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "binarized_test_set with a seed beyond NumPy's range",
        lambda: data.binarized_test_set(_rand(2, 4), seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "Batches of a list",
        lambda: data.Batches([[0.0, 1.0], [1.0, 0.0]], batch_size=1),
        ValueError,
        r"tensor 0 is a list: wrap it with torch.as_tensor",
    ),
    (
        "Batches of a 0-d tensor",
        lambda: data.Batches(torch.zeros(4, 2), torch.tensor(1.0), batch_size=2),
        ValueError,
        r"tensor 1 is a 0-d tensor",
    ),
    (
        "Batches of tensors on two devices",
        lambda: data.Batches(
            torch.zeros(4, 2), torch.zeros(4, device="meta"), batch_size=2
        ),
        ValueError,
        r"Batches' tensors are on different devices .*move them to one device",
    ),
    (
        "Batches with a transform that is not a function",
        lambda: data.Batches(torch.zeros(4, 2), batch_size=2, transform="binarize"),
        ValueError,
        r"transform must be a function of a batch, got a str",
    ),
    (
        "Batches for rank 0.5",
        lambda: data.Batches(torch.zeros(4, 2), batch_size=2, rank=0.5, world_size=2),
        ValueError,
        r"rank must be an int, got 0.5",
    ),
    (
        "load_mnist on device 'gpu'",
        lambda: data.load_mnist("test", device="gpu"),
        ValueError,
        r"device='gpu' is not a torch device",
    ),
    (
        "load_mnist from a root that is a number",
        lambda: data.load_mnist("test", root=5),
        ValueError,
        r"root must be a folder \(a str or a pathlib.Path\), got a int",
    ),
    (
        "load_mnist of the 'valid' split (already handled)",
        lambda: data.load_mnist("valid"),
        ValueError,
        r"split='valid' is not valid; choose one of: 'train', 'test'",
    ),
]
