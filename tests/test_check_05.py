"""Checkers of notebook 05: the adversarial table (FAKES, run by test_check_fakes.py), the worked solutions
in float32 and bfloat16, other right answers, and the step count the 05.4 checker takes from Trainer
checked against real training runs."""

from __future__ import annotations

import functools
import tempfile
import time
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fakes import Fake, solution
from sklearn.metrics import accuracy_score, classification_report, f1_score
from torch.utils.data import DataLoader
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    pipeline,
)

from course_utils import check, metrics
from course_utils.check import nb05
from course_utils.check._core import precision, tiny_model
from course_utils.metrics import classification_metrics

my_compute_metrics, TimeLimitCallback, per_example_loss, optimizer_steps = solution(
    "05", "my_compute_metrics", "TimeLimitCallback", "per_example_loss", "optimizer_steps"
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# --- 05.1 compute_metrics ---------------------------------------------------------------------------------


def labels_and_predicted(pred):
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    return pred.label_ids, np.asarray(logits).argmax(-1)


def scored(accuracy, f1):
    """A compute_metrics of two functions of (label_ids, predicted)."""

    def compute_metrics(pred):
        y, y_hat = labels_and_predicted(pred)
        return {"accuracy": accuracy(y, y_hat), "f1": f1(y, y_hat)}

    return compute_metrics


weighted = functools.partial(f1_score, average="weighted")


def from_logits(logits_of):
    """A compute_metrics right but for where it finds the logits."""

    def compute_metrics(pred):
        y, y_hat = pred.label_ids, np.asarray(logits_of(pred)).argmax(-1)
        return {"accuracy": accuracy_score(y, y_hat), "f1": weighted(y, y_hat)}

    return compute_metrics


def via_course_metrics(pred):
    y, y_hat = labels_and_predicted(pred)
    return {
        **metrics.load("accuracy").compute(predictions=y_hat, references=y),
        **metrics.load("f1").compute(predictions=y_hat, references=y, average="weighted"),
    }


def via_metric_objects(pred):
    from course_utils.metrics.accuracy import Accuracy
    from course_utils.metrics.f1 import F1

    y, y_hat = labels_and_predicted(pred)
    return {
        **Accuracy().compute(predictions=y_hat, references=y),
        **F1().compute(predictions=y_hat, references=y, average="weighted"),
    }


def first_answer_forever(right):
    """Right on the checker's first input, then the same answer whatever the input."""
    seen = []

    def memo(*args, **kwargs):
        if not seen:
            seen.append(right(*args, **kwargs))
        return seen[0]

    return memo


def swallowed_switch_off(pred):
    try:
        return classification_metrics(pred)
    except BaseException:  # what a learner does to get past the checker's guard
        return {"accuracy": 0.6, "f1": 0.58}


FAKES_05_1 = {
    "library": [
        Fake(
            "the course's classification_metrics",
            (classification_metrics,),
            "`classification_metrics()` is switched off",
        ),
        Fake("the course's evaluate metrics", (via_course_metrics,), "`evaluate's compute()` is switched off"),
        Fake("the metric classes built by hand", (via_metric_objects,), "`evaluate's compute()` is switched off"),
    ],
    "constant": [
        Fake("a fixed dict", (lambda pred: {"accuracy": 0.6, "f1": 0.58},), "accuracy: compare"),
        Fake("the first input's answer, every time", (first_answer_forever(my_compute_metrics),), "accuracy: compare"),
    ],
    "ignores": [
        Fake(
            "divides by a fixed 240 examples",
            (scored(lambda y, h: (y == h).sum() / 240, weighted),),
            "accuracy: compare",
        ),
        Fake(
            "ignores that predictions may be a tuple",
            (from_logits(lambda p: p.predictions),),
            "pred.predictions is a tuple",
        ),
        Fake(
            "always takes predictions[0]", (from_logits(lambda p: p.predictions[0]),), "predictions an array of logits"
        ),
    ],
    "guard": [
        Fake(
            "a copy of classification_metrics' code",
            (types.FunctionType(classification_metrics.__code__, classification_metrics.__globals__),),
            "`classification_metrics()` is switched off",
        ),
        Fake("catches the switch-off, returns a constant", (swallowed_switch_off,), "is switched off"),
    ],
    "other": [
        Fake("macro F1", (scored(accuracy_score, functools.partial(f1_score, average="macro")),), "macro F1"),
        Fake(
            "micro F1",
            (scored(accuracy_score, functools.partial(f1_score, average="micro")),),
            "micro F1 equals accuracy",
        ),
        Fake("arguments swapped", (scored(accuracy_score, lambda y, h: weighted(h, y)),), "arguments swapped"),
        Fake("accuracy in percent", (scored(lambda y, h: 100 * accuracy_score(y, h), weighted),), "not a percentage"),
        Fake("other keys", (lambda p: {"acc": 1.0, "f1_weighted": 1.0},), "keys 'accuracy' and 'f1'"),
    ],
}


@pytest.mark.parametrize(
    "right",
    [
        my_compute_metrics,
        scored(lambda y, h: float(np.mean(y == h)), weighted),
        lambda pred: (
            lambda logits, labels: {  # unpacking, as Trainer's docs do; torch's argmax
                "accuracy": accuracy_score(labels, torch.from_numpy(np.asarray(logits)).argmax(-1).numpy()),
                "f1": weighted(labels, torch.from_numpy(np.asarray(logits)).argmax(-1).numpy()),
                "precision": 0.0,  # more keys are fine
            }
        )(*((pred[0][0], pred[1]) if isinstance(pred[0], tuple) else pred)),
        lambda pred: (lambda report: {"accuracy": report["accuracy"], "f1": report["weighted avg"]["f1-score"]})(
            classification_report(*labels_and_predicted(pred), output_dict=True, zero_division=0)
        ),
    ],
    ids=["solution", "numpy-mean", "unpacked-torch-argmax", "classification-report"],
)
def test_05_1_accepts_right_answers(right, capsys):
    assert check.exercise_05_1(right)
    with precision(torch.bfloat16):
        assert check.exercise_05_1(right)


# --- 05.2 TimeLimitCallback -------------------------------------------------------------------------------


class Clock(TrainerCallback):
    """The worked solution's shape; fakes change one thing."""

    def __init__(self, max_seconds):
        self.max_seconds = max_seconds

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop(state):
            control.should_training_stop = True

    def stop(self, state):
        return time.perf_counter() - self.start >= self.max_seconds


def clock(stop=None, **methods):
    """A Clock with ``stop(self, state)`` and other methods replaced."""
    return type("Fake", (Clock,), {**methods, **({"stop": stop} if stop else {})})


def per_step_clock(self, args, state, control, **kwargs):
    now = time.perf_counter()
    if now - self.start >= self.max_seconds:
        control.should_training_stop = True
    self.start = now  # the time of one step, not since training began


def clock_at_first_step(self, args, state, control, **kwargs):
    try:
        start = self.start
    except AttributeError:  # on_train_begin left out; the missing attribute is swallowed
        start = self.start = time.perf_counter()
    control.should_training_stop = time.perf_counter() - start >= self.max_seconds


def max_steps_from_seconds(self, args, state, control, **kwargs):
    state.max_steps = int(self.max_seconds / 0.05)  # DefaultFlowCallback stops there: steps, not seconds


class EarlyTimeStop(EarlyStoppingCallback):
    def __init__(self, max_seconds):
        super().__init__(early_stopping_patience=1)


def clock_in_init(self, max_seconds):
    self.max_seconds, self.start = max_seconds, time.perf_counter()


FAKES_05_2 = {
    "library": [
        Fake(
            "DefaultFlowCallback's max_steps from the seconds",
            (clock(on_train_begin=max_steps_from_seconds, stop=lambda s, st: False),),
            "still running",
        ),
        Fake("EarlyStoppingCallback", (EarlyTimeStop,), "raised AssertionError"),
    ],
    "constant": [
        Fake("always stops", (clock(lambda self, state: True),), "stopped too early"),
        Fake("never stops", (clock(lambda self, state: False),), "still running"),
    ],
    "ignores": [
        Fake(
            "ignores max_seconds: 0.3 s, the first limit the checker tries",
            (clock(lambda self, state: time.perf_counter() - self.start >= 0.3),),
            "stopped too early",
        ),
        Fake(
            "ignores max_seconds: one second",
            (clock(lambda self, state: time.perf_counter() - self.start >= 1.0),),
            "still running",
        ),
        Fake(
            "counts steps, not seconds",
            (clock(lambda self, state: state.global_step >= 2),),
            "count seconds (not steps)",
        ),
        Fake("the time of one step, not since training began", (clock(on_step_end=per_step_clock),), "still running"),
    ],
    "guard": [
        Fake(
            "clock started at the first step (swallowed AttributeError)",
            (clock(on_train_begin=lambda *a, **k: None, on_step_end=clock_at_first_step),),
            "still running",
        ),
        Fake("an instance, not the class", (TimeLimitCallback(1.0),), "pass your class (not an instance)"),
        Fake("not a TrainerCallback", (type("Duck", (), dict(vars(Clock))),), "subclass TrainerCallback"),
    ],
    "other": [
        Fake(
            "clock started in __init__",
            (clock(__init__=clock_in_init, on_train_begin=lambda *a, **k: None),),
            "start the clock in on_train_begin (not in __init__)",
        ),
        Fake(
            "condition reversed",
            (clock(lambda self, state: time.perf_counter() - self.start < self.max_seconds),),
            "stopped too early",
        ),
        Fake(
            "should_epoch_stop",
            (clock(on_step_end=lambda self, a, s, control, **k: setattr(control, "should_epoch_stop", self.stop(s))),),
            "should_epoch_stop only ends the epoch",
        ),
        Fake(
            "events without **kwargs", (clock(on_step_end=lambda self, args, state, control: None),), "accept **kwargs"
        ),
        Fake(
            "returns True from on_step_end",
            (clock(on_step_end=lambda self, a, s, c, **k: self.stop(s)),),
            "return control (or nothing)",
        ),
    ],
}


# right too: a deadline fixed when training begins, time.monotonic, nothing returned
deadline_clock = clock(
    lambda self, state: time.monotonic() >= self.deadline,
    on_train_begin=lambda self, *a, **k: setattr(self, "deadline", time.monotonic() + self.max_seconds),
)


@pytest.mark.parametrize("right", [TimeLimitCallback, deadline_clock], ids=["solution", "deadline"])
def test_05_2_accepts_right_answers(right, capsys):
    assert check.exercise_05_2(right)
    with precision(torch.bfloat16):
        assert check.exercise_05_2(right)


# --- 05.3 per-example loss --------------------------------------------------------------------------------


def forward(model, tokenizer, batch, *, mask=True):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    if not mask:
        inputs.pop("attention_mask")
    with torch.no_grad():
        return model(**inputs).logits.float()


def losses(logits, batch, **extra):
    loss = F.cross_entropy(logits, torch.tensor(batch["label"]), reduction="none")
    return {"loss": loss.numpy(), "predicted_label": logits.argmax(-1).numpy(), **extra}


def via_pipeline(model, tokenizer, batch):
    scores = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)(batch["text"])
    probs = np.array([[s["score"] for s in sorted(row, key=lambda s: s["label"])] for row in scores])
    return {"loss": -np.log(probs[np.arange(len(probs)), batch["label"]]), "predicted_label": probs.argmax(-1)}


