"""Training on several processes with ``torch.distributed`` (used by :mod:`srlib.train`).

A launcher such as ``torchrun`` (or Slurm's ``srun`` running ``torchrun``) starts one
process per GPU (or several on a CPU) and tells each who it is through environment
variables: ``RANK`` (0 .. N-1 over all nodes), ``WORLD_SIZE`` (N) and ``LOCAL_RANK`` (its
number on its node, which picks its GPU).  Without them there is one process and every
function here does the trivial thing, so the same code runs on a laptop and a cluster.

The pieces :func:`srlib.train.train` needs, each a plain function:

* :func:`world` reads the three numbers; :func:`init` joins the process group (gloo on the
  CPU, nccl on CUDA) and binds ``cuda:LOCAL_RANK``; :func:`cleanup` leaves it;
* :func:`wrap`: the model in ``DistributedDataParallel`` (gradients averaged over ranks);
* :func:`shard`: the part of a global batch of sample indices one rank trains on;
* :func:`on_main`: run a function (checks, writing files) on rank 0 only and give every
  rank its result, or its exception, so all ranks stop together, none left waiting;
* :func:`barrier`, :func:`broadcast_object`, :func:`average`: wait, share a value, average
  a tensor over the ranks;
* :func:`restarted`: True in a group that ``torchrun --max-restarts`` started again.

The appendix "Training on a cluster" (``notebooks/cluster.md``) explains them.  This module
imports only torch and the standard library.

>>> world()          # not under torchrun: one process
(0, 1, 0)
>>> shard(torch.arange(8), rank=1, world_size=2)
tensor([4, 5, 6, 7])
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

__all__ = ["average", "barrier", "broadcast_object", "cleanup", "init", "is_main", "on_main",
           "restarted", "shard", "world", "wrap"]

T = TypeVar("T")
BACKENDS: tuple[str, ...] = ("gloo", "nccl", "mpi")


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not an integer: it is set "
                         "by the launcher (torchrun); unset it to run one process") from None


def world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``.

    ``(0, 1, 0)`` when the variables are not set (no launcher).  ``ValueError`` if they make
    no sense (``RANK`` not in ``[0, WORLD_SIZE)``).
    """
    size = _env_int("WORLD_SIZE", 1)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if size < 1 or not 0 <= rank < size or local < 0:
        raise ValueError(f"RANK={rank}, WORLD_SIZE={size}, LOCAL_RANK={local} do not fit "
                         "(0 <= RANK < WORLD_SIZE): start the processes with torchrun")
    return rank, size, local


def is_main() -> bool:
    """True on rank 0, the process that writes files and prints (and when alone)."""
    return world()[0] == 0


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def init(device: str | torch.device, backend: str | None = None) -> torch.device:
    """Join the process group if the launcher started several processes; the device to use.

    Args:
        device: the device :func:`srlib.train.pick_device` chose (``cpu``, ``cuda``, ...).
        backend: ``"gloo"``, ``"nccl"`` or ``"mpi"``; default nccl for CUDA, gloo otherwise.

    Returns:
        With several processes on CUDA ``cuda:LOCAL_RANK``, also made the current device (one
        GPU per process); otherwise ``device``.  With one process nothing is initialised.

    Raises ``ValueError`` for an unknown backend, nccl without CUDA, MPS with several
    processes, or fewer GPUs on the node than processes on it.
    """
    device = torch.device(device)
    rank, size, local = world()
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "nccl" and device.type != "cuda":
        raise ValueError(f"backend 'nccl' needs CUDA tensors, but the device is {device}: "
                         "use backend 'gloo' on the CPU")
    if size == 1:
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if local >= count:
            raise ValueError(f"LOCAL_RANK={local} but this node has {count} GPU(s): start at "
                             f"most {count} processes per node (torchrun --nproc-per-node)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise ValueError(f"several processes on {device.type} are not supported: use one "
                         "process, or --device cpu")
    if not _active():
        dist.init_process_group(backend or ("nccl" if device.type == "cuda" else "gloo"),
                                store=_elastic_store(size), rank=rank, world_size=size,
                                device_id=device if device.type == "cuda" else None)
    return device


def _elastic_store(size: int) -> dist.Store | None:
    """torchrun's key-value store, with a prefix of its own for each restart of the group.

    torchrun (torch 2.13) keeps one store for all restarts of a group; the addresses the
    processes of a failed attempt published there are found again by the restarted ones,
    which then try to connect to dead processes and fail ("Connection refused").  A prefix
    per attempt (``TORCHELASTIC_RESTART_COUNT``) keeps the attempts apart.  ``None``
    (PyTorch's ``env://`` rendezvous) under other launchers.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size,
                          is_master=False, timeout=timedelta(minutes=30))
    return dist.PrefixStore(f"srlib/attempt_{_env_int('TORCHELASTIC_RESTART_COUNT', 0)}", store)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in ``DistributedDataParallel`` when several processes train; else ``model``.

    DDP copies rank 0's parameters to every rank once, then, in ``backward()``, all-reduces
    the gradients (their mean over the ranks) so every optimizer step is the same on all.
    """
    if not _active():
        return model
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


def cleanup() -> None:
    """Leave the process group (if one was joined); call it before the process ends."""
    if _active():
        dist.destroy_process_group()


def restarted() -> bool:
    """True if ``torchrun --max-restarts`` restarted this group (``TORCHELASTIC_RESTART_COUNT``).

    :func:`srlib.train.train` then resumes from its checkpoint by itself.
    """
    return _env_int("TORCHELASTIC_RESTART_COUNT", 0) > 0


def shard(indices: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """The ``rank``-th of ``world_size`` equal, contiguous parts of a global batch.

    The parts are disjoint and together are ``indices``: N processes that each take their
    part of the same global batch see exactly the samples one process would see.

    Args:
        indices: ``(B,)`` sample indices of one global batch; ``B`` a multiple of
            ``world_size``.

    >>> shard(torch.tensor([7, 3, 9, 1, 4, 0]), 0, 3), shard(torch.tensor([7, 3, 9, 1, 4, 0]), 2, 3)
    (tensor([7, 3]), tensor([4, 0]))
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, {world_size})")
    if len(indices) % world_size:
        raise ValueError(f"a batch of {len(indices)} cannot be split into {world_size} equal "
                         "parts: make the batch size a multiple of the number of processes")
    per = len(indices) // world_size
    return indices[rank * per:(rank + 1) * per]


def barrier() -> None:
    """Wait until every rank gets here (nothing to wait for with one process)."""
    if _active():
        dist.barrier()


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` (any picklable value) on every rank; ``obj`` itself when alone."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def average(t: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``t`` over the ranks (a new tensor; ``t`` when alone).

    Sum then divide: gloo has no ``AVG`` reduction.
    """
    if not _active():
        return t
    t = t.detach().clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / dist.get_world_size()


def on_main(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` on rank 0; every rank returns its result or raises its error.

    For what only rank 0 may do (check and create the output folder, write files): the
    other ranks wait for it, then agree, so a refusal on rank 0 stops every rank with the
    same message instead of leaving them waiting at the next collective.
    """
    if not _active():
        return fn(*args, **kwargs)
    result, error = None, None
    if dist.get_rank() == 0:
        try:
            result = fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 (re-raised on every rank below)
            try:
                pickle.dumps(err)
                error = err
            except Exception:  # noqa: BLE001
                error = RuntimeError(f"{type(err).__name__}: {err}")
    result, error = broadcast_object((result, error))
    if error is not None:
        raise error
    return result
