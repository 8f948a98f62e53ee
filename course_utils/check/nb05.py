"""Checkers for notebook 05 (fine-tuning a classifier with ``Trainer``)."""

from __future__ import annotations

import contextlib
import functools
import math
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_learner, call_safely, encoder_tokenizer, verdict

__all__ = ["exercise_05_1", "exercise_05_2", "exercise_05_3", "exercise_05_4"]


@contextlib.contextmanager
def _accelerate_state_kept():
    """Save and restore accelerate's process-wide state around a checker.

    Creating a ``TrainingArguments`` or a ``Trainer`` resets that state, which breaks every
    ``Trainer`` the learner built before (its ``evaluate()`` raises ``AttributeError``).
    """
    from accelerate.state import AcceleratorState, GradientState, PartialState

    saved = [(cls._shared_state, dict(cls._shared_state)) for cls in (PartialState, AcceleratorState, GradientState)]
    try:
        yield
    finally:
        for shared, content in saved:  # in place: the classes read these very dicts
            shared.clear()
            shared.update(content)


@functools.cache
def _training_args(**kwargs: Any) -> Any:
    """A CPU ``TrainingArguments`` (cached per keyword set) for driving callbacks and Trainer arithmetic."""
    from transformers import TrainingArguments

    base = dict(
        output_dir=tempfile.gettempdir() + "/course_check_05",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        log_level="error",
        save_strategy="no",
    )
    return TrainingArguments(**{**base, **kwargs})


def _tiny_classifier(vocab_size: int, seed: int) -> Any:
    """A randomly initialised 2-layer BERT classifier (6 labels, dropout on): fast, and dropout makes train mode visible."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=6,  # type: ignore[call-arg]  # PreTrainedConfig takes num_labels through **kwargs
        hidden_dropout_prob=0.3,
        attention_probs_dropout_prob=0.3,
        initializer_range=0.5,
    )  # large weights: padding or dropout changes every logit visibly
    return BertForSequenceClassification(config)


# --- 05.1 compute_metrics ----------------------------------------------------------------------


def _metrics_case(seed: int, n: int, as_tuple: bool) -> tuple[Any, Any, Any]:
    """Fresh imbalanced labels and logits that are right about 60 % of the time, wrapped in an EvalPrediction."""
    import numpy as np
    from transformers import EvalPrediction

    rng = np.random.default_rng(seed)
    labels = rng.choice(6, size=n, p=[0.35, 0.3, 0.1, 0.12, 0.09, 0.04])
    logits = rng.normal(size=(n, 6))
    logits[np.arange(n), labels] += rng.choice([0.0, 2.5], size=n, p=[0.4, 0.6])
    predictions = (logits, rng.normal(size=(n, 4, 3))) if as_tuple else logits
    # transformers annotates predictions as a 1-tuple, tuple[np.ndarray]; Trainer passes tuples of any length
    prediction = EvalPrediction(predictions=predictions, label_ids=labels)  # type: ignore[arg-type]
    return prediction, logits.argmax(-1), labels


def exercise_05_1(compute_metrics: Callable[..., Any]) -> Verdict | bool:
    """``compute_metrics(EvalPrediction)`` -> ``{"accuracy": ..., "f1": ...}`` (weighted F1), also when predictions is a tuple."""
    from sklearn.metrics import accuracy_score, f1_score

    for seed, n, as_tuple in ((501, 240, False), (502, 97, False), (503, 150, True)):
        pred, y_hat, y = _metrics_case(seed, n, as_tuple)
        tuple_hint = "with output_hidden_states=True, pred.predictions is a tuple (logits first) and "
        ok, got = call_learner(
            "05.1",
            compute_metrics,
            (pred,),
            when=tuple_hint if as_tuple else "",
            fix=": take element 0 when it is one" if as_tuple else "",
        )
        if not ok:
            return ok
        if not isinstance(got, dict) or not {"accuracy", "f1"} <= set(got):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return verdict(
                "05.1",
                False,
                f"return a dict with the keys 'accuracy' and 'f1' (got {keys}); Trainer "
                "prefixes them with eval_ itself",
            )
        try:
            acc, f1 = float(got["accuracy"]), float(got["f1"])
        except (TypeError, ValueError):
            return verdict("05.1", False, "the values must be plain numbers (float(...) of the sklearn result)")
        true_acc = accuracy_score(y, y_hat)
        if not math.isclose(acc, true_acc, rel_tol=1e-6, abs_tol=1e-9):
            if math.isclose(acc, 100 * true_acc, rel_tol=1e-6):
                return verdict("05.1", False, "accuracy is a fraction in [0, 1], not a percentage")
            return verdict("05.1", False, "accuracy: compare predictions.argmax(axis=-1) with label_ids")
        true_f1 = f1_score(y, y_hat, average="weighted")
        if math.isclose(f1, true_f1, rel_tol=1e-6, abs_tol=1e-9):
            continue
        if math.isclose(f1, f1_score(y, y_hat, average="macro"), rel_tol=1e-6):
            return verdict("05.1", False, "that is macro F1 (every class counts the same): use average='weighted'")
        if math.isclose(f1, f1_score(y, y_hat, average="micro"), rel_tol=1e-6):
            return verdict("05.1", False, "micro F1 equals accuracy for single-label data: use average='weighted'")
        if math.isclose(f1, f1_score(y_hat, y, average="weighted"), rel_tol=1e-6):
            return verdict(
                "05.1",
                False,
                "arguments swapped: f1_score(y_true, y_pred), the true labels first "
                "(the weights are the true class frequencies)",
            )
        return verdict("05.1", False, "f1: f1_score(label_ids, predicted, average='weighted')")
    return verdict("05.1", True)


# --- 05.2 TimeLimitCallback ---------------------------------------------------------------------


def _drive(handler: Any, args: Any, state: Any, control: Any, event: str) -> Any:
    """Call one event through transformers' own CallbackHandler, as Trainer does."""
    return getattr(handler, event)(args, state, control)


