"""GAN theory helpers, the Laplacian pyramid, the evaluation metrics, and one training step of each model."""

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from lec16 import evaluation, gan, lapgan


@pytest.fixture(scope="module")
def densities():
    grid = torch.linspace(-14, 14, 28001, dtype=torch.float64)
    p = D.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0).log_prob(grid).exp()
    q = D.Normal(torch.tensor(1.0, dtype=torch.float64), 1.5).log_prob(grid).exp()
    return grid, p, q, (grid[1] - grid[0]).item()


def test_optimal_discriminator_maximises_the_value_and_gives_minus_log4_plus_2jsd(
    densities,
):
    grid, p, q, dx = densities
    d_star = gan.optimal_discriminator(p, q)
    v_star = gan.value(d_star, p, q, dx)
    assert torch.isclose(
        v_star, -math.log(4) + 2 * gan.jensen_shannon(p, q, dx), atol=1e-8
    )
    for shift in (-0.3, 0.2):
        assert gan.value(torch.sigmoid(torch.logit(d_star) + shift), p, q, dx) < v_star
    assert torch.isclose(
        gan.value(gan.optimal_discriminator(p, p), p, p, dx),
        torch.tensor(-math.log(4), dtype=torch.float64),
    )


def test_jsd_bounds_and_symmetry(densities):
    grid, p, q, dx = densities
    assert 0 < gan.jensen_shannon(p, q, dx) < math.log(2)
    assert torch.isclose(gan.jensen_shannon(p, q, dx), gan.jensen_shannon(q, p, dx))
    far = D.Normal(torch.tensor(8.0, dtype=torch.float64), 0.1).log_prob(grid).exp()
    assert abs(gan.jensen_shannon(p, far, dx) - math.log(2)) < 1e-6  # disjoint supports
    assert (gan.optimal_discriminator(torch.zeros(3), torch.zeros(3)) == 0.5).all()


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_laplacian_pyramid_is_exactly_invertible(levels):
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    pyramid = lapgan.laplacian_pyramid(x, levels)
    assert len(pyramid) == levels
    assert [p.shape[-1] for p in pyramid] == [28 // 2**i for i in range(levels)]
    assert (lapgan.reconstruct(pyramid) - x).abs().max() < 1e-5


def test_laplacian_pyramid_residuals_are_band_pass():
    """A constant image has no detail: every residual is zero and the coarse level holds the constant."""
    x = torch.full((1, 1, 28, 28), 0.3)
    pyramid = lapgan.laplacian_pyramid(x, 3)
    assert all(h.abs().max() < 1e-6 for h in pyramid[:-1]) and torch.allclose(
        pyramid[-1], torch.full((1, 1, 7, 7), 0.3)
    )
    with pytest.raises(ValueError, match="divisible"):
        lapgan.laplacian_pyramid(torch.rand(1, 1, 30, 30), 3)


def test_parzen_matches_a_direct_mixture_density():
    g = torch.Generator().manual_seed(0)
    centres, x = torch.rand(7, 3, generator=g), torch.rand(4, 3, generator=g)
    direct = torch.stack(
        [
            D.Independent(D.Normal(centres, 0.2), 1).log_prob(xi).exp().mean().log()
            for xi in x
        ]
    )
    assert torch.allclose(
        evaluation.parzen_log_likelihood(centres, x, 0.2), direct, atol=1e-5
    )
    sigma, scores = evaluation.select_parzen_sigma(centres, x, sigmas=[0.05, 0.2, 5.0])
    assert scores[sigma] == max(scores.values())


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2 + 1
    # closed form for N(0, I) and N(1, 4I): ||1||^2 + tr(I + 4I - 2 * 2I) = 3 + 3
    assert abs(evaluation.frechet_distance(a, b) - 6.0) < 0.15
    assert abs(evaluation.frechet_distance(a, a)) < 1e-6


@pytest.mark.parametrize(
    "make",
    [
        lambda: (
            gan.MLPGenerator(latent=8, hidden=16),
            gan.MLPDiscriminator(hidden=16),
        ),
        lambda: (
            gan.DCGANGenerator(latent=8, width=4),
            gan.DCGANDiscriminator(width=4),
        ),
    ],
    ids=["mlp", "dcgan"],
)
def test_one_training_epoch_of_each_image_gan(make, tmp_path):
    torch.manual_seed(0)
    generator, discriminator = make()
    x = torch.rand(64, 1, 28, 28)
    before = [p.detach().clone() for p in generator.parameters()]
    history = gan.train_gan(
        generator,
        discriminator,
        x,
        gan.GANConfig(epochs=1, batch_size=16, k=2),
        sample_every_epoch=torch.randn(4, 8),
        checkpoint=tmp_path / "c.pt",
    )
    snapshots = history.samples
    assert (
        snapshots[0].shape == (4, 1, 28, 28)
        and 0 <= snapshots[0].min()
        and snapshots[0].max() <= 1
    )
    assert all(np.isfinite(history[k][0]) for k in ("loss_d", "loss_g"))
    assert any(not torch.equal(a, b) for a, b in zip(before, generator.parameters()))
    # the run loaded from its checkpoint (a notebook run again) still has the epoch's images
    loaded = gan.train_gan(
        generator,
        discriminator,
        x,
        gan.GANConfig(epochs=1, batch_size=16, k=2),
        sample_every_epoch=torch.randn(4, 8),
        checkpoint=tmp_path / "c.pt",
    )
    assert len(loaded.samples) == 1 and torch.equal(loaded.samples[0], snapshots[0])


def test_conditional_lapgan_level_trains():
    torch.manual_seed(0)
    images = torch.rand(32, 1, 28, 28)
    residual, coarse = lapgan.laplacian_pyramid(images, 2)
    history = gan.train_gan(
        lapgan.ResidualGenerator(width=4),
        lapgan.ResidualDiscriminator(side=28, width=4),
        residual,
        gan.GANConfig(epochs=1, batch_size=8),
        conditions=lapgan.upsample(coarse),
    )
    assert np.isfinite(history["loss"][0])


def test_lapgan_training_pairs_and_sampling_follow_the_pyramid():
    torch.manual_seed(0)
    images = torch.rand(6, 1, 28, 28)
    pairs, coarsest = lapgan.training_pairs(images, 3)
    assert [h.shape[-1] for h, _ in pairs] == [28, 14] and coarsest.shape[-1] == 7
    # a residual plus its condition is the Gaussian-pyramid image of that level: h_0 + l_0 = I_0
    assert torch.allclose(pairs[0][0] + pairs[0][1], images, atol=1e-6)
    assert torch.allclose(
        pairs[1][0] + pairs[1][1], lapgan.downsample(images), atol=1e-6
    )
    coarse = gan.MLPGenerator(latent=8, hidden=16, out=49, out_shape=(1, 7, 7)).eval()
    residuals = [lapgan.ResidualGenerator(width=4).eval() for _ in range(2)]
    stages, generated = lapgan.sample(coarse, residuals, 5)
    assert [s.shape[-1] for s in stages] == [7, 14, 28] and [
        h.shape[-1] for h in generated
    ] == [14, 28]
    for k in range(
        2
    ):  # each stage is the upsampled previous stage plus that level's generated residual
        assert torch.allclose(
            stages[k + 1], lapgan.upsample(stages[k]) + generated[k], atol=1e-6
        )


def test_maxout_takes_the_max_over_pieces():
    layer = gan.Maxout(3, units=2, pieces=4)
    x = torch.randn(5, 3)
    pieces = layer.linear(x).reshape(5, 2, 4)
    assert torch.equal(layer(x), pieces.max(-1).values)


def test_generator_batch_norm_is_optional():
    with_bn, without = (
        gan.MLPGenerator(latent=4, hidden=8),
        gan.MLPGenerator(latent=4, hidden=8, batch_norm=False),
    )
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in with_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in without.modules())


