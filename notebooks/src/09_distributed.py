# Source of notebooks/09_distributed.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 09 · Distributed training: data parallelism with DDP, torchrun, Trainer and accelerate
#
# When one device trains too slowly, the usual first step is **data parallelism**: put a copy of
# the model on every device, give each copy a different slice of every batch, and average the
# gradients so that all copies take the same step. PyTorch's `DistributedDataParallel` (DDP) does
# this with one process per device; `torchrun` starts the processes; `Trainer` and `accelerate`
# wrap both. This chapter writes a correct DDP script, runs it with two processes on this CPU,
# **proves** it computes what one process with the whole batch computes, does the same with
# `Trainer` and `accelerate`, and measures why two processes on two CPU cores are not faster.
#
# **Learning objectives**
# - explain DP vs DDP, process groups, rank / local rank / world size, all-reduce, and why
#   `DistributedSampler` needs `set_epoch`;
# - launch a DDP script with `torchrun` (gloo on CPUs, nccl on GPUs) from a notebook;
# - verify that 2 processes with batch B end with the same weights as 1 process with batch 2B, and
#   that every rank holds identical weights;
# - run `Trainer` and `accelerate` under a launcher without the silent single-process traps;
# - measure 1 vs 2 processes, explain the result, and scale the same command to N GPUs and nodes.
#
# **Prerequisites:** [05 · Fine-tuning](05_fine_tuning.ipynb).
# **Run time:** 35 s on a 2-core CPU (quick profile; most of it is starting processes: each one imports torch).
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup
# The training runs in this chapter happen in **other processes**, started from the notebook, so
# the notebook itself only needs torch. Their results come back as JSON and safetensors files.

# %%
import course_utils as cu

env = cu.setup(seed=0)

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DistributedSampler

SCRATCH = Path("_scratch/09")
shutil.rmtree(SCRATCH, ignore_errors=True)
SCRATCH.mkdir(parents=True)
print("CPU cores:", os.cpu_count(), "| GPUs:", torch.cuda.device_count())

# %% [markdown]
# ## 1 · Concepts
# **DP vs DDP.** `nn.DataParallel` (DP) is *one* process that copies the model to every GPU at each
# step, splits the batch, runs the copies in threads and gathers outputs and gradients on GPU 0:
# one Python interpreter (the GIL), GPU 0 overloaded, one machine only. `DistributedDataParallel`
# (DDP) runs **one process per device**; each keeps its own model and optimizer for the whole run,
# and the only traffic is the gradient average. DDP is faster even on one machine and is what
# PyTorch recommends. (`Trainer` started with plain `python` on a multi-GPU machine falls back to
# DP; started with `torchrun` it uses DDP.)
#
# | term | meaning | where it comes from |
# |---|---|---|
# | world size | number of processes in the job | `WORLD_SIZE` |
# | rank | this process's id, `0 … world_size-1`, unique across all machines | `RANK` |
# | local rank | its id on *this* machine: picks the GPU (`cuda:{local_rank}`) | `LOCAL_RANK` |
# | process group | the set of processes that talk to each other | `dist.init_process_group(backend)` |
# | backend | the communication library: `nccl` between NVIDIA GPUs, `gloo` on CPUs | your script |
# | rendezvous | how processes find each other: an address and port (`MASTER_ADDR`, `MASTER_PORT`) or a c10d store | the launcher |
#
# **One DDP step.** Every rank runs forward and backward on its own slice of the batch. During
# backward, DDP **all-reduces** the gradients: each rank sends its gradients and receives the sum,
# divides by the world size, and so holds the average. All ranks then apply the same update to the
# same weights, so they stay identical without ever sending weights (DDP broadcasts rank 0's
# weights once, when it wraps the model). DDP groups gradients in buckets and starts reducing a
# bucket as soon as it is ready, overlapping communication with the rest of backward.

# %% [markdown]
# ## 2 · Why averaging gradients equals one big batch
# With a loss that is a **mean** over the batch and slices of **equal size**, the average of the
# slices' gradients is exactly the gradient of the whole batch. That identity is all DDP relies on;
# here it is in one process:

# %% tags=["nbval-check-output", "same-online"]
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
loss_fn = nn.CrossEntropyLoss()  # mean over the batch


def grads(xb, yb):
    model.zero_grad()
    loss_fn(model(xb), yb).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


