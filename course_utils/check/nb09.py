"""Checkers for notebook 09 (distributed training: DDP, DistributedSampler, torchrun).

09.1 and 09.3 re-implement what ``DistributedSampler`` hands each rank: its iterator (and
accelerate's ``BatchSamplerShard``, which shards the same way) is switched off while the learner's
code runs.
"""

from __future__ import annotations

import math
import random
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, close, expect, fail, model_dtype, tensor_mismatch

__all__ = ["exercise_09_1", "exercise_09_2", "exercise_09_3", "exercise_09_4"]

#: The launch of exercise 09.4: ``python -m course_utils.scripts.ddp_train --spawn 2`` plus these.
SPAWN_ARGS = {"steps": 12, "hidden": 128, "batch_size": 32, "seed": 0}
#: What 09.1 and 09.3 compute by hand.
SAMPLING = {
    "DistributedSampler": "torch.utils.data.DistributedSampler.__iter__",
    "BatchSamplerShard": "accelerate.data_loader.BatchSamplerShard.__iter__",
}


def _sampler(n: int, world_size: int, rank: int, shuffle: bool, seed: int, epoch: int, drop_last: bool) -> list[int]:
    """What ``DistributedSampler`` hands ``rank`` in ``epoch``: the reference."""
    from torch.utils.data import DistributedSampler

    # torch annotates dataset as a Dataset, but the sampler only takes its len(): a range works
    sampler: DistributedSampler[int] = DistributedSampler(
        range(n),  # type: ignore[arg-type]
        num_replicas=world_size,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def _ints(got: Any, on: str, what: str) -> list[int]:
    """``got`` as a list of ints, or the answer is rejected."""
    try:
        return [int(i) for i in (got.tolist() if hasattr(got, "tolist") else got)]
    except (TypeError, ValueError):
        fail(_("return {what} as a list of ints, e.g. [3, 1, 4, 1]").format(what=what), on)


def _cases_09_1() -> list[dict[str, Any]]:
    """150 samplers (every size from 1 to 40 over 1 to 6 ranks, shuffled or not, drop_last or not), edge cases and the informative ones first."""
    rng = random.Random(909)
    cases = [
        dict(n=2, world_size=5, rank=4, shuffle=False, seed=0, epoch=0, drop_last=False),  # pads 3 times over
        dict(n=3, world_size=4, rank=1, shuffle=True, seed=1, epoch=2, drop_last=True),  # nothing left
    ]
    for _case in range(148):
        world_size = rng.randint(1, 6)
        cases.append(
            dict(
                n=rng.randint(1, 40),
                world_size=world_size,
                rank=rng.randrange(world_size),
                shuffle=rng.random() < 0.7,
                seed=rng.randint(0, 99),
                epoch=rng.randint(0, 4),
                drop_last=rng.random() < 0.4,
            )
        )
    cases.sort(key=lambda c: (not c["shuffle"], c["epoch"] == 0, c["n"] % c["world_size"] == 0, c["world_size"] == 1))
    return cases


def _blocks(case: dict[str, Any]) -> list[int]:
    """The right indices, but rank r taking the r-th contiguous block of the padded list."""
    shards = [_sampler(**{**case, "rank": r}) for r in range(case["world_size"])]
    padded = [shard[j] for j in range(len(shards[0])) for shard in shards]
    return padded[case["rank"] * len(shards[0]) :][: len(shards[0])]


@checker("09.1", asks=N_("the sharding by hand"), off=SAMPLING)
def exercise_09_1(shard_indices: Any) -> None:
    """``shard_indices(n, world_size, rank, shuffle, seed, epoch, drop_last)`` -> what DistributedSampler gives."""
    for case in _cases_09_1():
        on, expected = ", ".join(f"{k}={v}" for k, v in case.items()), _sampler(**case)
        got = _ints(answer(shard_indices, **case), on, _("the rank's indices"))
        n, ws, shuffle = case["n"], case["world_size"], case["shuffle"]
        like = lambda **change: got == _sampler(**{**case, **change})  # noqa: E731
        if got == expected:
            continue
        expect(
            (
                lambda: len(got) != len(expected) and case["drop_last"],
                _(
                    "with drop_last=True every rank gets n // world_size = {per_rank} indices: cut the (shuffled) list to a multiple of world_size"
                ).format(per_rank=n // ws),
            ),
            (
                lambda: len(got) != len(expected),
                _(
                    "every rank must get ceil(n / world_size) = {per_rank} indices: pad the list by repeating it from its start (several times if n < world_size)"
                ).format(per_rank=math.ceil(n / ws)),
            ),
            (
                lambda: got == _blocks(case),
                _(
                    "rank r takes every world_size-th index starting at r (indices[rank::world_size]), not a contiguous block"
                ),
            ),
            (
                lambda: shuffle and (like(epoch=0) or like(seed=0)),
                _("the shuffle depends on the seed and the epoch: seed the generator with seed + epoch"),
            ),
            (
                lambda: shuffle and like(shuffle=False),
                _(
                    "shuffle=True: permute with torch.randperm(n, generator=g), g = torch.Generator().manual_seed(seed + epoch)"
                ),
            ),
            (lambda: not shuffle and like(shuffle=True), _("shuffle=False: keep the order 0, 1, ..., n-1")),
            (
                True,
                _(
                    "wrong indices: permute (if shuffle) with torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)), "
                    "pad by repeating the list from its start (or cut, with drop_last) to a multiple of world_size, "
                    "then take indices[rank::world_size]"
                ),
            ),
            on=on,
        )


def _rank_grads(sizes: list[int], seed: int) -> list[Any]:
    """Flat gradients of a mean loss (a small MLP in :func:`model_dtype`) on consecutive slices of one batch."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 4)).to(model_dtype())
    x, y = torch.randn(sum(sizes), 6, dtype=model_dtype()), torch.randint(0, 4, (sum(sizes),))
    grads = []
    for xb, yb in zip(x.split(sizes), y.split(sizes)):
        model.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]))
    return grads


@checker("09.2", asks=N_("the weighted average"))
def exercise_09_2(global_gradient: Any) -> None:
    """``global_gradient(rank_grads, rank_sizes)`` -> the gradient of the mean loss over all ranks' examples."""
    import torch

    for seed, sizes in enumerate([[8, 8], [5], [1, 9], [10, 6, 3], [3, 9, 4, 4]]):
        grads, on = _rank_grads(sizes, seed=90 + seed), _("rank sizes {sizes}").format(sizes=sizes)
        g, n = torch.stack(grads).double(), torch.tensor(sizes, dtype=torch.float64)[:, None]
        got = answer(global_gradient, [t.clone() for t in grads], list(sizes))
        same = lambda ref: close(got, ref, grads[0].dtype, scale=g.abs().max())  # noqa: E731
        expect(
            (
                tensor_mismatch(got, g.shape[1:]),
                lambda: _("return one flat tensor shaped like each rank's gradient {shape}, got {got}").format(
                    shape=tuple(g.shape[1:]), got=tensor_mismatch(got, g.shape[1:])
                ),
            ),
            on=on,
        )
        if same((n * g).sum(0) / n.sum()):
            continue
        expect(
            (
                lambda: same(g.mean(0)),
                _(
                    "a plain average is what DDP's all-reduce computes: it equals the whole batch's gradient only "
                    "for equal slices. Weight each rank by its example count"
                ),
            ),
            (
                lambda: same(g.sum(0)),
                _(
                    "a sum is world_size times too large (the factor that average_tokens_across_devices=True puts on a per-batch mean loss)"
                ),
            ),
            (lambda: same((n * g).sum(0)), _("divide the weighted sum by the total number of examples")),
            (
                lambda: same((g / n).sum(0) / (1 / n).sum()),
                _("a rank with more examples counts MORE: weight by n_i, not 1/n_i"),
            ),
            (
                True,
                _(
                    "not the whole batch's gradient: each rank's gradient is a mean over its n_i examples, "
                    "so the total is sum(n_i · g_i) / sum(n_i)"
                ),
            ),
            on=on,
        )


@checker("09.3", asks=N_("your shard_indices"), off=SAMPLING)
def exercise_09_3(epoch_reads: Any) -> None:
    """``epoch_reads(n, world_size, rank, seed, epochs, drop_last)``: what ``rank`` reads in each epoch of a
    loop over a shuffling ``DistributedSampler`` that never calls ``set_epoch``."""
    for n, ws, rank, seed, epochs, drop_last in [
        (10, 3, 0, 7, 3, False),
        (10, 3, 2, 7, 2, False),
        (7, 4, 1, 0, 3, True),
        (2, 3, 2, 1, 2, False),
        (9, 2, 1, 5, 4, True),
    ]:
        on = f"n={n}, world_size={ws}, rank={rank}, seed={seed}, epochs={epochs}, drop_last={drop_last}"
        got = answer(epoch_reads, n, ws, rank, seed, epochs, drop_last)
        reads = [_ints(e, on, _("each epoch's indices")) for e in got] if isinstance(got, (list, tuple)) else []
        shard = lambda epoch=0, shuffle=True: _sampler(n, ws, rank, shuffle, seed, epoch, drop_last)  # noqa: E731
        expect(
            (
                len(reads) != epochs,
                _("return a list of {epochs} lists: rank {rank}'s indices in epochs 0 ... {last}").format(
                    epochs=epochs, rank=rank, last=epochs - 1
                ),
            ),
            on=on,
        )
        if reads == [shard()] * epochs:
            continue
        expect(
            (
                lambda: reads == [shard(e) for e in range(epochs)],
                _(
                    "that is what the rank reads WITH set_epoch: without it the epoch stays 0 and every epoch repeats epoch 0's order"
                ),
            ),
            (
                len({tuple(r) for r in reads}) > 1,
                _(
                    "without set_epoch the sampler's epoch never changes, so every epoch reads the same indices in the same order"
                ),
            ),
            (
                lambda: len(reads[0]) != len(shard()),
                lambda: (
                    _(
                        "{n} indices over {ws} ranks: the sampler cuts to a multiple of {ws}, so every rank reads {per_rank} per epoch"
                    )
                    if drop_last
                    else _(
                        "{n} indices over {ws} ranks: the sampler pads to a multiple of {ws}, so every rank reads {per_rank} per epoch"
                    )
                ).format(n=n, ws=ws, per_rank=len(shard())),
            ),
            (
                lambda: reads[0] == shard(shuffle=False),
                _("shuffle=True is the default: the order comes from torch.randperm seeded with seed + epoch"),
            ),
            (True, _("right shape, wrong indices: compute epoch 0 with your shard_indices of 09.1, then repeat it")),
            on=on,
        )


def one_process_weights(steps: int, batch: int, hidden: int, seed: int = 0, lr: float | None = None) -> dict[str, Any]:
    """The weights one process trains with ``batch`` examples a step on ddp_train's data and model, in this process."""
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    from course_utils.scripts import ddp_train

    args = ddp_train.parse_args([])
    dataset = ddp_train.make_dataset(args.examples, args.features, args.classes, seed)
    model = ddp_train.make_model(args.features, hidden, args.classes, seed)
    sampler: DistributedSampler[int] = DistributedSampler(dataset, num_replicas=1, rank=0, seed=seed, drop_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr or args.lr)
    batches: list[Any] = []
    for epoch in range(steps):  # every epoch has at least one batch
        sampler.set_epoch(epoch)
        batches += DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True)
        if len(batches) >= steps:
            break
    for x, y in batches[:steps]:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return {k: v.detach() for k, v in model.state_dict().items()}


@checker("09.4", asks=N_("the launch"))
def exercise_09_4(summary: Any, weights: Any) -> None:
    """The JSON summary and saved weights of ``ddp_train --spawn 2`` with SPAWN_ARGS, against one process in-process."""
    import torch

    from course_utils.scripts.ddp_train import EQUIVALENCE_ATOL

    s = summary if isinstance(summary, dict) else {}
    eq = s["equivalence"] if isinstance(s.get("equivalence"), dict) else {}
    diffs, a = eq.get("max_abs_diff_per_step") or [math.inf], SPAWN_ARGS
    launch = _(
        "--batch-size {batch_size} --steps {steps} --hidden {hidden} (and the default --seed 0, --lr, --examples)"
    ).format(batch_size=a["batch_size"], steps=a["steps"], hidden=a["hidden"])
    expect(
        ("world_size" not in s, _("pass the JSON summary as a dict: json.loads(Path(...).read_text())")),
        (
            s.get("world_size") != 2,
            _("world size {world_size}: start the script with --spawn 2 (plain python -m, no torchrun)").format(
                world_size=s.get("world_size")
            ),
        ),
        (s.get("engine") != "ddp", _("use the default engine (raw DDP), not --engine accelerate")),
        (not eq, _("add --check-equivalence, so that the script also steps a one-process copy")),
        (
            [s.get(k) for k in ("per_process_batch", "global_batch", "steps")]
            != [a["batch_size"], 2 * a["batch_size"], a["steps"]],
            _("launch with exactly {launch}").format(launch=launch),
        ),
        (
            len(diffs) != a["steps"] or not eq.get("equal") or max(diffs) > EQUIVALENCE_ATOL,
            _("the summary does not show the equivalence after every step: was the script changed?"),
        ),
        (not s.get("ranks_identical"), _("the ranks ended with different weights: was the script changed?")),
        (
            not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()),
            _("pass the saved weights as a dict of tensors: safetensors.torch.load_file(path)"),
        ),
    )
    reference = one_process_weights(a["steps"], 2 * a["batch_size"], a["hidden"], a["seed"])
    expect(
        (
            sorted(weights) != sorted(reference) or any(weights[k].shape != v.shape for k, v in reference.items()),
            _("these weights are not the MLP of --hidden {hidden}: pass --save-weights and load that file").format(
                hidden=a["hidden"]
            ),
        ),
        (
            lambda: (
                max((weights[k].detach().float().cpu() - v).abs().max().item() for k, v in reference.items())
                > EQUIVALENCE_ATOL
            ),
            _("the saved weights differ from one process with batch {batch}: launch with exactly {launch}").format(
                batch=2 * a["batch_size"], launch=launch
            ),
        ),
    )