def test_sample_quality_prefers_real_digits_to_noise():
    g = torch.Generator().manual_seed(0)
    # a fake "test set" of blobs and a fake feature net: pixel means over 4 quadrants
    centres = torch.rand(10, 1, 28, 28, generator=g)
    real = (
        centres[torch.randint(0, 10, (400,), generator=g)]
        + 0.05 * torch.randn(400, 1, 28, 28, generator=g)
    ).clamp(0, 1)

    class Quadrants(torch.nn.Module):
        def features(self, x):
            return torch.nn.functional.avg_pool2d(x, 14).flatten(1)

    net = Quadrants()
    good = evaluation.sample_quality(real[:200], real[200:], real[:100], net)
    noise = evaluation.sample_quality(
        torch.rand(200, 1, 28, 28, generator=g), real[200:], real[:100], net
    )
    collapsed = evaluation.sample_quality(
        real[:1].repeat(200, 1, 1, 1), real[200:], real[:100], net
    )
    assert good["parzen"] > noise["parzen"] and good["frechet"] < noise["frechet"]
    assert (
        collapsed["diversity"] < 1e-6 < good["diversity"]
        and good["real_diversity"] == noise["real_diversity"]
    )


def test_the_1d_game_moves_the_generator_towards_the_data():
    torch.manual_seed(0)
    real = 2 + 0.5 * torch.randn(4000, 1)
    generator, discriminator = gan.ToyGenerator(), gan.ToyDiscriminator()
    with torch.no_grad():
        start = abs(generator(torch.randn(2000, 1)).mean().item() - 2)
    gan.train_gan(
        generator,
        discriminator,
        real,
        gan.GANConfig(epochs=15, batch_size=100, lr=2e-3),
    )
    with torch.no_grad():
        end = abs(generator(torch.randn(2000, 1)).mean().item() - 2)
    assert end < 0.5 * start