whole = grads(x, y)
equal_slices = (grads(x[:8], y[:8]) + grads(x[8:], y[8:])) / 2  # what 2 ranks hold after all-reduce
torch.testing.assert_close(equal_slices, whole)
print("2 slices of 8, averaged == batch of 16:", torch.allclose(equal_slices, whole, atol=1e-6))
unequal_slices = (grads(x[:10], y[:10]) + grads(x[10:], y[10:])) / 2
print("slices of 10 and 6, averaged == batch of 16:", torch.allclose(unequal_slices, whole, atol=1e-6))

# %%
print(f"max |difference|: equal slices {(equal_slices - whole).abs().max():.1e}, "
      f"unequal slices {(unequal_slices - whole).abs().max():.1e}")

# %% [markdown]
# The difference for equal slices is float rounding (the sum is added in another order). Unequal
# slices weight the examples of the small slice more: that is why the sampler below gives every
# rank the same number of examples.

# %% [markdown]
# ## 3 · `DistributedSampler` and `set_epoch`
# Each rank must read a different part of the data. `DistributedSampler` shuffles the indices with
# a seed that all ranks share, then hands rank `r` every `world_size`-th index starting at `r`. The
# shuffle depends on `seed + epoch`, and the epoch is whatever you last passed to `set_epoch`:

# %% tags=["nbval-check-output", "same-online"]
data = list(range(12))
for epoch in (0, 1):
    for rank in (0, 1):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sampler.set_epoch(epoch)
        print(f"epoch {epoch} rank {rank}: {list(sampler)}")
never_set = DistributedSampler(data, num_replicas=2, rank=0, shuffle=True, seed=0)
print("without set_epoch, rank 0 reads every epoch:", list(never_set), "then", list(never_set))

# %% [markdown]
# Together the two ranks read each index once per epoch. Forget `set_epoch` and every epoch repeats
# epoch 0's order. When the dataset does not split evenly, the sampler pads by repeating indices
# (or drops the tail with `drop_last=True`), so that every rank does the same number of steps: a
# rank with one step more would wait forever for the others in the all-reduce.

# %% tags=["nbval-check-output", "same-online"]
for drop_last in (False, True):
    parts = [list(DistributedSampler(list(range(10)), num_replicas=3, rank=r, shuffle=False,
                                     drop_last=drop_last)) for r in range(3)]
    print(f"10 examples, 3 ranks, drop_last={drop_last}: {parts}")

# %% [markdown]
# ## 4 · A correct DDP script
# DDP scripts copied from older tutorials often do not run: `run(demo_fn, world_size)` uses a
# `rank` it was never given, `nccl` needs NVIDIA GPUs, and the model is wrapped before it is moved
# to its device. The course's version is
# [`course_utils/scripts/ddp_train.py`](../course_utils/scripts/ddp_train.py); its skeleton:
#
# ```python
# rank, local_rank, world_size = (int(os.environ[k]) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
# if torch.cuda.is_available():
#     backend, device = "nccl", torch.device("cuda", local_rank)   # one GPU per process
#     torch.cuda.set_device(device)
# else:
#     backend, device = "gloo", torch.device("cpu")
# dist.init_process_group(backend)              # reads MASTER_ADDR/PORT, RANK, WORLD_SIZE
#
# model = make_model(seed=0).to(device)         # same seed everywhere (DDP also broadcasts rank 0's)
# ddp_model = DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
# optimizer = torch.optim.SGD(ddp_model.parameters(), lr=lr)
# sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, seed=0, drop_last=True)
# loader = DataLoader(dataset, batch_size=per_process_batch, sampler=sampler)
# for epoch in range(epochs):
#     sampler.set_epoch(epoch)
#     for x, y in loader:
#         loss = loss_fn(ddp_model(x.to(device)), y.to(device))
#         optimizer.zero_grad()
#         loss.backward()                       # gradients are all-reduced here
#         optimizer.step()
# if rank == 0:
#     save(...)                                 # write files once, not once per process
# dist.destroy_process_group()
# ```
#
# The model is a small MLP on a synthetic 4-class task, so that the mechanics cost seconds.
# `--check-equivalence` makes every step also gather all ranks' examples and step a plain copy of
# the model on that global batch, i.e. what *one* process with batch 2B would do, and record how far
# apart the two sets of weights are.

# %% [markdown]
# ## 5 · Launch it with `torchrun` from the notebook
# `torchrun --standalone --nproc_per_node=2 -m module ...` starts 2 processes on this machine,
# sets `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT` in each, and waits for
# them. We call it as `python -m torch.distributed.run` with this kernel's interpreter, so the
# processes use the same environment. Each process gets `cores / processes` threads (`torchrun`
# would otherwise set 1 and warn). A launch that fails is retried once: on a loaded machine one
# launch in a few dozen can fail while starting (a `ChildFailedError`).

