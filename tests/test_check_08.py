"""Checkers of notebook 08 (LoRA): the adversarial table (FAKES, run by test_check_fakes.py), the worked
solutions accepted in float32 and bfloat16, and the hints of ordinary mistakes."""

from __future__ import annotations

import contextlib
import copy
import re

import pytest
import torch
from fakes import Fake, solution
from peft import LoraConfig, PeftModel, get_peft_model, inject_adapter_in_model
from peft.tuners.lora import LoraModel
from peft.tuners.lora.layer import Linear as LoraLinear
from peft.tuners.tuners_utils import check_target_module_exists
from peft.utils.other import ModulesToSaveWrapper
from torch import nn

from course_utils import check
from course_utils.check import _core
from course_utils.check._core import precision
from course_utils.scripts.train_emotion import head_module_names, is_head_parameter

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

lora_trainable_params, classifier_trainable_params, merge_lora, adapter_outputs = solution(
    "08", "lora_trainable_params", "classifier_trainable_params", "merge_lora", "adapter_outputs"
)


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def linears(model, targets, per_layer, hit):
    return sum(per_layer(m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and hit(name, targets))


def peft_rule(name, t):
    return re.fullmatch(t, name) if isinstance(t, str) else any(name == e or name.endswith("." + e) for e in t)


def counting(per_layer, hit=peft_rule, r_fixed=None):
    """A hand count with another per-layer size or another matching rule (an almost-right answer)."""
    return lambda model, r, t: linears(model, t, lambda m: per_layer(m, r_fixed or r), hit)


def own(m, r):
    return r * (m.in_features + m.out_features)


# --- 08.1: what a learner who wants ✅ without counting would pass ---
def via_get_peft_model(model, r, t):
    return trainable(get_peft_model(copy.deepcopy(model), LoraConfig(r=r, target_modules=t)))


def via_nb_trainable(model, r, t):
    return get_peft_model(model, LoraConfig(r=r, target_modules=t)).get_nb_trainable_parameters()[0]


def via_inject(model, r, t):
    injected = inject_adapter_in_model(LoraConfig(r=r, target_modules=t), copy.deepcopy(model))
    return sum(p.numel() for n, p in injected.named_parameters() if "lora_" in n)


def via_peft_matching(model, r, t):  # own count, PEFT's matcher
    config = LoraConfig(r=r, target_modules=t)
    return linears(model, t, lambda m: own(m, r), lambda name, _: check_target_module_exists(config, name))


def via_lora_model_class(model, r, t):  # the class under get_peft_model
    return trainable(LoraModel(copy.deepcopy(model), LoraConfig(r=r, target_modules=t), "default"))


def via_peft_model_class(model, r, t):
    return trainable(PeftModel(copy.deepcopy(model), LoraConfig(r=r, target_modules=t)))


def peft_or_guess(model, r, t):
    try:
        return via_get_peft_model(model, r, t)
    except BaseException:  # the switch-off swallowed
        return 74_498


def string_as_one_name(model, r, t):
    return lora_trainable_params(model, r, [t] if isinstance(t, str) else t)


# --- 08.2 ---
def head_count(model, head_of=is_head_parameter):
    return sum(p.numel() for n, p in model.named_parameters() if head_of(n, model.base_model_prefix))


def classifier_via_peft(model, r, t):
    config = LoraConfig(task_type="SEQ_CLS", r=r, target_modules=t, modules_to_save=head_module_names(model))
    return get_peft_model(model, config).get_nb_trainable_parameters()[0]


def classifier_via_wrapper(model, r, t):  # own LoRA count, PEFT's wrapper for the head
    wrapped = [
        ModulesToSaveWrapper(getattr(model, n, None) or model.base_model.pooler, "default")
        for n in head_module_names(model)
    ]
    return lora_trainable_params(model, r, t) + sum(trainable(w) for w in wrapped)


def classifier_via_lora_model(model, r, t):
    config = LoraConfig(task_type="SEQ_CLS", r=r, target_modules=t, modules_to_save=head_module_names(model))
    return trainable(LoraModel(model, config, "default"))


def classifier_peft_or_guess(model, r, t):
    try:
        return classifier_via_peft(model, r, t)
    except BaseException:
        return lora_trainable_params(model, r, t)


def first_answer(fn):
    """A constant: ``fn``'s answer to the first input it sees, returned for every later input."""
    first = []

    def constant(*args):
        if not first:
            first.append(fn(*args))
        return first[0]

    return constant


# --- 08.3 ---
def w_b_a(layer):
    return (
        layer.base_layer.weight,
        layer.base_layer.bias,
        layer.lora_A["default"].weight,
        layer.lora_B["default"].weight,
    )


def linear_with(layer, weight, bias=True):
    W, b = layer.base_layer.weight, layer.base_layer.bias
    merged = nn.Linear(W.shape[1], W.shape[0], bias=bias and b is not None)
    with torch.no_grad():
        merged.weight.copy_(weight)
        if merged.bias is not None:
            merged.bias.copy_(b)
    return merged


def scaled(k):
    """W + k(layer) · B A: the merge with another scale."""

    def merge(layer):
        W, _, A, B = w_b_a(layer)
        return linear_with(layer, W + k(layer) * B @ A)

    return merge


def via_merge(layer):
    layer.merge()
    return layer.base_layer


def via_merge_on_copy(layer):
    twin = copy.deepcopy(layer)
    twin.merge()
    return twin.base_layer


def via_delta_weight(layer):
    return linear_with(layer, layer.base_layer.weight + layer.get_delta_weight("default"))


def via_forward_probe(layer):  # reads the merged weight off the LoRA layer's outputs
    W, b, _, _ = w_b_a(layer)
    eye = torch.eye(W.shape[1], dtype=W.dtype)
    return linear_with(layer, (layer(eye) - (0 if b is None else b)).T)


def via_class_merge(layer):
    twin = copy.deepcopy(layer)
    LoraLinear.merge(twin)
    return twin.base_layer


def via_class_delta(layer):
    return linear_with(layer, layer.base_layer.weight + type(layer).get_delta_weight(layer, "default"))


def merge_or_base(layer):
    try:
        return via_merge_on_copy(layer)
    except BaseException:
        return copy.deepcopy(layer.base_layer)


def bias_not_copied(layer):
    merged = merge_lora(layer)
    if merged.bias is not None:
        torch.manual_seed(1)
        merged.reset_parameters()
        merged.weight.data.copy_(merge_lora(layer).weight)
    return merged


def bias_zeroed(layer):
    merged = merge_lora(layer)
    if merged.bias is not None:
        with torch.no_grad():
            merged.bias.zero_()
    return merged


def in_place(layer):  # writes the update into the PEFT layer's own base weight
    with torch.no_grad():
        layer.base_layer.weight += (
            layer.scaling["default"] * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
        )
    return layer.base_layer


def fixed_linear(layer):
    torch.manual_seed(123)
    return nn.Linear(12, 7)


def transposed(layer):
    W, _, A, B = w_b_a(layer)
    merged = nn.Linear(W.shape[0], W.shape[1], bias=False)
    with torch.no_grad():
        merged.weight.copy_((W + layer.scaling["default"] * B @ A).T)
    return merged


# --- 08.4 ---
def load_all(base, adapters):
    names = list(adapters)
    model = PeftModel.from_pretrained(base, adapters[names[0]], adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(adapters[name], adapter_name=name)
    return model.eval(), names


def never_switched(base, adapters, x):
    model, names = load_all(base, adapters)
    with torch.no_grad():
        return {name: model(x) for name in names}


def disabled(base, adapters, x):
    model, names = load_all(base, adapters)
    with torch.no_grad(), model.disable_adapter():
        return {name: model(x) for name in names}


def switched_late(base, adapters, x):  # set_adapter after the forward: each output is the previous adapter's
    model, names = load_all(base, adapters)
    out = {}
    with torch.no_grad():
        for name in names:
            out[name] = model(x)
            model.set_adapter(name)
    return out


def copies_of_base(base, adapters, x):  # right outputs, the base model loaded once per adapter
    with torch.no_grad():
        return {n: PeftModel.from_pretrained(copy.deepcopy(base), p).eval()(x) for n, p in adapters.items()}


def own_input(base, adapters, x):
    torch.manual_seed(0)
    return adapter_outputs(base, adapters, torch.randn(5, 10, dtype=x.dtype))


def fixed_names(base, adapters, x):
    out = adapter_outputs(base, adapters, x)
    return dict(zip(["pirate", "french", "formal"], out.values()))


def first_path_only(base, adapters, x):
    first = next(iter(adapters.values()))
    return adapter_outputs(base, dict.fromkeys(adapters, first), x)


FAKES: dict[str, dict[str, list[Fake] | str]] = {
    "08.1": {
        "library": [
            Fake("get_peft_model on a copy, then count", (via_get_peft_model,), "`get_peft_model()` is switched off"),
            Fake("get_nb_trainable_parameters", (via_nb_trainable,), "is switched off"),
            Fake("inject_adapter_in_model", (via_inject,), "is switched off"),
            Fake(
                "own count, PEFT's check_target_module_exists",
                (via_peft_matching,),
                "`check_target_module_exists()` is switched off",
            ),
        ],
        "constant": [
            Fake("74,498 (the emotion classifier, r=8 on query and value)", (lambda m, r, t: 74_498,), "wrong count"),
            Fake("the first model's count", (first_answer(lora_trainable_params),), "wrong count"),
        ],
        "ignores": [
            Fake("r fixed at 8", (counting(own, r_fixed=8),), "wrong count"),
            Fake(
                "every nn.Linear, whatever target_modules says",
                (counting(own, hit=lambda name, t: True),),
                "wrong count",
            ),
            Fake("a string target taken as one module name", (string_as_one_name,), "it is a regular expression"),
        ],
        "guard": [
            Fake("LoraModel, the class under get_peft_model", (via_lora_model_class,), "is switched off"),
            Fake("PeftModel's constructor", (via_peft_model_class,), "is switched off"),
            Fake("get_peft_model, the switch-off swallowed", (peft_or_guess,), "`get_peft_model()` is switched off"),
        ],
        "other": [
            Fake(
                "the full d_out × d_in matrix",
                (counting(lambda m, r: m.in_features * m.out_features),),
                "not train the d_out × d_in matrix",
            ),
            Fake(
                "square layers assumed (2·r·d_in)",
                (counting(lambda m, r: 2 * r * m.in_features),),
                "with their own sizes",
            ),
            Fake("the bias counted too", (counting(lambda m, r: own(m, r) + m.out_features),), "LoRA adds no bias"),
            Fake(
                "substring match",
                (counting(own, hit=lambda n, t: re.fullmatch(t, n) if isinstance(t, str) else any(e in n for e in t)),),
                "merely contains",
            ),
            Fake(
                "re.search for a string",
                (counting(own, hit=lambda n, t: re.search(t, n) if isinstance(t, str) else peft_rule(n, t)),),
                "re.fullmatch, not re.search",
            ),
            Fake(
                "a string iterated as a list",
                (counting(own, hit=lambda n, t: any(n == e or n.endswith("." + e) for e in t)),),
                "not a list of names",
            ),
        ],
    },
    "08.2": {
        "library": [
            Fake(
                "get_peft_model with the head, get_nb_trainable_parameters",
                (classifier_via_peft,),
                "`get_peft_model()` is switched off",
            ),
            Fake(
                "own LoRA count, PEFT's ModulesToSaveWrapper for the head",
                (classifier_via_wrapper,),
                "`ModulesToSaveWrapper` is switched off",
            ),
        ],
        "constant": [
            Fake(
                "260,742 (the offline emotion classifier, r=6, four projections)",
                (lambda m, r, t: 260_742,),
                "not the count PEFT reports",
            ),
            Fake(
                "the first classifier's count",
                (first_answer(classifier_trainable_params),),
                "not the count PEFT reports",
            ),
        ],
        "ignores": [
            Fake("r fixed at 6", (lambda m, r, t: classifier_trainable_params(m, 6, t),), "not the count PEFT reports"),
            Fake(
                "target_modules fixed at BERT's four projections",
                (
                    lambda m, r, t: classifier_trainable_params(
                        m, r, ["query", "key", "value", "attention.output.dense"]
                    ),
                ),
                "not the count PEFT reports",
            ),
            Fake(
                "the model's head ignored (the stand-in's 150,150 added)",
                (lambda m, r, t: lora_trainable_params(m, r, t) + 150_150,),
                "not the count PEFT reports",
            ),
        ],
        "guard": [
            Fake("LoraModel, the class under get_peft_model", (classifier_via_lora_model,), "is switched off"),
            Fake(
                "get_peft_model, the switch-off swallowed",
                (classifier_peft_or_guess,),
                "`get_peft_model()` is switched off",
            ),
        ],
        "other": [
            Fake("LoRA alone, no head", (lora_trainable_params,), "head (modules_to_save) trains in full"),
            Fake(
                "the head without the pooler",
                (
                    lambda m, r, t: (
                        lora_trainable_params(m, r, t) + head_count(m, lambda n, p: not n.startswith(p + "."))
                    ),
                ),
                "part of the head is missing",
            ),
            Fake(
                "only the layer named classifier",
                (
                    lambda m, r, t: (
                        lora_trainable_params(m, r, t) + head_count(m, lambda n, p: n.startswith("classifier."))
                    ),
                ),
                "part of the head is missing",
            ),
            Fake(
                "the head counted twice (old PEFT)",
                (lambda m, r, t: lora_trainable_params(m, r, t) + 2 * head_count(m),),
                "frozen original",
            ),
        ],
    },
    "08.3": {
        "library": [
            Fake("layer.merge()", (via_merge,), "`merge()` is switched off"),
            Fake("merge() on a copy", (via_merge_on_copy,), "`merge()` is switched off"),
            Fake("W + get_delta_weight()", (via_delta_weight,), "`get_delta_weight()` is switched off"),
            Fake(
                "the weight read off the layer's outputs on torch.eye",
                (via_forward_probe,),
                "`the LoRA layer's forward` is switched off",
            ),
        ],
        "constant": [
            Fake("a fixed nn.Linear(12, 7)", (fixed_linear,), "W + (alpha/r)"),
            Fake("a copy of the base layer", (lambda layer: copy.deepcopy(layer.base_layer),), "the base layer alone"),
        ],
        "ignores": [
            Fake("lora_alpha ignored (1/r)", (scaled(lambda layer: 1 / layer.r["default"]),), "wrong scale"),
            Fake("r ignored (alpha / 8)", (scaled(lambda layer: layer.lora_alpha["default"] / 8),), "W + (alpha/r)"),
            Fake(
                "the bias dropped",
                (lambda layer: linear_with(layer, merge_lora(layer).weight, bias=False),),
                "keep the base layer's bias",
            ),
            Fake("the bias left at its random init", (bias_not_copied,), "copy the base layer's bias"),
        ],
        "guard": [
            Fake("the class-level Linear.merge on a copy", (via_class_merge,), "`merge()` is switched off"),
            Fake(
                "type(layer).get_delta_weight(layer, ...)", (via_class_delta,), "`get_delta_weight()` is switched off"
            ),
            Fake("merge(), the switch-off swallowed", (merge_or_base,), "`merge()` is switched off"),
            Fake("the update written into the layer's own base weight", (in_place,), "changed the PEFT layer"),
        ],
        "other": [
            Fake("the update unscaled", (scaled(lambda layer: 1.0),), "scale the update by lora_alpha / r"),
            Fake(
                "scaled by r / alpha",
                (scaled(lambda layer: layer.r["default"] / layer.lora_alpha["default"]),),
                "wrong scale",
            ),
            Fake(
                "the LoRA layer itself",
                (lambda layer: layer,),
                "return a plain torch.nn.Linear, got peft.tuners.lora.layer.Linear",
            ),
            Fake("the transposed weight", (transposed,), "the base weight's shape"),
            Fake("the bias zeroed", (bias_zeroed,), "copy the base layer's bias"),
        ],
    },
    "08.4": {
        "library": "n/a: the exercise asks for PEFT's own multi-adapter API (from_pretrained, load_adapter, set_adapter); nothing is re-implemented",
        "constant": [
            Fake(
                "zeros under the first case's names",
                (lambda base, adapters, x: {n: torch.zeros(5, 3) for n in ("pirate", "french", "formal")},),
                "wrong output for",
            ),
            Fake(
                "the first case's outputs",
                (first_answer(adapter_outputs),),
                "return a dict with one output per adapter name",
            ),
        ],
        "ignores": [
            Fake("x ignored (a fresh input of the first case's shape)", (own_input,), "wrong output for"),
            Fake("the adapter names ignored", (fixed_names,), "return a dict with one output per adapter name"),
            Fake("the first adapter's folder for every name", (first_path_only,), "every output is one adapter's"),
        ],
        "guard": [
            Fake("each adapter on its own copy of base", (copies_of_base,), "ONE PeftModel"),
        ],
        "other": [
            Fake("set_adapter never called", (never_switched,), "call model.set_adapter(name) before each forward"),
            Fake("inside disable_adapter()", (disabled,), "the base model's outputs"),
            Fake("set_adapter after the forward", (switched_late,), "wrong output for"),
            Fake("a list, not a dict", (lambda base, adapters, x: [base(x)],), "return a dict"),
        ],
    },
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_worked_solutions_pass(dtype, capsys):
    with precision(dtype):
        assert check.exercise_08_1(lora_trainable_params)
        assert check.exercise_08_2(classifier_trainable_params)
        assert check.exercise_08_3(merge_lora)
        assert check.exercise_08_4(adapter_outputs)
    assert capsys.readouterr().out.count("✅") == 4


def test_library_fakes_are_right_once_nothing_is_switched_off(monkeypatch, capsys):
    """The switch-off, not an accident, rejects them: with nothing switched off they pass."""
    monkeypatch.setattr(_core, "switched_off", lambda off: contextlib.nullcontext([]))
    for exercise, fakes in [
        (check.exercise_08_1, [via_get_peft_model, via_inject, via_peft_matching, via_lora_model_class]),
        (check.exercise_08_2, [classifier_via_peft, classifier_via_wrapper]),
        (check.exercise_08_3, [via_merge_on_copy, via_delta_weight, via_forward_probe, via_class_delta]),
    ]:
        for fake in fakes:
            assert exercise(fake), (exercise.__name__, fake.__name__, capsys.readouterr().out)


def test_other_right_answers_pass(capsys):
    def numpy_count(model, r, targets):  # an int of another type
        import numpy as np

        return np.int64(lora_trainable_params(model, r, targets))

    def merged_in_float64(layer):
        W, b, A, B = w_b_a(layer)
        merged = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=torch.float64)
        with torch.no_grad():
            merged.weight.copy_(W.double() + layer.scaling["default"] * B.double() @ A.double())
            if b is not None:
                merged.bias.copy_(b)
        return merged

    def mixed_batch(base, adapters, x):  # one PeftModel, every adapter in one forward (adapter_names)
        model, names = load_all(base, adapters)
        with torch.no_grad():
            out = model(x.repeat(len(names), 1), adapter_names=[n for n in names for _ in range(len(x))])
        return dict(zip(names, out.split(len(x))))

    assert check.exercise_08_1(numpy_count)
    assert check.exercise_08_3(merged_in_float64)
    assert check.exercise_08_4(mixed_batch)
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize(
    "exercise, answer, hint",
    [
        ("08_1", lambda m, r, t: "74,498", "return the count as an int, got str"),
        ("08_2", lambda m, r, t: 1.5, "return the count as an int, got float"),
        ("08_3", lambda layer: (_ for _ in ()).throw(NotImplementedError), "not implemented yet"),
        (
            "08_4",
            lambda base, adapters, x: {n: base(x)[:, :1] for n in adapters},
            "expected an output tensor (5, 3) per adapter",
        ),
    ],
)
def test_hints_of_ordinary_mistakes(exercise, answer, hint, capsys):
    assert not getattr(check, f"exercise_{exercise}")(answer)
    assert hint in capsys.readouterr().out