def test_gan_config_validation():
    with pytest.raises(ValueError, match="beta1"):
        gan.GANConfig(beta1=1.0)
    with pytest.raises(ValueError, match="positive int"):
        gan.GANConfig(k=0)


def test_paper_scale_models_build_and_run_a_forward_pass():
    """The `paper` scale of the GAN and LAPGAN chapters (1200-unit MLP generator, 240x5 maxout
    discriminator, DCGAN width 64, LAPGAN levels of width 64) is meant for a GPU; here its models
    are built and run once."""
    z = torch.randn(2, 100)
    x = torch.rand(2, 1, 28, 28)
    for generator, discriminator in [
        (gan.MLPGenerator(hidden=1200), gan.MLPDiscriminator(hidden=240)),
        (gan.DCGANGenerator(width=64), gan.DCGANDiscriminator(width=64)),
    ]:
        assert generator(z).shape == x.shape and discriminator(x).shape == (2,)
    coarse = gan.MLPGenerator(hidden=1200, out=49, out_shape=(1, 7, 7))
    levels = [lapgan.ResidualGenerator(width=64), lapgan.ResidualGenerator(width=64)]
    stages, _ = lapgan.sample(coarse.eval(), [g.eval() for g in levels], 2)
    assert stages[-1].shape == x.shape
    assert gan.MLPDiscriminator(inputs=49, hidden=300)(stages[0]).shape == (2,)
    for side, image in ((28, stages[2]), (14, stages[1])):
        assert lapgan.ResidualDiscriminator(side=side, width=64)(
            image, image
        ).shape == (2,)


def test_calibrate_batch_norm_re_estimates_the_statistics_and_leaves_eval_mode():
    torch.manual_seed(0)
    g = gan.DCGANGenerator(latent=4, width=2)
    bn = g.project[1]
    assert torch.all(bn.running_var == 1)
    calibrated = gan.calibrate_batch_norm(g, n=64, batch_size=16)
    assert calibrated is g and not g.training
    assert not torch.all(bn.running_var == 1) and bn.momentum == 0.1
    torch.manual_seed(0)
    again = (
        gan.calibrate_batch_norm(g, n=64, batch_size=16).project[1].running_mean.clone()
    )
    torch.manual_seed(0)
    assert torch.equal(
        gan.calibrate_batch_norm(g, n=64, batch_size=16).project[1].running_mean, again
    )


def test_the_theory_helpers_work_in_float32_with_zero_densities(densities):
    grid, p, q, dx = densities
    p, q = p.clone(), q.clone()
    p[:2000], q[-2000:] = (
        0,
        0,
    )  # exact zeros, where 1e-300 clamps used to become 0 in float32
    p32, q32 = p.float(), q.float()
    d32 = gan.optimal_discriminator(p32, q32)
    assert torch.isfinite(gan.value(d32, p32, q32, dx)) and torch.isfinite(
        gan.jensen_shannon(p32, q32, dx)
    )
    assert (
        abs(
            gan.jensen_shannon(p32, q32, dx).item()
            - gan.jensen_shannon(p, q, dx).item()
        )
        < 1e-5
    )
    assert (
        abs(
            gan.value(d32, p32, q32, dx).item()
            - gan.value(gan.optimal_discriminator(p, q), p, q, dx).item()
        )
        < 1e-5
    )
    # a D that is exactly 0 where the data has mass: the true value is -inf, in both dtypes
    assert gan.value(torch.zeros_like(p32), p32, q32, dx) == -math.inf