def via_predict(model, tokenizer, batch):
    from datasets import Dataset

    data = Dataset.from_dict({**{k: batch[k] for k in tokenizer.model_input_names}, "labels": batch["label"]})
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), report_to="none", use_cpu=True)
    out = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer)).predict(data)
    return losses(torch.tensor(out.predictions), batch)


@functools.cache
def notebook_model(vocab_size):
    return tiny_model("bert", "classifier", seed=1, vocab_size=vocab_size, num_labels=6)


def eval_flag_only(model, tokenizer, batch):
    model.training = False  # the top module only: its dropout layers still train
    return losses(forward(model, tokenizer, batch), batch)


def seeded_dropout(model, tokenizer, batch):
    torch.manual_seed(0)  # the same dropout every call, but dropout all the same
    return losses(forward(model, tokenizer, batch), batch)


def in_eval(fn):
    def per_example(model, tokenizer, batch):
        model.eval()
        return fn(model, tokenizer, batch)

    return per_example


FAKES_05_3 = {
    "library": [
        Fake("a text-classification pipeline", (in_eval(via_pipeline),), "`pipeline()` is switched off"),
        Fake("Trainer.predict", (in_eval(via_predict),), "`Trainer.predict()` is switched off"),
    ],
    "constant": [
        Fake(
            "fixed arrays",
            (lambda m, t, b: {"loss": np.full(9, 1.8), "predicted_label": np.zeros(9, int)},),
            "never ran the model",
        ),
        Fake("the first batch's answer, every time", (first_answer_forever(per_example_loss),), "never ran the model"),
    ],
    "ignores": [
        Fake(
            "the notebook's own model",
            (in_eval(lambda m, t, b: losses(forward(notebook_model(len(t)).eval(), t, b), b)),),
            "never ran the model it was given",
        ),
        Fake(
            "no attention mask",
            (in_eval(lambda m, t, b: losses(forward(m, t, b, mask=False), b)),),
            "pass the attention_mask",
        ),
        Fake(
            "the loss of the predicted class, not the label",
            (in_eval(lambda m, t, b: (lambda x: losses(x, {"label": x.argmax(-1).tolist()}))(forward(m, t, b))),),
            "F.cross_entropy(logits, torch.tensor(batch['label'])",
        ),
    ],
    "guard": [
        Fake("model.training = False on the top module", (eval_flag_only,), "call model.eval() first"),
        Fake("dropout seeded instead of switched off", (seeded_dropout,), "call model.eval() first"),
    ],
    "other": [
        Fake(
            "the mean loss",
            (in_eval(lambda m, t, b: {**per_example_loss(m, t, b), "loss": per_example_loss(m, t, b)["loss"].mean()}),),
            "not the mean",
        ),
        Fake(
            "unpadded rows", (in_eval(lambda m, t, b: m(input_ids=torch.tensor(b["input_ids"]))),), "Pad the rows first"
        ),
        Fake(
            "the key 'labels'",
            (in_eval(lambda m, t, b: losses(forward(m, t, b), {"label": b["labels"]})),),
            "The dataset column is 'label'",
        ),
        Fake(
            "the probability of the label, not its loss",
            (
                in_eval(
                    lambda m, t, b: (
                        lambda x: {**losses(x, b), "loss": x.softmax(-1)[range(len(x)), b["label"]].numpy()}
                    )(forward(m, t, b))
                ),
            ),
            "F.cross_entropy(logits",
        ),
        Fake(
            "the labels as predictions",
            (in_eval(lambda m, t, b: {**per_example_loss(m, t, b), "predicted_label": np.array(b["label"])}),),
            "predicted_label: logits.argmax",
        ),
        Fake(
            "a tensor that requires grad",
            (
                in_eval(
                    lambda m, t, b: {
                        "loss": F.cross_entropy(
                            m(**t.pad({k: b[k] for k in t.model_input_names}, return_tensors="pt")).logits,
                            torch.tensor(b["label"]),
                            reduction="none",
                        ),
                        "predicted_label": [0],
                    }
                ),
            ),
            "torch.inference_mode()",
        ),
    ],
}


