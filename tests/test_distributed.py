"""Training on two CPU processes (torchrun, Gloo, DistributedDataParallel) gives the result of
one process with the same global batch, and an interrupted two-process run resumes, on two
processes or on one. The worker is tests/ddp_worker.py."""

import dis
import importlib
import inspect
import os
import pkgutil
import subprocess
from pathlib import Path

import pytest
import torch
from launch import python_on

import lec16
from lec16 import data

WORKER = Path(__file__).with_name("ddp_worker.py")
EPOCHS = 4  # of 6 steps (240 examples, global batch 40)


def _run(tmp_path, name, processes, epochs=EPOCHS, stop=None, checkpoint="run.pt"):
    out = tmp_path / f"{name}.result.pt"
    args = [str(out), str(tmp_path / checkpoint), str(epochs)] + (
        [str(stop)] if stop else []
    )
    done = subprocess.run(
        python_on(processes) + [str(WORKER), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if stop is None:
        assert done.returncode == 0, done.stderr[-3000:]
        return torch.load(out, weights_only=True)
    assert done.returncode != 0 and not out.exists(), "the run was not interrupted"
    return None


def _close(a, b):
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-5), key
    losses_a = [r["loss"] for r in a["history"]]
    losses_b = [r["loss"] for r in b["history"]]
    assert losses_a == pytest.approx(losses_b, rel=1e-5)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("one"), "one", 1)


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, one_process):
    _close(_run(tmp_path, "two", 2), one_process)


def test_an_interrupted_two_process_run_resumes_on_two_or_on_one(tmp_path, one_process):
    _run(tmp_path, "cut", 2, stop=15, checkpoint="cut.pt")  # in epoch 3 of 4
    saved = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert saved["epoch"] == 2 and "module." not in "".join(saved["modules"]["model"])
    (tmp_path / "copy.pt").write_bytes((tmp_path / "cut.pt").read_bytes())
    _close(_run(tmp_path, "resumed_on_two", 2, checkpoint="cut.pt"), one_process)
    resumed_on_one = _run(tmp_path, "resumed_on_one", 1, checkpoint="copy.pt")
    _close(resumed_on_one, one_process)
    # the history says which epochs ran on how many processes
    assert [r["processes"] for r in resumed_on_one["history"]] == [2, 2, 1, 1]


def test_each_rank_takes_its_slice_of_every_global_batch():
    x = torch.arange(23)
    whole = list(data.Batches(x, batch_size=6, seed=5))
    shards = [
        list(data.Batches(x, batch_size=6, seed=5, rank=r, world_size=3))
        for r in range(3)
    ]
    assert [len(s) for s in shards] == [
        4,
        4,
        4,
    ]  # the last 5 examples: 2, 2, 1 per rank
    for i, batch in enumerate(whole):
        parts = [shard[i][0] for shard in shards]
        assert torch.equal(torch.cat(parts), batch[0])
        assert (
            len({len(p) for p in parts[:2]}) == 1
        )  # equal slices but for the last rank's
    # a last batch smaller than the number of processes is dropped, on every rank
    assert len(data.Batches(torch.arange(25), batch_size=6, world_size=3, rank=0)) == 4
    assert len(data.Batches(torch.arange(25), batch_size=6)) == 5