def test_sample_quality_takes_images_of_any_size():
    g = torch.Generator().manual_seed(0)
    net = evaluation.MnistFeatureNet().eval()
    for shape in [(60, 1, 14, 14), (60, 3, 32, 32), (60, 1, 28, 28)]:
        x = torch.rand(*shape, generator=g)
        m = evaluation.sample_quality(x[:30], x[30:], x[:10], net)
        assert all(math.isfinite(v) for v in m.values()), shape


def test_lapgan_generate_is_clipped_and_chunked():
    torch.manual_seed(0)
    coarse = gan.MLPGenerator(latent=3, hidden=8, out=16, out_shape=(1, 4, 4)).eval()
    residual = lapgan.ResidualGenerator(width=4, scale=5.0).eval()
    images = lapgan.generate(coarse, [residual], 7, batch_size=3)
    assert images.shape == (7, 1, 8, 8) and images.min() >= 0 and images.max() <= 1


def test_train_lapgan_trains_every_level_with_its_own_checkpoint(tmp_path):
    torch.manual_seed(0)
    images = torch.rand(32, 1, 8, 8)
    coarse = (
        gan.MLPGenerator(latent=3, hidden=8, out=4, out_shape=(1, 2, 2)),
        gan.MLPDiscriminator(4, 4, 2),
    )
    residual = [
        (lapgan.ResidualGenerator(4), lapgan.ResidualDiscriminator(8, 4)),
        (lapgan.ResidualGenerator(4), lapgan.ResidualDiscriminator(4, 4)),
    ]
    histories = lapgan.train_lapgan(
        coarse,
        residual,
        images,
        [1, 1, 2],
        batch_size=8,
        checkpoint=tmp_path / "lap.pt",
    )
    assert sorted(histories) == [0, 1, 2] and len(histories[2]) == 2
    # (beside each checkpoint, its writers' lock file .<name>.lock)
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert written == [
        "lap_level0.pt",
        "lap_level1.pt",
        "lap_level2.pt",
    ]


def test_parzen_protocol_split_and_nearest_neighbours():
    images = torch.arange(60_000.0)[:, None]
    train_part, validation, held_out = evaluation.parzen_protocol_split(images)
    assert (len(train_part), len(validation), len(held_out)) == (50_000, 1_000, 9_000)
    assert validation[0, 0] == 50_000 and held_out[0, 0] == 51_000
    with pytest.raises(ValueError, match="needs the full training set"):
        evaluation.parzen_protocol_split(images[:10_000])
    reference = torch.tensor([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    distance, index = evaluation.nearest_neighbours(
        torch.tensor([[3.0, 3.0], [9.0, 0.0]]), reference, batch_size=1
    )
    assert index.tolist() == [1, 2] and torch.allclose(
        distance, torch.tensor([1.0, 1.0])
    )


def test_generator_losses_saturate_as_derived():
    logits = torch.tensor([-8.0, 0.0, 8.0], requires_grad=True)
    for kind, expected in (
        ("saturating", -torch.sigmoid(logits)),
        ("non-saturating", -(1 - torch.sigmoid(logits))),
    ):
        (grad,) = torch.autograd.grad(gan.generator_loss(logits, kind) * 3, logits)
        assert torch.allclose(grad, expected.detach())
    with pytest.raises(ValueError, match="choose one of"):
        gan.GANConfig(generator_loss="wasserstein")


def test_ring_of_gaussians_covers_every_mode():
    samples = gan.ring_of_gaussians(4000, generator=torch.Generator().manual_seed(0))
    assert gan.mode_coverage(samples) == (8, pytest.approx(1.0, abs=0.01))
    collapsed = samples[samples[:, 0] > 1.8]  # the mode at angle 0 only
    assert gan.mode_coverage(collapsed)[0] == 1


def test_lapgan_calibration_estimates_every_levels_batch_norms():
    """The LAPGAN chapter's untrained reference: each level's generator gets batch-norm
    statistics estimated from its own inputs (coarsest: its samples; residual levels: real
    conditions)."""
    torch.manual_seed(0)
    coarse = gan.MLPGenerator(latent=8, hidden=16, out=49, out_shape=(1, 7, 7))
    generators = [lapgan.ResidualGenerator(width=4) for _ in range(2)]
    lapgan.calibrate_batch_norms(coarse, generators, torch.rand(64, 1, 28, 28))
    for generator in (coarse, *generators):
        norms = [
            m
            for m in generator.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        ]
        assert norms and not generator.training
        assert all(m.num_batches_tracked > 0 for m in norms)
        assert all(m.running_mean.abs().sum() > 0 for m in norms)
