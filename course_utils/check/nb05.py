"""Checkers for notebook 05 (fine-tuning a classifier with ``Trainer``)."""

from __future__ import annotations

import contextlib
import functools
import math
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..i18n import N_, _
from ._core import Wrong, answer, checker, encoder_tokenizer, expect, fail, model_dtype, tiny_model, tolerance

__all__ = ["exercise_05_1", "exercise_05_2", "exercise_05_3", "exercise_05_4"]


@contextlib.contextmanager
def _accelerate_state_kept() -> Iterator[None]:
    """Save and restore accelerate's process-wide state: building ``TrainingArguments`` or a ``Trainer``
    resets it, which breaks every ``Trainer`` the learner built before (its ``evaluate()`` raises)."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    saved = [(cls._shared_state, dict(cls._shared_state)) for cls in (PartialState, AcceleratorState, GradientState)]
    try:
        yield
    finally:
        for shared, content in saved:  # in place: the classes read these very dicts
            shared.clear()
            shared.update(content)


@contextlib.contextmanager
def _explained(advice: dict[str, str]) -> Iterator[None]:
    """Around :func:`answer`: when the learner's error hint contains a key of ``advice``, add its text."""
    try:
        yield
    except Wrong as wrong:
        fail(
            wrong.hint
            + next((_(". {advice}").format(advice=_(text)) for key, text in advice.items() if key in wrong.hint), "")
        )


@functools.lru_cache(maxsize=64)
def _training_args(**kwargs: Any) -> Any:
    """A CPU ``TrainingArguments`` (cached per keyword set) for driving callbacks and Trainer's arithmetic."""
    from transformers import TrainingArguments

    base = dict(report_to="none", use_cpu=True, disable_tqdm=True, log_level="error", save_strategy="no")
    return TrainingArguments(output_dir=tempfile.gettempdir() + "/course_check_05", **{**base, **kwargs})


# --- 05.1 compute_metrics ----------------------------------------------------------------------


def _metric_cases() -> Iterator[tuple[Any, Any, Any, str]]:
    """EvalPredictions as Trainer builds them (its own ``nested_numpify``): imbalanced labels, logits
    right about 60 % of the time with a clear maximum; several sizes and numbers of classes, the
    logits alone or first of a tuple, from a float32, bfloat16 (numpy gets float32) or float16 model."""
    import numpy as np
    import torch
    from transformers import EvalPrediction
    from transformers.trainer_pt_utils import nested_numpify

    rng = np.random.default_rng(501)
    for n, classes, extra, dtype in (
        (240, 6, False, "float32"),
        (97, 2, False, "bfloat16"),
        (150, 4, True, "float16"),
        (61, 5, True, "bfloat16"),
    ):
        labels = rng.choice(classes, size=n, p=0.7 ** np.arange(classes) / (0.7 ** np.arange(classes)).sum())
        logits = rng.normal(size=(n, classes))
        logits[np.arange(n), labels] += rng.choice([0.0, 2.5], size=n, p=[0.4, 0.6])
        logits[np.arange(n), logits.argmax(-1)] += 0.1  # no ties, even at bfloat16's precision
        out = torch.tensor(logits, dtype=getattr(torch, dtype))
        predictions = nested_numpify((out, torch.randn(n, 3, 2)) if extra else out)
        form = _("a tuple (logits, hidden states)") if extra else _("an array of logits")
        yield (
            EvalPrediction(predictions=predictions, label_ids=labels),
            labels,
            logits.argmax(-1),
            _("{n} examples, {classes} classes, predictions {form} from a {dtype} model").format(
                n=n, classes=classes, form=form, dtype=dtype
            ),
        )


