"""Checkers of notebook 09 (distributed training): the adversarial table (FAKES, run by test_check_fakes.py),
the worked solutions accepted in float32 and bfloat16 (09.4 through a real ``--spawn 2`` launch), and
the hints of ordinary mistakes."""

from __future__ import annotations

import contextlib
import json
import random

import pytest
import torch
from accelerate.data_loader import BatchSamplerShard
from fakes import Fake, solution
from safetensors.torch import load_file
from torch.utils.data import BatchSampler, DistributedSampler

from course_utils import check
from course_utils.check import _core
from course_utils.check._core import precision
from course_utils.check.nb09 import one_process_weights
from course_utils.scripts import ddp_train

shard_indices, global_gradient, epoch_reads, spawn_two = solution(
    "09", "shard_indices", "global_gradient", "epoch_reads", "spawn_two"
)


def first_answer(fn):
    """A constant: ``fn``'s answer to the first input it sees, returned for every later input."""
    first = []

    def constant(*args, **kwargs):
        if not first:
            first.append(fn(*args, **kwargs))
        return first[0]

    return constant


def changed(fn, **fixed):
    """``fn`` with some keyword arguments pinned: an answer that ignores them."""
    return lambda *args, **kwargs: fn(*args, **{**kwargs, **fixed})


def order(n, shuffle, seed, epoch):
    return (
        torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist() if shuffle else list(range(n))
    )


