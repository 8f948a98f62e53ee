"""Checkers for notebook 09 (distributed training: DDP, DistributedSampler, torchrun)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_safely, tensor_mismatch, verdict

__all__ = ["exercise_09_1", "exercise_09_2", "exercise_09_3", "exercise_09_4"]

#: The launch of exercise 09.4: ``python -m course_utils.scripts.ddp_train --spawn 2`` plus these.
SPAWN_ARGS = {"steps": 12, "hidden": 128, "batch_size": 32, "seed": 0}
#: The sampler of exercise 09.3.
SAMPLER_09_3 = {"n": 10, "num_replicas": 3, "rank": 0, "seed": 7, "epochs": 3}


def _sampler(n: int, world_size: int, rank: int, shuffle: bool, seed: int, epoch: int, drop_last: bool) -> list[int]:
    """What ``DistributedSampler`` hands ``rank`` in ``epoch`` (the reference)."""
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


def _as_int_list(got: Any) -> list[int] | None:
    try:
        return [int(i) for i in (got.tolist() if hasattr(got, "tolist") else got)]
    except (TypeError, ValueError):
        return None


def _cases_09_1() -> list[dict[str, Any]]:
    rng = random.Random(909)
    cases = [
        dict(n=2, world_size=5, rank=4, shuffle=False, seed=0, epoch=0, drop_last=False),  # pads 3 over 2
        dict(n=3, world_size=4, rank=1, shuffle=True, seed=1, epoch=2, drop_last=True),
    ]  # nothing left
    for _ in range(150):
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
    # the informative cases first: shuffled, later epochs, uneven sizes, several ranks
    cases.sort(key=lambda c: (not c["shuffle"], c["epoch"] == 0, c["n"] % c["world_size"] == 0, c["world_size"] == 1))
    return cases


def exercise_09_1(shard_indices: Callable[..., Any]) -> Verdict | bool:
    """``shard_indices(n, world_size, rank, shuffle, seed, epoch, drop_last)`` -> what DistributedSampler gives."""
    for case in _cases_09_1():
        expected = _sampler(**case)
        ok, got = call_safely("09.1", shard_indices, **case)
        if not ok:
            return False
        got = _as_int_list(got)
        if got is None:
            return verdict("09.1", False, "return the rank's indices as a list of ints")
        if got == expected:
            continue
        n, ws, rank, drop_last = case["n"], case["world_size"], case["rank"], case["drop_last"]
        where = " (" + ", ".join(f"{k}={v}" for k, v in case.items()) + ")"
        if len(got) != len(expected):
            if drop_last:
                return verdict(
                    "09.1",
                    False,
                    f"with drop_last=True every rank gets n // world_size = {n // ws} "
                    f"indices: cut the (shuffled) list to a multiple of world_size" + where,
                )
            return verdict(
                "09.1",
                False,
                f"every rank must get ceil(n / world_size) = {math.ceil(n / ws)} indices: "
                "pad the list by repeating it from its start (several times if n < world_size)" + where,
            )
        per_rank = len(expected)
        shards = [_sampler(**{**case, "rank": r}) for r in range(ws)]
        padded = [shards[r][j] for j in range(per_rank) for r in range(ws)]  # the list before it is strided
        if got == padded[rank * per_rank : (rank + 1) * per_rank]:
            return verdict(
                "09.1",
                False,
                "rank r takes every world_size-th index starting at r "
                "(indices[rank::world_size]), not a contiguous block" + where,
            )
        if case["shuffle"] and case["epoch"] and got == _sampler(**{**case, "epoch": 0}):
            return verdict(
                "09.1", False, "the shuffle depends on the epoch: seed the generator with seed + epoch" + where
            )
        if case["shuffle"] and got == _sampler(**{**case, "shuffle": False}):
            return verdict(
                "09.1",
                False,
                "shuffle=True: permute with torch.randperm(n, generator=g), "
                "g = torch.Generator().manual_seed(seed + epoch)" + where,
            )
        if not case["shuffle"] and got == _sampler(**{**case, "shuffle": True}):
            return verdict("09.1", False, "shuffle=False: keep the order 0, 1, ..., n-1" + where)
        return verdict(
            "09.1",
            False,
            "wrong indices" + where + ": permute (if shuffle), pad or cut to a multiple "
            "of world_size, then take indices[rank::world_size]",
        )
    return verdict("09.1", True)


def _slice_grads(sizes: list[int], seed: int) -> tuple[list[Any], Any]:
    """Gradients of a mean loss on consecutive slices of one batch, and on the whole batch."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 4))
    x, y = torch.randn(sum(sizes), 6), torch.randint(0, 4, (sum(sizes),))
    loss_fn = nn.CrossEntropyLoss()

    def grad(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        model.zero_grad()
        loss_fn(model(xb), yb).backward()
        grads = []
        for p in model.parameters():
            assert p.grad is not None  # every parameter takes part in the loss
            grads.append(p.grad.reshape(-1))
        return torch.cat(grads).clone()

    bounds = [0, *torch.tensor(sizes).cumsum(0).tolist()]
    return [grad(x[a:b], y[a:b]) for a, b in zip(bounds, bounds[1:])], grad(x, y)


def exercise_09_2(global_gradient: Callable[..., Any]) -> Verdict | bool:
    """``global_gradient(rank_grads, rank_sizes)`` -> the gradient of the mean loss over all ranks' examples."""
    import torch

    for seed, sizes in enumerate([[8, 8], [5], [10, 6], [3, 9, 4, 4]]):
        rank_grads, whole = _slice_grads(sizes, seed=90 + seed)
        ok, got = call_safely("09.2", global_gradient, [g.clone() for g in rank_grads], list(sizes))
        if not ok:
            return False
        if (shape := tensor_mismatch(got, whole.shape)) is not None:
            return verdict(
                "09.2",
                False,
                f"return one flat tensor shaped like each rank's gradient {tuple(whole.shape)}, got {shape}",
            )
        got = got.detach().to(whole.dtype)
        if torch.allclose(got, whole, atol=1e-6):
            continue
        stacked = torch.stack(rank_grads)
        n = torch.tensor(sizes, dtype=whole.dtype)[:, None]
        where = f" (rank sizes {sizes})"
        if torch.allclose(got, stacked.mean(0), atol=1e-6):
            return verdict(
                "09.2",
                False,
                "a plain average is what DDP's all-reduce computes: it equals the whole "
                "batch's gradient only for equal slices. Weight each rank by its example count" + where,
            )
        if torch.allclose(got, stacked.sum(0), atol=1e-6):
            return verdict(
                "09.2",
                False,
                "a sum is world_size times too large (the factor that "
                "average_tokens_across_devices=True puts on a per-batch mean loss)" + where,
            )
        if torch.allclose(got, (n * stacked).sum(0), atol=1e-5):
            return verdict("09.2", False, "divide the weighted sum by the total number of examples" + where)
        if torch.allclose(got, (stacked / n).sum(0) / (1 / n).sum(), atol=1e-6):
            return verdict("09.2", False, "a rank with more examples counts MORE: weight by n_i, not 1/n_i" + where)
        return verdict(
            "09.2",
            False,
            "not the whole batch's gradient" + where + ": each rank's gradient is a mean "
            "over its n_i examples, so the total is sum(n_i · g_i) / sum(n_i)",
        )
    return verdict("09.2", True)


def exercise_09_3(reads: Any) -> Verdict | bool:
    """What rank 0 of ``DistributedSampler(range(10), num_replicas=3, rank=0, seed=7)`` reads in 3 epochs, no set_epoch."""
    c = SAMPLER_09_3
    args: dict[str, Any] = dict(
        n=c["n"], world_size=c["num_replicas"], rank=c["rank"], shuffle=True, seed=c["seed"], drop_last=False
    )
    truth = _sampler(**args, epoch=0)
    if not isinstance(reads, (list, tuple)) or len(reads) != c["epochs"]:
        return verdict("09.3", False, f"answer with a list of {c['epochs']} lists: rank 0's indices in epochs 0, 1, 2")
    parsed = [_as_int_list(epoch) for epoch in reads]
    got = [g for g in parsed if g is not None]
    if len(got) < len(parsed):
        return verdict("09.3", False, "each epoch's answer is a list of ints, e.g. [3, 1, 4, 1]")
    if got == [truth] * c["epochs"]:
        return verdict("09.3", True)
    if any(len(g) != len(truth) for g in got):
        return verdict(
            "09.3",
            False,
            f"{c['n']} indices over {c['num_replicas']} ranks: the sampler pads to "
            f"{len(truth) * c['num_replicas']}, so every rank reads {len(truth)} per epoch",
        )
    if got == [_sampler(**args, epoch=e) for e in range(c["epochs"])]:
        return verdict(
            "09.3",
            False,
            "that is what rank 0 reads WITH set_epoch: without it the epoch stays 0 and "
            "every epoch repeats epoch 0's order",
        )
    if len({tuple(g) for g in got}) > 1:
        return verdict(
            "09.3",
            False,
            "without set_epoch the sampler's epoch never changes, so every epoch reads "
            "the same indices in the same order",
        )
    if got[0] == _sampler(**{**args, "shuffle": False}, epoch=0):
        return verdict(
            "09.3",
            False,
            "shuffle=True is the default: the order comes from torch.randperm seeded with seed + epoch = 7",
        )
    return verdict(
        "09.3",
        False,
        "right shape, wrong indices: compute epoch 0 with seed 7 (your shard_indices of "
        "09.1, or the sampler itself), then repeat it",
    )


def _one_process_reference(summary: dict[str, Any]) -> dict[str, Any]:
    """Train what one process with the global batch trains, in this process (ddp_train's data and model)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, DistributedSampler

    from course_utils.scripts import ddp_train

    defaults = ddp_train.parse_args([])
    dataset = ddp_train.make_dataset(defaults.examples, defaults.features, defaults.classes, SPAWN_ARGS["seed"])
    model = ddp_train.make_model(defaults.features, SPAWN_ARGS["hidden"], defaults.classes, SPAWN_ARGS["seed"])
    sampler: DistributedSampler[int] = DistributedSampler(
        dataset, num_replicas=1, rank=0, shuffle=True, seed=SPAWN_ARGS["seed"], drop_last=True
    )
    loader = DataLoader(dataset, batch_size=summary["global_batch"], sampler=sampler, drop_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=defaults.lr)
    loss_fn = nn.CrossEntropyLoss()
    step, epoch = 0, 0
    while step < summary["steps"]:
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            step += 1
            if step == summary["steps"]:
                break
        epoch += 1
    return {k: v.detach() for k, v in model.state_dict().items()}


def exercise_09_4(summary: Any, weights: Any) -> Verdict | bool:
    """The JSON summary and saved weights of ``ddp_train --spawn 2`` with SPAWN_ARGS, against one process in-process."""
    import torch

    from course_utils.scripts.ddp_train import EQUIVALENCE_ATOL

    if not isinstance(summary, dict) or "world_size" not in summary:
        return verdict("09.4", False, "pass the JSON summary as a dict: json.loads(Path(...).read_text())")
    if summary["world_size"] != 2:
        return verdict(
            "09.4",
            False,
            f"world size {summary['world_size']}: start the script with --spawn 2 (plain python -m, no torchrun)",
        )
    if summary.get("engine") != "ddp":
        return verdict("09.4", False, "use the default engine (raw DDP), not --engine accelerate")
    if not isinstance(summary.get("equivalence"), dict):
        return verdict("09.4", False, "add --check-equivalence, so that the script also steps a one-process copy")
    if summary.get("per_process_batch") != SPAWN_ARGS["batch_size"] or summary.get("steps") != SPAWN_ARGS["steps"]:
        return verdict(
            "09.4",
            False,
            f"launch with exactly --batch-size {SPAWN_ARGS['batch_size']} --steps "
            f"{SPAWN_ARGS['steps']} --hidden {SPAWN_ARGS['hidden']} (and the default --seed 0)",
        )
    diffs = summary["equivalence"].get("max_abs_diff_per_step", [])
    if len(diffs) != summary["steps"] or not summary["equivalence"].get("equal") or max(diffs) > EQUIVALENCE_ATOL:
        return verdict(
            "09.4", False, "the summary does not show the equivalence after every step: was the script changed?"
        )
    if not summary.get("ranks_identical"):
        return verdict("09.4", False, "the ranks ended with different weights: was the script changed?")
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        return verdict("09.4", False, "pass the saved weights as a dict of tensors: safetensors.torch.load_file(path)")
    reference = _one_process_reference(summary)
    if sorted(weights) != sorted(reference) or any(weights[k].shape != reference[k].shape for k in reference):
        return verdict(
            "09.4",
            False,
            f"these weights are not the MLP of --hidden {SPAWN_ARGS['hidden']}: pass --save-weights and load that file",
        )
    diff = max((weights[k].float() - reference[k]).abs().max().item() for k in reference)
    if diff > EQUIVALENCE_ATOL:
        return verdict(
            "09.4",
            False,
            f"the saved weights differ from one process with batch "
            f"{summary['global_batch']} by {diff:.1e}: launch with exactly the arguments given "
            f"(--hidden {SPAWN_ARGS['hidden']}, --seed 0, default --lr and --examples)",
        )
    return verdict("09.4", True)