# %%
def launch(nproc, module, *args, accelerate=False):
    """Run `module` in `nproc` processes (torchrun, or `accelerate launch`); return stdout and seconds."""
    if accelerate:
        launcher = ["-m", "accelerate.commands.launch", "--multi_gpu", f"--num_processes={nproc}",
                    "--num_machines=1", "--mixed_precision=no", "--dynamo_backend=no"]
    elif nproc > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    else:
        launcher = []  # one process needs no launcher (the script then forms a group of one)
    cmd = [sys.executable, *launcher, "-m", module, *map(str, args)]
    env_vars = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // nproc)))
    for attempt in (1, 2):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env_vars, timeout=300)
        if proc.returncode == 0:
            return proc.stdout, time.perf_counter() - start
        if attempt == 1 and "ChildFailedError" in proc.stderr:
            print("launch failed while starting; retrying once")
            continue
        raise RuntimeError(f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}")


def rank_lines(stdout):
    return "\n".join(line for line in stdout.splitlines() if line.startswith("[rank"))


DDP = "course_utils.scripts.ddp_train"
COMMON = ["--steps", 40, "--hidden", 1024, "--examples", 8192, "--seed", 0]
out, seconds = launch(2, DDP, *COMMON, "--batch-size", 128, "--check-equivalence",
                      "--out", SCRATCH / "ddp2.json", "--save-weights", SCRATCH / "ddp2.safetensors")
print(rank_lines(out))
print(f"launch and training: {seconds:.1f} s")

# %% [markdown]
# Each rank printed its own line (their order varies). Rank 0 wrote the summary:

# %% tags=["nbval-check-output", "same-online"]
ddp2 = json.loads((SCRATCH / "ddp2.json").read_text())
print({k: ddp2[k] for k in ("world_size", "backend", "per_process_batch", "global_batch", "steps", "epochs_started")})
print("all ranks hold identical weights:", ddp2["ranks_identical"])
print("DDP weights == one process stepping on the global batch, after every step:",
      ddp2["equivalence"]["equal"])

# %%
diffs = ddp2["equivalence"]["max_abs_diff_per_step"]
print(f"max |DDP - single| after step 1: {diffs[0]:.1e}, after step {len(diffs)}: {diffs[-1]:.1e}")

# %% [markdown]
# The rank lines show something else: both ranks report the **same loss** (the script averages it
# over ranks for logging). Each rank's own loss is only its slice's.

# %% [markdown]
# ## 6 · One process with batch 2B, and the clock
# The in-script reference is one model stepping on the gathered batch. The real thing is a
# separate run with **one process** (plain `python -m ...`) and twice the batch. With the same
# seed, `DistributedSampler`
# with 1 replica reads the same permutation, in batches of 256 that are exactly the union of the two
# ranks' batches of 128; so the final weights must agree too.

# %%
out, seconds = launch(1, DDP, *COMMON, "--batch-size", 256,
                      "--out", SCRATCH / "ddp1.json", "--save-weights", SCRATCH / "ddp1.safetensors")
print(rank_lines(out))
print(f"launch and training: {seconds:.1f} s")

# %% tags=["nbval-check-output", "same-online"]
w1, w2 = load_file(SCRATCH / "ddp1.safetensors"), load_file(SCRATCH / "ddp2.safetensors")
weights_diff = max((w1[k] - w2[k]).abs().max().item() for k in w1)
print("same tensors:", sorted(w1) == sorted(w2))
print("1 process x batch 256 == 2 processes x batch 128 after 40 steps (atol 1e-5):", weights_diff < 1e-5)

# %%
ddp1 = json.loads((SCRATCH / "ddp1.json").read_text())
print(f"max |difference| of the final weights: {weights_diff:.1e}")
rows = [("1 process, batch 256", ddp1), ("2 processes, batch 128 each", ddp2)]
for name, r in rows:
    print(f"{name:28s} threads/process {r['threads_per_process']} | median step "
          f"{r['median_step_s'] * 1000:6.1f} ms | {r['samples_per_s']:8.0f} examples/s")
fig, ax = plt.subplots(figsize=(6.5, 2.4))
ax.barh([n for n, _ in rows], [r["samples_per_s"] for _, r in rows], color=["tab:gray", "tab:blue"])
ax.set_xlabel("throughput (training examples per second)")
ax.set_ylabel("launch")
ax.set_title("DDP on this CPU (gloo), same global batch of 256")
fig.tight_layout()

