"""Bad inputs of the energy-based and related models (lec16.rbm, dbn, dbm, wake_sleep, gsn):
each case is (what is wrong, a call that does it, the error class, a pattern of its message), as
in ``tests/test_bad_inputs.py``."""

import torch

from lec16 import data, dbm, dbn, gsn, rbm
from lec16 import wake_sleep as ws


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(
        *shape, generator=torch.Generator().manual_seed(seed), dtype=dtype
    )


def _binary(*shape, seed=0):
    return data.binarize_threshold(_rand(*shape, seed=seed))


def _rbm(n_visible=6, n_hidden=3):
    torch.manual_seed(0)
    return rbm.RBM(n_visible, n_hidden)


def _dbm():
    torch.manual_seed(0)
    return dbm.DBM(6, 4, 3)


def _dbn():
    bottom = _rbm(6, 4)
    return dbn.DBN([bottom, dbn.transposed(bottom)])


def _helmholtz(latent="bernoulli"):
    torch.manual_seed(0)
    return ws.HelmholtzMachine((6, 3, 2) if latent == "bernoulli" else (6, 3), latent)


def _dae(corruption="salt_and_pepper"):
    torch.manual_seed(0)
    return gsn.DenoisingAutoencoder(6, 4, corruption)


def _ais_result():
    torch.manual_seed(0)
    return rbm.ais_log_partition(_rbm(), n_chains=4, n_betas=10)


