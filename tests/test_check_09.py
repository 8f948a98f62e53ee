"""Checkers of notebook 09 (distributed training): each accepts the worked solution, rejects typical mistakes."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
from safetensors.torch import load_file

from course_utils import check
from course_utils.scripts import ddp_train


def shard_indices(n, world_size, rank, shuffle=True, seed=0, epoch=0, drop_last=False):
    if shuffle:
        indices = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    else:
        indices = list(range(n))
    if drop_last:
        indices = indices[: n // world_size * world_size]
    else:
        total = math.ceil(n / world_size) * world_size
        indices = (indices * math.ceil(total / n))[:total]
    return indices[rank::world_size]


def test_09_1(capsys):
    assert check.exercise_09_1(shard_indices)
    assert capsys.readouterr().out.startswith("✅ exercise 09.1")

    def blocks(n, world_size, rank, shuffle, seed, epoch, drop_last):
        every = [i for r in range(world_size) for i in shard_indices(n, world_size, r, shuffle, seed, epoch, drop_last)]
        per = len(every) // world_size
        padded = [every[r * per + j] for j in range(per) for r in range(world_size)]
        return padded[rank * per : (rank + 1) * per]

    def no_epoch(n, world_size, rank, shuffle, seed, epoch, drop_last):
        return shard_indices(n, world_size, rank, shuffle, seed, 0, drop_last)

    def no_padding(n, world_size, rank, shuffle, seed, epoch, drop_last):
        if drop_last:
            return shard_indices(n, world_size, rank, shuffle, seed, epoch, drop_last)
        order = (
            torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
            if shuffle
            else list(range(n))
        )
        return order[rank::world_size]

    def ignores_drop_last(n, world_size, rank, shuffle, seed, epoch, drop_last):
        return shard_indices(n, world_size, rank, shuffle, seed, epoch, False)

    def never_shuffles(n, world_size, rank, shuffle, seed, epoch, drop_last):
        return shard_indices(n, world_size, rank, False, seed, epoch, drop_last)

    for wrong, hint in [
        (blocks, "not a contiguous block"),
        (no_epoch, "seed + epoch"),
        (no_padding, "pad the list by repeating it"),
        (ignores_drop_last, "n // world_size"),
        (never_shuffles, "torch.randperm(n"),
        (lambda **kw: "0, 1, 2", "list of ints"),
    ]:
        assert not check.exercise_09_1(wrong)
        assert hint in capsys.readouterr().out, hint


def test_09_1_reference_is_torch_distributed_sampler():
    """The checker's cases really come from DistributedSampler, edge cases included."""
    from torch.utils.data import DistributedSampler

    for n, ws, rank, drop_last in [(2, 5, 4, False), (3, 4, 1, True), (10, 3, 2, False), (10, 3, 2, True)]:
        sampler = DistributedSampler(range(n), num_replicas=ws, rank=rank, shuffle=True, seed=3, drop_last=drop_last)
        sampler.set_epoch(2)
        assert shard_indices(n, ws, rank, True, 3, 2, drop_last) == list(sampler)


def global_gradient(rank_grads, rank_sizes):
    n = torch.tensor(rank_sizes, dtype=rank_grads[0].dtype)
    return (torch.stack(rank_grads) * n[:, None]).sum(0) / n.sum()


def test_09_2(capsys):
    assert check.exercise_09_2(global_gradient)
    assert capsys.readouterr().out.startswith("✅ exercise 09.2")
    for wrong, hint in [
        (lambda g, n: torch.stack(g).mean(0), "plain average is what DDP"),
        (lambda g, n: torch.stack(g).sum(0), "average_tokens_across_devices"),
        (lambda g, n: global_gradient(g, n) * sum(n), "divide the weighted sum"),
        (lambda g, n: global_gradient(g, [1 / k for k in n]), "not 1/n_i"),
        (lambda g, n: global_gradient(g, n)[:-1], "one flat tensor"),
    ]:
        assert not check.exercise_09_2(wrong)
        assert hint in capsys.readouterr().out, hint


def test_09_3(capsys):
    rank0 = shard_indices(10, 3, 0, shuffle=True, seed=7, epoch=0)
    assert check.exercise_09_3([rank0] * 3)
    assert capsys.readouterr().out.startswith("✅ exercise 09.3")
    with_set_epoch = [shard_indices(10, 3, 0, shuffle=True, seed=7, epoch=e) for e in range(3)]
    unpadded = [rank0[:3]] * 3
    for wrong, hint in [
        (with_set_epoch, "WITH set_epoch"),
        (unpadded, "pads to 12"),
        ([shard_indices(10, 3, 0, shuffle=False)] * 3, "shuffle=True is the default"),
        ([rank0, rank0, list(reversed(rank0))], "same indices in the same order"),
        (rank0, "a list of 3 lists"),
    ]:
        assert not check.exercise_09_3(wrong)
        assert hint in capsys.readouterr().out, hint


@pytest.fixture
def clean_dist_env(monkeypatch):
    """An in-process run sets the launcher variables (a group of one); remove them again afterwards."""
    names = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    yield
    for name in names:
        os.environ.pop(name, None)


def test_09_4(tmp_path, clean_dist_env, capsys):
    # One process with the global batch of 64, through the script itself (a process group of one): by the
    # identity the chapter verifies (tests/test_ddp.py launches both), these are the weights 2 x 32 give.
    spawn = check.nb09.SPAWN_ARGS
    ddp_train.main(
        [
            "--steps",
            str(spawn["steps"]),
            "--hidden",
            str(spawn["hidden"]),
            "--batch-size",
            "64",
            "--check-equivalence",
            "--out",
            str(tmp_path / "one.json"),
            "--save-weights",
            str(tmp_path / "one.safetensors"),
        ]
    )
    single = json.loads((tmp_path / "one.json").read_text())
    weights = load_file(str(tmp_path / "one.safetensors"))
    two_ranks = dict(single, world_size=2, per_process_batch=32, global_batch=64)
    capsys.readouterr()
    assert check.exercise_09_4(two_ranks, weights)
    assert capsys.readouterr().out.startswith("✅ exercise 09.4")

    nudged = {k: v + (1e-3 if k == "0.bias" else 0.0) for k, v in weights.items()}
    narrow = {k: v[:64] if v.ndim else v for k, v in weights.items()}
    no_equivalence = {k: v for k, v in two_ranks.items() if k != "equivalence"}
    for summary, w, hint in [
        (single, weights, "--spawn 2"),
        (no_equivalence, weights, "--check-equivalence"),
        (dict(two_ranks, engine="accelerate"), weights, "default engine"),
        (dict(two_ranks, per_process_batch=16, global_batch=32), weights, "exactly --batch-size 32"),
        (two_ranks, nudged, "differ from one process with batch 64"),
        (two_ranks, narrow, "not the MLP of --hidden 128"),
        (two_ranks, str(tmp_path / "one.safetensors"), "dict of tensors"),
        (str(tmp_path / "one.json"), weights, "as a dict"),
    ]:
        assert not check.exercise_09_4(summary, w)
        assert hint in capsys.readouterr().out, hint
