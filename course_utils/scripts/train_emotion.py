"""Fine-tune an encoder on emotion with ``Trainer``, configured by a YAML file and command-line flags.

    python -m course_utils.scripts.train_emotion --output_dir runs/emotion
    python -m course_utils.scripts.train_emotion --output_dir runs/tiny --max_train_samples 200 --num_train_epochs 1

Three dataclasses describe every option (``--help`` lists them): :class:`ModelArguments`,
:class:`DataArguments` and transformers' ``TrainingArguments``. Values come from, lowest priority
first: the dataclass defaults, the YAML file (``--config FILE``; default: ``train_emotion.yaml``
beside this script, the full recipe), then the flags on the command line. The script writes the
fine-tuned model, its tokenizer and ``results.json`` (seconds; validation metrics with
``--do_eval``, test metrics with ``--do_predict``) into ``--output_dir`` and prints the results as
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The YAML used when ``--config`` is not given: the full-profile recipe.
DEFAULT_CONFIG = Path(__file__).with_name("train_emotion.yaml")


@dataclass
class ModelArguments:
    """Which checkpoint to fine-tune.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """

    model_name: str = field(
        default="distilbert-base-uncased",
        metadata={"help": "canonical Hub checkpoint; offline it resolves to the course's stand-in"},
    )
    freeze_embeddings: bool = field(
        default=False,
        metadata={"help": "freeze the word-embedding matrix (about half of MiniLM's weights): cheaper steps on a CPU"},
    )
    head_learning_rate: float | None = field(
        default=None,
        metadata={"help": "learning rate of the classification head (and pooler); default: --learning_rate"},
    )

    lora_rank: int = field(
        default=0,
        metadata={
            "help": "0: fine-tune every weight; r > 0: LoRA of rank r on the attention's query and value "
            "projections (notebook 08), with the new layers (head, pooler) trained in full"
        },
    )
    lora_alpha: float | None = field(default=None, metadata={"help": "LoRA's scale numerator (default: 2 x lora_rank)"})

    def __post_init__(self) -> None:
        if self.head_learning_rate is not None and self.head_learning_rate <= 0:
            raise ValueError(f"--head_learning_rate must be positive or omitted, got {self.head_learning_rate}")
        if self.lora_rank < 0:
            raise ValueError(f"--lora_rank must be 0 (full fine-tuning) or a positive rank, got {self.lora_rank}")
        if self.lora_alpha is not None and (self.lora_rank == 0 or self.lora_alpha <= 0):
            raise ValueError(f"--lora_alpha must be positive and needs --lora_rank > 0, got {self.lora_alpha}")
        if self.lora_rank and self.head_learning_rate is not None:
            raise ValueError(
                "--head_learning_rate is for full fine-tuning; under --lora_rank every trained "
                "weight uses --learning_rate"
            )


@dataclass
class DataArguments:
    """How much of emotion to use, and how to tokenize it.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """

    max_train_samples: int | None = field(
        default=None, metadata={"help": "train on this many shuffled training examples (default: all 16,000)"}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "evaluate on this many validation/test examples (default: all 2,000)"}
    )
    max_length: int = field(default=128, metadata={"help": "truncate texts to this many tokens"})
    padding: str = field(
        default="batch",
        metadata={
            "help": "'batch': pad each batch to its longest text (dynamic padding); 'dataset': pad every "
            "text to the longest of its split once, as the O'Reilly book's chapter 2 does"
        },
    )

    def __post_init__(self) -> None:
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name} must be a positive integer or omitted, got {value}")
        if self.max_length < 8:
            raise ValueError(f"--max_length must be at least 8 tokens, got {self.max_length}")
        if self.padding not in ("batch", "dataset"):
            raise ValueError(f"--padding must be 'batch' or 'dataset', got {self.padding!r}")


#: Accepted values of ``mixed_precision`` (YAML key or ``--mixed_precision`` flag).
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")


def mixed_precision(choice: str = "auto", device: str | None = None) -> dict[str, bool]:
    """``TrainingArguments`` keywords for ``choice`` on ``device`` (default: ``course_utils.get_device()``).

    ``"auto"`` takes :func:`course_utils.env.auto_precision`: bf16 on a CUDA GPU of compute
    capability 8.0 or more (A100, H100), fp16 below it (Colab's T4, 7.5, has no bfloat16 units
    although ``torch.cuda.is_bf16_supported()`` says True) and on Apple's MPS, bf16 on a CPU with
    bfloat16 units (about twice as fast there: 0.21 s instead of 0.46 s per batch-32 step on the
    course's machine), float32 on other CPUs, where emulated bf16 is slower. On a CPU, bf16 needs
    ``use_cpu=True``; fp16 needs a GPU. An explicit ``"bf16"`` on a CUDA card without bfloat16
    units runs (emulated, slowly) with a warning.

    Taught in: 05 Fine-tuning, "Setup".
    """
    if choice not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {choice!r}")
    from course_utils import env

    if device is None:
        device = env.get_device()
    if choice == "auto":
        choice = env.auto_precision(device)[0]
    if choice == "no":
        return {}
    if device == "cpu":
        if choice == "fp16":
            raise ValueError("mixed_precision 'fp16' needs a GPU (CUDA or Apple's MPS); on a CPU use 'bf16' or 'no'")
        return {"bf16": True, "use_cpu": True}
    if device == "cuda" and choice == "bf16":
        import torch

        if torch.cuda.get_device_capability() < env.BF16_MIN_CAPABILITY:
            major, minor = torch.cuda.get_device_capability()
            warnings.warn(
                f"mixed_precision 'bf16' on compute capability {major}.{minor}: this GPU has no bfloat16 "
                "units and emulates them (slow); 'fp16' is its fast half precision",
                stacklevel=2,
            )
    return {choice: True}


def autocast_dtype(choice: str = "auto", device: str | None = None, grad_scaler: bool = False) -> Any:
    """The ``torch.autocast`` dtype for a training loop written by hand (``torch.bfloat16``/``float16``), or None for float32.

    For loops (notebooks 08 and 10) that should run as ``Trainer`` would, with one difference:
    float16 needs a loss scaler (``torch.amp.GradScaler``) that ``Trainer`` adds and a plain loop
    does not have, so ``"auto"`` gives float16 only with ``grad_scaler=True`` and None (float32)
    otherwise (a T4, Apple's MPS). bfloat16 needs no scaler. An explicit ``"fp16"`` gives float16.

    Taught in: 08 Parameter-efficient fine-tuning with LoRA, "LoRA on a pretrained encoder: emotion, against full fine-tuning".
    """
    import torch

    keywords = mixed_precision(choice, device)
    if keywords.get("bf16"):
        return torch.bfloat16
    if keywords.get("fp16") and (choice == "fp16" or grad_scaler):
        return torch.float16
    return None


def parse_args(argv: list[str] | None = None) -> tuple[ModelArguments, DataArguments, Any]:
    """Parse ``argv`` into (ModelArguments, DataArguments, TrainingArguments): defaults < YAML < flags.

    ``mixed_precision`` (YAML key or ``--mixed_precision``: auto, no, bf16, fp16) is resolved here by
    :func:`mixed_precision` into ``bf16``/``fp16``/``use_cpu`` defaults; explicit ``--bf16`` or
    ``--fp16`` flags still win.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    import yaml
    from transformers import HfArgumentParser, TrainingArguments

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    pre.add_argument("--mixed_precision", default=None)
    known, rest = pre.parse_known_args(argv)
    parser = HfArgumentParser(
        # transformers annotates dataclass_types with NewType("DataClassType", Any), which no dataclass matches
        (ModelArguments, DataArguments, TrainingArguments),  # type: ignore[arg-type]
        description=__doc__.split("\n\n")[0]
        + " Also: --config FILE (YAML; default train_emotion.yaml) and --mixed_precision {auto,no,bf16,fp16}.",
    )
    if not known.config.is_file():
        parser.error(f"--config {known.config}: no such file")
    config = yaml.safe_load(known.config.read_text(encoding="utf-8")) or {}
    if not isinstance(config, dict):
        parser.error(f"--config {known.config}: expected a mapping of option: value, got {type(config).__name__}")
    precision = config.pop("mixed_precision", "no")  # a resolved choice, not a TrainingArguments field
    precision = known.mixed_precision or precision
    if precision not in MIXED_PRECISION:
        parser.error(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}; got {precision!r}")
    config.update(mixed_precision(precision))
    options = {action.dest for action in parser._actions}
    unknown = sorted(set(config) - options)
    if unknown:
        parser.error(f"--config {known.config.name}: unknown option(s) {unknown}; see --help for the accepted ones")
    # The YAML replaces the dataclass defaults; anything on the command line still wins over it.
    parser.set_defaults(**config)
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=rest)
    if training_args.output_dir in (None, "trainer_output"):
        parser.error("--output_dir DIR is required (the model and results.json are written there)")
    return model_args, data_args, training_args


def is_head_parameter(name: str, base_model_prefix: str) -> bool:
    """True for a parameter of the task head: outside the base model (``classifier.*``) or its pooler.

    Taught in: 05 Fine-tuning, "A larger learning rate for the new head".
    """
    return not name.startswith(base_model_prefix + ".") or ".pooler." in name


def parameter_groups(model: Any, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]:
    """Two optimizer groups of the trainable parameters: the pretrained body at ``learning_rate``, the head at ``head_learning_rate``.

    Taught in: 05 Fine-tuning, "A larger learning rate for the new head".
    """
    if learning_rate <= 0 or head_learning_rate <= 0:
        raise ValueError(
            f"learning_rate and head_learning_rate must be positive, got {learning_rate} and {head_learning_rate}"
        )
    prefix = getattr(model, "base_model_prefix", "")
    if not prefix:
        raise ValueError("model must be a transformers PreTrainedModel with a base_model_prefix (e.g. 'bert')")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    body = [p for n, p in named if not is_head_parameter(n, prefix)]
    head = [p for n, p in named if is_head_parameter(n, prefix)]
    if not head or not body:
        raise ValueError(f"found {len(body)} body and {len(head)} head parameters; expected both (a model with a head)")
    return [{"params": body, "lr": learning_rate}, {"params": head, "lr": head_learning_rate}]


#: The attention projections LoRA adapts, by ``config.model_type`` (the names differ per architecture).
LORA_TARGETS: dict[str, list[str]] = {
    "bert": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "roberta": ["query", "value"],
}


def head_module_names(model: Any) -> list[str]:
    """Names of the modules that hold head parameters (:func:`is_head_parameter`), as ``modules_to_save`` takes them.

    BERT: ``['classifier', 'pooler']``; DistilBERT: ``['classifier', 'pre_classifier']``. These are
    new or effectively new for the task, so LoRA must train them in full, like full fine-tuning does.

    Taught in: 08 Parameter-efficient fine-tuning with LoRA, "LoRA on a pretrained encoder: emotion, against full fine-tuning".
    """
    prefix = getattr(model, "base_model_prefix", "")
    if not prefix:
        raise ValueError("model must be a transformers PreTrainedModel with a base_model_prefix (e.g. 'bert')")
    names = set()
    for name, _ in model.named_parameters():
        if is_head_parameter(name, prefix):
            parts = name.split(".")
            names.add(parts[1] if parts[0] == prefix else parts[0])  # bert.pooler.dense.weight -> pooler
    if not names:
        raise ValueError(f"{type(model).__name__} has no head parameters; expected a model with a task head")
    return sorted(names)


def lora_config(model: Any, rank: int = 8, alpha: float | None = None, dropout: float = 0.1) -> Any:
    """The ``peft.LoraConfig`` notebook 08 builds: rank ``rank`` on query and value, the head in ``modules_to_save``.

    Taught in: 08 Parameter-efficient fine-tuning with LoRA, "LoRA on a pretrained encoder: emotion, against full fine-tuning".
    """
    from peft import LoraConfig

    if rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank}")
    model_type = model.config.model_type
    if model_type not in LORA_TARGETS:
        raise ValueError(f"model_type must be one of {sorted(LORA_TARGETS)} (LORA_TARGETS), got {model_type!r}")
    return LoraConfig(
        task_type="SEQ_CLS",
        r=rank,
        # peft annotates lora_alpha as int, but only divides by it (scaling = lora_alpha / r): a float works
        lora_alpha=2 * rank if alpha is None else alpha,  # type: ignore[arg-type]
        lora_dropout=dropout,
        target_modules=LORA_TARGETS[model_type],
        modules_to_save=head_module_names(model),
    )