MODELS_WORKER = """
import sys
import torch
from lec16 import dbm, diffusion, distributed, flow_vae, flows, gan, gsn, hvi, lapgan, rbm
from lec16 import ssvae, vae
from lec16 import train
from lec16 import wake_sleep as ws
from lec16.experiments import lapgan as lapgan_chapter

# which functions train through train.fit in this run: the test checks that none is missing
trained_by, fit = set(), train.fit


def recording_fit(*args, **kwargs):
    caller = sys._getframe(1)
    trained_by.add(caller.f_globals["__name__"] + "." + caller.f_code.co_name)
    return fit(*args, **kwargs)


train.fit = recording_fit
rank, world = distributed.init_from_env()
torch.manual_seed(0)
images = torch.rand(192, 1, 28, 28)
pixels, labels = images[:, 0, 0, :16], torch.arange(192) % 10
players = [(gan.DCGANGenerator(width=4), gan.DCGANDiscriminator(width=4))]
coarse, residual = lapgan_chapter.players(lapgan_chapter.Setup.at("smoke"))
config = gan.GANConfig(epochs=2, batch_size=32, k=2)
gan.train_gan(*players[0], images, config)
lapgan.train_lapgan(coarse, residual, images, (1, 1, 1), batch_size=32)
nice = flows.NICE(4, n_couplings=2, hidden=8, depth=1)
nice_config = flows.NiceConfig(epochs=2, batch_size=32)
flows.train_nice(nice, images[:, 0, 0, :4], images[:8, 0, 0, :4], nice_config)
dae = gsn.DenoisingAutoencoder(16, 8)
gsn.train_gsn(dae, pixels, gsn.GSNConfig(epochs=2, batch_size=32, walkback=2))
m2 = ssvae.M2(x_dim=16, z_dim=2, hidden=8)
ssl = ssvae.SSLConfig(epochs=2, batch_size=32, labelled_batch=3)
binary = torch.bernoulli(pixels)
ssvae.train_m2(m2, (binary[:20], labels[:20]), binary[20:], (binary, labels), ssl)
net = ssvae.classifier_network(16, 8)
supervised = ssvae.SSLConfig(epochs=2, labelled_batch=32)
ssvae.train_supervised(net, (pixels, labels), (pixels, labels), supervised)
machines = [ws.HelmholtzMachine((16, 4), latent) for latent in ("bernoulli", "gaussian")]
for machine, rule in zip(machines, ("wake-sleep", "elbo")):
    ws_config = ws.WakeSleepConfig(epochs=2, batch_size=32, rule=rule)
    ws.train_helmholtz(machine, pixels, binary[:8], ws_config)
rbms = [rbm.RBM(16, 4) for _ in range(2)]
for machine, method in zip(rbms, ("cd", "pcd")):
    rbm_config = rbm.RBMConfig(epochs=2, batch_size=32, method=method, k=2)
    rbm.train_rbm(machine, pixels, binary[:8], rbm_config)
deep = dbm.DBM(16, 4, 3)
dbm_config = dbm.DBMConfig(epochs=2, batch_size=32, k=2, mean_field_steps=3)
dbm.train_dbm(deep, pixels, binary[:8], dbm_config)
roll = diffusion.DiffusionModel(
    diffusion.GaussianDiffusion(diffusion.sohl_dickstein_schedule(5)),
    diffusion.swiss_roll_net(5),
)
points = diffusion.swiss_roll(64)
diffusion_config = diffusion.DiffusionConfig(epochs=2, batch_size=32, eval_times=1)
diffusion.train_diffusion(roll, points, points[:8], diffusion_config)
# the fits of a 2-D density: each rank draws its share of every step's samples
chain = hvi.HamiltonianVI(2, 2, step_size=0.05)
q0 = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(2), 1.0), 1)
hvi_config = hvi.HVIConfig(steps=4, batch_size=8, steps_per_epoch=2, eval_samples=8)
hvi.fit_hvi(chain, q0, lambda z: -0.5 * (z - 1).pow(2).sum(-1), hvi_config)
flow = flows.energy_fit_model("planar", 2)
energy_config = flows.EnergyFitConfig(
    steps=4, batch_size=8, steps_per_epoch=2, anneal_steps=4, eval_samples=8
)
flows.fit_to_energy(flow, flows.enveloped_energy("U1"), energy_config)
# a flow VAE on the flows' sampled-KL bound: an objective that must go through forward
planar_vae = flow_vae.FlowVAE(flow_vae.FlowVAEConfig(x_dim=16, hidden=8, latent=2, flows=2))
vae_config = vae.TrainConfig(epochs=2, batch_size=32)
vae.train_vae(planar_vae, pixels, binary[:8], vae_config, objective=flow_vae.sampled_kl_bound)
modules = [*players[0], *coarse, *[m for pair in residual for m in pair], nice, dae]
modules.append(planar_vae)
modules += [m2, net, *machines, *rbms, deep, roll, chain, flow]
flat = torch.cat([p.detach().flatten() for m in modules for p in m.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(world)]
torch.distributed.all_gather(gathered, flat)
noise = [torch.zeros(4) for _ in range(world)]
torch.distributed.all_gather(noise, torch.randn(4))
# wrap_loss averages the gradient of a loss on each rank's rows into the whole batch's
weight = torch.nn.Parameter(torch.ones(16))
loss = distributed.wrap_loss(lambda x: (x @ weight).pow(2).mean(), [weight])
loss(distributed.own_rows(pixels)).backward()
whole = torch.autograd.grad((pixels @ weight).pow(2).mean(), weight)[0]
if rank == 0:
    torch.save(
        {
            "parameters": gathered,
            "noise": noise,
            "grad": weight.grad,
            "whole": whole,
            "trained_by": sorted(trained_by),
        },
        sys.argv[1],
    )
"""