def exercise_05_2(callback_class: type) -> Verdict | bool:
    """``TimeLimitCallback(max_seconds)``: sets ``control.should_training_stop`` in ``on_step_end`` once the time is up."""
    with _accelerate_state_kept():
        return _check_05_2(callback_class)


def _check_05_2(callback_class: type) -> Verdict | bool:
    from transformers import TrainerCallback, TrainerControl, TrainerState
    from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

    if not (isinstance(callback_class, type) and issubclass(callback_class, TrainerCallback)):
        return verdict(
            "05.2",
            False,
            "pass your class (not an instance) and make it subclass TrainerCallback: the "
            "other events then default to doing nothing",
        )
    limit, args = 0.3, _training_args()
    ok, callback = call_safely("05.2", callback_class, limit)
    if not ok:
        return False
    handler = CallbackHandler(
        [DefaultFlowCallback(), callback], model=None, processing_class=None, optimizer=None, lr_scheduler=None
    )
    time.sleep(limit + 0.05)  # the Trainer is often built long before train() starts
    state, control = TrainerState(max_steps=10_000), TrainerControl()
    try:
        control = _drive(handler, args, state, control, "on_train_begin")
        state.global_step = 1
        control = _drive(handler, args, state, control, "on_step_end")
        stopped_at_once = control.should_training_stop
        if not stopped_at_once:
            time.sleep(limit + 0.05)
            state.global_step = 2
            control = _drive(handler, args, state, control, "on_step_end")
    except NotImplementedError:
        return verdict("05.2", False, "not implemented yet: fill in the class and run the cell again")
    except TypeError as exc:
        return verdict(
            "05.2",
            False,
            f"Trainer calls every event as (args, state, control, **kwargs) with model=, "
            f"optimizer=... as keywords: accept **kwargs ({type(exc).__name__}: {exc})",
        )
    except AttributeError as exc:
        return verdict(
            "05.2",
            False,
            f"return control (or nothing) from your events; store the start time on self ({type(exc).__name__}: {exc})",
        )
    except Exception as exc:  # noqa: BLE001 - the learner's code failed
        return verdict("05.2", False, f"your callback raised {type(exc).__name__}: {exc}")
    if not isinstance(control, TrainerControl):
        return verdict("05.2", False, "return control (or nothing) from your events, not another value")
    if stopped_at_once:
        return verdict(
            "05.2",
            False,
            "it stopped at the first step: start the clock in on_train_begin (not in "
            "__init__) and stop only when time.perf_counter() - start >= max_seconds",
        )
    if control.should_training_stop:
        return verdict("05.2", True)
    if control.should_epoch_stop:
        return verdict("05.2", False, "should_epoch_stop only ends the epoch; set control.should_training_stop = True")
    return verdict(
        "05.2",
        False,
        f"still running {2 * limit + 0.1:.2f} s after on_train_begin with max_seconds="
        f"{limit}: in on_step_end, set control.should_training_stop = True once the time is up",
    )