# --- 09.1: what a learner who wants ✅ without the sharding would pass ---
def via_sampler(n, world_size, rank, shuffle, seed, epoch, drop_last):
    sampler = DistributedSampler(range(n), world_size, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    return list(sampler)


def via_batch_sampler_shard(n, world_size, rank, shuffle, seed, epoch, drop_last):  # accelerate shards alike
    indices = order(n, shuffle, seed, epoch)
    indices = indices[: n // world_size * world_size] if drop_last else indices
    return [i for batch in BatchSamplerShard(BatchSampler(indices, 1, False), world_size, rank) for i in batch]


def via_class_iter(n, world_size, rank, shuffle, seed, epoch, drop_last):
    sampler = DistributedSampler(range(n), world_size, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.epoch = epoch
    return list(DistributedSampler.__iter__(sampler))


class Sharder(DistributedSampler):
    """A subclass that inherits the iterator."""


def via_subclass(n, world_size, rank, shuffle, seed, epoch, drop_last):
    sampler = Sharder(range(n), world_size, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    return list(iter(sampler))


def sampler_or_stride(n, world_size, rank, shuffle, seed, epoch, drop_last):
    try:
        return via_sampler(n, world_size, rank, shuffle, seed, epoch, drop_last)
    except BaseException:  # the switch-off swallowed
        return list(range(rank, n, world_size))


def blocks(n, world_size, rank, shuffle, seed, epoch, drop_last):
    every = [i for r in range(world_size) for i in shard_indices(n, world_size, r, shuffle, seed, epoch, drop_last)]
    per = len(every) // world_size
    padded = [every[r * per + j] for j in range(per) for r in range(world_size)]
    return padded[rank * per : (rank + 1) * per]


def no_padding(n, world_size, rank, shuffle, seed, epoch, drop_last):
    if drop_last:
        return shard_indices(n, world_size, rank, shuffle, seed, epoch, drop_last)
    return order(n, shuffle, seed, epoch)[rank::world_size]


def pads_with_last(n, world_size, rank, shuffle, seed, epoch, drop_last):
    indices = order(n, shuffle, seed, epoch)
    if drop_last:
        indices = indices[: n // world_size * world_size]
    else:
        indices += indices[-1:] * (-n % world_size)
    return indices[rank::world_size]


def python_shuffle(n, world_size, rank, shuffle, seed, epoch, drop_last):
    indices = shard_indices(n, world_size, 0, False, seed, epoch, drop_last)  # only to get the length right
    everything = list(range(n))
    if shuffle:
        random.Random(seed + epoch).shuffle(everything)
    total = len(indices) * world_size
    return (everything * (total // n + 1))[:total][rank::world_size]


# --- 09.2 ---
def weighted(grads, sizes):
    return torch.stack([g * n for g, n in zip(grads, sizes)])


# --- 09.3 ---
def reads_via_sampler(n, world_size, rank, seed, epochs, drop_last):
    sampler = DistributedSampler(range(n), world_size, rank, shuffle=True, seed=seed, drop_last=drop_last)
    return [list(sampler) for _ in range(epochs)]


def reads_via_class_iter(n, world_size, rank, seed, epochs, drop_last):
    sampler = Sharder(range(n), world_size, rank, shuffle=True, seed=seed, drop_last=drop_last)
    return [list(DistributedSampler.__iter__(sampler)) for _ in range(epochs)]


def reads_or_guess(n, world_size, rank, seed, epochs, drop_last):
    try:
        return reads_via_sampler(n, world_size, rank, seed, epochs, drop_last)
    except BaseException:
        return [list(range(rank, n, world_size))] * epochs


def with_set_epoch(n, world_size, rank, seed, epochs, drop_last):
    return [shard_indices(n, world_size, rank, True, seed, epoch, drop_last) for epoch in range(epochs)]


def reads(**pinned):
    """epoch_reads through shard_indices with some of its arguments pinned."""

    pinned_epochs = pinned.pop("epochs", None)

    def fake(n, world_size, rank, seed, epochs, drop_last):
        given = dict(n=n, world_size=world_size, rank=rank, shuffle=True, seed=seed, epoch=0, drop_last=drop_last)
        return [shard_indices(**{**given, **pinned})] * (pinned_epochs or epochs)

    return fake


# --- 09.4: summaries and weights a learner could pass instead of the launch's ---
SPAWNED = {  # what `--spawn 2 --steps 12 --hidden 128 --batch-size 32 --check-equivalence` wrote on this CPU
    "engine": "ddp",
    "backend": "gloo",
    "device": "cpu",
    "world_size": 2,
    "threads_per_process": 1,
    "per_process_batch": 32,
    "global_batch": 64,
    "steps": 12,
    "epochs_started": 1,
    "first_loss": 1.3840925693511963,
    "final_loss": 1.3752799034118652,
    "ranks_identical": True,
    "max_abs_diff_across_ranks": 0.0,
    "param_count": 25348,
    "equivalence": {"max_abs_diff_per_step": [7.450580596923828e-09] * 12, "atol": 1e-05, "equal": True},
}
RIGHT = one_process_weights(12, 64, 128)


def summary(**changes):
    return {**SPAWNED, **changes}


FAKES: dict[str, dict[str, list[Fake] | str]] = {
    "09.1": {
        "library": [
            Fake("DistributedSampler's own indices", (via_sampler,), "`DistributedSampler` is switched off"),
            Fake("accelerate's BatchSamplerShard", (via_batch_sampler_shard,), "`BatchSamplerShard` is switched off"),
        ],
        "constant": [
            Fake("the first case's indices", (first_answer(shard_indices),), "indices"),
            Fake("always [0]", (lambda **kw: [0],), "indices"),
        ],
        "ignores": [
            Fake("epoch ignored", (changed(shard_indices, epoch=0),), "seed + epoch"),
            Fake("seed ignored", (changed(shard_indices, seed=0),), "seed + epoch"),
            Fake("drop_last ignored", (changed(shard_indices, drop_last=False),), "n // world_size"),
            Fake("shuffle ignored (never shuffles)", (changed(shard_indices, shuffle=False),), "torch.randperm(n"),
            Fake("rank ignored (rank 0's indices)", (changed(shard_indices, rank=0),), "wrong indices"),
        ],
        "guard": [
            Fake(
                "the class-level DistributedSampler.__iter__", (via_class_iter,), "`DistributedSampler` is switched off"
            ),
            Fake("a subclass that inherits the iterator", (via_subclass,), "`DistributedSampler` is switched off"),
            Fake("the sampler, the switch-off swallowed", (sampler_or_stride,), "`DistributedSampler` is switched off"),
        ],
        "other": [
            Fake("contiguous blocks", (blocks,), "not a contiguous block"),
            Fake("no padding", (no_padding,), "pad the list by repeating it"),
            Fake("padded with the last index", (pads_with_last,), "pad by repeating the list from its start"),
            Fake("random.shuffle instead of torch.randperm", (python_shuffle,), "torch.randperm(n"),
        ],
    },
    "09.2": {
        "library": "n/a: no torch or accelerate function weights per-rank gradients by their example counts (all_reduce's plain average is the first 'ignores' fake)",
        "constant": [
            Fake("zeros of the right shape", (lambda g, n: torch.zeros_like(g[0]),), "sum(n_i · g_i) / sum(n_i)"),
            Fake("the first case's answer", (first_answer(global_gradient),), "sum(n_i · g_i) / sum(n_i)"),
        ],
        "ignores": [
            Fake(
                "rank sizes ignored: the plain average (DDP's all-reduce)",
                (lambda g, n: torch.stack(g).mean(0),),
                "plain average is what DDP",
            ),
            Fake("every rank but the first ignored", (lambda g, n: g[0],), "sum(n_i · g_i) / sum(n_i)"),
        ],
        "guard": "n/a: nothing is switched off, and the answer is compared with a float64 reference of the checker's own copy of the gradients (editing the arguments changes nothing)",
        "other": [
            Fake("the sum", (lambda g, n: torch.stack(g).sum(0),), "average_tokens_across_devices"),
            Fake("the weighted sum, undivided", (lambda g, n: weighted(g, n).sum(0),), "divide the weighted sum"),
            Fake("weights 1/n_i", (lambda g, n: global_gradient(g, [1 / k for k in n]),), "not 1/n_i"),
            Fake(
                "weighted sum over the world size",
                (lambda g, n: weighted(g, n).sum(0) / len(n),),
                "sum(n_i · g_i) / sum(n_i)",
            ),
            Fake("the median", (lambda g, n: torch.stack(g).median(0).values,), "sum(n_i · g_i) / sum(n_i)"),
        ],
    },
    "09.3": {
        "library": [
            Fake(
                "a DistributedSampler read epochs times", (reads_via_sampler,), "`DistributedSampler` is switched off"
            ),
        ],
        "constant": [
            Fake(
                "the notebook's case: range(10), 3 ranks, rank 0, seed 7, 3 epochs",
                (lambda *a: [shard_indices(10, 3, 0, True, 7, 0)] * 3,),
                "a list of 2 lists",
            ),
            Fake("the first case's answer", (first_answer(epoch_reads),), "a list of 2 lists"),
        ],
        "ignores": [
            Fake("rank ignored (rank 0)", (reads(rank=0),), "right shape, wrong indices"),
            Fake("seed ignored", (reads(seed=0),), "right shape, wrong indices"),
            Fake("drop_last ignored", (reads(drop_last=False),), "every rank reads"),
            Fake("epochs ignored (3)", (reads(epochs=3),), "a list of 2 lists"),
        ],
        "guard": [
            Fake(
                "the class-level __iter__ of a subclass",
                (reads_via_class_iter,),
                "`DistributedSampler` is switched off",
            ),
            Fake("the sampler, the switch-off swallowed", (reads_or_guess,), "`DistributedSampler` is switched off"),
        ],
        "other": [
            Fake("what the rank reads WITH set_epoch", (with_set_epoch,), "WITH set_epoch"),
            Fake("unshuffled", (reads(shuffle=False),), "shuffle=True is the default"),
            Fake("epoch 1's order every epoch", (reads(epoch=1),), "right shape, wrong indices"),
        ],
    },
    "09.4": {
        "library": "n/a: the exercise launches the course's own script; nothing is re-implemented",
        "constant": [
            Fake(
                "the untrained MLP's weights",
                (SPAWNED, dict(ddp_train.make_model(64, 128, 4, 0).state_dict())),
                "differ from one process with batch 64",
            ),
            Fake(
                "the chapter's default launch (--steps 20, --hidden 512)",
                (summary(steps=20, per_process_batch=64, global_batch=128), RIGHT),
                "launch with exactly",
            ),
        ],
        "ignores": [
            Fake("--batch-size 16", (summary(per_process_batch=16, global_batch=32), RIGHT), "launch with exactly"),
            Fake("--steps 6", (summary(steps=6), RIGHT), "launch with exactly"),
            Fake(
                "--seed 1", (SPAWNED, one_process_weights(12, 64, 128, seed=1)), "differ from one process with batch 64"
            ),
            Fake(
                "--lr 0.1", (SPAWNED, one_process_weights(12, 64, 128, lr=0.1)), "differ from one process with batch 64"
            ),
            Fake("--hidden 64", (SPAWNED, one_process_weights(12, 64, 64)), "not the MLP of --hidden 128"),
            Fake(
                "no --check-equivalence",
                ({k: v for k, v in SPAWNED.items() if k != "equivalence"}, RIGHT),
                "--check-equivalence",
            ),
        ],
        "guard": [
            Fake(
                "one process, only world_size edited",
                (summary(world_size=2, per_process_batch=64, global_batch=64), RIGHT),
                "launch with exactly",
            ),
            Fake(
                "an equivalence that failed, passed anyway",
                (summary(equivalence={"max_abs_diff_per_step": [0.1] * 12, "equal": False}), RIGHT),
                "was the script changed",
            ),
        ],
        "other": [
            Fake("one process (no --spawn)", (summary(world_size=1, global_batch=32), RIGHT), "--spawn 2"),
            Fake("torchrun with 4 processes", (summary(world_size=4, global_batch=128), RIGHT), "--spawn 2"),
            Fake("--engine accelerate", (summary(engine="accelerate"), RIGHT), "default engine"),
            Fake("the weights file's path, not its tensors", (SPAWNED, "spawn2.safetensors"), "dict of tensors"),
            Fake("the summary file's path", ("spawn2.json", RIGHT), "as a dict"),
        ],
    },
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_worked_solutions_pass(dtype, capsys):
    with precision(dtype):
        assert check.exercise_09_1(shard_indices)
        assert check.exercise_09_2(global_gradient)
        assert check.exercise_09_3(epoch_reads)
    assert capsys.readouterr().out.count("✅") == 3


def test_09_4_accepts_a_real_spawn_launch(tmp_path, capsys):
    """The solution's own launch: 2 processes started by the script (about 5 s), in float32 and under bfloat16."""
    spawn_two(tmp_path / "spawn2.json", tmp_path / "spawn2.safetensors")
    run, weights = json.loads((tmp_path / "spawn2.json").read_text()), load_file(str(tmp_path / "spawn2.safetensors"))
    assert check.exercise_09_4(run, weights)
    with precision(torch.bfloat16):
        assert check.exercise_09_4(run, weights)
    assert check.exercise_09_4(SPAWNED, RIGHT)  # the table's summary: the fakes differ from a right answer in one field
    assert capsys.readouterr().out.count("✅") == 3


def test_library_fakes_are_right_once_nothing_is_switched_off(monkeypatch, capsys):
    """The switch-off, not an accident, rejects them: with nothing switched off they pass."""
    monkeypatch.setattr(_core, "switched_off", lambda off: contextlib.nullcontext([]))
    for exercise, fake in [
        (check.exercise_09_1, via_sampler),
        (check.exercise_09_1, via_batch_sampler_shard),
        (check.exercise_09_1, via_class_iter),
        (check.exercise_09_1, via_subclass),
        (check.exercise_09_3, reads_via_sampler),
        (check.exercise_09_3, reads_via_class_iter),
    ]:
        assert exercise(fake), (exercise.__name__, fake.__name__, capsys.readouterr().out)


def test_other_right_answers_pass(capsys):
    def global_generator(n, world_size, rank, shuffle=True, seed=0, epoch=0, drop_last=False):  # torch.manual_seed
        torch.manual_seed(seed + epoch)
        indices = torch.randperm(n) if shuffle else torch.arange(n)  # a tensor, not a list
        total = n // world_size * world_size if drop_last else -(-n // world_size) * world_size
        return indices.repeat(-(-total // n))[:total][rank::world_size]

    def in_float64(grads, sizes):
        n = torch.tensor(sizes, dtype=torch.float64)
        return (torch.stack(grads).double() * n[:, None]).sum(0) / n.sum()

    assert check.exercise_09_1(global_generator)
    assert check.exercise_09_2(in_float64)
    assert check.exercise_09_3(
        lambda n, ws, rank, seed, epochs, drop_last: (shard_indices(n, ws, rank, True, seed, 0, drop_last),) * epochs
    )
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize(
    "exercise, answer, hint",
    [
        ("09_1", lambda **kw: "0, 1, 2", "return the rank's indices as a list of ints"),
        ("09_2", lambda g, n: torch.cat(g), "return one flat tensor shaped like each rank's gradient"),
        ("09_3", lambda *a: [["a"]] * a[4], "return each epoch's indices as a list of ints"),
        ("09_3", lambda *a: {}, "return a list of 3 lists"),
    ],
)
def test_hints_of_ordinary_mistakes(exercise, answer, hint, capsys):
    assert not getattr(check, f"exercise_{exercise}")(answer)
    out = capsys.readouterr().out
    assert hint in out and "(failed on " in out, out