def _subset(dataset: Any, n: int | None, seed: int) -> Any:
    if n is None or n >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(n))


def tokenized_splits(tokenizer: Any, data_args: DataArguments, seed: int) -> tuple[Any, Any, Any, float]:
    """Step 1: emotion's train, validation and test splits (subsets as ``data_args`` says) tokenized, and the seconds it took.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    import course_utils as cu

    emotion = cu.load_emotion()

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        # padding="longest" over one batch that is the whole split (batch_size=None below) pads every
        # text to the split's longest: the book's way. Otherwise the collator pads each batch.
        padding = "longest" if data_args.padding == "dataset" else False
        return tokenizer(batch["text"], truncation=True, max_length=data_args.max_length, padding=padding)

    def encode(split: str, n: int | None) -> Any:
        batch_size = None if data_args.padding == "dataset" else 1000
        return _subset(emotion[split], n, seed).map(tokenize, batched=True, batch_size=batch_size)

    start = time.perf_counter()
    train = encode("train", data_args.max_train_samples)
    validation = encode("validation", data_args.max_eval_samples)
    test = encode("test", data_args.max_eval_samples)
    return train, validation, test, time.perf_counter() - start


def classifier(checkpoint: str, model_args: ModelArguments) -> Any:
    """Step 2: the encoder with a six-class head, embeddings frozen or LoRA adapters added as ``model_args`` says.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    from transformers import AutoModelForSequenceClassification

    import course_utils as cu

    labels = list(cu.EMOTION_LABELS)
    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    # The classifier's loss is a mean over its batch. Its forward takes **kwargs, so without this
    # Trainer would pass num_items_in_batch, skip its division by gradient_accumulation_steps and
    # apply N times the gradient (notebook 05, appendix).
    model.accepts_loss_kwargs = False
    if model_args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if model_args.lora_rank:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(model, model_args.lora_rank, model_args.lora_alpha))
    return model