@checker(
    "05.1",
    asks=N_("scikit-learn's own metrics"),
    off={
        "classification_metrics()": "course_utils.metrics.classification_metrics",
        N_("evaluate's compute()"): ("evaluate.EvaluationModule.compute", "course_utils.metrics.load"),
    },
)
def exercise_05_1(compute_metrics: Callable[..., Any]) -> None:
    """``compute_metrics(EvalPrediction)`` -> ``{"accuracy": ..., "f1": ...}`` (weighted F1), also when predictions is a tuple."""
    from sklearn.metrics import accuracy_score, f1_score

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)

    for pred, y, y_hat, on in _metric_cases():
        tuple_advice = (
            _(". pred.predictions is a tuple when the model returns more outputs: take element 0")
            if isinstance(pred.predictions, tuple)
            else ""
        )
        got = answer(compute_metrics, pred, fix=_(" (failed on {on})").format(on=on) + tuple_advice)
        expect(
            (
                not isinstance(got, dict) or not {"accuracy", "f1"} <= set(got),
                _("return a dict with the keys 'accuracy' and 'f1'; Trainer prefixes them with eval_ itself"),
            ),
            on=on,
        )
        try:
            acc, f1 = float(got["accuracy"]), float(got["f1"])
        except (TypeError, ValueError):
            fail(_("the values must be plain numbers (float(...) of the sklearn result)"), on)
        truth, weighted = accuracy_score(y, y_hat), f1_score(y, y_hat, average="weighted")
        if not (close(acc, truth) and close(f1, weighted)):
            expect(
                (acc > 1 and close(acc, 100 * truth), _("accuracy is a fraction in [0, 1], not a percentage")),
                (not close(acc, truth), _("accuracy: compare predictions.argmax(axis=-1) with label_ids")),
                (
                    lambda: close(f1, f1_score(y, y_hat, average="macro")),
                    _("that is macro F1 (every class counts the same): use average='weighted'"),
                ),
                (close(f1, acc), _("micro F1 equals accuracy for single-label data: use average='weighted'")),
                (
                    lambda: close(f1, f1_score(y_hat, y, average="weighted")),
                    _(
                        "arguments swapped: f1_score(y_true, y_pred), the true labels first (the weights are the true class frequencies)"
                    ),
                ),
                (True, _("f1: f1_score(label_ids, predicted, average='weighted')")),
                on=on,
            )


# --- 05.2 TimeLimitCallback ---------------------------------------------------------------------

_RUNS_05_2 = ((0.3, 0.35, (0.12, 0.14, 0.16, 0.32)), (0.6, 0.0, (0.34, 0.62)))
"""(max_seconds, pause between building the callback and on_train_begin, seconds after on_train_begin at
which each step ends): the last step must stop training and none before it. The first step comes late
(a clock started there, or reset every step, stays short); the two limits part fixed limits and step counts."""

_EVENT_ADVICE = {
    "unexpected keyword argument": N_(
        "Trainer calls every event as (args, state, control, **kwargs) with model=, optimizer=... as keywords: accept **kwargs"
    ),
    "has no attribute": N_(
        "Start the clock on self in on_train_begin (self.start = time.perf_counter()) and return control (or nothing) from your events"
    ),
}


def _event(handler: Any, event: str, state: Any, control: Any, on: str) -> Any:
    """One event through transformers' own CallbackHandler, as Trainer calls it; the control it returns."""
    from transformers import TrainerControl

    with _explained(_EVENT_ADVICE):
        control = answer(
            getattr(handler, event), _training_args(), state, control, fix=_(" (failed on {on})").format(on=on)
        )
    expect(
        (
            not isinstance(control, TrainerControl),
            _("return control (or nothing) from {event}, not another value").format(event=event),
        ),
        on=on,
    )
    return control