def row_by_row(model, tokenizer, batch):
    """No padding at all: one row at a time, the model's own loss."""
    model.eval()
    with torch.inference_mode():
        rows = [
            model(
                **{k: torch.tensor([batch[k][i]]) for k in tokenizer.model_input_names},
                labels=torch.tensor([batch["label"][i]]),
            )
            for i in range(len(batch["label"]))
        ]
    return {"loss": [r.loss.float().item() for r in rows], "predicted_label": [r.logits.argmax().item() for r in rows]}


def with_collator(model, tokenizer, batch):
    inputs = DataCollatorWithPadding(tokenizer)(
        [{k: batch[k][i] for k in tokenizer.model_input_names} for i in range(len(batch["label"]))]
    )
    model.train(False)
    with torch.no_grad():
        logits = model(**inputs).logits
    return losses(logits.float(), batch)


@pytest.mark.parametrize(
    "right", [per_example_loss, row_by_row, with_collator], ids=["solution", "row-by-row", "collator"]
)
def test_05_3_accepts_right_answers(right, capsys):
    assert check.exercise_05_3(right)
    with precision(torch.bfloat16):
        assert check.exercise_05_3(right)


@pytest.mark.parametrize("kind", ["ignores", "guard"])
def test_05_3_rejects_mask_and_dropout_mistakes_in_bfloat16_too(kind, capsys):
    with precision(torch.bfloat16):
        for fake in FAKES_05_3[kind]:
            assert not check.exercise_05_3(*fake.args), fake.label