def optimizer(model: Any, model_args: ModelArguments, args: Any) -> Any:
    """Step 3: AdamW with the head at ``--head_learning_rate``, or None (Trainer's AdamW, one rate for all) without it.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    import torch

    if model_args.head_learning_rate is None:
        return None
    groups = parameter_groups(model, args.learning_rate, model_args.head_learning_rate)
    fused = args.device.type in ("cpu", "cuda")  # one kernel for all parameters: much faster steps on a CPU
    return torch.optim.AdamW(groups, weight_decay=args.weight_decay, fused=fused)


def recipe(model_args: ModelArguments, data_args: DataArguments, args: Any) -> dict[str, Any]:
    """The options that decide a run's speed and result, as ``results.json`` records them.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    return {
        "num_train_epochs": args.num_train_epochs,
        "max_steps": args.max_steps,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "learning_rate": args.learning_rate,
        "head_learning_rate": model_args.head_learning_rate,
        "weight_decay": args.weight_decay,
        "max_length": data_args.max_length,
        "padding": data_args.padding,
        "warmup_steps": args.warmup_steps,
        "lr_scheduler_type": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
        "bf16": args.bf16,
        "freeze_embeddings": model_args.freeze_embeddings,
        "train_sampling_strategy": args.train_sampling_strategy,
        "lora_rank": model_args.lora_rank,
    }


