"""Bad inputs of lec16.gan, lec16.lapgan and lec16.evaluation, and the errors they get.

Each case is (what is wrong, a call that does it, the error class, a pattern of its message), as in
``tests/test_bad_inputs.py``. The feature classifier is never trained here: the metrics get an
untrained ``MnistFeatureNet`` (or no net at all) as a stand-in.
"""

import torch
import torch.nn.functional as F

from lec16 import evaluation, gan, lapgan

CASES = [
    # --- gan: the theory helpers
    (
        "optimal_discriminator of log-densities",
        lambda: gan.optimal_discriminator(-torch.linspace(0.1, 1, 5), torch.rand(5)),
        ValueError,
        r"p_data must hold density values \(>= 0\).*not log-densities",
    ),
    (
        "optimal_discriminator of densities on two grids",
        lambda: gan.optimal_discriminator(torch.rand(5), torch.rand(6)),
        ValueError,
        r"values on one grid \(one shape\), got p_data \(5,\), p_g \(6,\)",
    ),
    (
        "gan.value of the discriminator's logits instead of D(x)",
        lambda: gan.value(torch.randn(5) * 3, torch.rand(5), torch.rand(5), 0.1),
        ValueError,
        r"d must hold probabilities D\(x\) in \[0, 1\].*torch.sigmoid\(logits\)",
    ),
    (
        "gan.value with a grid spacing dx = 0",
        lambda: gan.value(torch.rand(5), torch.rand(5), torch.rand(5), 0.0),
        ValueError,
        r"dx must be a positive finite number, got 0.0",
    ),
    (
        "gan.value with the whole grid as dx",
        lambda: gan.value(torch.rand(5), torch.rand(5), torch.rand(5), torch.rand(5)),
        ValueError,
        r"dx must be the grid spacing.*\(grid\[1\] - grid\[0\]\).item\(\)",
    ),
    (
        "jensen_shannon of empty grids (a sum over nothing is 0)",
        lambda: gan.jensen_shannon(torch.zeros(0), torch.zeros(0), 0.1),
        ValueError,
        r"p is empty",
    ),
    (
        "jensen_shannon of integer histogram counts",
        lambda: gan.jensen_shannon(torch.ones(5, dtype=torch.long), torch.rand(5), 0.1),
        ValueError,
        r"p is torch.int64, not floating point",
    ),
    # --- gan: the networks
    (
        "ToyGenerator(latent=2.5)",
        lambda: gan.ToyGenerator(latent=2.5),
        ValueError,
        r"latent must be a positive int, got 2.5",
    ),
    (
        "ToyDiscriminator on 1-D points given as a flat (N,) tensor",
        lambda: gan.ToyDiscriminator(4)(torch.rand(5)),
        ValueError,
        r"ToyDiscriminator expects x of shape \(N, 1\), got \(5,\).*reshape\(-1, 1\)",
    ),
    (
        "ToyGenerator on float64 noise",
        lambda: gan.ToyGenerator(4)(torch.randn(5, 1, dtype=torch.float64)),
        ValueError,
        r"z is torch.float64 on cpu but ToyGenerator is torch.float32 on cpu; convert it",
    ),
    (
        "MLPGenerator on noise of another size than its latent",
        lambda: gan.MLPGenerator(latent=3, hidden=8)(torch.randn(5, 4)),
        ValueError,
        r"MLPGenerator expects z of shape \(N, 3\), got \(5, 4\)",
    ),
    (
        "MLPGenerator whose out_shape does not hold out values",
        lambda: gan.MLPGenerator(latent=3, hidden=8, out=784, out_shape=(1, 14, 14)),
        ValueError,
        r"out_shape must be the shape of one output of out=784 values",
    ),
    (
        "Maxout on inputs of another size",
        lambda: gan.Maxout(4, 3, 2)(torch.rand(5, 6)),
        ValueError,
        r"Maxout expects x of shape \(\.\.\., 4\) \(inputs=4\), got \(5, 6\)",
    ),
    (
        "MLPDiscriminator on 8-bit images",
        lambda: gan.MLPDiscriminator(hidden=4, pieces=2)(
            torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
        ),
        ValueError,
        r"x is torch.uint8, not floating point.*divide 8-bit pixels by 255",
    ),
    (
        "MLPDiscriminator built for 784 values on 14x14 images",
        lambda: gan.MLPDiscriminator(hidden=4, pieces=2)(torch.rand(2, 1, 14, 14)),
        ValueError,
        r"MLPDiscriminator expects examples of 784 values \(inputs=784\), got .*\(2, 1, 14, 14\)",
    ),
    (
        "DCGANGenerator on float64 noise",
        lambda: gan.DCGANGenerator(latent=3, width=2)(
            torch.randn(2, 3, dtype=torch.float64)
        ),
        ValueError,
        r"z is torch.float64 on cpu but DCGANGenerator is torch.float32",
    ),
    (
        "DCGANDiscriminator for grey images on colour images",
        lambda: gan.DCGANDiscriminator(width=2)(torch.rand(2, 3, 28, 28)),
        ValueError,
        r"built for 1-channel images \(channels=1\), got shape \(2, 3, 28, 28\)",
    ),
    # --- gan: sampling and training
    (
        "sampling from a generator without parameters",
        lambda: gan.generate(torch.nn.Identity(), 4),
        ValueError,
        r"generator \(Identity\) has no parameters",
    ),
    (
        "gan.generate(n=2.5) (already refused)",
        lambda: gan.generate(gan.ToyGenerator(4), 2.5),
        ValueError,
        r"n must be a positive int, got 2.5",
    ),
    (
        "calibrate_batch_norm with a forward that is not a function",
        lambda: gan.calibrate_batch_norm(gan.DCGANGenerator(3, 2), forward=5),
        ValueError,
        r"forward must be a function of no argument",
    ),
    (
        "calibrate_batch_norm with n=0 (before any statistic is reset)",
        lambda: gan.calibrate_batch_norm(gan.DCGANGenerator(3, 2), n=0),
        ValueError,
        r"n must be a positive int, got 0",
    ),
    (
        "GANConfig(seed=2**32) (NumPy would fold it onto another seed)",
        lambda: gan.GANConfig(seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "GANConfig(seed=-1)",
        lambda: gan.GANConfig(seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\].*got -1",
    ),
    (
        "GANConfig(beta1='0.5')",
        lambda: gan.GANConfig(beta1="0.5"),
        ValueError,
        r"beta1 must be in \[0, 1\), got '0.5'",
    ),
    (
        "GANConfig(k=2.5) (already refused)",
        lambda: gan.GANConfig(k=2.5),
        ValueError,
        r"k must be a positive int, got 2.5",
    ),
    (
        "discriminator_loss of an empty batch (its mean is NaN)",
        lambda: gan.discriminator_loss(torch.zeros(0), torch.zeros(0)),
        ValueError,
        r"d_real_logits is empty",
    ),
    (
        "discriminator_loss of integer logits",
        lambda: gan.discriminator_loss(torch.ones(3, dtype=torch.long), torch.zeros(3)),
        ValueError,
        r"d_real_logits is torch.int64, not floating point",
    ),
    (
        "generator_loss of a list of logits",
        lambda: gan.generator_loss([0.1, 0.2]),
        ValueError,
        r"d_fake_logits must be a torch.Tensor, got a list",
    ),
    (
        "generator_loss(kind='wasserstein') (already refused)",
        lambda: gan.generator_loss(torch.zeros(3), "wasserstein"),
        ValueError,
        r"kind='wasserstein' is not valid; choose one of: 'non-saturating', 'saturating'",
    ),
    (
        "ring_of_gaussians with a negative std",
        lambda: gan.ring_of_gaussians(10, std=-0.1),
        ValueError,
        r"std must be a finite number >= 0, got -0.1",
    ),
    (
        "ring_of_gaussians with radius 0",
        lambda: gan.ring_of_gaussians(10, radius=0.0),
        ValueError,
        r"radius must be a positive finite number, got 0.0",
    ),
    (
        "ring_of_gaussians given a seed as its generator",
        lambda: gan.ring_of_gaussians(10, generator=0),
        ValueError,
        r"generator must be a torch.Generator or None, got a int.*manual_seed",
    ),
    (
        "mode_coverage of no samples (reported all 8 modes covered)",
        lambda: gan.mode_coverage(torch.zeros(0, 2)),
        ValueError,
        r"samples is empty",
    ),
    (
        "mode_coverage of 3-D points",
        lambda: gan.mode_coverage(torch.rand(10, 3)),
        ValueError,
        r"samples must be 2-D points of shape \(n, 2\), got shape \(10, 3\)",
    ),
    (
        "mode_coverage(min_share=0) (every mode would be covered)",
        lambda: gan.mode_coverage(torch.rand(10, 2), min_share=0),
        ValueError,
        r"min_share must be a positive finite number, got 0",
    ),
    (
        "train_gan on float64 data (the players are float32)",
        lambda: gan.train_gan(
            gan.ToyGenerator(4),
            gan.ToyDiscriminator(4),
            torch.rand(200, 1, dtype=torch.float64),
            gan.GANConfig(epochs=1),
        ),
        ValueError,
        r"x_train is torch.float64 on cpu but the discriminator is torch.float32 on cpu",
    ),
    (
        "train_gan on 8-bit images",
        lambda: gan.train_gan(
            gan.MLPGenerator(latent=3, hidden=8),
            gan.MLPDiscriminator(hidden=4, pieces=2),
            torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8),
            gan.GANConfig(epochs=1),
        ),
        ValueError,
        r"x_train is torch.uint8, not floating point.*divide 8-bit pixels by 255",
    ),
    (
        "train_gan on 1-D toy data of shape (N,)",
        lambda: gan.train_gan(
            gan.ToyGenerator(4),
            gan.ToyDiscriminator(4),
            torch.rand(200),
            gan.GANConfig(epochs=1),
        ),
        ValueError,
        r"x_train must have at least 2 dimension\(s\) \(examples first\), got shape \(200,\)",
    ),
    (
        "train_gan with fewer examples than one step's batch_size * k",
        lambda: gan.train_gan(
            gan.ToyGenerator(4),
            gan.ToyDiscriminator(4),
            torch.rand(100, 1),
            gan.GANConfig(epochs=1, batch_size=64, k=2),
        ),
        ValueError,
        r"x_train has 100 examples, fewer than one step's batch_size \* k = 64 \* 2",
    ),
    (
        "train_gan with a dict as its config",
        lambda: gan.train_gan(
            gan.ToyGenerator(4),
            gan.ToyDiscriminator(4),
            torch.rand(100, 1),
            {"epochs": 1},
        ),
        ValueError,
        r"config must be a GANConfig, got a dict",
    ),
    (
        "train_gan with fewer conditions than examples",
        lambda: gan.train_gan(
            lapgan.ResidualGenerator(4),
            lapgan.ResidualDiscriminator(8, 4),
            torch.rand(16, 1, 8, 8),
            gan.GANConfig(epochs=1, batch_size=8),
            conditions=torch.rand(12, 1, 8, 8),
        ),
        ValueError,
        r"conditions has 12 rows for the 16 examples of x_train",
    ),
    (
        "train_gan with fixed latents for a conditional generator",
        lambda: gan.train_gan(
            lapgan.ResidualGenerator(4),
            lapgan.ResidualDiscriminator(8, 4),
            torch.rand(16, 1, 8, 8),
            gan.GANConfig(epochs=1, batch_size=8),
            conditions=torch.rand(16, 1, 8, 8),
            sample_every_epoch=torch.randn(4, 8),
        ),
        ValueError,
        r"sample_every_epoch \(fixed latents z\) is for an unconditional generator",
    ),
    (
        "train_gan with fixed latents of another size",
        lambda: gan.train_gan(
            gan.MLPGenerator(latent=8, hidden=8),
            gan.MLPDiscriminator(hidden=4, pieces=2),
            torch.rand(64, 1, 28, 28),
            gan.GANConfig(epochs=1),
            sample_every_epoch=torch.randn(4, 100),
        ),
        ValueError,
        r"sample_every_epoch must hold latents of shape \(n, 8\), got \(4, 100\)",
    ),
    (
        "train_gan with an evaluate that is not a function",
        lambda: gan.train_gan(
            gan.ToyGenerator(4),
            gan.ToyDiscriminator(4),
            torch.rand(100, 1),
            gan.GANConfig(epochs=1),
            evaluate={},
        ),
        ValueError,
        r"evaluate must be a function of the epoch or None, got a dict",
    ),
    # --- lapgan
    (
        "downsample of images with an odd side",
        lambda: lapgan.downsample(torch.rand(2, 1, 7, 7)),
        ValueError,
        r"x has sides \(7, 7\): 2x2 average pooling needs even sides",
    ),
    (
        "upsample of one image without its batch dimension",
        lambda: lapgan.upsample(torch.rand(1, 7, 7)),
        ValueError,
        r"x must be a batch of images \(N, C, H, W\), got shape \(1, 7, 7\)",
    ),
    (
        "gaussian_pyramid of 8-bit images",
        lambda: lapgan.gaussian_pyramid(
            torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8), 2
        ),
        ValueError,
        r"x is torch.uint8, not floating point",
    ),
    (
        "gaussian_pyramid(levels=2.5) (already refused)",
        lambda: lapgan.gaussian_pyramid(torch.rand(2, 1, 8, 8), 2.5),
        ValueError,
        r"levels must be a positive int, got 2.5",
    ),
    (
        "reconstruct of an empty pyramid",
        lambda: lapgan.reconstruct([]),
        ValueError,
        r"pyramid must be a non-empty list .* got an empty one",
    ),
    (
        "reconstruct of a pyramid given coarsest level first",
        lambda: lapgan.reconstruct(
            lapgan.laplacian_pyramid(torch.rand(2, 1, 8, 8), 3)[::-1]
        ),
        ValueError,
        r"pyramid\[1\] has shape \(2, 1, 4, 4\) but the level above it upsamples to "
        r"\(2, 1, 16, 16\): pass the levels finest first",
    ),
    (
        "lapgan.sample(n=2.5)",
        lambda: lapgan.sample(
            gan.MLPGenerator(3, 8, 16, (1, 4, 4)).eval(),
            [lapgan.ResidualGenerator(4).eval()],
            2.5,
        ),
        ValueError,
        r"n must be a positive int, got 2.5",
    ),
    (
        "lapgan.sample with one residual generator not in a list",
        lambda: lapgan.sample(
            gan.MLPGenerator(3, 8, 16, (1, 4, 4)).eval(),
            lapgan.ResidualGenerator(4).eval(),
            2,
        ),
        ValueError,
        r"residual_generators must be a list of generators \(coarse to fine\), got a "
        r"ResidualGenerator; one level takes \[generator\]",
    ),
    (
        "lapgan.refine of a coarse image without its batch dimension",
        lambda: lapgan.refine(
            torch.rand(1, 4, 4), [lapgan.ResidualGenerator(4).eval()]
        ),
        ValueError,
        r"coarse must be a batch of images \(N, C, H, W\), got shape \(1, 4, 4\)",
    ),
    (
        "train_lapgan with 0 epochs at a finer level (checked before the coarsest trains)",
        lambda: lapgan.train_lapgan(
            (gan.MLPGenerator(3, 8, 4, (1, 2, 2)), gan.MLPDiscriminator(4, 4, 2)),
            [(lapgan.ResidualGenerator(4), lapgan.ResidualDiscriminator(4, 4))],
            torch.rand(16, 1, 4, 4),
            [0, 1],
        ),
        ValueError,
        r"epochs\[0\] must be a positive int, got 0",
    ),
    (
        "train_lapgan(seed=2**40)",
        lambda: lapgan.train_lapgan(
            (gan.MLPGenerator(3, 8, 4, (1, 2, 2)), gan.MLPDiscriminator(4, 4, 2)),
            [(lapgan.ResidualGenerator(4), lapgan.ResidualDiscriminator(4, 4))],
            torch.rand(16, 1, 4, 4),
            [1, 1],
            seed=2**40,
        ),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "train_lapgan with one residual pair not in a list",
        lambda: lapgan.train_lapgan(
            (gan.MLPGenerator(3, 8, 4, (1, 2, 2)), gan.MLPDiscriminator(4, 4, 2)),
            (lapgan.ResidualGenerator(4), lapgan.ResidualDiscriminator(4, 4)),
            torch.rand(16, 1, 4, 4),
            [1, 1, 1],
        ),
        ValueError,
        r"residual\[0\] must be a pair \(generator, discriminator\), got a ResidualGenerator",
    ),
    (
        "ResidualGenerator given noise of another shape than the coarse image",
        lambda: lapgan.ResidualGenerator(4)(
            torch.rand(2, 1, 8, 8), torch.rand(2, 1, 4, 4)
        ),
        ValueError,
        r"noise \(2, 1, 8, 8\) and coarse \(2, 1, 4, 4\) must have one shape.*upsampled",
    ),
    (
        "ResidualGenerator on colour images",
        lambda: lapgan.ResidualGenerator(4)(
            torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
        ),
        ValueError,
        r"ResidualGenerator expects noise of shape \(N, 1, H, W\), got \(2, 3, 8, 8\)",
    ),
    (
        "ResidualGenerator(scale=0)",
        lambda: lapgan.ResidualGenerator(4, scale=0),
        ValueError,
        r"scale must be a positive finite number, got 0",
    ),
    (
        "ResidualDiscriminator(side=2)",
        lambda: lapgan.ResidualDiscriminator(2),
        ValueError,
        r"side must be an int >= 4, got 2",
    ),
    (
        "ResidualDiscriminator built for 8x8 on 16x16 images",
        lambda: lapgan.ResidualDiscriminator(8, 4)(
            torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
        ),
        ValueError,
        r"ResidualDiscriminator expects residual of shape \(N, 1, 8, 8\), got \(2, 1, 16, 16\)",
    ),
    (
        "calibrate_batch_norms on images whose sides the levels do not divide",
        lambda: lapgan.calibrate_batch_norms(
            gan.MLPGenerator(3, 8, 49, (1, 7, 7)),
            [lapgan.ResidualGenerator(4)],
            torch.rand(4, 1, 7, 7),
        ),
        ValueError,
        r"image sides \(7, 7\) must be divisible by 2\^\(levels-1\) = 2",
    ),
    # --- evaluation
    (
        "error_rate with one-hot labels (reported 1000 %)",
        lambda: evaluation.error_rate(
            lambda x: x, torch.rand(4, 10), F.one_hot(torch.arange(4), 10)
        ),
        ValueError,
        r"y must be a 1-D integer tensor of class indices.*pass y.argmax\(-1\)",
    ),
    (
        "error_rate with label 10 of 10 classes",
        lambda: evaluation.error_rate(
            lambda x: x, torch.rand(4, 10), torch.tensor([1, 2, 3, 10])
        ),
        ValueError,
        r"y must lie in 0..9, got values from 1 to 10",
    ),
    (
        "error_rate with fewer labels than examples",
        lambda: evaluation.error_rate(lambda x: x, torch.rand(4, 10), torch.arange(3)),
        ValueError,
        r"y has 3 labels for 4 examples",
    ),
    (
        "error_rate of a classifier with one logit per example",
        lambda: evaluation.error_rate(
            lambda x: x.sum(1), torch.rand(4, 10), torch.zeros(4).long()
        ),
        ValueError,
        r"logits must return scores of shape \(N, classes\), got shape \(4,\)",
    ),
    (
        "error_rate of no examples (a division by zero)",
        lambda: evaluation.error_rate(
            lambda x: x, torch.rand(0, 10), torch.zeros(0).long()
        ),
        ValueError,
        r"x is empty",
    ),
    (
        "confident_share of 8-bit pixel values (0..255)",
        lambda: evaluation.confident_share(
            evaluation.MnistFeatureNet(), 255 * torch.rand(4, 1, 28, 28)
        ),
        ValueError,
        r"images must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "confident_share(threshold='0.9')",
        lambda: evaluation.confident_share(
            evaluation.MnistFeatureNet(), torch.rand(4, 1, 28, 28), "0.9"
        ),
        ValueError,
        r"threshold must be in \(0, 1\), got '0.9'",
    ),
    (
        "sample_quality of 8-bit pixel values (0..255)",
        lambda: evaluation.sample_quality(
            255 * torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            evaluation.MnistFeatureNet(),
        ),
        ValueError,
        r"samples must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "sample_quality of one sample",
        lambda: evaluation.sample_quality(
            torch.rand(1, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            evaluation.MnistFeatureNet(),
        ),
        ValueError,
        r"samples has 1 image\(s\); the metrics need at least 2",
    ),
    (
        "sample_quality of 14x14 samples against 28x28 test images",
        lambda: evaluation.sample_quality(
            torch.rand(8, 1, 14, 14),
            torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            evaluation.MnistFeatureNet(),
        ),
        ValueError,
        r"the Parzen window compares images of one size; pixels per image: "
        r"\{'samples': 196, 'test_images': 784, 'validation_images': 784\}",
    ),
    (
        "sample_quality with float64 test images and float32 samples",
        lambda: evaluation.sample_quality(
            torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28, dtype=torch.float64),
            torch.rand(8, 1, 28, 28),
            evaluation.MnistFeatureNet(),
        ),
        ValueError,
        r"test_images is torch.float64 on cpu but samples is torch.float32 on cpu",
    ),
    (
        "sample_quality with a net that has no features method",
        lambda: evaluation.sample_quality(
            torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            torch.nn.Linear(784, 10),
        ),
        ValueError,
        r"net must be the feature classifier.*features\(images\) method; got a Linear",
    ),
    (
        "untrained_reference of 8-bit pixel values (0..255)",
        lambda: evaluation.untrained_reference(
            255 * torch.rand(8, 1, 28, 28),
            torch.rand(8, 1, 28, 28),
            evaluation.MnistFeatureNet(),
        ),
        ValueError,
        r"samples must hold intensities in \[0, 1\]",
    ),
    (
        "features of 8-bit images",
        lambda: evaluation.features(
            evaluation.MnistFeatureNet(),
            torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8),
        ),
        ValueError,
        r"images is torch.uint8, not floating point.*divide 8-bit pixels by 255",
    ),
    (
        "MnistFeatureNet on flattened 784-vectors",
        lambda: evaluation.MnistFeatureNet()(torch.rand(2, 784)),
        ValueError,
        r"MnistFeatureNet expects grey 28x28 images \(N, 1, 28, 28\), got shape \(2, 784\).*"
        r"as_mnist_images",
    ),
    (
        "MnistFeatureNet on float64 images",
        lambda: evaluation.MnistFeatureNet().features(
            torch.rand(2, 1, 28, 28, dtype=torch.float64)
        ),
        ValueError,
        r"x is torch.float64 on cpu but MnistFeatureNet is torch.float32 on cpu",
    ),
    (
        "feature_net(epochs=0) (refused before loading anything)",
        lambda: evaluation.feature_net(epochs=0),
        ValueError,
        r"epochs must be a positive int, got 0",
    ),
    (
        "feature_net(device='gpu')",
        lambda: evaluation.feature_net(device="gpu"),
        ValueError,
        r"device='gpu' is not a torch device; use e.g. 'cpu', 'cuda' or 'cuda:0'",
    ),
    (
        "as_mnist_images of 8-bit images",
        lambda: evaluation.as_mnist_images(
            torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
        ),
        ValueError,
        r"images is torch.uint8, not floating point",
    ),
    (
        "Parzen window of float64 images around float32 samples",
        lambda: evaluation.parzen_log_likelihood(
            torch.rand(5, 4), torch.rand(3, 4, dtype=torch.float64), 0.2
        ),
        ValueError,
        r"x is torch.float64 on cpu but samples is torch.float32 on cpu",
    ),
    (
        "Parzen window of no samples",
        lambda: evaluation.parzen_log_likelihood(
            torch.rand(0, 4), torch.rand(3, 4), 0.2
        ),
        ValueError,
        r"samples is empty",
    ),
    (
        "Parzen window with batch_size=0",
        lambda: evaluation.parzen_log_likelihood(
            torch.rand(5, 4), torch.rand(3, 4), 0.2, batch_size=0
        ),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "select_parzen_sigma with no candidate widths",
        lambda: evaluation.select_parzen_sigma(torch.rand(5, 4), torch.rand(3, 4), []),
        ValueError,
        r"sigmas is empty: pass at least one candidate width",
    ),
    (
        "select_parzen_sigma with one width instead of a sequence",
        lambda: evaluation.select_parzen_sigma(torch.rand(5, 4), torch.rand(3, 4), 0.2),
        ValueError,
        r"sigmas must be a sequence of candidate widths, e.g. \[0.1, 0.2\], got 0.2",
    ),
    (
        "nearest_neighbours between images of two sizes",
        lambda: evaluation.nearest_neighbours(
            torch.rand(3, 1, 14, 14), torch.rand(7, 1, 28, 28)
        ),
        ValueError,
        r"queries have 196 values each and reference 784: they must be images of one size",
    ),
    (
        "nearest_neighbours of no queries",
        lambda: evaluation.nearest_neighbours(torch.rand(0, 4), torch.rand(7, 4)),
        ValueError,
        r"queries is empty",
    ),
    (
        "parzen_protocol_split of a list",
        lambda: evaluation.parzen_protocol_split([0.0] * 60_000),
        ValueError,
        r"images must be a torch.Tensor, got a list",
    ),
    (
        "mmd of 1-D points given as flat (n,) tensors",
        lambda: evaluation.mmd(torch.rand(5), torch.rand(6)),
        ValueError,
        r"mmd needs points of shape \(n, d\), got x of shape \(5,\): write x\[:, None\]",
    ),
    (
        "mmd with no bandwidths (a sum over none is 0)",
        lambda: evaluation.mmd(torch.rand(5, 2), torch.rand(6, 2), ()),
        ValueError,
        r"bandwidths must be a non-empty sequence of kernel widths",
    ),
    (
        "mmd with a negative bandwidth",
        lambda: evaluation.mmd(torch.rand(5, 2), torch.rand(6, 2), (0.1, -1.0)),
        ValueError,
        r"bandwidths\[1\] must be a positive finite number, got -1.0",
    ),
    (
        "mmd between float32 and float64 points",
        lambda: evaluation.mmd(torch.rand(5, 2), torch.rand(6, 2, dtype=torch.float64)),
        ValueError,
        r"y is torch.float64 on cpu but x is torch.float32 on cpu",
    ),
]