CASES = [
    # rbm
    (
        "rbm.base_rate_bias of 8-bit images (0..255)",
        lambda: rbm.base_rate_bias(255 * _rand(5, 6)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "rbm.base_rate_bias of uint8 pixels",
        lambda: rbm.base_rate_bias((255 * _rand(5, 6)).to(torch.uint8)),
        ValueError,
        r"x is torch.uint8, not floating point: convert it with x.float\(\)",
    ),
    (
        "rbm.base_rate_bias of an empty batch",
        lambda: rbm.base_rate_bias(torch.zeros(0, 6)),
        ValueError,
        r"x is empty \(shape \(0, 6\)\): pass at least one example",
    ),
    (
        "rbm.base_rate_bias of one image without a batch dimension",
        lambda: rbm.base_rate_bias(_rand(6)),
        ValueError,
        r"x must have at least 2 dimension\(s\) \(examples first\), got shape \(6,\)",
    ),
    (
        "rbm.base_rate_bias with a negative smoothing",
        lambda: rbm.base_rate_bias(_rand(5, 6), smoothing=-1.0),
        ValueError,
        r"smoothing must be a finite number >= 0, got -1.0",
    ),
    (
        "rbm.base_rate_log_likelihood of grey levels",
        lambda: rbm.base_rate_log_likelihood(_rand(5, 6), torch.zeros(6)),
        ValueError,
        r"x must be binary \(0 or 1\): binarize",
    ),
    (
        "rbm.base_rate_log_likelihood of float64 digits with float32 biases",
        lambda: rbm.base_rate_log_likelihood(_binary(5, 6).double(), torch.zeros(6)),
        ValueError,
        r"x is torch.float64 on cpu but base_bias is torch.float32 on cpu; convert it",
    ),
    (
        "rbm.base_rate_log_likelihood with biases of another length",
        lambda: rbm.base_rate_log_likelihood(_binary(5, 6), torch.zeros(4)),
        ValueError,
        r"base_bias has shape \(4,\) but x has 6 pixels per example",
    ),
    (
        "rbm.at_base_rates with a one-element bias (broadcast silently before)",
        lambda: rbm.at_base_rates(_rbm(), torch.zeros(1)),
        ValueError,
        r"base_bias has shape \(1,\); the RBM has 6 visible units",
    ),
    (
        "RBM.free_energy of 8-bit images",
        lambda: _rbm().free_energy(255 * _rand(4, 6)),
        ValueError,
        r"v must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "RBM.free_energy of a list",
        lambda: _rbm().free_energy([[0.0] * 6]),
        ValueError,
        r"v must be a torch.Tensor, got a list: wrap it with torch.as_tensor",
    ),
    (
        "RBM.free_energy of data on another device than the RBM",
        lambda: _rbm().free_energy(_binary(4, 6).to("meta")),
        ValueError,
        r"v is torch.float32 on meta but the RBM is torch.float32 on cpu; convert it",
    ),
    (
        "RBM.visible_probs of hidden states of another size",
        lambda: _rbm().visible_probs(_binary(4, 5)),
        ValueError,
        r"h has 5 units in its last dimension but the RBM has 3 hidden units",
    ),
    (
        "RBM.energy of 4 visible and 5 hidden rows",
        lambda: _rbm().energy(_binary(4, 6), _binary(5, 3)),
        ValueError,
        r"the batch shapes of v \(4, 6\), h \(5, 3\) do not match",
    ),
    (
        "RBM.gibbs_chain with steps=0",
        lambda: _rbm().gibbs_chain(_binary(4, 6), 0),
        ValueError,
        r"steps must be a positive int, got 0",
    ),
    (
        "RBM.log_likelihood of grey levels",
        lambda: _rbm().log_likelihood(_rand(4, 6), 1.0),
        ValueError,
        r"v must be binary \(0 or 1\): binarize",
    ),
    (
        "RBM.log_likelihood given the AISResult instead of its log_z",
        lambda: _rbm().log_likelihood(_binary(4, 6), _ais_result()),
        ValueError,
        r"log_partition is an AISResult: pass its estimate of log Z, log_partition.log_z",
    ),
    (
        "RBM.log_likelihood given log Z = -inf (an AIS lower end)",
        lambda: _rbm().log_likelihood(_binary(4, 6), float("-inf")),
        ValueError,
        r"log_partition must be a finite log Z, got -inf",
    ),
    (
        "rbm.mean_log_likelihood of an empty test set",
        lambda: rbm.mean_log_likelihood(_rbm(), torch.zeros(0, 6), 1.0),
        ValueError,
        r"x is empty \(shape \(0, 6\)\)",
    ),
    (
        "rbm.mean_log_likelihood with batch_size=0",
        lambda: rbm.mean_log_likelihood(_rbm(), _binary(4, 6), 1.0, batch_size=0),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "rbm.mean_log_likelihood with a tensor of log Z per example",
        lambda: rbm.mean_log_likelihood(_rbm(), _binary(4, 6), torch.zeros(4)),
        ValueError,
        r"log_partition must be one number \(log Z\), got a tensor of shape \(4,\)",
    ),
    (
        "rbm.binary_states(2.5) (ran 3 bits before)",
        lambda: rbm.binary_states(2.5, "cpu"),
        ValueError,
        r"m must be a non-negative int \(the length of the binary vectors\), got 2.5",
    ),
    (
        "rbm.binary_states(70) (int64 codes overflow)",
        lambda: rbm.binary_states(70, "cpu"),
        ValueError,
        r"codes its 2\^m states as int64, so m must be at most 62, got 70",
    ),
    (
        "rbm.all_states(-1)",
        lambda: rbm.all_states(-1),
        ValueError,
        r"m must be a non-negative int",
    ),
    (
        "rbm.states_probability of states and probabilities of different widths",
        lambda: rbm.states_probability(rbm.all_states(3), _rand(2, 4)),
        ValueError,
        r"states \(S, m\) and probs \(N, m\) must be two matrices of the same m",
    ),
    (
        "rbm.exact_cd_gradient of grey-level data (coded wrongly before)",
        lambda: rbm.exact_cd_gradient(
            _rbm(), _rand(3, 6), torch.full((3,), 1 / 3), k=1
        ),
        ValueError,
        r"data_states must be binary \(0 or 1\)",
    ),
    (
        "rbm.exact_cd_gradient with k=2.5",
        lambda: rbm.exact_cd_gradient(
            _rbm(), _binary(3, 6), torch.full((3,), 1 / 3), k=2.5
        ),
        ValueError,
        r"k must be an int >= 1, got 2.5",
    ),
    (
        "rbm.exact_cd_gradient with a weight per column instead of per row",
        lambda: rbm.exact_cd_gradient(_rbm(), _binary(3, 6), torch.ones(6) / 6, k=1),
        ValueError,
        r"data_weights must hold one weight per row of data_states, shape \(3,\)",
    ),
    (
        "rbm.exact_cd_gradient with a negative weight",
        lambda: rbm.exact_cd_gradient(
            _rbm(), _binary(2, 6), torch.tensor([1.5, -0.5]), k=1
        ),
        ValueError,
        r"data_weights must be non-negative",
    ),
    (
        "rbm.enumerated_hidden_posterior of one example without a batch dimension",
        lambda: rbm.enumerated_hidden_posterior(_rbm(), _binary(6)),
        ValueError,
        r"v must be a batch of examples of shape \(N, 6\), got shape \(6,\)",
    ),
    (
        "rbm.contrastive_loss with model states of another size",
        lambda: rbm.contrastive_loss(_rbm(), _binary(4, 6), _binary(4, 5)),
        ValueError,
        r"v_model has 5 units in its last dimension but the RBM has 6 visible units",
    ),
    (
        "rbm.ais_log_partition of a DBM",
        lambda: rbm.ais_log_partition(_dbm(), 4, 10),
        ValueError,
        r"model must be a lec16.rbm.RBM, got a DBM",
    ),
    (
        "rbm.summarize_ais of a matrix of log weights",
        lambda: rbm.summarize_ais(torch.tensor(0.0), torch.zeros(2, 3), None),
        ValueError,
        r"log_w must hold one log weight per AIS run \(1-D\), got shape \(2, 3\)",
    ),
    (
        "RBMConfig(seed=2**32) (NumPy would fold it onto seed 0)",
        lambda: rbm.RBMConfig(seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "RBMConfig(weight_cost=nan)",
        lambda: rbm.RBMConfig(weight_cost=float("nan")),
        ValueError,
        r"weight_cost must be a finite number >= 0, got nan",
    ),
    (
        "RBMConfig(anneal='no') (truthy: annealed before)",
        lambda: rbm.RBMConfig(anneal="no"),
        ValueError,
        r"anneal must be True or False, got 'no'",
    ),
    (
        "train_rbm on 8-bit training images",
        lambda: rbm.train_rbm(
            _rbm(), 255 * _rand(10, 6), _binary(10, 6), rbm.RBMConfig(epochs=1)
        ),
        ValueError,
        r"x_train must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "train_rbm with grey-level test digits",
        lambda: rbm.train_rbm(_rbm(), _rand(10, 6), _rand(10, 6), rbm.RBMConfig()),
        ValueError,
        r"x_test must be binary \(0 or 1\)",
    ),
    (
        "train_rbm on an empty training set",
        lambda: rbm.train_rbm(
            _rbm(), torch.zeros(0, 6), _binary(4, 6), rbm.RBMConfig()
        ),
        ValueError,
        r"x_train is empty",
    ),
    (
        "train_rbm with a dict for its config",
        lambda: rbm.train_rbm(_rbm(), _rand(10, 6), _binary(10, 6), {"epochs": 1}),
        ValueError,
        r"config must be a lec16.rbm.RBMConfig, got a dict",
    ),
    (
        "RBM(784, 2.5)",
        lambda: rbm.RBM(784, 2.5),
        ValueError,
        r"n_hidden must be a positive int, got 2.5",
    ),
    # dbn
    (
        "a DBN of one RBM not in a list",
        lambda: dbn.DBN(_rbm()),
        ValueError,
        r"layers must be a list of RBMs, bottom first, got a RBM: pass \[model\]",
    ),
    (
        "a DBN with a layer that is no RBM",
        lambda: dbn.DBN([_rbm(), _dbm()]),
        ValueError,
        r"layers\[1\] must be a lec16.rbm.RBM, got a DBM",
    ),
    (
        "a DBN of a float32 and a float64 RBM",
        lambda: dbn.DBN([_rbm(6, 4), _rbm(4, 3).double()]),
        ValueError,
        r"layer 1 is torch.float64 on cpu but layer 0 is torch.float32 on cpu",
    ),
    (
        "DBN.bound of grey levels",
        lambda: _dbn().bound(_rand(4, 6), 1.0),
        ValueError,
        r"v must be binary \(0 or 1\)",
    ),
    (
        "DBN.bound of one digit without a batch dimension",
        lambda: _dbn().bound(_binary(6), 1.0),
        ValueError,
        r"v must be a batch of examples of shape \(N, 6\), got shape \(6,\)",
    ),
    (
        "DBN.bound of digits of another size",
        lambda: _dbn().bound(_binary(4, 5), 1.0),
        ValueError,
        r"v has 5 units in its last dimension but the DBN has 6 visible units",
    ),
    (
        "DBN.sample from states of the wrong layer",
        lambda: _dbn().sample(_binary(4, 6), 2),
        ValueError,
        r"start has 6 units in its last dimension but the DBN's top RBM has 4 visible",
    ),
    (
        "dbn.mean_bound given the AISResult instead of its log_z",
        lambda: dbn.mean_bound(_dbn(), _binary(4, 6), _ais_result()),
        ValueError,
        r"top_log_partition is an AISResult: pass its estimate of log Z",
    ),
    (
        "dbn.mean_bound with n_draws=0",
        lambda: dbn.mean_bound(_dbn(), _binary(4, 6), 1.0, n_draws=0),
        ValueError,
        r"n_draws must be a positive int, got 0",
    ),
    (
        "dbn.enumerated_bound of grey levels",
        lambda: dbn.enumerated_bound(_dbn(), _rand(4, 6)),
        ValueError,
        r"v must be binary \(0 or 1\)",
    ),
    (
        "dbn.top_layer_data of 8-bit training images",
        lambda: dbn.top_layer_data(_rbm(), 255 * _rand(5, 6), _binary(5, 6)),
        ValueError,
        r"x_train must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "dbn.top_layer_data with grey-level test digits",
        lambda: dbn.top_layer_data(_rbm(), _rand(5, 6), _rand(5, 6)),
        ValueError,
        r"x_test must be binary \(0 or 1\)",
    ),
    (
        "dbn.top_layer_data with seed=-1",
        lambda: dbn.top_layer_data(_rbm(), _rand(5, 6), _binary(5, 6), seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "dbn.initial_top(bottom, 2.5)",
        lambda: dbn.initial_top(_rbm(), 2.5),
        ValueError,
        r"n_top must be a positive int, got 2.5",
    ),
    (
        "dbn.base_rate_top of (N, 1, units) activities",
        lambda: dbn.base_rate_top(_rand(5, 1, 3), 2),
        ValueError,
        r"h_train must be \(N, units\)",
    ),
    # dbm
    (
        "DBM.mean_field of 8-bit images",
        lambda: _dbm().mean_field(255 * _rand(4, 6)),
        ValueError,
        r"v must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "DBM.mean_field with steps=0",
        lambda: _dbm().mean_field(_binary(4, 6), 0),
        ValueError,
        r"steps must be a positive int, got 0",
    ),
    (
        "DBM.energy with h1 of another size",
        lambda: _dbm().energy(_binary(4, 6), _binary(4, 3), _binary(4, 3)),
        ValueError,
        r"h1 has 3 units in its last dimension but the DBM's hidden layer 1 has 4",
    ),
    (
        "DBM.mean_field_bound of grey levels",
        lambda: _dbm().mean_field_bound(_rand(4, 6), _rand(4, 4), _rand(4, 3)),
        ValueError,
        r"v must be binary \(0 or 1\)",
    ),
    (
        "DBM.exact_log_likelihood of grey levels",
        lambda: _dbm().exact_log_likelihood(_rand(4, 6)),
        ValueError,
        r"v must be binary \(0 or 1\)",
    ),
    (
        "DBM.parameter_tensors('float64')",
        lambda: _dbm().parameter_tensors("float64"),
        ValueError,
        r"dtype must be a torch.dtype such as torch.float64, or None; got 'float64'",
    ),
    (
        "dbm.mean_bound given the AISResult instead of its log_z",
        lambda: dbm.mean_bound(_dbm(), _binary(4, 6), _ais_result()),
        ValueError,
        r"log_partition is an AISResult: pass its estimate of log Z",
    ),
    (
        "dbm.mean_bound with batch_size=0",
        lambda: dbm.mean_bound(_dbm(), _binary(4, 6), 1.0, batch_size=0),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    (
        "dbm.contrastive_loss with particles (v, h2) only",
        lambda: dbm.contrastive_loss(
            _dbm(),
            _binary(4, 6),
            _rand(4, 4),
            _rand(4, 3),
            (_binary(4, 6), _rand(4, 3)),
        ),
        ValueError,
        r"particles must be the tuple \(v, h1, h2\) .* got tuple of 2",
    ),
    (
        "dbm.from_rbm of a DBM",
        lambda: dbm.from_rbm(_dbm(), 2),
        ValueError,
        r"model must be a lec16.rbm.RBM, got a DBM",
    ),
    (
        "DBMConfig(seed=-1)",
        lambda: dbm.DBMConfig(seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "train_dbm on 8-bit training images",
        lambda: dbm.train_dbm(
            _dbm(), 255 * _rand(10, 6), _binary(10, 6), dbm.DBMConfig(epochs=1)
        ),
        ValueError,
        r"x_train must hold intensities in \[0, 1\]",
    ),
    (
        "dbm.train_on_rbm with two sizes (an IndexError after training the RBM before)",
        lambda: dbm.train_on_rbm(
            (6, 4), _rand(10, 6), _binary(10, 6), rbm.RBMConfig(), dbm.DBMConfig()
        ),
        ValueError,
        r"sizes must be \(n_visible, n_hidden1, n_hidden2\), got \(6, 4\)",
    ),
    (
        "dbm.train_on_rbm with a dict for the DBM's config",
        lambda: dbm.train_on_rbm(
            (6, 4, 3), _rand(10, 6), _binary(10, 6), rbm.RBMConfig(), {"epochs": 1}
        ),
        ValueError,
        r"dbm_config must be a lec16.dbm.DBMConfig, got a dict",
    ),
    (
        "dbm.train_on_rbm with data of another size",
        lambda: dbm.train_on_rbm(
            (784, 4, 3), _rand(10, 6), _binary(10, 6), rbm.RBMConfig(), dbm.DBMConfig()
        ),
        ValueError,
        r"x_train has 6 values per example but the DBM has 784 visible units",
    ),
    # wake_sleep
    (
        "HelmholtzMachine.log_joint of grey levels (a torch support error before)",
        lambda: _helmholtz().log_joint(_rand(4, 6), [_binary(4, 3), _binary(4, 2)]),
        ValueError,
        r"x must be binary \(0 or 1\): binarize",
    ),
    (
        "HelmholtzMachine.log_weights of grey levels",
        lambda: _helmholtz().log_weights(_rand(4, 6), 2),
        ValueError,
        r"x must be binary \(0 or 1\): binarize",
    ),
    (
        "HelmholtzMachine.wake_loss of a NumPy array",
        lambda: _helmholtz().wake_loss(_binary(4, 6).numpy()),
        ValueError,
        r"x must be a torch.Tensor, got a ndarray",
    ),
    (
        "HelmholtzMachine.infer reparametrized on Bernoulli latents",
        lambda: _helmholtz().infer(_binary(4, 6), reparametrize=True),
        ValueError,
        r"reparametrize=True needs Gaussian latents",
    ),
    (
        "HelmholtzMachine.log_joint with one hidden layer's states for two",
        lambda: _helmholtz().log_joint(_binary(4, 6), [_binary(4, 3)]),
        ValueError,
        r"hidden must be a list of 2 tensor\(s\), one per hidden layer .* of 1",
    ),
    (
        "HelmholtzMachine.log_joint with hidden states of another size",
        lambda: _helmholtz().log_joint(_binary(4, 6), [_binary(4, 4), _binary(4, 2)]),
        ValueError,
        r"hidden\[0\] has 4 units in its last dimension but hidden layer 1 has 3",
    ),
    (
        "HelmholtzMachine.log_recognition of Bernoulli latents given probabilities",
        lambda: _helmholtz().log_recognition(_binary(4, 6), [_rand(4, 3), _rand(4, 2)]),
        ValueError,
        r"hidden\[0\] must be binary \(0 or 1\)",
    ),
    (
        "HelmholtzMachine(784)",
        lambda: ws.HelmholtzMachine(784),
        ValueError,
        r"layers must be a sequence of sizes, the visible one first, such as \(784, 200\)",
    ),
    (
        "HelmholtzMachine.sleep_loss(2.5)",
        lambda: _helmholtz().sleep_loss(2.5),
        ValueError,
        r"n must be a positive int, got 2.5",
    ),
    (
        "wake_sleep.exact_log_likelihood of an RBM",
        lambda: ws.exact_log_likelihood(_rbm(), _binary(4, 6)),
        ValueError,
        r"model must be a lec16.wake_sleep.HelmholtzMachine, got a RBM",
    ),
    (
        "WakeSleepConfig(seed=2**40)",
        lambda: ws.WakeSleepConfig(seed=2**40),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "train_helmholtz with grey-level test digits (failed after an epoch before)",
        lambda: ws.train_helmholtz(
            _helmholtz(), _rand(10, 6), _rand(10, 6), ws.WakeSleepConfig(epochs=1)
        ),
        ValueError,
        r"x_test must be binary \(0 or 1\)",
    ),
    (
        "train_helmholtz on 8-bit training images",
        lambda: ws.train_helmholtz(
            _helmholtz(), 255 * _rand(10, 6), _binary(10, 6), ws.WakeSleepConfig()
        ),
        ValueError,
        r"x_train must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    # gsn
    (
        "a salt-and-pepper DAE's loss on grey levels (a torch support error before)",
        lambda: _dae()(_rand(4, 6)),
        ValueError,
        r"x must be binary \(0 or 1\): binarize",
    ),
    (
        "a salt-and-pepper corruption of 8-bit images",
        lambda: _dae().corruption(255 * _rand(4, 6)),
        ValueError,
        r"x must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "a Gaussian DAE's loss on data with a NaN",
        lambda: _dae("gaussian")(torch.tensor([[float("nan")] * 6])),
        ValueError,
        r"x has non-finite values \(nan or inf\)",
    ),
    (
        "DAE.chain keeping every 10th of 5 steps (a torch.stack error before)",
        lambda: _dae().chain(_binary(4, 6), 5, keep_every=10),
        ValueError,
        r"keep_every=10 keeps no state of a chain of n_steps=5",
    ),
    (
        "DAE loss with walkback=0",
        lambda: _dae()(_binary(4, 6), walkback=0),
        ValueError,
        r"walkback must be a positive int, got 0",
    ),
    (
        "gsn.chains_from_noise with seed=-1",
        lambda: gsn.chains_from_noise(_dae(), 3, 4, seed=-1),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "gsn.transition_matrix of grey-level states",
        lambda: gsn.transition_matrix(_dae(), _rand(8, 6), _binary(8, 6)),
        ValueError,
        r"states must be binary \(0 or 1\)",
    ),
    (
        "gsn.stationary_distribution of a column-stochastic matrix",
        lambda: gsn.stationary_distribution(
            torch.tensor([[0.9, 0.5], [0.1, 0.5]], dtype=torch.float64)
        ),
        ValueError,
        r"transition must be row-stochastic .* pass transition.T",
    ),
    (
        "gsn.stationary_distribution of a non-square matrix",
        lambda: gsn.stationary_distribution(torch.full((2, 3), 1 / 3)),
        ValueError,
        r"transition must be a square matrix, got shape \(2, 3\)",
    ),
    (
        "GSNConfig(seed=2**32)",
        lambda: gsn.GSNConfig(seed=2**32),
        ValueError,
        r"seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (
        "GSNConfig(binarize='no') (truthy: binarized before)",
        lambda: gsn.GSNConfig(binarize="no"),
        ValueError,
        r"binarize must be True or False, got 'no'",
    ),
    (
        "train_gsn on a list",
        lambda: gsn.train_gsn(_dae(), [[0.0] * 6] * 4, gsn.GSNConfig()),
        ValueError,
        r"x_train must be a torch.Tensor, got a list",
    ),
    (
        "train_gsn on 8-bit images",
        lambda: gsn.train_gsn(_dae(), 255 * _rand(10, 6), gsn.GSNConfig()),
        ValueError,
        r"x_train must hold intensities in \[0, 1\].*divide 8-bit pixels by 255",
    ),
    (
        "train_gsn with a DBMConfig",
        lambda: gsn.train_gsn(_dae(), _rand(10, 6), dbm.DBMConfig()),
        ValueError,
        r"config must be a lec16.gsn.GSNConfig, got a DBMConfig",
    ),
]