# --- 05.3 per-example loss ----------------------------------------------------------------------

_TEXTS_05_3 = (
    "the parcel finally arrived and i could not stop smiling",
    "i feel hollow",
    "why does everyone ignore my messages i am so angry right now",
    "i am nervous about tomorrow's interview",
    "what an unexpected gift",
    "i miss the way we used to talk on long evenings by the river",
    "so tired",
    "i adore my little sister",
    "a stranger paid for my coffee and i am still amazed by it",
)


def exercise_05_3(per_example_loss: Callable[..., Any]) -> Verdict | bool:
    """``per_example_loss(model, tokenizer, batch)`` -> ``{"loss", "predicted_label"}`` per row of an unpadded ``map`` batch."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    tokenizer = encoder_tokenizer()
    rng = np.random.default_rng(503)
    enc = tokenizer(list(_TEXTS_05_3), truncation=True, max_length=32)
    batch = {
        "text": list(_TEXTS_05_3),
        **{k: list(v) for k, v in enc.items()},
        "label": [int(x) for x in rng.integers(0, 6, size=len(_TEXTS_05_3))],
    }
    model = _tiny_classifier(len(tokenizer), seed=503)
    names = [k for k in tokenizer.model_input_names if k in batch]
    padded = tokenizer.pad({k: batch[k] for k in names}, return_tensors="pt")
    labels = torch.tensor(batch["label"])
    model.eval()
    with torch.inference_mode():
        logits = model(**padded).logits
        no_mask = model(**{k: v for k, v in padded.items() if k != "attention_mask"}).logits
    expected = F.cross_entropy(logits, labels, reduction="none").numpy()
    expected_no_mask = F.cross_entropy(no_mask, labels, reduction="none").numpy()
    model.train()  # as a model is after training: dropout on
    try:
        got = per_example_loss(model, tokenizer, {k: list(v) for k, v in batch.items()})
    except NotImplementedError:
        return verdict("05.3", False, "not implemented yet: fill in the function and run the cell again")
    except KeyError as exc:
        return verdict(
            "05.3",
            False,
            f"KeyError {exc}: the dataset column is 'label' (Trainer's collator renames it "
            "to 'labels' only inside Trainer) and the input names are tokenizer.model_input_names",
        )
    except Exception as exc:  # noqa: BLE001 - the learner's code failed
        return verdict(
            "05.3",
            False,
            f"your function raised {type(exc).__name__}: {exc}. Pad the rows first: "
            "tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors='pt')",
        )
    if not isinstance(got, dict) or not {"loss", "predicted_label"} <= set(got):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        return verdict("05.3", False, f"return a dict with the keys 'loss' and 'predicted_label' (got {keys})")
    try:
        loss = np.asarray(got["loss"], dtype=np.float64)
        predicted = np.asarray(got["predicted_label"])
    except (RuntimeError, TypeError, ValueError) as exc:
        return verdict(
            "05.3",
            False,
            f"return numpy arrays computed under torch.inference_mode() and moved with "
            f".cpu().numpy() ({type(exc).__name__}: {exc})",
        )
    n = len(_TEXTS_05_3)
    if loss.shape != (n,):
        hint = " (a single number: use reduction='none')" if loss.size == 1 else ""
        return verdict("05.3", False, f"expected one loss per row, shape ({n},), got {loss.shape}{hint}")
    if np.allclose(loss, expected, atol=1e-5, rtol=1e-4):
        if predicted.shape != (n,) or not np.array_equal(predicted, logits.argmax(-1).numpy()):
            return verdict("05.3", False, "predicted_label: logits.argmax(dim=-1), one id per row")
        return verdict("05.3", True)
    if np.allclose(loss, expected_no_mask, atol=1e-5, rtol=1e-4):
        return verdict("05.3", False, "pass the attention_mask too: without it the model attends to the padding")
    if model.training:
        return verdict("05.3", False, "call model.eval() first: in train mode dropout makes every loss random")
    return verdict("05.3", False, "loss: F.cross_entropy(logits, labels, reduction='none') on the padded batch")


# --- 05.4 optimizer steps -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _arithmetic_model() -> Any:
    """A minute BERT classifier: Trainer needs a model, never runs it here."""
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(
        BertConfig(
            vocab_size=16,
            hidden_size=4,
            num_hidden_layers=1,
            num_attention_heads=1,
            intermediate_size=4,
            num_labels=2,  # type: ignore[call-arg]  # PreTrainedConfig takes num_labels through **kwargs
        )
    )


def _trainer_steps(n: int, batch_size: int, epochs: int, grad_accum: int, drop_last: bool) -> int:
    """The number of optimizer steps Trainer itself plans for this run (its own dataloader and arithmetic)."""
    from transformers import Trainer

    args = _training_args(
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        num_train_epochs=epochs,
        dataloader_drop_last=drop_last,
    )
    data = [{"input_ids": [1, 2], "labels": 0}] * n
    trainer = Trainer(model=_arithmetic_model(), args=args, train_dataset=data)
    return int(trainer.set_initial_training_values(args, trainer.get_train_dataloader())[-1])


def exercise_05_4(optimizer_steps: Callable[..., Any]) -> Verdict | bool:
    """``optimizer_steps(n_examples, batch_size, epochs, grad_accum, drop_last=False)``: Trainer's number of optimizer steps."""
    with _accelerate_state_kept():
        return _check_05_4(optimizer_steps)


