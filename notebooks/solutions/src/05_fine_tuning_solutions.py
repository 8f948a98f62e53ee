# Worked solutions of notebook 05's exercises (built with `make notebooks`).

# %% [markdown]
# # 05 · Solutions: fine-tuning a classifier on emotion
#
# Worked solutions to the exercises of [05 · Fine-tuning a classifier on emotion](../05_fine_tuning.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from transformers import EvalPrediction, TrainerCallback

# %% [markdown]
# **05.1** Take the logits (element 0 when `predictions` is a tuple), the most likely class per
# row, then scikit-learn with the true labels first: `f1_score(y_true, y_pred, average="weighted")`
# weights each class's F1 by its share of the true labels. (Macro F1 would count every class the
# same and show the rare ones, love and surprise, more harshly; accuracy alone hides them.)

# %% tags=["nbval-check-output", "same-online"]
def my_compute_metrics(pred: EvalPrediction) -> dict:
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    predicted = np.asarray(logits).argmax(axis=-1)
    return {"accuracy": float(accuracy_score(pred.label_ids, predicted)),
            "f1": float(f1_score(pred.label_ids, predicted, average="weighted"))}


example = EvalPrediction(predictions=np.array([[2.0, 0.1], [0.3, 1.0], [0.9, 0.2], [0.1, 0.4]]),
                         label_ids=np.array([0, 1, 1, 1]))
print({k: round(v, 4) for k, v in my_compute_metrics(example).items()})
assert cu.check.exercise_05_1(my_compute_metrics)

# %% [markdown]
# **05.2** Start the clock when training begins, not when the callback is built, and compare the
# elapsed time in `on_step_end`; `**kwargs` takes the model, optimizer and dataloaders that
# `Trainer` passes to every event. A time budget suits a shared machine or a deadline, but the
# number of steps then depends on the machine's speed and load: the same code trains a different
# amount, so results are no longer reproducible from the code alone (log `state.global_step`).

# %% tags=["nbval-check-output"]
class TimeLimitCallback(TrainerCallback):
    def __init__(self, max_seconds: float):
        self.max_seconds = max_seconds

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start >= self.max_seconds:
            control.should_training_stop = True
        return control


assert cu.check.exercise_05_2(TimeLimitCallback)

# %% [markdown]
# **05.3** The fixed `forward_pass_with_label` of section 5.2 with the model and tokenizer as
# arguments: eval mode (no dropout), pad the model's input columns only (the `text` column is a
# string), keep the attention mask, `reduction="none"` for one loss per row, and numpy arrays out
# (in float32: numpy has no bfloat16, the dtype a model loaded in bf16 on a GPU returns).
# The highest-loss texts are often confident mistakes on doubtful labels: relabel or drop them in
# the training set, or at least count them before blaming the model.

# %% tags=["nbval-check-output"]
def per_example_loss(model, tokenizer, batch: dict) -> dict:
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    inputs = {k: v.to(model.device) for k, v in inputs.items()}
    model.eval()
    with torch.inference_mode():
        logits = model(**inputs).logits
    loss = F.cross_entropy(logits.float(), torch.tensor(batch["label"], device=model.device), reduction="none")
    return {"loss": loss.cpu().numpy(), "predicted_label": logits.argmax(dim=-1).cpu().numpy()}


assert cu.check.exercise_05_3(per_example_loss)

# %% [markdown]
# **05.4** Batches per epoch (rounded up, or down with `drop_last`), then one optimizer step per
# `grad_accum` batches, the last incomplete group included (rounded up), times the epochs. The
# book's recipe plans 2 × 250 = 500 steps, and within the quick budget of 45 s it managed only
# 14 or 15 of them (section 4.1: each step pads 64 texts to the dataset's longest). On 5,000 texts
# batch 8 makes 625 steps in one epoch where batch 32 makes 157: on a small budget the number of
# updates matters more than their size, as long as each one is cheap.

# %% tags=["nbval-check-output", "same-online"]
def optimizer_steps(n_examples: int, batch_size: int, epochs: int, grad_accum: int, drop_last: bool = False) -> int:
    batches = n_examples // batch_size if drop_last else math.ceil(n_examples / batch_size)
    return math.ceil(batches / grad_accum) * epochs


print("this notebook's quick run:", optimizer_steps(5000, 8, 1, 1), "| the book's recipe:", optimizer_steps(16_000, 64, 2, 1),
      "| 5,000 texts, batch 8 vs 32:", optimizer_steps(5000, 8, 1, 1), optimizer_steps(5000, 32, 1, 1))
assert cu.check.exercise_05_4(optimizer_steps)
