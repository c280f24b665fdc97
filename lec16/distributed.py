"""Training on several processes with PyTorch's own engine: ``torchrun`` starts the processes,
``torch.distributed`` connects them (NCCL on GPUs, Gloo on CPUs) and
``DistributedDataParallel`` averages the gradients.

Nothing here starts a process. Under ``torchrun --nproc_per_node N``, :func:`init_from_env`
joins the group the launcher describes in the environment; everything else in lec16 asks
:func:`rank_and_world` and behaves as on one process when there is no group:

* :class:`lec16.data.Batches` gives every rank its slice of each global batch, from the same
  permutation, so N processes with batches of B / N see the batches of one process with batches
  of B (and a change of N keeps the order of the data);
* :func:`lec16.train.fit` averages the logged metrics over the ranks, prints and writes the
  checkpoint on rank 0 only (the modules' own state, without DDP's ``module.`` prefix, so a run
  resumes under another N or on one process), and every rank resumes from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "rank_and_world",
    "is_main",
    "init_from_env",
    "wrap",
    "wrap_loss",
    "own_share",
    "own_rows",
    "gather_rows",
    "unwrap",
    "mean_over_ranks",
    "barrier",
]


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, the number of processes): (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True on rank 0 (and on a single process): the one that prints and writes files."""
    return rank_and_world()[0] == 0


def init_from_env() -> tuple[int, int]:
    """Join the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``
    ...): NCCL when CUDA is available, each rank on GPU ``LOCAL_RANK``, Gloo otherwise. Without
    those variables (a plain ``python``), nothing happens. Returns :func:`rank_and_world`."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    return rank_and_world()


def wrap(model: torch.nn.Module, sync_batch_norm: bool = False) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` inside a process group of several ranks, else the
    model itself. Gradients are averaged over the ranks during ``backward`` of a loss computed
    through the wrapper's ``forward``. With ``sync_batch_norm``, on GPUs, the model's batch norms
    are replaced in place by ``SyncBatchNorm`` first (statistics over the global batch; the
    parameters and buffers are kept, so checkpoints are unchanged); Gloo has none, so CPU ranks
    keep their own."""
    if rank_and_world()[1] == 1:
        return model
    device = next(model.parameters()).device
    if device.type == "cuda":  # "cuda" without an index is the rank's current device
        if sync_batch_norm:  # in place: the new layers hold the same tensors
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        index = torch.cuda.current_device() if device.index is None else device.index
        return DistributedDataParallel(model, device_ids=[index])
    return DistributedDataParallel(model)


class _Loss(torch.nn.Module):
    """A loss function as the ``forward`` of a module holding the parameters it trains (the
    same tensors as the model's), for :func:`wrap_loss`."""

    def __init__(self, loss: Callable[..., Any], parameters: list[torch.nn.Parameter]):
        super().__init__()
        self.trained = torch.nn.ParameterList(parameters)
        self.loss = loss

    def forward(self, *args: Any) -> Any:
        return self.loss(*args)


def wrap_loss(
    loss: Callable[..., Any], parameters: Iterable[torch.nn.Parameter]
) -> Callable[..., Any]:
    """``loss`` itself on one process; inside a process group, ``loss`` as the ``forward`` of a
    ``DistributedDataParallel`` module holding ``parameters``, so that ``backward`` of what it
    returns averages their gradients over the ranks. For objectives that are not a model's
    ``forward`` (M2's, the RBM's contrastive loss) and for updates of part of a model
    (wake-sleep's two phases: each wrapper holds its phase's parameters only, as DDP expects
    every parameter it holds to receive a gradient). Buffers are not synchronised."""
    if rank_and_world()[1] == 1:
        return loss
    return wrap(_Loss(loss, list(parameters)))


def own_share(n: int) -> int:
    """This rank's share of ``n`` draws (``n`` itself on one process): n / N, for the Monte
    Carlo batches of the fits that have no data set (``n`` divisible by the N processes)."""
    world = rank_and_world()[1]
    if n % world:
        raise ValueError(
            f"{n} draws do not split evenly over {world} processes; use a number "
            f"divisible by {world}"
        )
    return n // world


def own_rows(rows: torch.Tensor) -> torch.Tensor:
    """This rank's slice of ``rows`` (all of them on one process): equal slices in rank order,
    as :class:`lec16.data.Batches` slices a global batch (``len(rows)`` divisible by the
    number of processes)."""
    rank, world = rank_and_world()
    share = own_share(len(rows))
    return rows[rank * share : (rank + 1) * share]


def gather_rows(mine: torch.Tensor) -> torch.Tensor:
    """Every rank's ``mine`` (equal shapes), concatenated in rank order on every rank: the
    inverse of :func:`own_rows` (``mine`` itself on one process)."""
    world = rank_and_world()[1]
    if world == 1:
        return mine
    parts = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(parts, mine.contiguous())
    return torch.cat(parts)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (or the module itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over the ranks (one all-reduce); ``values`` itself on one process."""
    if rank_and_world()[1] == 1:
        return values
    total = values.clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def barrier() -> None:
    """Wait for every rank (nothing on one process)."""
    if rank_and_world()[1] > 1:
        dist.barrier()
