"""Data-parallel training with DistributedDataParallel (DDP): gloo on CPUs, nccl on GPUs.

Start one process per device with ``torchrun``; it sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT`` in every process's environment, and this script reads them::

    torchrun --standalone --nproc_per_node=2 -m course_utils.scripts.ddp_train --steps 20 --out ddp.json

Other ways to start it:

- ``python -m course_utils.scripts.ddp_train``: one process (a process group of size 1);
- ``--spawn N``: the script starts N processes itself with ``torch.multiprocessing.spawn``;
- ``--engine accelerate``: the same training loop written with ``accelerate.Accelerator``
  (launch it with ``torchrun`` or ``accelerate launch``).

The model is a small MLP on a synthetic classification task, so that the mechanics are cheap to
run on a laptop CPU. ``--check-equivalence`` also trains, beside the DDP model, a plain copy that
sees every process's batch at once (one process with the global batch) and records how far the
two sets of weights are apart after each step. Rank 0 writes a JSON summary to ``--out``.

Read :func:`train_ddp` beside notebook 09's skeleton: it is that loop, step for step.
:func:`train_accelerate` is the same loop with accelerate; the steps both share follow them.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from course_utils.net import free_port

ENGINES = ("ddp", "accelerate")
#: Weights of the DDP model and of the one-process reference must agree to this (float32 sums
#: are reassociated across processes, so they agree to rounding, not bit for bit).
EQUIVALENCE_ATOL = 1e-5


def make_dataset(n_examples: int, n_features: int, n_classes: int, seed: int) -> TensorDataset:
    """A synthetic classification set: Gaussian inputs labelled by a fixed random linear 'teacher'.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    if n_examples < 1 or n_features < 1 or n_classes < 2:
        raise ValueError(
            f"need n_examples >= 1, n_features >= 1, n_classes >= 2; got {n_examples}, {n_features}, {n_classes}"
        )
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_examples, n_features, generator=g)
    teacher = torch.randn(n_features, n_classes, generator=g)
    return TensorDataset(x, (x @ teacher).argmax(dim=1))


def make_model(n_features: int, hidden: int, n_classes: int, seed: int) -> nn.Sequential:
    """The MLP every process builds from the same seed (DDP also broadcasts rank 0's weights).

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(n_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_classes),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--help`` lists them).

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=ENGINES, default="ddp", help="raw torch DDP or accelerate's Accelerator")
    p.add_argument("--batch-size", type=int, default=64, help="examples per process per step")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    p.add_argument("--examples", type=int, default=4096, help="size of the synthetic training set")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--check-equivalence",
        action="store_true",
        help="also step a plain copy on the global batch (all processes' batches) and compare",
    )
    p.add_argument(
        "--spawn",
        type=int,
        default=0,
        metavar="N",
        help="start N processes with torch.multiprocessing.spawn instead of using a launcher",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON summary written by rank 0")
    p.add_argument("--save-weights", type=Path, default=None, help="safetensors file of the final weights (rank 0)")
    args = p.parse_args(argv)
    for name in ("batch_size", "steps", "examples", "features", "hidden"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.classes < 2:
        p.error(f"--classes must be at least 2, got {args.classes}")
    if args.lr <= 0:
        p.error(f"--lr must be positive, got {args.lr}")
    if args.spawn < 0:
        p.error(f"--spawn must be 0 (use the launcher's processes) or a number of processes, got {args.spawn}")
    return args


def dist_env() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the variables torchrun sets; (0, 0, 1) without a launcher.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("LOCAL_RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
    )


def _single_process_env() -> None:
    """Started with plain ``python``: describe a process group of one so the same code path runs."""
    if "MASTER_ADDR" not in os.environ:
        os.environ.update(
            RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port())
        )


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max((pa.detach() - pb.detach()).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters()))


class _Comm:
    """The few collective operations the loop needs, for raw torch.distributed or accelerate."""

    def __init__(self, accelerator: Any = None) -> None:
        self.acc = accelerator

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate ``t`` from every rank along dim 0, in rank order."""
        if self.acc is not None:
            return self.acc.gather(t)
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t)
        return torch.cat(parts)

    def mean(self, value: torch.Tensor) -> float:
        """Average of a scalar over ranks."""
        return self.gather(value.detach().reshape(1)).mean().item()


