# Worked solutions of notebook 08's exercises (built with `make notebooks`).

# %% [markdown]
# # 08 · Solutions: parameter-efficient fine-tuning with LoRA
#
# Worked solutions to the exercises of [08 · Parameter-efficient fine-tuning with LoRA](../08_peft_lora.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first: it also quiets the libraries imported below

import re
import shutil
import warnings
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification

# peft 0.21 calls a transformers method that transformers 5 renamed; the warning is not ours to fix.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
SCRATCH = Path("../_scratch/08_solutions")
shutil.rmtree(SCRATCH, ignore_errors=True)

# %% [markdown]
# **08.1** Walk over `named_modules()`, keep the `nn.Linear` layers whose name matches, and add
# `r · (in + out)` for each: `A` is `r × in_features`, `B` is `out_features × r`. The matching rule
# is PEFT's: `re.fullmatch` for a string, "equal or ends with `.entry`" for a list (so `"1"` matches
# a layer named `1`, not `11`). On section 2's MLP it agrees with PEFT:

# %% tags=["nbval-check-output", "same-online"]
def name_matches(name: str, target_modules) -> bool:
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return any(name == t or name.endswith("." + t) for t in target_modules)


def lora_trainable_params(model: nn.Module, r: int, target_modules) -> int:
    return sum(r * (m.in_features + m.out_features) for name, m in model.named_modules()
               if isinstance(m, nn.Linear) and name_matches(name, target_modules))


torch.manual_seed(0)
mlp = nn.Sequential(nn.Linear(20, 2000), nn.ReLU(), nn.Linear(2000, 2000), nn.ReLU(), nn.Linear(2000, 2))
by_hand = lora_trainable_params(mlp, 8, ["0", "2"])  # before PEFT replaces the layers in place
by_peft = get_peft_model(mlp, LoraConfig(r=8, target_modules=["0", "2"]))
print(f"by hand: {by_hand:,} | PEFT: {sum(p.numel() for p in by_peft.parameters() if p.requires_grad):,}")
assert cu.check.exercise_08_1(lora_trainable_params)

# %% [markdown]
# For the emotion classifier only the architecture matters, so a model built from the config (random
# weights, no download) gives the counts. The head (classifier and pooler) comes on top in section 4.

# %%
ckpt = cu.resolve_checkpoint(cu.ENCODER)
torch.manual_seed(0)
classifier = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(ckpt, num_labels=6))
targets = {"bert": ["query", "value"], "distilbert": ["q_lin", "v_lin"]}[classifier.config.model_type]

# %% tags=["nbval-check-output"]
for r in (1, 4, 8, 32):
    print(f"r={r:2d}: {lora_trainable_params(classifier, r, targets):>7,} LoRA parameters")

# %% [markdown]
# **08.2** The head trains in full (`modules_to_save`) and is counted once: every parameter outside
# the base model, and the pooler's, which is what `lora_classifier()` puts in `modules_to_save`. Add
# it to the 08.1 count. For the emotion classifier with `r=6` on four projections of width 384 per
# layer: `6 layers × 4 × 6 · (384 + 384) = 110,592`, plus the classifier's `384·6 + 6 = 2,310` and
# the pooler's `384·384 + 384 = 147,840`.

# %% tags=["nbval-check-output"]
def classifier_trainable_params(model: nn.Module, r: int, target_modules) -> int:
    prefix = model.base_model_prefix
    head = sum(p.numel() for name, p in model.named_parameters()
               if not name.startswith(prefix + ".") or ".pooler." in name)
    return lora_trainable_params(model, r, target_modules) + head


four = {"bert": ["query", "key", "value", "attention.output.dense"],
        "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin"]}[classifier.config.model_type]
prefix = classifier.base_model_prefix
head = sorted({name.split(".")[1] if name.startswith(prefix + ".") else name.split(".")[0]
               for name, _ in classifier.named_parameters() if not name.startswith(prefix + ".") or ".pooler." in name})
print("modules_to_save:", head, "| predicted:", f"{classifier_trainable_params(classifier, 6, four):,}")
config = LoraConfig(task_type="SEQ_CLS", r=6, lora_alpha=16, target_modules=four, modules_to_save=head)
get_peft_model(classifier, config).print_trainable_parameters()
assert cu.check.exercise_08_2(classifier_trainable_params)

# %% [markdown]
# **08.3** Build a new `nn.Linear` of the base layer's shape, device and dtype, and copy
# `W + scaling · B @ A` into it under `torch.no_grad()`; `layer.scaling["default"]` is `lora_alpha / r`. Writing into
# `layer.base_layer.weight` instead would change the PEFT layer too (and then it adds the update a
# second time). To see a difference, the layer below starts with a random, non-zero `B`
# (`init_lora_weights=False`) and `alpha / r = 4`:

# %% tags=["nbval-check-output", "same-online"]
def merge_lora(layer) -> nn.Linear:
    W, b = layer.base_layer.weight, layer.base_layer.bias
    A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    merged = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, device=W.device, dtype=W.dtype)
    with torch.no_grad():
        merged.weight.copy_(W + layer.scaling["default"] * B @ A)
        if b is not None:
            merged.bias.copy_(b)
    return merged


torch.manual_seed(0)
one = get_peft_model(nn.Sequential(nn.Linear(20, 30)),
                     LoraConfig(r=4, lora_alpha=16, target_modules=["0"], init_lora_weights=False))
layer = one.base_model.model[0]
x = torch.randn(8, 20)
with torch.no_grad():
    gap = (merge_lora(layer)(x) - layer(x)).abs().max().item()
    update = (layer(x) - layer.base_layer(x)).abs().max().item()
print("scaling:", layer.scaling["default"], "| merged == LoRA layer (atol 1e-5):", gap < 1e-5,
      "| the update matters:", update > 0.1)
assert cu.check.exercise_08_3(merge_lora)

# %% [markdown]
# **08.4** `PeftModel.from_pretrained` injects the first adapter into `base`; every `load_adapter`
# adds another set of LoRA matrices under its own name beside it, and `set_adapter` chooses which
# one the forward pass uses. The base weights exist once. Two adapters of a small model show it:

# %% tags=["nbval-check-output", "same-online"]
def adapter_outputs(base: nn.Module, adapters: dict[str, str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    names = list(adapters)
    model = PeftModel.from_pretrained(base, adapters[names[0]], adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(adapters[name], adapter_name=name)
    model.eval()
    outputs = {}
    with torch.no_grad():
        for name in names:
            model.set_adapter(name)
            outputs[name] = model(x)
    return outputs


def small_base() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


folders = {}
for i, name in enumerate(["pirate", "french"]):
    base = small_base()
    torch.manual_seed(10 + i)
    adapted = get_peft_model(base, LoraConfig(r=2, target_modules=["0", "2"], init_lora_weights=False))
    adapted.save_pretrained(SCRATCH / name)
    folders[name] = str(SCRATCH / name)
outs = adapter_outputs(small_base(), folders, torch.randn(3, 4))
print({name: tuple(out.shape) for name, out in outs.items()},
      "| the adapters give different outputs:", not torch.allclose(outs["pirate"], outs["french"]))
assert cu.check.exercise_08_4(adapter_outputs)
