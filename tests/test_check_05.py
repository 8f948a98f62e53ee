"""Notebook 05's checkers accept the worked solutions and reject typical wrong answers with a specific hint."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from transformers import TrainerCallback

from course_utils import check


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# --- 05.1 ---------------------------------------------------------------------------------------


def metrics_solution(pred):
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    y_hat = np.asarray(logits).argmax(axis=-1)
    return {
        "accuracy": float(accuracy_score(pred.label_ids, y_hat)),
        "f1": float(f1_score(pred.label_ids, y_hat, average="weighted")),
    }


def test_05_1_accepts_the_solution_and_the_course_reference(capsys):
    from course_utils.analysis import classification_metrics

    assert check.exercise_05_1(metrics_solution)
    assert check.exercise_05_1(classification_metrics)
    assert capsys.readouterr().out.count("✅ exercise 05.1: correct") == 2


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            lambda p: {
                "accuracy": accuracy_score(p.label_ids, p.predictions.argmax(-1)),
                "f1": f1_score(p.label_ids, p.predictions.argmax(-1), average="macro"),
            },
            "macro F1",
        ),
        (
            lambda p: {
                "accuracy": accuracy_score(p.label_ids, p.predictions.argmax(-1)),
                "f1": f1_score(p.predictions.argmax(-1), p.label_ids, average="weighted"),
            },
            "arguments swapped",
        ),
        (
            lambda p: {"accuracy": 100 * accuracy_score(p.label_ids, p.predictions.argmax(-1)), "f1": 0.0},
            "not a percentage",
        ),
        (lambda p: {"acc": 1.0, "f1": 1.0}, "keys 'accuracy' and 'f1'"),
        (
            lambda p: {
                "accuracy": accuracy_score(p.label_ids, p.predictions.argmax(-1)),
                "f1": f1_score(p.label_ids, p.predictions.argmax(-1), average="weighted"),
            },
            "is a tuple",
        ),
    ],
    ids=["macro", "swapped", "percent", "keys", "no-tuple"],
)
def test_05_1_rejects_typical_mistakes(wrong, hint, capsys):
    assert not check.exercise_05_1(wrong)
    assert hint in capsys.readouterr().out


def test_05_1_placeholder_gives_a_hint_not_an_exception(capsys):
    def stub(pred):
        raise NotImplementedError

    assert not check.exercise_05_1(stub)
    assert "not implemented yet" in capsys.readouterr().out


# --- 05.2 ---------------------------------------------------------------------------------------


class TimeLimitSolution(TrainerCallback):
    def __init__(self, max_seconds):
        self.max_seconds = max_seconds

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start >= self.max_seconds:
            control.should_training_stop = True
        return control


class ClockInInit(TimeLimitSolution):
    def __init__(self, max_seconds):
        super().__init__(max_seconds)
        self.start = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        pass


class EpochStop(TimeLimitSolution):
    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start >= self.max_seconds:
            control.should_epoch_stop = True


class NoKwargs(TimeLimitSolution):
    def on_step_end(self, args, state, control):
        control.should_training_stop = time.perf_counter() - self.start >= self.max_seconds


class Reversed(TimeLimitSolution):
    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start < self.max_seconds:
            control.should_training_stop = True


def test_05_2_accepts_the_solution(capsys):
    assert check.exercise_05_2(TimeLimitSolution)
    assert "✅ exercise 05.2: correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ClockInInit, "start the clock in on_train_begin"),
        (Reversed, "stopped at the first step"),
        (EpochStop, "should_epoch_stop only ends the epoch"),
        (NoKwargs, "accept **kwargs"),
        (TimeLimitSolution(1.0), "pass your class (not an instance)"),
    ],
    ids=["clock-in-init", "reversed", "epoch-stop", "no-kwargs", "instance"],
)
def test_05_2_rejects_typical_mistakes(wrong, hint, capsys):
    assert not check.exercise_05_2(wrong)
    assert hint in capsys.readouterr().out


# --- 05.3 ---------------------------------------------------------------------------------------


def per_example_solution(model, tokenizer, batch):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    inputs = {k: v.to(model.device) for k, v in inputs.items()}
    model.eval()
    with torch.inference_mode():
        logits = model(**inputs).logits
    loss = F.cross_entropy(logits, torch.tensor(batch["label"], device=model.device), reduction="none")
    return {"loss": loss.cpu().numpy(), "predicted_label": logits.argmax(dim=-1).cpu().numpy()}


def no_eval(model, tokenizer, batch):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    return {
        "loss": F.cross_entropy(logits, torch.tensor(batch["label"]), reduction="none").numpy(),
        "predicted_label": logits.argmax(-1).numpy(),
    }


def mean_loss(model, tokenizer, batch):
    out = per_example_solution(model, tokenizer, batch)
    return {**out, "loss": out["loss"].mean()}


def no_mask(model, tokenizer, batch):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=inputs["input_ids"]).logits
    return {
        "loss": F.cross_entropy(logits, torch.tensor(batch["label"]), reduction="none").numpy(),
        "predicted_label": logits.argmax(-1).numpy(),
    }


def unpadded(model, tokenizer, batch):
    model.eval()
    return per_example_solution(model, tokenizer, {**batch, "input_ids": torch.tensor(batch["input_ids"])})


def labels_key(model, tokenizer, batch):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        logits = model(**inputs).logits
    return {
        "loss": F.cross_entropy(logits, torch.tensor(batch["labels"]), reduction="none").numpy(),
        "predicted_label": logits.argmax(-1).numpy(),
    }


def test_05_3_accepts_the_solution(capsys):
    assert check.exercise_05_3(per_example_solution)
    assert "✅ exercise 05.3: correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (no_eval, "call model.eval() first"),
        (mean_loss, "reduction='none'"),
        (no_mask, "pass the attention_mask"),
        (unpadded, "Pad the rows first"),
        (labels_key, "the dataset column is 'label'"),
    ],
    ids=["no-eval", "mean", "no-mask", "unpadded", "labels-key"],
)
def test_05_3_rejects_typical_mistakes(wrong, hint, capsys):
    assert not check.exercise_05_3(wrong)
    assert hint in capsys.readouterr().out


# --- 05.4 ---------------------------------------------------------------------------------------


def steps_solution(n_examples, batch_size, epochs, grad_accum, drop_last=False):
    batches = n_examples // batch_size if drop_last else math.ceil(n_examples / batch_size)
    return math.ceil(batches / grad_accum) * epochs


def test_05_4_accepts_the_solution(capsys):
    assert check.exercise_05_4(steps_solution)
    assert "✅ exercise 05.4: correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n, b, e, g, drop_last=False: math.ceil(n / b) * e, "divide the batches by grad_accum"),
        (
            lambda n, b, e, g, drop_last=False: (n // b if drop_last else math.ceil(n / b)) // g * e,
            "round the division up",
        ),
        (lambda n, b, e, g, drop_last=False: math.ceil(n / (b * g)) * e, "drops the incomplete last batch"),
        (lambda n, b, e, g, drop_last=False: steps_solution(n, b, 1, g, drop_last), "multiply by the epochs"),
        (lambda n, b, e, g, drop_last=False: n / b, "whole number of steps"),
    ],
    ids=["no-accumulation", "floor", "ignores-drop-last", "one-epoch", "float"],
)
def test_05_4_rejects_typical_mistakes(wrong, hint, capsys):
    assert not check.exercise_05_4(wrong)
    assert hint in capsys.readouterr().out


def test_checkers_leave_an_earlier_trainer_working(capsys, tmp_path):
    """Creating TrainingArguments/Trainers resets accelerate's global state; the checkers must undo that."""
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    model = BertForSequenceClassification(
        BertConfig(
            vocab_size=16, hidden_size=4, num_hidden_layers=1, num_attention_heads=1, intermediate_size=4, num_labels=2
        )
    )
    data = [{"input_ids": [1, 2], "labels": 0}] * 4
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, disable_tqdm=True),
        eval_dataset=data,
    )
    assert check.exercise_05_4(steps_solution) and check.exercise_05_2(TimeLimitSolution)
    assert "eval_loss" in trainer.evaluate()
    capsys.readouterr()


def test_05_4_reference_is_trainers_own_plan():
    from course_utils.check import nb05

    assert nb05._trainer_steps(1001, 8, 2, 4, drop_last=False) == math.ceil(126 / 4) * 2
    assert nb05._trainer_steps(1001, 8, 2, 4, drop_last=True) == math.ceil(125 / 4) * 2