def evaluated(trainer: Any, args: Any, validation: Any, test: Any) -> dict[str, Any]:
    """Step 5: validation metrics with ``--do_eval``, test metrics with ``--do_predict`` (``results.json``'s keys).

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    results: dict[str, Any] = {}
    if args.do_eval:
        val = trainer.evaluate()
        results["validation"] = {"examples": len(validation), "accuracy": val["eval_accuracy"], "f1": val["eval_f1"]}
    if args.do_predict:
        test_metrics = trainer.predict(test).metrics
        assert test_metrics is not None  # Trainer.predict always computes them
        results["test"] = {
            "examples": len(test),
            "accuracy": test_metrics["test_accuracy"],
            "f1": test_metrics["test_f1"],
        }
    return results


def main(argv: list[str] | None = None, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Fine-tune on emotion as ``argv`` says; write the model and ``results.json``; return the results.

    ``callbacks`` (``TrainerCallback`` instances) are passed to ``Trainer``: the benchmark uses one to
    stop a recipe at a time budget.

    Taught in: 05 Fine-tuning, "A training script: `HfArgumentParser`, YAML and flags".
    """
    model_args, data_args, args = parse_args(argv)
    import torch
    from transformers import AutoTokenizer, Trainer

    import course_utils as cu
    from course_utils.logs import quiet
    from course_utils.metrics import classification_metrics

    quiet()
    cu.seed_everything(args.seed)
    checkpoint = cu.resolve_checkpoint(model_args.model_name)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    train, validation, test, tokenize_seconds = tokenized_splits(tokenizer, data_args, args.seed)
    model = classifier(checkpoint, model_args)
    trainer = Trainer(  # step 4: train
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=tokenizer,  # saved with the model; its padding gives the dynamic-padding collator
        compute_metrics=classification_metrics,
        optimizers=(
            optimizer(model, model_args, args),
            None,
        ),  # the scheduler (linear decay by default) is still Trainer's
        callbacks=callbacks,
    )
    start = time.perf_counter()
    train_output = trainer.train()
    train_seconds = time.perf_counter() - start
    results: dict[str, Any] = {
        "checkpoint": model_args.model_name,
        "device": str(args.device),
        "threads": torch.get_num_threads(),
        "recipe": recipe(model_args, data_args, args),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_examples": len(train),
        "steps": train_output.global_step,
        "epochs_done": round(trainer.state.epoch or 0.0, 3),
        "tokenize_seconds": round(tokenize_seconds, 2),
        "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(train_seconds / max(train_output.global_step, 1), 4),
        "train_loss": round(train_output.training_loss, 4),
        **evaluated(trainer, args, validation, test),
    }
    # Step 6: model + tokenizer into output_dir, reloadable with pipeline("text-classification", ...); under
    # --lora_rank only the adapter and the head: reload with PeftModel.from_pretrained(base, output_dir),
    # base = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=6).
    trainer.save_model()
    out_dir = Path(args.output_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
