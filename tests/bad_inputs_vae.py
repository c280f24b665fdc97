"""Bad inputs of lec16.vae, iwae, ssvae, flow_vae and autoencoder, in the 4-tuple format of
``tests/test_bad_inputs.py``: (what is wrong, a call that does it, the error class, a pattern of
its message)."""

import torch

from lec16 import autoencoder, data, flow_vae, iwae, ssvae, vae

CASES = [
    # vae
    (
        "VAE given float64 examples (the model is float32)",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2))(
            torch.zeros(2, 784).double()
        ),
        ValueError,
        r"x is torch.float64 on cpu but the VAE is torch.float32 on cpu; convert it with "
        r"x.to\(device='cpu', dtype=torch.float32\)",
    ),
    (
        "VAE given 8-bit (uint8) images",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2))(
            torch.zeros(2, 784, dtype=torch.uint8)
        ),
        ValueError,
        r"x is torch.uint8, not floating point: convert it with x.float\(\) .*divide 8-bit "
        r"pixels by 255",
    ),
    (
        "VAE given an empty batch",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2))(torch.zeros(0, 784)),
        ValueError,
        r"x is empty \(shape \(0, 784\)\): pass at least one example",
    ),
    (
        "vae.check_features on an empty batch",
        lambda: vae.check_features(torch.zeros(0, 784), 784, "VAE"),
        ValueError,
        r"VAE got an empty batch \(shape \(0, 784\)\): pass at least one example",
    ),
    (
        "vae.check_features on a list",
        lambda: vae.check_features([[0.0] * 4], 4, "VAE"),
        ValueError,
        r"VAE expects a torch.Tensor of examples, got a list",
    ),
    (
        "vae.elbo on grey-level digits (Bernoulli decoder)",
        lambda: vae.elbo(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.full((3, 784), 0.5)
        ),
        ValueError,
        r"x must be binary for a Bernoulli decoder: binarize it with "
        r"lec16.data.binarize_threshold or binarize_dynamic$",
    ),
    (
        "vae.elbo on images in 0..255",
        lambda: vae.elbo(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2, likelihood="gaussian")),
            torch.full((3, 784), 255.0),
        ),
        ValueError,
        r"x must hold intensities in \[0, 1\], got values in \[255, 255\]: divide 8-bit "
        r"pixels by 255",
    ),
    (
        "vae.elbo with batch_size=0",
        lambda: vae.elbo(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(3, 784), batch_size=0
        ),
        ValueError,
        r"batch_size must be an int >= 1, got 0",
    ),
    (
        "vae.elbo of no examples",
        lambda: vae.elbo(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(0, 784)
        ),
        ValueError,
        r"x is empty \(shape \(0, 784\)\)",
    ),
    (
        "a VAE's bound with n_samples=2.5",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2))(torch.ones(2, 784), 2.5),
        ValueError,
        r"n_samples must be an int >= 1, got 2.5",
    ),
    (
        "VAE.sample(2.5)",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2)).sample(2.5),
        ValueError,
        r"n must be an int >= 1, got 2.5",
    ),
    (
        "VAE.decode of 3-D latents for a 2-D latent model",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2)).decode(torch.zeros(4, 3)),
        ValueError,
        r"z must hold 2 latent coordinates in its last dimension \(latent=2\), got shape "
        r"\(4, 3\)",
    ),
    (
        "VAE.log_joint with float64 latents (the model is float32)",
        lambda: vae.VAE(vae.VAEConfig(hidden=8, latent=2)).log_joint(
            torch.ones(3, 784), torch.zeros(1, 3, 2, dtype=torch.float64)
        ),
        ValueError,
        r"z is torch.float64 on cpu but the VAE is torch.float32",
    ),
    (
        "vae.gaussian_kl with one log-variance for two means",
        lambda: vae.gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 1)),
        ValueError,
        r"mu has shape \(3, 2\) but logvar has shape \(3, 1\): pass one log-variance per mean",
    ),
    (
        "vae.reparametrize with n_samples=0 (an empty draw)",
        lambda: vae.reparametrize(torch.zeros(3, 2), torch.zeros(3, 2), 0),
        ValueError,
        r"n_samples must be an int >= 1, got 0",
    ),
    (
        "VAE built from an int instead of a VAEConfig",
        lambda: vae.VAE(784),
        ValueError,
        r"VAE needs a VAEConfig, got int: build it with VAE\(VAEConfig\(",
    ),
    (
        "TrainConfig with a seed beyond NumPy's range",
        lambda: vae.TrainConfig(seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "TrainConfig(dynamic_binarization='no') (a truthy string)",
        lambda: vae.TrainConfig(dynamic_binarization="no"),
        ValueError,
        r"dynamic_binarization must be True or False, got 'no'",
    ),
    (
        "TrainConfig(lr=0)",
        lambda: vae.TrainConfig(lr=0),
        ValueError,
        r"lr must be a positive finite number, got 0",
    ),
    (
        "burda_lr_factor of epoch -1",
        lambda: vae.burda_lr_factor(-1),
        ValueError,
        r"epoch must be an int >= 0, got -1",
    ),
    (
        "make_optimizer with a dict for its config",
        lambda: vae.make_optimizer([torch.nn.Parameter(torch.zeros(1))], {"lr": 0.1}),
        ValueError,
        r"config must be a lec16.vae.TrainConfig, got dict",
    ),
    (
        "train_vae with 8-bit (uint8) training images",
        lambda: vae.train_vae(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)),
            torch.zeros(4, 784, dtype=torch.uint8),
            torch.ones(4, 784),
            vae.TrainConfig(epochs=1),
        ),
        ValueError,
        r"x_train is torch.uint8, not floating point: convert it with x_train.float\(\)",
    ),
    (
        "train_vae with an empty test set",
        lambda: vae.train_vae(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)),
            torch.ones(4, 784),
            torch.ones(0, 784),
            vae.TrainConfig(epochs=1),
        ),
        ValueError,
        r"x_test is empty \(shape \(0, 784\)\)",
    ),
    (
        "train_vae with evaluate_samples=0",
        lambda: vae.train_vae(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)),
            torch.ones(4, 784),
            torch.ones(4, 784),
            vae.TrainConfig(epochs=1),
            evaluate_samples=0,
        ),
        ValueError,
        r"evaluate_samples must be an int >= 1, got 0",
    ),
    (
        "exact_quantities_2d given a batch of three digits",
        lambda: vae.exact_quantities_2d(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(3, 784)
        ),
        ValueError,
        r"takes one example of 784 values, got a tensor of shape \(3, 784\): pass x\[i\]",
    ),
    (
        "exact_quantities_2d of a grey-level digit (Bernoulli decoder)",
        lambda: vae.exact_quantities_2d(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.full((784,), 0.5)
        ),
        ValueError,
        r"x must be binary for a Bernoulli decoder",
    ),
    (
        "exact_quantities_2d with a grid of n=1 point",
        lambda: vae.exact_quantities_2d(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(784), n=1
        ),
        ValueError,
        r"n must be an int >= 2, got 1",
    ),
    (
        "exact_quantities_2d of a flow VAE (its q is not Gaussian)",
        lambda: vae.exact_quantities_2d(
            flow_vae.FlowVAE(flow_vae.FlowVAEConfig(hidden=8, latent=2, flows=2)),
            torch.ones(784),
        ),
        ValueError,
        r"needs the Gaussian q\(z \| x\) of a plain VAE; this FlowVAE has 2 flows",
    ),
    (
        "latent_grid(0)",
        lambda: vae.latent_grid(0),
        ValueError,
        r"n must be a positive int, got 0",
    ),
    # iwae
    (
        "iwae.log_likelihood with k=2.5 (was silently k=2)",
        lambda: iwae.log_likelihood(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(2, 784), k=2.5
        ),
        ValueError,
        r"k must be a positive int, got 2.5",
    ),
    (
        "iwae.bounds_by_k with ks=(1, 2.5)",
        lambda: iwae.bounds_by_k(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(2, 784), (1, 2.5)
        ),
        ValueError,
        r"ks\[1\] must be a positive int, got 2.5",
    ),
    (
        "iwae.bounds_by_k with ks=5 (not a sequence)",
        lambda: iwae.bounds_by_k(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(2, 784), 5
        ),
        ValueError,
        r"ks must be a sequence of sample sizes such as \(1, 5, 50\), got 5; for one k pass "
        r"\(k,\)",
    ),
    (
        "iwae.bounds_by_k with no ks",
        lambda: iwae.bounds_by_k(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(2, 784), ()
        ),
        ValueError,
        r"ks is empty",
    ),
    (
        "iwae.log_likelihood of grey-level digits (Bernoulli decoder)",
        lambda: iwae.log_likelihood(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.full((2, 784), 0.5), k=2
        ),
        ValueError,
        r"x must be binary for a Bernoulli decoder",
    ),
    (
        "iwae.log_likelihood of float64 digits (the model is float32)",
        lambda: iwae.log_likelihood(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)),
            torch.ones(2, 784, dtype=torch.float64),
            k=2,
        ),
        ValueError,
        r"x is torch.float64 on cpu but the model is torch.float32 on cpu",
    ),
    (
        "iwae.bounds_by_k of no digits",
        lambda: iwae.bounds_by_k(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(0, 784), (1,)
        ),
        ValueError,
        r"x is empty",
    ),
    (
        "iwae.objective with k=2.5",
        lambda: iwae.objective(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(2, 784), 2.5
        ),
        ValueError,
        r"k must be a positive int, got 2.5",
    ),
    (
        "iwae_bound of zero samples",
        lambda: iwae.iwae_bound(torch.zeros(0, 3)),
        ValueError,
        r"log_w holds no weights along dim=0 \(shape \(0, 3\)\): pass at least one sample",
    ),
    (
        "iwae_bound along dim=2 of a 2-D tensor",
        lambda: iwae.iwae_bound(torch.zeros(4, 3), dim=2),
        ValueError,
        r"dim must be an int naming a dimension of log_w \(shape \(4, 3\)\), got 2",
    ),
    (
        "iwae.active_units with batch_size=0",
        lambda: iwae.active_units(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(4, 784), batch_size=0
        ),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "iwae.active_units of images in 0..255",
        lambda: iwae.active_units(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.full((4, 784), 255.0)
        ),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "LinearGaussian with 5 offsets for 6 observed dimensions",
        lambda: iwae.LinearGaussian(torch.zeros(6, 2), torch.zeros(5), 0.5),
        ValueError,
        r"b must be a vector of D=6 offsets \(W has shape \(6, 2\)\), got shape \(5,\)",
    ),
    (
        "LinearGaussian with sigma=0",
        lambda: iwae.LinearGaussian(torch.zeros(6, 2), torch.zeros(6), 0.0),
        ValueError,
        r"sigma must be a positive finite number, got 0.0",
    ),
    (
        "LinearGaussian.log_joint of 3-D latents (d=2)",
        lambda: iwae.LinearGaussian(torch.zeros(6, 2), torch.zeros(6), 0.5).log_joint(
            torch.zeros(6), torch.zeros(4, 3)
        ),
        ValueError,
        r"z must hold latents of 2 coordinates in its last dimension, got shape \(4, 3\)",
    ),
    (
        "LinearGaussian.bound_samples with k=2.5",
        lambda: iwae.LinearGaussian(
            torch.zeros(6, 2), torch.zeros(6), 0.5
        ).bound_samples(
            torch.zeros(6),
            iwae.LinearGaussian(torch.zeros(6, 2), torch.zeros(6), 0.5).proposal(
                torch.zeros(6)
            ),
            2.5,
            3,
        ),
        ValueError,
        r"k must be a positive int, got 2.5",
    ),
    # ssvae
    (
        "M2.labelled_bound with boolean labels",
        lambda: ssvae.M2(x_dim=6).labelled_bound(
            torch.ones(2, 6), torch.tensor([True, False])
        ),
        ValueError,
        r"labels must be a 1-D integer tensor of 2 class indices, got dtype torch.bool",
    ),
    (
        "M2.classify of float64 examples (the model is float32)",
        lambda: ssvae.M2(x_dim=6).classify(torch.ones(2, 6, dtype=torch.float64)),
        ValueError,
        r"x is torch.float64 on cpu but the M2 is torch.float32 on cpu",
    ),
    (
        "M2.labelled_bound with noise for the wrong number of examples",
        lambda: ssvae.M2(x_dim=6, z_dim=2).labelled_bound(
            torch.ones(2, 6), torch.tensor([0, 1]), torch.zeros(3, 2)
        ),
        ValueError,
        r"eps must hold one standard normal draw per z, shape \(2, 2\), got \(3, 2\)",
    ),
    (
        "M2.encode with three labels for two examples",
        lambda: ssvae.M2(x_dim=6).encode(torch.ones(2, 6), torch.tensor([0, 1, 2])),
        ValueError,
        r"labels must be a 1-D integer tensor of 2 class indices, got dtype torch.int64 "
        r"and shape \(3,\)",
    ),
    (
        "M2.generate with float labels",
        lambda: ssvae.M2(x_dim=6, z_dim=2).generate(
            torch.zeros(2, 2), torch.tensor([0.0, 1.0])
        ),
        ValueError,
        r"labels must be an integer tensor of class indices, got dtype torch.float32",
    ),
    (
        "M2.generate with label 10 of 10 classes",
        lambda: ssvae.M2(x_dim=6, z_dim=2).generate(
            torch.zeros(2, 2), torch.tensor([0, 10])
        ),
        ValueError,
        r"labels must lie in 0..9, got values from 0 to 10",
    ),
    (
        "M2.generate with one label per two styles... of three",
        lambda: ssvae.M2(x_dim=6, z_dim=2).generate(
            torch.zeros(2, 2), torch.tensor([0, 1, 2])
        ),
        ValueError,
        r"labels of shape \(3,\) do not broadcast with z of shape \(2, 2\)",
    ),
    (
        "M2.decode of 3-D styles (z_dim=2)",
        lambda: ssvae.M2(x_dim=6, z_dim=2).decode(
            torch.zeros(2, 3), torch.tensor([0, 1])
        ),
        ValueError,
        r"z must hold 2 coordinates in its last dimension \(z_dim=2\), got shape \(2, 3\)",
    ),
    (
        "ssvae.objective without an unlabelled batch but n_unlabelled=90",
        lambda: ssvae.objective(
            ssvae.M2(x_dim=6), torch.ones(2, 6), torch.tensor([0, 1]), None, 10, 90
        ),
        ValueError,
        r"x_unlabelled is None but n_unlabelled=90: pass an unlabelled batch",
    ),
    (
        "ssvae.objective with alpha=-1",
        lambda: ssvae.objective(
            ssvae.M2(x_dim=6), torch.ones(2, 6), torch.tensor([0, 1]), None, 2, 0, -1.0
        ),
        ValueError,
        r"alpha must be a finite number >= 0, got -1.0",
    ),
    (
        "SSLConfig with seed 2**32 - 1 (the labelled stream takes seed + 1)",
        lambda: ssvae.SSLConfig(seed=2**32 - 1),
        ValueError,
        r"seed must be below 4294967295: the labelled batches are drawn from seed \+ 1",
    ),
    (
        "SSLConfig(seed=-1)",
        lambda: ssvae.SSLConfig(seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "balanced_labels of one-hot labels",
        lambda: ssvae.balanced_labels(torch.eye(10).repeat(2, 1), 10, seed=0),
        ValueError,
        r"y must be a 1-D integer tensor of class indices.*pass y.argmax\(-1\)",
    ),
    (
        "balanced_labels with a seed beyond NumPy's range",
        lambda: ssvae.balanced_labels(torch.arange(20) % 10, 10, seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "classifier_network with x_dim=0",
        lambda: ssvae.classifier_network(0, 8),
        ValueError,
        r"x_dim must be a positive int, got 0",
    ),
    (
        "train_m2 on grey-level examples without a transform (Bernoulli decoder)",
        lambda: ssvae.train_m2(
            ssvae.M2(x_dim=6, z_dim=2, hidden=8),
            (torch.full((4, 6), 0.5), torch.tensor([0, 1, 2, 3])),
            torch.full((8, 6), 0.5),
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            ssvae.SSLConfig(epochs=1),
        ),
        ValueError,
        r"labelled\[0\] must be binary for a Bernoulli decoder.*transform=binarize_dynamic",
    ),
    (
        "train_m2 on images in 0..255 with dynamic binarization",
        lambda: ssvae.train_m2(
            ssvae.M2(x_dim=6, z_dim=2, hidden=8),
            (torch.full((4, 6), 255.0), torch.tensor([0, 1, 2, 3])),
            None,
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            ssvae.SSLConfig(epochs=1),
            transform=data.binarize_dynamic,
        ),
        ValueError,
        r"labelled\[0\] must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "train_m2 with test examples of another size",
        lambda: ssvae.train_m2(
            ssvae.M2(x_dim=6, z_dim=2, hidden=8),
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            None,
            (torch.ones(4, 7), torch.tensor([0, 1, 2, 3])),
            ssvae.SSLConfig(epochs=1),
        ),
        ValueError,
        r"M2 expects examples of 6 features .* x_dim=7",
    ),
    (
        "train_m2 with a lec16.vae.TrainConfig",
        lambda: ssvae.train_m2(
            ssvae.M2(x_dim=6, z_dim=2, hidden=8),
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            None,
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            vae.TrainConfig(epochs=1),
        ),
        ValueError,
        r"config must be a lec16.ssvae.SSLConfig, got TrainConfig",
    ),
    (
        "train_supervised with one-hot test labels",
        lambda: ssvae.train_supervised(
            ssvae.classifier_network(6, 8),
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            (torch.ones(4, 6), torch.eye(10)[:4]),
            ssvae.SSLConfig(epochs=1),
        ),
        ValueError,
        r"labels must be a 1-D integer tensor of 4 class indices.*pass y.argmax\(-1\)",
    ),
    (
        "train_supervised on 8-bit (uint8) images",
        lambda: ssvae.train_supervised(
            ssvae.classifier_network(6, 8),
            (torch.ones(4, 6, dtype=torch.uint8), torch.tensor([0, 1, 2, 3])),
            (torch.ones(4, 6), torch.tensor([0, 1, 2, 3])),
            ssvae.SSLConfig(epochs=1),
        ),
        ValueError,
        r"labelled\[0\] is torch.uint8, not floating point",
    ),
    (
        "m1_codes of images in 0..255",
        lambda: ssvae.m1_codes(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.full((3, 784), 255.0)
        ),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "m1_codes with batch_size=0",
        lambda: ssvae.m1_codes(
            vae.VAE(vae.VAEConfig(hidden=8, latent=2)), torch.ones(3, 784), batch_size=0
        ),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "active_dims over n=1 example (a standard deviation of nan)",
        lambda: ssvae.active_dims(torch.rand(10, 4), n=1),
        ValueError,
        r"n must be an int >= 2, got 1",
    ),
    (
        "keep_dims with indices instead of a boolean mask",
        lambda: ssvae.keep_dims(torch.rand(5, 4), torch.tensor([0, 1])),
        ValueError,
        r"keep must be a boolean mask of the 2 latent dimensions .*torch.int64",
    ),
    (
        "sample_codes of rows with an odd width",
        lambda: ssvae.sample_codes(torch.rand(5, 3)),
        ValueError,
        r"codes must be rows \[mean, log-variance\] of q\(z1 \| x\), shape \(N, 2 \* latent\)",
    ),
    # flow_vae
    (
        "FlowVAE.posterior of a model without flows",
        lambda: flow_vae.FlowVAE(
            flow_vae.FlowVAEConfig(hidden=8, latent=2, flows=0)
        ).posterior(torch.ones(2, 784)),
        ValueError,
        r"this FlowVAE has flows=0, so q\(z \| x\) has no flow parameters.*model.encode\(x\)",
    ),
    (
        "a flow VAE's bound with n_samples=2.5",
        lambda: flow_vae.FlowVAE(flow_vae.FlowVAEConfig(hidden=8, latent=2, flows=2))(
            torch.ones(2, 784), 2.5
        ),
        ValueError,
        r"n_samples must be an int >= 1, got 2.5",
    ),
    (
        "FlowVAE given float64 examples (the model is float32)",
        lambda: flow_vae.FlowVAE(flow_vae.FlowVAEConfig(hidden=8, latent=2, flows=2))(
            torch.ones(2, 784, dtype=torch.float64)
        ),
        ValueError,
        r"x is torch.float64 on cpu but the FlowVAE is torch.float32 on cpu",
    ),
    (
        "sampled_kl_bound of 8-bit (uint8) images",
        lambda: flow_vae.sampled_kl_bound(
            flow_vae.FlowVAE(flow_vae.FlowVAEConfig(hidden=8, latent=2, flows=0)),
            torch.ones(2, 784, dtype=torch.uint8),
        ),
        ValueError,
        r"x is torch.uint8, not floating point",
    ),
    # autoencoder
    (
        "autoencoder.mlp with a single size",
        lambda: autoencoder.mlp([3]),
        ValueError,
        r"sizes must list at least two layer sizes \(inputs, ..., outputs\), got \[3\]",
    ),
    (
        "autoencoder.mlp with a layer of 0 units",
        lambda: autoencoder.mlp([3, 0, 2]),
        ValueError,
        r"sizes\[1\] must be a positive int, got 0",
    ),
    (
        "Autoencoder on 3-D points (x_dim=2)",
        lambda: autoencoder.Autoencoder(2, 1, 4)(torch.zeros(5, 3)),
        ValueError,
        r"takes points of 2 coordinates in the last dimension \(x_dim=2\), got shape \(5, 3\)",
    ),
    (
        "Autoencoder.reconstruction_error of float64 points (the model is float32)",
        lambda: autoencoder.Autoencoder(2, 1, 4).reconstruction_error(
            torch.zeros(5, 2, dtype=torch.float64)
        ),
        ValueError,
        r"x is torch.float64 on cpu but the Autoencoder is torch.float32 on cpu",
    ),
    (
        "distance_to_manifold between 2-D points and a 3-D curve",
        lambda: autoencoder.distance_to_manifold(torch.zeros(5, 2), torch.zeros(7, 3)),
        ValueError,
        r"must be \(N, d\) and \(M, d\) tables of points of one dimension d, got shapes "
        r"\(5, 2\) and \(7, 3\)",
    ),
    (
        "distance_to_manifold to no manifold points",
        lambda: autoencoder.distance_to_manifold(torch.zeros(5, 2), torch.zeros(0, 2)),
        ValueError,
        r"manifold_points is empty",
    ),
    (
        "decoded_curve of a model with a 2-D code",
        lambda: autoencoder.decoded_curve(
            autoencoder.Autoencoder(3, 2, 4), torch.zeros(5, 2)
        ),
        ValueError,
        r"decoded_curve traces a 1-D manifold, but the model's code has 2 dimensions",
    ),
    (
        "decoded_curve with n=0 points",
        lambda: autoencoder.decoded_curve(
            autoencoder.Autoencoder(2, 1, 4), torch.rand(5, 1), n=0
        ),
        ValueError,
        r"n must be a positive int, got 0",
    ),
    (
        "Autoencoder(2, 0)",
        lambda: autoencoder.Autoencoder(2, 0),
        ValueError,
        r"code_dim must be a positive int, got 0",
    ),
]