def _check_05_4(optimizer_steps: Callable[..., Any]) -> Verdict | bool:
    import numpy as np

    rng = np.random.default_rng(504)
    cases = []
    for b, e, g, d in ((16, 2, 3, False), (8, 1, 4, True), (32, 3, 1, False), (12, 2, 5, True), (64, 1, 2, False)):
        k, extra, rest = int(rng.integers(5, 30)), int(rng.integers(1, g)) if g > 1 else 0, int(rng.integers(1, b))
        # a partial last batch always; without drop_last a partial last accumulation, with it a whole one
        cases.append((b * g * k + rest if d else b * (g * k + extra) + rest, b, e, g, d))
    for n, b, e, g, d in cases:
        ok, got = call_safely("05.4", optimizer_steps, n, b, e, g, drop_last=d)
        if not ok:
            return False
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            return verdict("05.4", False, f"return a whole number of steps (an int), got {got!r}")
        got = int(got)
        expected = _trainer_steps(n, b, e, g, d)
        if got == expected:
            continue
        batches = n // b if d else math.ceil(n / b)
        where = f"n_examples={n}, batch_size={b}, epochs={e}, grad_accum={g}, drop_last={d}"
        if got == batches * e:
            hint = "one optimizer step takes grad_accum batches: divide the batches by grad_accum"
        elif got == batches // g * e:
            hint = "an incomplete last accumulation still makes a step: round the division up (math.ceil)"
        elif d and got == math.ceil(math.ceil(n / b) / g) * e:
            hint = "drop_last=True drops the incomplete last batch: n_examples // batch_size batches per epoch"
        elif got == math.ceil(batches / g):
            hint = "that is one epoch: multiply by the epochs"
        else:
            hint = "batches per epoch (ceil, or floor with drop_last), then ceil(batches / grad_accum), times epochs"
        return verdict("05.4", False, f"{hint} (Trainer plans {expected} steps for {where}; you said {got})")
    return verdict("05.4", True)