@pytest.fixture(scope="module")
def every_trainer(tmp_path_factory):
    """The worker above, run on two processes: what rank 0 saved."""
    folder = tmp_path_factory.mktemp("models")
    script, out = folder / "models.py", folder / "models.pt"
    script.write_text(MODELS_WORKER)
    done = subprocess.run(
        python_on(2) + [str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LEC16_PROGRESS": "0"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out, weights_only=True)


def test_every_trainer_trains_one_model_on_two_processes(every_trainer):
    """Every trainer (the test below keeps the list whole; vae.train_vae is ddp_worker's
    kind) keeps its models identical on every rank (DCGAN's batch norms, k = 2 discriminator
    steps, LAPGAN's conditional levels, NICE's dequantised batches, the DAE's walkback, M2's
    labelled batch on every rank, wake-sleep's two phases, PCD's and the DBM's sliced chains,
    the 2-D fits' shares of samples), while each rank draws noise of its own; and
    ``distributed.wrap_loss`` gives the whole batch's gradient."""
    first, second = every_trainer["parameters"]
    assert torch.equal(first, second)
    assert not torch.equal(*every_trainer["noise"])
    assert torch.allclose(every_trainer["grad"], every_trainer["whole"], rtol=1e-5)


def _calls_train_fit(function) -> bool:
    """Whether the function's bytecode calls ``train.fit`` (the global ``train``'s ``fit``)."""
    instructions = list(dis.get_instructions(function))
    return any(
        a.opname == "LOAD_GLOBAL"
        and a.argval == "train"
        and b.opname in ("LOAD_ATTR", "LOAD_METHOD")
        and b.argval == "fit"
        for a, b in zip(instructions, instructions[1:])
    )


def test_the_two_process_worker_calls_every_trainer(every_trainer):
    """Each function of lec16 that trains through ``train.fit`` called it in the two-process
    run above (the VAE's: tests/test_cli.py runs it under torchrun): a new chapter's trainer
    cannot skip DDP unnoticed."""
    trainers = set()
    for info in pkgutil.iter_modules(lec16.__path__):
        if info.name.startswith("_") or info.name == "experiments":
            continue
        module = importlib.import_module(f"lec16.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and _calls_train_fit(function):
                trainers.add(f"{module.__name__}.{name}")
    assert len(trainers) > 10, trainers
    # the VAE's: ddp_worker's kind; the feature classifier's: it needs MNIST (it trains, seed 0,
    # through distributed.wrap as ssvae.train_supervised does)
    covered = {"lec16.vae.train_vae", "lec16.evaluation.feature_net"}
    missing = sorted(trainers - covered - set(every_trainer["trained_by"]))
    assert not missing, f"trainers not run on two processes: {missing}"
