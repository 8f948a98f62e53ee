"""``Trainer`` under ``torchrun``: the same script trains on 1 process or N processes.

    torchrun --standalone --nproc_per_node=2 -m course_utils.scripts.trainer_ddp --out-dir DIR

Trainer reads the variables torchrun sets (``LOCAL_RANK``, ``WORLD_SIZE``...), joins the process
group, wraps the model in DistributedDataParallel and gives each process its share of every batch.
On a machine without a GPU that only happens with ``TrainingArguments(use_cpu=True)`` (the default
here when no GPU is found): with ``--no-use-cpu`` each process ignores the others and trains alone
on all the data (world size 1), without any error.

``--exact`` trains with plain SGD, a constant learning rate and dropout off, so that N processes
with batch B must end with the same weights as 1 process with batch N*B (``--save-weights`` to
compare). Each rank writes ``DIR/rank<RANK>.json``: the world size Trainer saw, the optimizer steps
it ran, and a hash of its final weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--help`` lists them).

    Taught in: 09 Distributed training, "`Trainer` under `torchrun`".
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, required=True, help="each rank writes rank<RANK>.json here")
    p.add_argument("--examples", type=int, default=128, help="emotion training examples (one epoch)")
    p.add_argument("--batch-size", type=int, default=8, help="per_device_train_batch_size")
    p.add_argument("--max-length", type=int, default=32, help="tokens per example (truncation)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 5e-5, or 0.05 with --exact)")
    p.add_argument(
        "--use-cpu",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TrainingArguments(use_cpu=...); default: True when no GPU is found. "
        "--no-use-cpu on a CPU machine shows the silent failure",
    )
    p.add_argument(
        "--average-tokens-across-devices",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="the TrainingArguments flag (transformers' default is True; see the note in main)",
    )
    p.add_argument("--exact", action="store_true", help="SGD, constant learning rate, no dropout")
    p.add_argument("--save-weights", type=Path, default=None, help="safetensors file of the final weights (rank 0)")
    args = p.parse_args(argv)
    for name in ("examples", "batch_size", "max_length"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.lr is None:
        args.lr = 0.05 if args.exact else 5e-5
    if args.lr <= 0:
        p.error(f"--lr must be positive, got {args.lr}")
    return args


def weights_hash(model: Any) -> str:
    """A short SHA-256 of every parameter's bytes: equal hashes mean bit-identical weights.

    Taught in: 09 Distributed training, "`Trainer` under `torchrun`".
    """
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Fine-tune the encoder on a slice of emotion with Trainer; write and return this rank's report.

    Taught in: 09 Distributed training, "`Trainer` under `torchrun`".
    """
    args = parse_args(argv)
    import torch
    from transformers import DataCollatorWithPadding, Trainer

    rank = int(os.environ.get("RANK", 0))
    use_cpu = (not torch.cuda.is_available()) if args.use_cpu is None else args.use_cpu
    tokenizer, data, model = load_data_and_model(args, verbose=rank == 0)
    with tempfile.TemporaryDirectory() as tmp:
        targs, seen_without_use_cpu = training_arguments(args, use_cpu, tmp)
        trainer = Trainer(model=model, args=targs, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer))
        result = trainer.train()
        report = {
            "rank_from_env": rank,
            "world_size_seen_by_trainer": targs.world_size,
            "world_size_without_use_cpu": seen_without_use_cpu,
            "process_index": targs.process_index,
            "parallel_mode": targs.parallel_mode.value,
            "optimizer_steps": trainer.state.global_step,
            "model_wrapped_in_ddp": type(trainer.model_wrapped).__name__ == "DistributedDataParallel",
            "train_loss": result.metrics["train_loss"],
            "train_runtime_s": result.metrics["train_runtime"],
            "weights_sha256": weights_hash(trainer.model),
        }
    assert trainer.model is not None  # Trainer(model=model) keeps it
    save(args, rank, report, trainer.model)
    return report


def load_data_and_model(args: argparse.Namespace, verbose: bool) -> tuple[Any, Any, Any]:
    """The tokenizer, ``--examples`` tokenized emotion texts and the encoder with a fresh 6-label head.

    Taught in: 09 Distributed training, "`Trainer` under `torchrun`".
    """
    import datasets
    from torch import nn
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import course_utils as cu
    from course_utils.logs import quiet

    quiet()
    datasets.disable_progress_bars()
    cu.seed_everything(0)
    ckpt = cu.resolve_checkpoint(cu.ENCODER, verbose=verbose)
    tokenizer = AutoTokenizer.from_pretrained(ckpt)
    data = cu.load_emotion("train").select(range(args.examples))
    data = data.map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=args.max_length),
        batched=True,
        remove_columns=["text"],
    )
    model = AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=len(cu.EMOTION_LABELS))
    if args.exact:
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    return tokenizer, data, model


def training_arguments(args: argparse.Namespace, use_cpu: bool, output_dir: str) -> tuple[Any, int | None]:
    """``TrainingArguments`` for one epoch, and the world size this process would see without ``use_cpu=True``
    (None unless it runs on the CPU of a machine without GPUs).

    Taught in: 09 Distributed training, "`Trainer` under `torchrun`".
    """
    import torch
    from transformers import TrainingArguments

    common: dict[str, Any] = dict(output_dir=output_dir, report_to="none", seed=0)
    exact: dict[str, Any] = {"optim": "sgd", "lr_scheduler_type": "constant"} if args.exact else {}
    seen_without_use_cpu = None
    if use_cpu and not torch.cuda.is_available():
        # What this very process would get without use_cpu=True: no process group, world size 1.
        seen_without_use_cpu = TrainingArguments(use_cpu=False, **common).world_size
    targs = TrainingArguments(
        use_cpu=use_cpu,
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=1,
        learning_rate=args.lr,
        logging_strategy="no",
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        ddp_find_unused_parameters=False,
        # A classifier's loss is a mean over its own batch. With average_tokens_across_devices=True
        # (transformers' default) Trainer multiplies that loss by the world size, meant for losses
        # divided by the token count of the whole global batch: here gradients (and the reported
        # loss) come out world-size times larger.
        average_tokens_across_devices=args.average_tokens_across_devices,
        **exact,
        **common,
    )
    return targs, seen_without_use_cpu


def save(args: argparse.Namespace, rank: int, report: dict[str, Any], model: Any) -> None:
    """Every rank writes ``rank<RANK>.json`` and prints its line; rank 0 also the weights (``--save-weights``).

    Taught in: 09 Distributed training, "`Trainer` under `torchrun`".
    """
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"rank{rank}.json").write_text(json.dumps(report, indent=2))
    if rank == 0 and args.save_weights is not None:
        from safetensors.torch import save_file

        args.save_weights.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(args.save_weights))
    print(
        f"[rank {rank}] Trainer world_size={report['world_size_seen_by_trainer']} "
        f"steps={report['optimizer_steps']} ddp={report['model_wrapped_in_ddp']} "
        f"weights={report['weights_sha256']}",
        flush=True,
    )


if __name__ == "__main__":
    main()