@checker("05.2", asks=N_("your own callback"))
@_accelerate_state_kept()
def exercise_05_2(callback_class: type) -> None:
    """``TimeLimitCallback(max_seconds)``: sets ``control.should_training_stop`` in ``on_step_end`` once the time is up."""
    from transformers import TrainerCallback, TrainerControl, TrainerState
    from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

    expect(
        (
            not (isinstance(callback_class, type) and issubclass(callback_class, TrainerCallback)),
            _(
                "pass your class (not an instance) and make it subclass TrainerCallback: the other events then default to doing nothing"
            ),
        ),
    )
    for limit, pause, ends in _RUNS_05_2:
        with _explained(_EVENT_ADVICE):
            callback = answer(callback_class, limit, fix=_(" (failed on max_seconds={limit})").format(limit=limit))
        handler = CallbackHandler([DefaultFlowCallback(), callback], None, None, None, None)
        state, control = TrainerState(max_steps=10_000), TrainerControl()
        time.sleep(pause)  # the Trainer is often built long before train() starts
        begin = time.perf_counter()  # the callback's clock starts after this, and before `start`
        control = _event(handler, "on_train_begin", state, control, f"max_seconds={limit}, on_train_begin")
        start = time.perf_counter()
        for step, end in enumerate(ends, 1):
            state.global_step, on = (
                step,
                _("max_seconds={limit}, step {step} ending {end:.2f} s after on_train_begin").format(
                    limit=limit, step=step, end=end
                ),
            )
            control = _event(handler, "on_step_begin", state, control, on)
            time.sleep(max(0.0, start + end - time.perf_counter()))
            control = _event(handler, "on_step_end", state, control, on)
            last = step == len(ends)
            expect(
                (
                    control.should_training_stop
                    and time.perf_counter() - begin < limit,  # under load a step may end late
                    _(
                        "it stopped too early: start the clock in on_train_begin (not in __init__), count seconds (not steps) and stop once time.perf_counter() - start >= self.max_seconds"
                    ),
                ),
                (
                    last and control.should_epoch_stop and not control.should_training_stop,
                    _("should_epoch_stop only ends the epoch; set control.should_training_stop = True"),
                ),
                (
                    last and not control.should_training_stop,
                    _(
                        "still running after max_seconds: in on_step_end, set control.should_training_stop = True once the seconds since on_train_begin (not since the first or the last step) reach max_seconds"
                    ),
                ),
                on=on,
            )
            if control.should_training_stop:
                break


# --- 05.3 per-example loss ----------------------------------------------------------------------

_TEXTS_05_3 = (
    (
        "the parcel finally arrived and i could not stop smiling",
        "i feel hollow",
        "why does everyone ignore my messages i am so angry right now",
        "i am nervous about tomorrow's interview",
        "what an unexpected gift",
        "i miss the way we used to talk on long evenings by the river",
        "so tired",
        "i adore my little sister",
        "a stranger paid for my coffee and i am still amazed by it",
    ),
    (
        "i am scared of the dark corridor",
        "my heart is full of love for this town and every single person who lives in it",
        "furious",
        "we won",
        "nothing about today went the way i had hoped and now i just feel empty",
    ),
)

_LOSS_ADVICE = {
    "KeyError": N_(
        "The dataset column is 'label' (Trainer's collator renames it to 'labels' only inside Trainer) and the input names are tokenizer.model_input_names"
    ),
    "expected sequence": N_(
        "Pad the rows first: tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors='pt')"
    ),
    "Unable to create tensor": N_(
        "Pad only the model's inputs ({k: batch[k] for k in tokenizer.model_input_names}): 'text' holds strings"
    ),
    "BFloat16": N_("NumPy has no bfloat16: .float() the logits (or the loss) before .cpu().numpy()"),
    "requires grad": N_("Run the model under torch.inference_mode() (or torch.no_grad())"),
}


