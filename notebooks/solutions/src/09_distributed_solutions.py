# Worked solutions of notebook 09's exercises (built with `make notebooks`).

# %% [markdown]
# # 09 · Solutions: distributed training
#
# Worked solutions to the exercises of [09 · Distributed training](../09_distributed.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DistributedSampler

SCRATCH = Path("../_scratch/09_solutions")
shutil.rmtree(SCRATCH, ignore_errors=True)

# %% [markdown]
# **09.1** Three steps, in this order: one permutation that every rank computes alike (same seed,
# plus the epoch); padding (or cutting) to a multiple of the world size, so that every rank gets the
# same number of indices; then a stride, so that rank `r` gets positions `r, r + W, r + 2W, ...`.
# Padding repeats the list from its start, several times over when `n < world_size`.

# %% tags=["nbval-check-output", "same-online"]
def shard_indices(n: int, world_size: int, rank: int, shuffle: bool = True, seed: int = 0, epoch: int = 0,
                  drop_last: bool = False) -> list[int]:
    if shuffle:
        indices = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    else:
        indices = list(range(n))
    if drop_last:
        indices = indices[:n // world_size * world_size]
    else:
        total = math.ceil(n / world_size) * world_size
        indices = (indices * math.ceil(total / n))[:total]
    return indices[rank::world_size]


for rank in range(3):
    sampler = DistributedSampler(range(10), num_replicas=3, rank=rank, shuffle=False)
    print(f"rank {rank}: {shard_indices(10, 3, rank, shuffle=False)} | DistributedSampler: {list(sampler)}")
assert cu.check.exercise_09_1(shard_indices)

# %% [markdown]
# **09.2** Each `g_i` is a mean over `n_i` examples, so `n_i · g_i` is the sum of their gradients;
# add those sums and divide by all examples: `sum(n_i g_i) / sum(n_i)`. DDP's all-reduce computes
# only the plain average `sum(g_i) / W`, which is the same thing when all `n_i` are equal: that is
# what `DistributedSampler`'s padding and `drop_last` guarantee. On section 2's example with slices
# of 10 and 6:

# %% tags=["nbval-check-output", "same-online"]
def global_gradient(rank_grads: list[torch.Tensor], rank_sizes: list[int]) -> torch.Tensor:
    n = torch.tensor(rank_sizes, dtype=rank_grads[0].dtype)
    return (torch.stack(rank_grads) * n[:, None]).sum(0) / n.sum()


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))


def grads(xb, yb):
    model.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


whole = grads(x, y)
slices = [grads(x[:10], y[:10]), grads(x[10:], y[10:])]
print("weighted == whole batch:", torch.allclose(global_gradient(slices, [10, 6]), whole, atol=1e-6),
      "| plain average == whole batch:", torch.allclose(torch.stack(slices).mean(0), whole, atol=1e-6))
assert cu.check.exercise_09_2(global_gradient)

# %% [markdown]
# **09.3** Without `set_epoch` the sampler's epoch stays 0, so the permutation is seeded with
# `seed + 0` every time and the rank reads the same indices in the same order in every epoch: for
# `range(10)` over 3 ranks with `seed=7`, rank 0 reads 4 indices (10 padded to 12, over 3 ranks).

# %% tags=["nbval-check-output", "same-online"]
def epoch_reads(n: int, world_size: int, rank: int, seed: int, epochs: int, drop_last: bool = False) -> list[list[int]]:
    return [shard_indices(n, world_size, rank, shuffle=True, seed=seed, epoch=0, drop_last=drop_last)
            for _ in range(epochs)]


never_set = DistributedSampler(range(10), num_replicas=3, rank=0, shuffle=True, seed=7)
print("predicted:", epoch_reads(10, 3, 0, seed=7, epochs=3))
print("the sampler:", [list(never_set) for _ in range(3)])
assert cu.check.exercise_09_3(epoch_reads)

# %% [markdown]
# **09.4** One plain process, which spawns the 2 ranks itself; each child inherits
# `OMP_NUM_THREADS=1`, so the 2 cores are shared, not oversubscribed. As in the chapter, a launch
# that fails while starting is retried once.

# %%
def spawn_two(out: Path, weights_file: Path) -> str:
    cmd = [sys.executable, "-m", "course_utils.scripts.ddp_train", "--spawn", "2", "--steps", "12", "--hidden", "128",
           "--batch-size", "32", "--check-equivalence", "--out", str(out), "--save-weights", str(weights_file)]
    for attempt in (1, 2):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        if proc.returncode == 0:
            return proc.stdout
        if attempt == 2:
            raise RuntimeError(f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}")


out = SCRATCH / "spawn2.json"
weights_file = SCRATCH / "spawn2.safetensors"
print("\n".join(line for line in spawn_two(out, weights_file).splitlines() if line.startswith("[rank")))

# %% tags=["nbval-check-output", "same-online"]
summary = json.loads(out.read_text())
print({k: summary[k] for k in ("world_size", "backend", "per_process_batch", "global_batch", "steps")})
print("equal to one process on the global batch after every step:", summary["equivalence"]["equal"])
assert cu.check.exercise_09_4(summary, load_file(weights_file))
