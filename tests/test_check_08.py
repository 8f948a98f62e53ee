"""Checkers of notebook 08 (LoRA): each accepts the worked solution and rejects typical wrong answers."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from peft import PeftModel
from torch import nn

from course_utils import check

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _matches(name, targets):
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def lora_trainable_params(model, r, target_modules):
    return sum(
        r * (m.in_features + m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and _matches(name, target_modules)
    )


def test_08_1(capsys):
    assert check.exercise_08_1(lora_trainable_params)
    assert capsys.readouterr().out.startswith("✅ exercise 08.1")

    def full_matrix(model, r, target_modules):
        return sum(
            m.in_features * m.out_features
            for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and _matches(name, target_modules)
        )

    def substring(model, r, target_modules):
        def hit(name):
            if isinstance(target_modules, str):
                return re.fullmatch(target_modules, name) is not None
            return any(t in name for t in target_modules)

        return sum(
            r * (m.in_features + m.out_features)
            for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and hit(name)
        )

    def string_as_list(model, r, target_modules):  # iterates over a regex's characters
        return sum(
            r * (m.in_features + m.out_features)
            for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and any(name == t or name.endswith("." + t) for t in target_modules)
        )

    def regex_search(model, r, target_modules):
        def hit(name):
            if isinstance(target_modules, str):
                return re.search(target_modules, name) is not None
            return _matches(name, target_modules)

        return sum(
            r * (m.in_features + m.out_features)
            for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and hit(name)
        )

    def square_assumption(model, r, target_modules):  # d_in == d_out == hidden size: wrong for 'dense'
        return sum(
            2 * r * m.in_features
            for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and _matches(name, target_modules)
        )

    for wrong, hint in [
        (full_matrix, "not train the d_out × d_in matrix"),
        (substring, "not any name that merely contains"),
        (regex_search, "re.fullmatch, not re.search"),
        (string_as_list, "not a list of names"),
        (square_assumption, "with their own sizes"),
    ]:
        assert not check.exercise_08_1(wrong)
        assert hint in capsys.readouterr().out, wrong.__name__
    assert not check.exercise_08_1(lambda model, r, target_modules: "74,498")
    assert "as an int" in capsys.readouterr().out


def test_08_1_does_not_touch_the_notebook_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.exercise_08_1(lora_trainable_params)
    assert torch.equal(torch.rand(3), expected)


def test_08_2(capsys):
    # The offline stand-in: 6 BERT layers of width 384; the head is `classifier` (384 -> 6) and the
    # pooler (384 -> 384), both in modules_to_save.
    lora = 6 * 4 * 6 * (384 + 384)
    pooler = 384 * 384 + 384
    head = 384 * 6 + 6 + pooler
    assert check.exercise_08_2(lora + head)
    assert capsys.readouterr().out.startswith("✅ exercise 08.2")
    for wrong, hint in [
        (lora, "head (modules_to_save) trains in full"),
        (lora + head - pooler, "the pooler is effectively new"),
        (lora + 2 * head, "frozen original"),
        (6 * 4 * 8 * 768 + head, "r=6, not the chapter's r=8"),
        (6 * 2 * 6 * 768 + head, "query and value only"),
        (4 * 6 * 768 + head, "every one of the 6 layers"),
        (lora + head + 1, "not the count PEFT reports"),
        ("112,902", "as an int"),
    ]:
        assert not check.exercise_08_2(wrong)
        assert hint in capsys.readouterr().out, wrong


def merge_lora(layer):
    W, b = layer.base_layer.weight, layer.base_layer.bias
    A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    merged = nn.Linear(W.shape[1], W.shape[0], bias=b is not None)
    with torch.no_grad():
        merged.weight.copy_(W + layer.scaling["default"] * B @ A)
        if b is not None:
            merged.bias.copy_(b)
    return merged


def test_08_3(capsys):
    assert check.exercise_08_3(merge_lora)
    assert capsys.readouterr().out.startswith("✅ exercise 08.3")

    def unscaled(layer):
        merged = merge_lora(layer)
        with torch.no_grad():
            merged.weight.sub_(
                (layer.scaling["default"] - 1) * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
            )
        return merged

    def in_place(layer):  # writes the update into the PEFT layer's own base weight
        with torch.no_grad():
            layer.base_layer.weight += (
                layer.scaling["default"] * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
            )
        return layer.base_layer

    def no_bias(layer):
        merged = merge_lora(layer)
        if merged.bias is not None:
            with torch.no_grad():
                merged.bias.zero_()
        return merged

    for wrong, hint in [
        (unscaled, "scale the update by lora_alpha / r"),
        (in_place, "changed the PEFT layer"),
        (lambda layer: copy.deepcopy(layer.base_layer), "the base layer alone"),
        (no_bias, "copy the base layer's bias"),
        (lambda layer: layer, "return a plain torch.nn.Linear"),
    ]:
        assert not check.exercise_08_3(wrong)
        assert hint in capsys.readouterr().out


def adapter_outputs(base, adapters, x):
    names = list(adapters)
    model = PeftModel.from_pretrained(base, adapters[names[0]], adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(adapters[name], adapter_name=name)
    model.eval()
    out = {}
    with torch.no_grad():
        for name in names:
            model.set_adapter(name)
            out[name] = model(x)
    return out


def test_08_4(capsys):
    assert check.exercise_08_4(adapter_outputs)
    assert capsys.readouterr().out.startswith("✅ exercise 08.4")

    def never_switched(base, adapters, x):
        names = list(adapters)
        model = PeftModel.from_pretrained(base, adapters[names[0]], adapter_name=names[0])
        for name in names[1:]:
            model.load_adapter(adapters[name], adapter_name=name)
        with torch.no_grad():
            return {name: model(x) for name in names}

    def disabled(base, adapters, x):
        model = PeftModel.from_pretrained(base, next(iter(adapters.values())))
        with torch.no_grad(), model.disable_adapter():
            return {name: model(x) for name in adapters}

    for wrong, hint in [
        (never_switched, "call model.set_adapter(name)"),
        (disabled, "the base model's outputs"),
        (lambda base, adapters, x: [base(x)], "return a dict"),
    ]:
        assert not check.exercise_08_4(wrong)
        assert hint in capsys.readouterr().out