# %% [markdown]
# **Why no speed-up here.** This machine has 2 CPU cores. One process already uses both (2 threads
# in every matrix product). Two processes get 1 thread each: the same 2 cores do the same
# arithmetic, and on top of it every step now all-reduces the gradient of every weight through
# gloo over the loopback network, and the two processes wait for each other at every step. Data
# parallelism pays when each process brings **its own compute**: one GPU per process, where the
# forward/backward time divides by the number of GPUs while the all-reduce (NCCL over NVLink or
# InfiniBand, overlapped with backward) costs a small fraction of a step. Even then the slowest rank
# sets the pace of every step, which is why the GPUs of one job should be alike.
#
# On CPUs, DDP is for **correctness testing** of code that will run on GPUs: the same script, the
# same launcher, the gloo backend. That is what this chapter and the course's CI do.

# %% [markdown]
# ## 7 · `Trainer` under `torchrun`
# `Trainer` needs no DDP code: started by `torchrun`, it reads the same variables, joins the
# process group, wraps the model in DDP and shards each batch. The script
# [`course_utils/scripts/trainer_ddp.py`](../course_utils/scripts/trainer_ddp.py) fine-tunes the
# encoder of notebook 05 on 64 emotion texts, 8 per process and step. On a machine **without a
# GPU** it must pass `TrainingArguments(use_cpu=True)`: without it each process quietly trains
# alone on all the data. (Its `--exact` option, plain SGD without dropout, lets the course's tests
# check that 2 processes × 8 give the weights of 1 process × 16, as in section 6.)

# %%
TRAINER = "course_utils.scripts.trainer_ddp"
out, seconds = launch(2, TRAINER, "--examples", 64, "--batch-size", 8, "--out-dir", SCRATCH / "trainer2")
print(rank_lines(out))
print(f"2 processes: {seconds:.1f} s (each one imports transformers and loads the model)")

# %% tags=["nbval-check-output", "same-online"]
ranks = [json.loads((SCRATCH / "trainer2" / f"rank{r}.json").read_text()) for r in (0, 1)]
for r in ranks:
    print(f"rank {r['rank_from_env']}: world size {r['world_size_seen_by_trainer']} "
          f"(without use_cpu=True: {r['world_size_without_use_cpu']}), {r['parallel_mode']}, "
          f"wrapped in DDP: {r['model_wrapped_in_ddp']}, {r['optimizer_steps']} optimizer steps")