@checker(
    "05.3",
    asks=N_("your own forward pass"),
    off={
        "pipeline()": ("transformers.Pipeline.__call__", "transformers.Pipeline.forward"),
        "Trainer.predict()": ("transformers.Trainer.predict", "transformers.Trainer.prediction_step"),
    },
)
def exercise_05_3(per_example_loss: Callable[..., Any]) -> None:
    """``per_example_loss(model, tokenizer, batch)`` -> ``{"loss", "predicted_label"}`` per row of an unpadded ``map`` batch."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    tokenizer, tol = encoder_tokenizer(), tolerance(model_dtype())
    for seed, texts in enumerate(_TEXTS_05_3, 503):
        labels = np.random.default_rng(seed).integers(0, 6, size=len(texts)).tolist()
        batch = {"text": list(texts), **tokenizer(list(texts), truncation=True, max_length=32), "label": labels}
        model = tiny_model(
            "bert",
            "classifier",
            seed=seed,
            vocab_size=len(tokenizer),
            num_labels=6,
            hidden_dropout_prob=0.3,
            attention_probs_dropout_prob=0.3,
            initializer_range=0.5,
        )
        inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
        with torch.inference_mode():
            logits = model(**inputs).logits.float()
            unmasked = model(**{k: v for k, v in inputs.items() if k != "attention_mask"}).logits.float()
        expected, no_mask = (
            F.cross_entropy(x, torch.tensor(labels), reduction="none").numpy() for x in (logits, unmasked)
        )
        runs = []
        model.register_forward_hook(lambda *args: runs.append(1))
        model.train()  # as a model is after training: dropout on
        on = _("a batch of {n} rows of {shortest} to {longest} tokens, a {dtype} model").format(
            n=len(texts),
            shortest=min(map(len, batch["input_ids"])),
            longest=inputs["input_ids"].shape[1],
            dtype=str(model.dtype).removeprefix("torch."),
        )
        with _explained(_LOSS_ADVICE):
            got = answer(
                per_example_loss,
                model,
                tokenizer,
                {k: list(v) for k, v in batch.items()},
                fix=_(" (failed on {on})").format(on=on),
            )
        expect(
            (
                not isinstance(got, dict) or not {"loss", "predicted_label"} <= set(got),
                _("return a dict with the keys 'loss' and 'predicted_label'"),
            ),
            on=on,
        )
        try:
            loss, predicted = np.asarray(got["loss"], dtype=np.float64), np.asarray(got["predicted_label"])
        except (RuntimeError, TypeError, ValueError) as exc:
            fail(
                _(
                    "return numpy arrays: .float().cpu().numpy() of tensors computed under torch.inference_mode() ({error}: {message})"
                ).format(error=type(exc).__name__, message=exc),
                on,
            )
        rows, best = np.arange(len(texts)), logits.max(-1).values.numpy()

        def close(a: Any) -> bool:
            return a.shape == loss.shape and np.allclose(loss, a, rtol=tol, atol=tol)

        expect(
            (not runs, _("your function never ran the model it was given: pad the batch and call model(**inputs)")),
            (
                loss.size == 1 and len(texts) > 1,
                _("one loss per row: F.cross_entropy(..., reduction='none'), not the mean"),
            ),
            (
                loss.shape != expected.shape,
                _("one loss per row: expected shape {expected}, got {got}").format(
                    expected=expected.shape, got=loss.shape
                ),
            ),
            (
                lambda: not close(expected) and any(m.training for m in model.modules()),
                _("call model.eval() first: in train mode dropout makes every loss random"),
            ),
            (
                lambda: not close(expected) and close(no_mask),
                _("pass the attention_mask too: without it the model attends to the padding"),
            ),
            (
                lambda: not close(expected),
                _("loss: F.cross_entropy(logits, torch.tensor(batch['label']), reduction='none') on the padded batch"),
            ),
            (
                lambda: (
                    predicted.shape != rows.shape
                    or not np.isin(predicted, np.arange(6)).all()
                    or (logits.numpy()[rows, predicted.astype(int)] < best - tol * np.abs(best)).any()
                ),
                _("predicted_label: logits.argmax(dim=-1), one class id per row"),
            ),
            on=on,
        )


# --- 05.4 optimizer steps -----------------------------------------------------------------------


def _trainer_steps(n: int, batch_size: int, epochs: int, grad_accum: int, drop_last: bool) -> int:
    """The number of optimizer steps Trainer itself plans for this run (its own dataloader and arithmetic;
    tests/test_check_05.py checks it against the steps real ``train()`` runs take)."""
    from transformers import Trainer

    args = _training_args(
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        num_train_epochs=epochs,
        dataloader_drop_last=drop_last,
    )
    trainer = Trainer(
        model=tiny_model("bert", "classifier"), args=args, train_dataset=[{"input_ids": [1, 2], "labels": 0}] * n
    )
    return int(trainer.set_initial_training_values(args, trainer.get_train_dataloader())[-1])


_CASES_05_4 = (
    (104, 8, 1, 4, True),
    (104, 8, 3, 4, False),
    (97, 8, 2, 4, False),
    (97, 8, 2, 4, True),
    (13, 4, 2, 5, False),
    (70, 3, 2, 6, True),
    (50, 7, 3, 1, False),
    (35, 5, 2, 7, True),
    (9, 10, 2, 1, False),
)
"""(n_examples, batch_size, epochs, grad_accum, drop_last). 104/8/4 with drop_last: 13 batches make 4 steps, not
104 // 32 = 3; the accumulation restarts every epoch (3 x 4 = 12, not ceil(39 / 4) = 10); a partial last batch
counts without drop_last only; fewer batches than grad_accum still make one step; batch larger than the data."""


@checker(
    "05.4",
    asks=N_("the arithmetic"),
    off={
        "Trainer": (
            "transformers.Trainer.__init__",
            "transformers.Trainer.set_initial_training_values",
            "transformers.Trainer.train",
        ),
        "len(DataLoader)": ("torch.utils.data.DataLoader.__len__", "torch.utils.data.BatchSampler.__len__"),
    },
)
@_accelerate_state_kept()
def exercise_05_4(optimizer_steps: Callable[..., Any]) -> None:
    """``optimizer_steps(n_examples, batch_size, epochs, grad_accum, drop_last=False)``: Trainer's number of optimizer steps."""
    import numpy as np

    rng = random.Random()  # fresh cases every call too: no table of answers passes
    fresh = [
        (rng.randint(b, 4000), b, rng.randint(1, 4), rng.randint(1, 9), rng.random() < 0.5)
        for b in (rng.randint(1, 64), rng.randint(1, 64))
    ]
    for n, b, e, g, d in (*_CASES_05_4, *fresh):
        case = f"n_examples={n}, batch_size={b}, epochs={e}, grad_accum={g}, drop_last={d}"
        got, expected = (
            answer(optimizer_steps, n, b, e, g, drop_last=d, fix=_(" (failed on {case})").format(case=case)),
            _trainer_steps(n, b, e, g, d),
        )
        batches, ceil, on = (
            n // b if d else -(-n // b),
            math.ceil,
            _("{case}: Trainer plans {expected}, you said {got!r}").format(case=case, expected=expected, got=got),
        )
        expect(
            (
                isinstance(got, bool) or not isinstance(got, (int, np.integer)),
                _("return a whole number of steps (an int)"),
            ),
            on=on,
        )
        if got != expected:
            expect(
                (
                    got == batches * e,
                    _("one optimizer step takes grad_accum batches: divide the batches by grad_accum"),
                ),
                (
                    d and got == ceil(n / b / g) * e,
                    _("drop_last=True drops the incomplete last batch: n_examples // batch_size batches per epoch"),
                ),
                (
                    not d and got == ceil(n // b / g) * e,
                    _("without drop_last the incomplete last batch counts too: ceil(n_examples / batch_size) batches"),
                ),
                (
                    got in (batches // g * e, n // (b * g) * e),
                    _(
                        "an incomplete last accumulation still makes a step: {batches} batches make ceil({batches} / {g}) steps per epoch"
                    ).format(batches=batches, g=g),
                ),
                (
                    got in (ceil(batches * e / g), batches * e // g),
                    _(
                        "the accumulation restarts every epoch: ceil(batches / grad_accum) steps per epoch, times epochs"
                    ),
                ),
                (got == ceil(batches / g), _("that is one epoch: multiply by the epochs")),
                (
                    True,
                    _(
                        "batches per epoch (ceil, or floor with drop_last), then ceil(batches / grad_accum), times epochs"
                    ),
                ),
                on=on,
            )