def train(args: argparse.Namespace) -> dict[str, Any] | None:
    """Train on this process's shard with ``--engine``; return the summary on rank 0 (None elsewhere).

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    _single_process_env()
    return train_accelerate(args) if args.engine == "accelerate" else train_ddp(args)


# ---------------------------------------------------------------------------------------------
# The two engines: the same loop, written with raw torch.distributed and with accelerate.


def train_ddp(args: argparse.Namespace) -> dict[str, Any] | None:
    """The loop of notebook 09's skeleton: raw ``torch.distributed``, one process per device.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    rank, local_rank, world_size = dist_env()
    backend, device = init_process_group(local_rank)  # nccl on GPUs, gloo on CPUs
    assert dist.get_world_size() == world_size and dist.get_rank() == rank
    cuda = device.type == "cuda"

    dataset = make_dataset(args.examples, args.features, args.classes, args.seed)
    model = make_model(args.features, args.hidden, args.classes, args.seed).to(device)
    record = Record(args, model, _Comm(), cuda)  # times, losses and the --check-equivalence reference
    ddp_model = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr)
    # Each rank reads a disjoint 1/world_size of a permutation that all ranks agree on (same seed).
    sampler: DistributedSampler[int] = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed, drop_last=True
    )
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    _check_not_empty(loader, args, world_size)
    loss_fn = nn.CrossEntropyLoss()  # mean over the local batch; DDP then averages gradients over ranks

    for x, y in batches(loader, sampler.set_epoch, record, device):  # set_epoch: a new shuffle, the same on all ranks
        t0 = time.perf_counter()
        loss = loss_fn(ddp_model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces (averages) gradients across ranks during backward
        optimizer.step()
        record.step(t0, loss, x, y)

    summary = summarize(args, record, backend, device, world_size)
    save_on_rank_0(args, rank, summary, model)  # write files once, not once per process
    close_process_group()
    return summary if rank == 0 else None


def init_process_group(local_rank: int) -> tuple[str, torch.device]:
    """Join the group torchrun describes: nccl and GPU ``LOCAL_RANK`` with GPUs, else gloo on the CPU.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)  # one GPU per process, picked by LOCAL_RANK (not RANK)
    else:
        backend, device = "gloo", torch.device("cpu")
    dist.init_process_group(backend=backend)  # reads MASTER_ADDR/PORT, RANK and WORLD_SIZE
    return backend, device


def train_accelerate(args: argparse.Namespace) -> dict[str, Any] | None:
    """The same loop with ``accelerate.Accelerator``: ``prepare`` wraps and shards, ``backward`` replaces ``loss.backward``.

    Taught in: 09 Distributed training, "`accelerate`".
    """
    from accelerate import Accelerator

    # cpu=True matters: without it, on a machine with no GPU, accelerate ignores the launcher's
    # variables and every process trains alone (DistributedType.NO).
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    device, backend = accelerator.device, str(accelerator.state.backend)
    rank, world_size = accelerator.process_index, accelerator.num_processes

    dataset = make_dataset(args.examples, args.features, args.classes, args.seed)
    model = make_model(args.features, args.hidden, args.classes, args.seed).to(device)
    record = Record(args, model, _Comm(accelerator), cuda=torch.cuda.is_available())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    ddp_model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    _check_not_empty(loader, args, world_size)
    loss_fn = nn.CrossEntropyLoss()

    for x, y in batches(loader, getattr(loader, "set_epoch", lambda epoch: None), record, device):
        t0 = time.perf_counter()
        loss = loss_fn(ddp_model(x), y)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        optimizer.step()
        record.step(t0, loss, x, y)

    summary = summarize(args, record, backend, device, world_size)
    save_on_rank_0(args, rank, summary, model)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    close_process_group()
    return summary if rank == 0 else None


# ---------------------------------------------------------------------------------------------
# The steps both engines share.


def _check_not_empty(loader: DataLoader, args: argparse.Namespace, world_size: int) -> None:
    if len(loader) == 0:
        raise SystemExit(f"--examples {args.examples} is too small for {world_size} x --batch-size {args.batch_size}")


class Reference:
    """``--check-equivalence``: a plain copy of the model that steps on the global batch (every rank's examples).

    Taught in: 09 Distributed training, "A correct DDP script".
    """

    def __init__(self, model: nn.Module, lr: float) -> None:
        self.model = copy.deepcopy(model)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.diffs: list[float] = []

    def step(self, x: torch.Tensor, y: torch.Tensor, ddp_weights: nn.Module) -> None:
        """One step on the global batch ``x, y``; records how far it is from ``ddp_weights``."""
        self.optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(self.model(x), y).backward()
        self.optimizer.step()
        self.diffs.append(_max_diff(ddp_weights, self.model))


class Record:
    """What the loop records at each step: its time, the loss averaged over ranks, the reference's step.

    Taught in: 09 Distributed training, "A correct DDP script".
    """

    def __init__(self, args: argparse.Namespace, model: nn.Module, comm: _Comm, cuda: bool) -> None:
        self.steps_wanted, self.model, self.comm, self.cuda = args.steps, model, comm, cuda
        self.reference = Reference(model, args.lr) if args.check_equivalence else None
        self.step_seconds: list[float] = []
        self.losses: list[float] = []
        self.steps, self.epochs, self.wall = 0, 0, 0.0

    def step(self, t0: float, loss: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
        """Call after ``optimizer.step()``; ``t0`` is when the step started."""
        if self.cuda:
            torch.cuda.synchronize()
        self.step_seconds.append(time.perf_counter() - t0)
        self.losses.append(self.comm.mean(loss))
        if self.reference is not None:
            self.reference.step(self.comm.gather(x), self.comm.gather(y), self.model)
        self.steps += 1


def batches(
    loader: DataLoader, set_epoch: Callable[[int], None], record: Record, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``loader``'s batches on ``device``, epoch after epoch, until ``record`` holds ``--steps`` steps.

    ``set_epoch(epoch)`` is called before each epoch; ``record`` also gets the epochs and the wall time.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    t_start = time.perf_counter()
    while record.steps < record.steps_wanted:
        set_epoch(record.epochs)
        for x, y in loader:
            yield x.to(device), y.to(device)
            if record.steps == record.steps_wanted:
                break
        record.epochs += 1
    record.wall = time.perf_counter() - t_start


def summarize(
    args: argparse.Namespace, record: Record, backend: str, device: torch.device, world_size: int
) -> dict[str, Any]:
    """The JSON summary; compares every rank's weights (a collective: all ranks call it).

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    flat = _flat(record.model)
    every_rank = record.comm.gather(flat).reshape(world_size, -1)
    across = (every_rank - every_rank[0]).abs().max().item()
    timed = record.step_seconds[2:] or record.step_seconds  # the first steps pay for warm-up
    losses = record.losses
    summary: dict[str, Any] = {
        "engine": args.engine,
        "backend": backend,
        "device": str(device),
        "world_size": world_size,
        "threads_per_process": torch.get_num_threads(),
        "per_process_batch": args.batch_size,
        "global_batch": args.batch_size * world_size,
        "steps": record.steps,
        "epochs_started": record.epochs,
        "median_step_s": statistics.median(timed),
        "samples_per_s": args.batch_size * world_size / statistics.median(timed),
        "wall_s": record.wall,
        "first_loss": losses[0],
        "final_loss": losses[-1],
        "ranks_identical": across == 0.0,
        "max_abs_diff_across_ranks": across,
        "param_count": flat.numel(),
    }
    if record.reference is not None:
        diffs = record.reference.diffs
        summary["equivalence"] = {
            "max_abs_diff_per_step": diffs,
            "atol": EQUIVALENCE_ATOL,
            "equal": max(diffs) <= EQUIVALENCE_ATOL,
        }
    return summary


def save_on_rank_0(args: argparse.Namespace, rank: int, summary: dict[str, Any], model: nn.Module) -> None:
    """Rank 0 writes the files (once, not once per process); every rank prints its line.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    if rank == 0 and args.save_weights is not None:
        from safetensors.torch import save_file

        args.save_weights.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(args.save_weights))
    if rank == 0 and args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))
    print(
        f"[rank {rank}/{summary['world_size']}] steps {summary['steps']} | loss {summary['first_loss']:.3f} -> "
        f"{summary['final_loss']:.3f} | median step {summary['median_step_s'] * 1000:.1f} ms | weights identical "
        f"across ranks: {summary['ranks_identical']}",
        flush=True,
    )


def close_process_group() -> None:
    """Every rank waits here until all have finished their collectives, then leaves the group.

    A rank that tears down its gloo connections while a peer is still using them can abort the
    peer at exit (measured: about one --spawn run in 25 on 2 cores without this barrier).

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _spawn_worker(local_rank: int, world_size: int, port: int, argv: list[str]) -> None:
    # torch.multiprocessing.spawn passes the process index as the FIRST argument: that is the rank.
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    train(parse_args(argv))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run under a launcher, alone, or spawn ``--spawn N`` processes.

    Taught in: 09 Distributed training, "A correct DDP script".
    """
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.spawn:
        import torch.multiprocessing as mp

        rest = [a for i, a in enumerate(argv) if a != "--spawn" and (i == 0 or argv[i - 1] != "--spawn")]
        rest = [a for a in rest if not a.startswith("--spawn=")]
        mp.spawn(_spawn_worker, args=(args.spawn, free_port(), rest), nprocs=args.spawn, join=True)
    else:
        train(args)


if __name__ == "__main__":
    main()