def test_05_3_bfloat16_loss_without_float_gets_a_hint(capsys):
    def no_float(model, tokenizer, batch):
        model.eval()
        inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
        with torch.inference_mode():
            logits = model(**inputs).logits
        return {
            "loss": F.cross_entropy(logits, torch.tensor(batch["label"]), reduction="none").numpy(),
            "predicted_label": logits.argmax(-1).numpy(),
        }

    assert check.exercise_05_3(no_float)
    with precision(torch.bfloat16):
        assert not check.exercise_05_3(no_float)
    assert "NumPy has no bfloat16" in capsys.readouterr().out


# --- 05.4 optimizer steps ---------------------------------------------------------------------------------


def ceil_div(a, b):
    return -(-a // b)


def batches(n, b, drop_last):
    return n // b if drop_last else ceil_div(n, b)


def trainer_for(n, b, e, g, drop_last, **extra):
    """A Trainer of a tiny model over n two-token examples, with this batch plan."""
    args = TrainingArguments(
        output_dir=tempfile.gettempdir() + "/test_check_05",
        per_device_train_batch_size=b,
        gradient_accumulation_steps=g,
        num_train_epochs=e,
        dataloader_drop_last=drop_last,
        **dict(report_to="none", use_cpu=True, save_strategy="no", logging_strategy="no", disable_tqdm=True),
    )
    data = [{"input_ids": [1, 2], "labels": 0}] * n
    return Trainer(model=tiny_model("bert", "classifier"), args=args, train_dataset=data, **extra)


def steps_from_trainer(n, b, e, g, drop_last=False):
    trainer = trainer_for(n, b, e, g, drop_last)
    return trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1]