print("identical weights on both ranks:", ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"])

# %%
print(f"train_loss {ranks[0]['train_loss']:.3f} | train_runtime {ranks[0]['train_runtime_s']:.1f} s")

# %% [markdown]
# Two things in that script are not defaults, and both fail **silently** when left out:
#
# - `use_cpu=True` (only where there is no GPU). Without it the process does not join the group:
#   `world size 1` above is what each rank would have seen, so two processes would each train on all
#   64 texts, twice the work for the result of one.
# - `average_tokens_across_devices=False`. transformers 5 defaults it to `True` and then multiplies
#   the loss by the world size, which is right for losses divided by the token count of the *global*
#   batch (causal LMs) but not for a classifier's per-batch mean: gradients, and the reported
#   `train_loss`, come out twice as large with 2 processes (exercise 09.2 meets the same factor).

# %% [markdown]
# ## 8 · `accelerate`
# `accelerate` lets a plain PyTorch loop run anywhere: `Accelerator().prepare(model, optimizer,
# loader)` wraps the model in DDP and shards the loader, and `accelerator.backward(loss)` replaces
# `loss.backward()`. The script's `--engine accelerate` is the same loop written that way. On
# a machine without GPUs, what each launch starts (the first row is run below; the others were
# checked by hand with accelerate 1.x):
#
# | command (no accelerate config file) | processes started |
# |---|---|
# | `accelerate launch --multi_gpu --num_processes 2 ...` | 2 (a `torchrun`-style launch; the name says GPU but it only means "several processes") |
# | `accelerate launch --num_processes 2 ...` | 1 (without GPUs it falls back to a single process) |
# | `accelerate launch --cpu --num_processes 2 ...` | 1 (multi-CPU needs MPI: `--mpirun_hostfile`) |
# | `torchrun --nproc_per_node 2 ...` | 2 |
#
# Inside the script, `Accelerator(cpu=True)` is the counterpart of Trainer's `use_cpu=True`.

# %%
out, seconds = launch(2, DDP, "--engine", "accelerate", "--steps", 10, "--check-equivalence",
                      "--out", SCRATCH / "accelerate.json", accelerate=True)
print(rank_lines(out))
print(f"accelerate launch --multi_gpu --num_processes=2: {seconds:.1f} s")

# %% tags=["nbval-check-output", "same-online"]
acc = json.loads((SCRATCH / "accelerate.json").read_text())
print({k: acc[k] for k in ("engine", "world_size", "backend", "global_batch")})
print("identical weights on all ranks:", acc["ranks_identical"], "| equal to one process on the global batch:",
      acc["equivalence"]["equal"])

# %% [markdown]
# In a notebook, `accelerate.notebook_launcher(train_function, num_processes=2)` forks the kernel
# into processes instead of starting new ones; it works on a CPU machine too, where accelerate
# 1.x announces "Launching training on 2 CUDAs", misleadingly (not run here). Scripts and `torchrun` are easier to debug and
# are what a cluster runs, so the course uses them.

# %% [markdown]
# ## 9 · The same commands on GPUs and on several machines
# Nothing in the script changes; only the launcher's arguments do. (This chapter's measurements are
# from the CPU machine above; no GPU was available for it.)
#
# **One machine, all its GPUs** (`gpu` means one process per visible GPU; the script picks `nccl`
# and `cuda:{LOCAL_RANK}`):
# ```bash
# torchrun --standalone --nproc_per_node=gpu -m course_utils.scripts.ddp_train --batch-size 64
# ```
# **Two machines with 8 GPUs each.** Run the *same* command on both; they meet at a rendezvous
# endpoint (a host and port reachable from both) under a job id:
# ```bash
# torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=node0.example:29500 \
#          --rdzv_id=emotion-42 -m course_utils.scripts.ddp_train --batch-size 64
# ```
# The world size is 16; `LOCAL_RANK` is 0…7 on each machine and chooses the GPU; `RANK` 0…15 is
# unique across both, so only global rank 0 writes files. With c10d rendezvous the launcher assigns
# node ranks as machines join (`--nnodes=1:4` even lets the job start with 1 to 4 machines and
# restart with `--max-restarts`); the older static form gives each machine `--node_rank`,
# `--master_addr` and `--master_port` instead. Every machine needs the same code, the same data
# path and open ports between the nodes; with accelerate the equivalent flags are `--num_machines`,
# `--machine_rank`, `--main_process_ip` and `--main_process_port`.
#
# **Batch size and learning rate.** The global batch is per-process batch × world size ×
# gradient-accumulation steps: the 16 GPUs above take steps of 1,024 examples. Keep the global
# batch (smaller per-process batch) to keep the recipe, or raise the learning rate with it
# (roughly linearly, with a warm-up) when you grow it.

# %% [markdown]
# ## Common pitfalls
# - **`run(demo_fn, world_size)`**, as older tutorials write it, calls `setup(rank, ...)` with a
#   `rank` that does not exist. `torch.multiprocessing.spawn(fn, args=(world_size,), nprocs=n)`
#   calls `fn(i, world_size)`: the process index comes **first**, so write
#   `def run(rank, world_size)`. (`ddp_train --spawn 2` starts its processes this way.)
# - **`nccl` without GPUs** fails: use `gloo` on CPUs (the script picks by `torch.cuda.is_available()`).
# - **`cuda:{rank}`** is right on one machine only; on several use `LOCAL_RANK`.
# - **`torch.distributed.launch`** is deprecated, and passed `--local-rank` as an argument; use
#   `torchrun`, which sets `LOCAL_RANK` in the environment.
# - **Forgetting `sampler.set_epoch(epoch)`**: every epoch reads the same order.
# - **Printing, saving or evaluating on every rank**: guard with `if rank == 0`, and keep
#   collective calls (all-reduce, gather) on *all* ranks, or they wait forever.
# - **`torch.set_num_threads(2)` inside each of 2 ranks on 2 cores**: 4 threads fight for 2 cores
#   and every step gets slower; give each process `cores // processes` threads.
# - **Trainer on CPU without `use_cpu=True`**, or **accelerate without `cpu=True`**: each process
#   trains alone, silently. **`accelerate launch --cpu --num_processes 2`** starts one process.
# - **`average_tokens_across_devices=True` (the default) with a classifier under DDP** (transformers
#   5): gradients and the logged loss are multiplied by the world size. Set it to `False` for
#   losses that are a per-batch mean.
# - **"Trainer turns on multi-GPU by itself"** is only half true: started with `python`, it uses
#   `nn.DataParallel` on all visible GPUs, the slow single-process mode; start it with `torchrun` to
#   get DDP, and `per_device_train_batch_size` is then per process.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/09_distributed_solutions.ipynb](solutions/09_distributed_solutions.ipynb).
#
# **09.1** Write `shard_indices(n, world_size, rank, shuffle, seed, epoch, drop_last)`: the indices
# that `DistributedSampler` hands rank `rank` of a dataset of `n` examples in epoch `epoch`
# (section 3). If `shuffle`, permute with `torch.randperm` seeded with `seed + epoch`; pad the list
# by repeating it from its start up to a multiple of `world_size` (with `drop_last`, cut it down to
# one instead); then take every `world_size`-th index starting at `rank`. The checker compares with
# `DistributedSampler` on 150 combinations (its iterator is switched off while your function runs).

# %% tags=["nbval-check-output", "same-online"]
def shard_indices(n: int, world_size: int, rank: int, shuffle: bool = True, seed: int = 0, epoch: int = 0,
                  drop_last: bool = False) -> list[int]:
    raise NotImplementedError  # your code here


cu.check.exercise_09_1(shard_indices)

# %% [markdown]
# **09.2** After backward, rank `i` holds the gradient `g_i` of the mean loss over its own `n_i`
# examples. Write `global_gradient(rank_grads, rank_sizes)`: the gradient of the mean loss over all
# the ranks' examples together (one flat tensor), right for unequal slices too (section 2).
# Think: which part of your formula does DDP's all-reduce compute, and what makes the rest unnecessary?

# %% tags=["nbval-check-output", "same-online"]
def global_gradient(rank_grads: list[torch.Tensor], rank_sizes: list[int]) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_09_2(global_gradient)

# %% [markdown]
# **09.3** A training loop that never calls `set_epoch` reads
# `DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
# drop_last=drop_last)` for `epochs` epochs. Write `epoch_reads(n, world_size, rank, seed, epochs,
# drop_last)`: the indices `rank` reads in each epoch (a list of `epochs` lists), with your
# `shard_indices`, not with the sampler (switched off while the checker runs). Think: what does rank 0
# read in 3 epochs of `range(10)` over 3 ranks with `seed=7`?

# %% tags=["nbval-check-output", "same-online"]
def epoch_reads(n: int, world_size: int, rank: int, seed: int, epochs: int, drop_last: bool = False) -> list[list[int]]:
    raise NotImplementedError  # your code here


cu.check.exercise_09_3(epoch_reads)

# %% [markdown]
# **09.4** Start section 5's script without `torchrun`: with `--spawn 2` it starts its 2 processes
# itself (`torch.multiprocessing.spawn`, which passes the process index first). Run plain
# `python -m course_utils.scripts.ddp_train --spawn 2 --steps 12 --hidden 128 --batch-size 32
# --check-equivalence --out ... --save-weights ...` (e.g. `subprocess.run([sys.executable, "-m", DDP,
# ...], env=dict(os.environ, OMP_NUM_THREADS="1"), check=True)`: the 2 children inherit one thread
# each), then pass its JSON summary (a dict) and its weights (`load_file`) to the checker. The checker
# trains one process with the global batch of 64 here, in the notebook, and compares the weights.

# %% tags=["nbval-check-output", "same-online"]
my_summary, my_weights = None, None
cu.check.exercise_09_4(my_summary, my_weights)

# %% [markdown]
# ## Recap
# - DDP: one process per device, identical replicas, gradients averaged by all-reduce in backward;
#   with a mean loss and equal shards that is exactly one big batch, and we verified it (weights
#   equal within 1e-5, identical on every rank).
# - `torchrun` sets `RANK`, `LOCAL_RANK`, `WORLD_SIZE` and the rendezvous; the script picks `nccl`
#   or `gloo`, `DistributedSampler` shards the data, `set_epoch` reshuffles.
# - `Trainer` and `accelerate` do the wrapping for you, but on CPUs only with `use_cpu=True` /
#   `cpu=True`, and `accelerate launch` needs `--multi_gpu` to start several processes.
# - Two processes on two CPU cores are not faster; data parallelism speeds up training when every
#   process has its own device.
#
# **Next:** [10 · Embeddings and reranking](10_embeddings_reranking.ipynb).