def class_level_plan(n, b, e, g, drop_last=False):
    """Trainer's own arithmetic, called on a stand-in for a Trainer (no Trainer is built)."""
    stand_in = types.SimpleNamespace(
        get_total_train_batch_size=lambda a: b * g, get_sp_size=lambda: 1, num_examples=lambda dl: n
    )
    args = types.SimpleNamespace(max_steps=-1, gradient_accumulation_steps=g, num_train_epochs=e)
    return Trainer.set_initial_training_values(stand_in, args, [None] * batches(n, b, drop_last))[-1]


def swallowed_trainer(n, b, e, g, drop_last=False):
    try:
        return steps_from_trainer(n, b, e, g, drop_last)
    except BaseException:
        return n // (b * g) * e


TABLE = {case[:4] + (case[4],): optimizer_steps(*case[:4], drop_last=case[4]) for case in nb05._CASES_05_4}

FAKES_05_4 = {
    "library": [
        Fake("asks a Trainer", (steps_from_trainer,), "`Trainer` is switched off"),
        Fake(
            "len(DataLoader)",
            (
                lambda n, b, e, g, drop_last=False: (
                    ceil_div(len(DataLoader(range(n), batch_size=b, drop_last=drop_last)), g) * e
                ),
            ),
            "`len(DataLoader)` is switched off",
        ),
    ],
    "constant": [
        Fake("the notebook's quick run, 625", (lambda n, b, e, g, drop_last=False: 625,), "Trainer plans"),
        Fake("the first case's answer, every time", (first_answer_forever(optimizer_steps),), "Trainer plans"),
        Fake(
            "a table of the checker's fixed cases",
            (lambda n, b, e, g, drop_last=False: TABLE.get((n, b, e, g, drop_last), 625),),
            "Trainer plans",
        ),
    ],
    "ignores": [
        Fake(
            "issue 23: n // (b*g) with drop_last",
            (lambda n, b, e, g, drop_last=False: n // (b * g) * e if drop_last else ceil_div(n, b * g) * e,),
            "an incomplete last accumulation still makes a step",
        ),
        Fake(
            "ignores drop_last",
            (lambda n, b, e, g, drop_last=False: ceil_div(n, b * g) * e,),
            "drop_last=True drops the incomplete last batch",
        ),
        Fake(
            "ignores epochs",
            (lambda n, b, e, g, drop_last=False: ceil_div(batches(n, b, drop_last), g),),
            "multiply by the epochs",
        ),
        Fake(
            "ignores grad_accum",
            (lambda n, b, e, g, drop_last=False: batches(n, b, drop_last) * e,),
            "divide the batches by grad_accum",
        ),
    ],
    "guard": [
        Fake("Trainer's arithmetic, class-level, on a stand-in", (class_level_plan,), "`Trainer` is switched off"),
        Fake("catches the switch-off", (swallowed_trainer,), "`Trainer` is switched off"),
        Fake(
            "a float",
            (lambda n, b, e, g, drop_last=False: float(optimizer_steps(n, b, e, g, drop_last)),),
            "whole number",
        ),
    ],
    "other": [
        Fake(
            "one accumulation across epochs",
            (lambda n, b, e, g, drop_last=False: ceil_div(batches(n, b, drop_last) * e, g),),
            "restarts every epoch",
        ),
        Fake(
            "floor division",
            (lambda n, b, e, g, drop_last=False: batches(n, b, drop_last) // g * e,),
            "an incomplete last accumulation",
        ),
        Fake(
            "always drops the last batch",
            (lambda n, b, e, g, drop_last=False: ceil_div(n // b, g) * e,),
            "without drop_last the incomplete last batch counts",
        ),
        Fake(
            "rounds examples per step", (lambda n, b, e, g, drop_last=False: round(n / (b * g)) * e,), "Trainer plans"
        ),
    ],
}


@pytest.mark.parametrize(
    "right",
    [optimizer_steps, lambda n, b, e, g, drop_last=False: np.int64(ceil_div(batches(n, b, drop_last), g) * e)],
    ids=["solution", "numpy-int"],
)
def test_05_4_accepts_right_answers(right, capsys):
    assert check.exercise_05_4(right)
    with precision(torch.bfloat16):
        assert check.exercise_05_4(right)


class Steps(TrainerCallback):
    def __init__(self):
        self.steps = 0

    def on_step_end(self, args, state, control, **kwargs):
        self.steps += 1


@pytest.mark.parametrize(
    "case",
    [
        (104, 8, 1, 4, True),
        (104, 8, 3, 4, False),
        (97, 8, 2, 4, True),
        (13, 4, 2, 5, False),
        (70, 3, 2, 6, True),
        (9, 10, 2, 1, False),
    ],
    ids=str,
)
def test_05_4_reference_counts_the_steps_train_takes(case):
    """The checker's reference (Trainer's plan) is what a real train() does, remainders and all."""
    n, b, e, g, d = case
    counter = Steps()
    trainer = trainer_for(n, b, e, g, d, callbacks=[counter])
    trainer.train()
    assert (
        counter.steps
        == trainer.state.global_step
        == nb05._trainer_steps(n, b, e, g, d)
        == optimizer_steps(n, b, e, g, d)
    )


# --- the table and what it does not express ---------------------------------------------------------------

FAKES: dict[str, dict[str, list[Fake] | str]] = {
    "05.1": FAKES_05_1,
    "05.2": FAKES_05_2,
    "05.3": FAKES_05_3,
    "05.4": FAKES_05_4,
}


class Placeholder(TrainerCallback):
    def __init__(self, max_seconds):
        self.max_seconds = max_seconds

    def on_train_begin(self, args, state, control, **kwargs):
        raise NotImplementedError


def placeholder(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize(
    "exercise, stub", [("05_1", placeholder), ("05_2", Placeholder), ("05_3", placeholder), ("05_4", placeholder)]
)
def test_placeholders_get_a_hint_not_an_exception(exercise, stub, capsys):
    assert not getattr(check, f"exercise_{exercise}")(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_checkers_leave_an_earlier_trainer_working(capsys, tmp_path):
    """Creating TrainingArguments/Trainers resets accelerate's global state; the checkers must undo that."""
    model = tiny_model("bert", "classifier", num_labels=2)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, eval_dataset=[{"input_ids": [1, 2], "labels": 0}] * 4)
    assert check.exercise_05_4(optimizer_steps) and check.exercise_05_2(TimeLimitCallback)
    assert "eval_loss" in trainer.evaluate()
