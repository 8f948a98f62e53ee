"""Checkers for notebook 08 (parameter-efficient fine-tuning with LoRA).

What an exercise asks for by hand is switched off while the learner's code runs: PEFT's injection,
matching and counting in 08.1 and 08.2, its merge (and the LoRA layer's forward) in 08.3.
"""

from __future__ import annotations

import copy
import numbers
import re
import tempfile
import warnings
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, close, expect, model_dtype, tensor_mismatch, tiny_model

__all__ = ["exercise_08_1", "exercise_08_2", "exercise_08_3", "exercise_08_4"]

#: What 08.1 and 08.2 count by hand: PEFT's LoRA injection, its name matching, its head wrapper, its count.
COUNTING = {
    "get_peft_model()": "peft.get_peft_model",
    "LoraLayer.update_layer()": "peft.tuners.lora.LoraLayer.update_layer",
    "check_target_module_exists()": "peft.tuners.tuners_utils.check_target_module_exists",
    "ModulesToSaveWrapper": "peft.utils.other.ModulesToSaveWrapper.__init__",
    "print_trainable_parameters()": (
        "peft.PeftModel.print_trainable_parameters",
        "peft.PeftModel.get_nb_trainable_parameters",
    ),
}
#: What 08.3 merges by hand: PEFT's merge, its delta weight, and the LoRA layer's forward (probing it
#: with an identity matrix reads the merged weight off without the formula).
MERGING = {
    "merge()": ("peft.tuners.lora.layer.Linear.merge", "peft.tuners.tuners_utils.BaseTuner.merge_and_unload"),
    "get_delta_weight()": "peft.tuners.lora.layer.Linear.get_delta_weight",
    N_("the LoRA layer's forward"): "peft.tuners.lora.layer.Linear.forward",
}
#: Tiny models whose layers are not square and whose sizes share no factor with the ranks tried.
SHAPES = {
    "bert": dict(hidden_size=30, intermediate_size=50),
    "distilbert": dict(dim=30, hidden_dim=50),
    "llama": dict(hidden_size=36, num_attention_heads=2, num_key_value_heads=1, head_dim=18, intermediate_size=50),
}
#: How a target selects a module name: PEFT's rule, and the loose rules of two common mistakes.
RULES = {
    "peft": lambda name, t: (
        re.fullmatch(t, name) if isinstance(t, str) else any(name == e or name.endswith("." + e) for e in t)
    ),
    "search": lambda name, t: re.search(t, name) if isinstance(t, str) else any(e in name for e in t),
    "endswith": lambda name, t: not isinstance(t, str) and any(name.endswith(e) for e in t),
}


def _model(arch: str, head: str = "base", **config: Any) -> Any:
    return tiny_model(arch, head, **SHAPES[arch], **config)


def _ladder() -> Any:
    """13 linear layers named '0' ... '12' of varying widths: names where substrings mislead."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    widths = [6, 9, 4, 11, 5, 8, 7, 10, 3, 12, 6, 5, 9, 4]
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(widths, widths[1:])]).to(model_dtype())


def _peft_count(model: Any, **config: Any) -> int:
    """Trainable parameters of ``get_peft_model(deepcopy(model), LoraConfig(**config))``: the reference."""
    from peft import LoraConfig, get_peft_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft 0.21 under transformers 5: not the learner's doing
        wrapped = get_peft_model(copy.deepcopy(model), LoraConfig(**config))
    return sum(p.numel() for p in wrapped.parameters() if p.requires_grad)


def _by_hand(model: Any, targets: Any, per_layer: Any, rule: str = "peft") -> int:
    from torch import nn

    return sum(per_layer(m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and RULES[rule](n, targets))


def _count(fn: Any, model: Any, r: int, targets: Any, on: str) -> int:
    """The learner's count on a copy of ``model``, as an int."""
    got = answer(fn, copy.deepcopy(model), r, targets)
    integral = isinstance(got, numbers.Integral) or getattr(got, "ndim", None) == 0 and float(got).is_integer()
    expect(
        (
            isinstance(got, bool) or not integral,
            _("return the count as an int, got {type}").format(type=type(got).__name__),
        ),
        on=on,
    )
    return int(got)


@checker("08.1", asks=N_("the count by hand"), off=COUNTING)
def exercise_08_1(lora_trainable_params: Any) -> None:
    """``lora_trainable_params(model, r, target_modules)``: what LoRA of rank ``r`` trains, as PEFT counts it."""
    ladder = _("nn.Sequential of 13 nn.Linear (names '0' ... '12')")
    for make, what, r, targets in [
        (lambda: _model("bert"), _("a 2-layer bert"), 3, ["query", "value"]),
        (lambda: _model("distilbert"), _("a 2-layer distilbert"), 5, ["lin1"]),
        (lambda: _model("llama"), _("a 2-layer llama"), 2, r".*\.(k_proj|v_proj)"),
        (lambda: _model("bert"), _("a 2-layer bert"), 4, ["dense"]),
        (lambda: _model("llama"), _("a 2-layer llama"), 7, ["o_proj", "mlp.down_proj"]),
        (_ladder, ladder, 4, ["1", "2"]),
        (_ladder, ladder, 3, r"1|2"),
    ]:
        model, on = make(), _("r={r}, target_modules={targets!r} on {what}").format(r=r, targets=targets, what=what)
        expected = _peft_count(model, r=r, target_modules=targets)
        got = _count(lora_trainable_params, model, r, targets, on)
        both = lambda m: r * (m.in_features + m.out_features)  # noqa: E731
        count = lambda per_layer, rule="peft", t=targets: _by_hand(model, t, per_layer, rule)  # noqa: E731
        if got == expected:
            continue
        expect(
            (
                lambda: got == count(lambda m: m.in_features * m.out_features),
                _(
                    "LoRA does not train the d_out × d_in matrix: it trains A (r × d_in) and B (d_out × r), "
                    "r·(d_in + d_out) numbers per layer"
                ),
            ),
            (
                lambda: (
                    got
                    in {
                        count(lambda m: r * m.in_features),
                        count(lambda m: r * m.out_features),
                        count(lambda m: 2 * r * m.in_features),
                    }
                ),
                _("count both matrices with their own sizes: A is r × in_features, B is out_features × r"),
            ),
            (
                lambda: got == count(lambda m: both(m) + (m.bias is not None) * m.out_features),
                _("LoRA adds no bias (bias='none'): count r·(in + out) only"),
            ),
            (
                lambda: isinstance(targets, str) and got == count(both, "search"),
                _(
                    "a string target is a regular expression that must match the WHOLE name: re.fullmatch, not re.search"
                ),
            ),
            (
                lambda: (
                    isinstance(targets, str)
                    and got in {count(both, "peft", list(targets)), count(both, "search", list(targets))}
                ),
                _(
                    "a single string is not a list of names: it is a regular expression, tested with re.fullmatch(target_modules, name)"
                ),
            ),
            (
                lambda: got in {count(both, "search"), count(both, "endswith")},
                _(
                    "a list entry matches a module whose name equals it or ends with '.' + entry, not any name "
                    "that merely contains or ends with its letters"
                ),
            ),
            (
                True,
                _(
                    "wrong count: list the nn.Linear modules whose names match and add r·(in_features + out_features) for each"
                ),
            ),
            on=on,
        )


@checker("08.2", asks=N_("the count by hand"), off=COUNTING)
def exercise_08_2(classifier_trainable_params: Any) -> None:
    """``classifier_trainable_params(model, r, target_modules)``: what ``print_trainable_parameters()``
    reports for LoRA of rank ``r`` with the head in ``modules_to_save``, as ``lora_classifier()`` does."""
    from course_utils.scripts.train_emotion import head_module_names

    for arch, labels, r, targets in [
        ("bert", 6, 6, ["query", "key", "value", "attention.output.dense"]),
        ("distilbert", 4, 3, ["q_lin", "k_lin", "v_lin", "out_lin"]),
        ("llama", 3, 5, ["q_proj", "v_proj"]),
        ("bert", 2, 2, r".*\.(query|value)"),
    ]:
        model = _model(arch, "classifier", num_labels=labels)
        on = _("r={r}, target_modules={targets!r} on a 2-layer {arch} classifier with {labels} labels").format(
            r=r, targets=targets, arch=arch, labels=labels
        )
        lora = _peft_count(model, r=r, target_modules=targets)
        head = dict(task_type="SEQ_CLS", lora_alpha=16, modules_to_save=head_module_names(model))
        expected = _peft_count(model, r=r, target_modules=targets, **head)
        got = _count(classifier_trainable_params, model, r, targets, on)
        expect(
            (
                got == lora,
                _("the new classification head (modules_to_save) trains in full: add its weights and biases"),
            ),
            (
                lora < got < expected,
                _(
                    "part of the head is missing: every module with a parameter outside the base model, and the "
                    "pooler (effectively new, notebook 05), trains in full (BERT's pooler, DistilBERT's pre_classifier)"
                ),
            ),
            (
                got == 2 * expected - lora,
                _(
                    "the frozen original of a modules_to_save layer does not train: count the head once "
                    "(old PEFT versions counted it twice)"
                ),
            ),
            (
                got != expected,
                _(
                    "not the count PEFT reports: r·(d_in + d_out) per targeted nn.Linear (your 08.1), "
                    "plus every parameter of the head, once"
                ),
            ),
            on=on,
        )


def _lora_linear(d_in: int, d_out: int, r: int, alpha: int, bias: bool, seed: int) -> Any:
    """A PEFT LoRA layer around a fresh ``nn.Linear`` (in :func:`model_dtype`) with random, non-zero A and B."""
    import torch
    from peft import LoraConfig, get_peft_model
    from torch import nn

    torch.manual_seed(seed)
    holder = nn.Sequential(nn.Linear(d_in, d_out, bias=bias)).to(model_dtype())
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=["0"], lora_dropout=0.2, init_lora_weights=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        wrapped: Any = get_peft_model(holder, config).eval()
    return wrapped.base_model.model[0]


@checker("08.3", asks=N_("the merge by hand"), off=MERGING)
def exercise_08_3(merge_lora: Any) -> None:
    """``merge_lora(lora_layer)``: a new plain ``nn.Linear`` with weight ``W + (alpha/r) B A`` and the base bias."""
    import torch
    from torch import nn

    for seed, (d_in, d_out, r, alpha, bias) in enumerate(
        [(12, 7, 4, 10, True), (5, 9, 2, 3, False), (16, 6, 8, 32, True), (7, 13, 3, 16, True)]
    ):
        layer = _lora_linear(d_in, d_out, r, alpha, bias, seed)
        on = f"d_in={d_in}, d_out={d_out}, r={r}, lora_alpha={alpha}, bias={bias}, {layer.base_layer.weight.dtype}"
        before = {k: v.clone() for k, v in layer.state_dict().items()}
        merged = answer(merge_lora, layer)
        W, b = layer.base_layer.weight.double(), layer.base_layer.bias
        update = layer.lora_B["default"].weight.double() @ layer.lora_A["default"].weight.double()
        near = lambda weight: close(merged.weight, weight, layer.base_layer.weight.dtype)  # noqa: E731
        expect(
            (
                any(not torch.equal(v, layer.state_dict()[k]) for k, v in before.items()),
                _(
                    "your function changed the PEFT layer (its base weight?): build a NEW nn.Linear and copy the merged weight into it"
                ),
            ),
            (
                type(merged) is not nn.Linear,
                _("return a plain torch.nn.Linear, got {module}.{name}").format(
                    module=type(merged).__module__, name=type(merged).__qualname__
                ),
            ),
            (merged is layer.base_layer, _("return a NEW nn.Linear, not the LoRA layer's base_layer")),
            (
                lambda: tuple(merged.weight.shape) != (d_out, d_in),
                lambda: _("the merged weight has the base weight's shape (d_out, d_in) = {expected}, got {got}").format(
                    expected=(d_out, d_in), got=tuple(merged.weight.shape)
                ),
            ),
            (
                lambda: (merged.bias is None) != (b is None),
                _("keep the base layer's bias (or its absence): nn.Linear(..., bias=...)"),
            ),
            (lambda: near(W), _("that is the base layer alone: add the update (alpha/r) B A to W")),
            (lambda: near(W + update), _("scale the update by lora_alpha / r (layer.scaling['default'])")),
            (
                lambda: any(near(W + k * update) for k in (r / alpha, alpha, 1 / r)),
                _("wrong scale: the update is multiplied by lora_alpha / r"),
            ),
            (lambda: not near(W + alpha / r * update), _("the merged weight is W + (alpha/r) · B @ A")),
            (
                lambda: b is not None and not close(merged.bias, b.double(), b.dtype),
                _("copy the base layer's bias into the merged layer"),
            ),
            on=on,
        )


def _mlp(sizes: tuple[int, int, int]) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(5)
    d_in, hidden, d_out = sizes
    layers = [nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, d_out)]
    return nn.Sequential(*layers).to(model_dtype())


@checker("08.4", asks=N_("one PeftModel with every adapter"))
def exercise_08_4(adapter_outputs: Any) -> None:
    """``adapter_outputs(base, adapters, x)`` -> ``{name: output}``, every adapter loaded on one PeftModel around ``base``."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from peft.tuners.lora import LoraLayer

    for case, (sizes, adapters, batch) in enumerate(
        [
            ((10, 16, 3), {"pirate": (2, ["0", "2"]), "french": (3, ["0", "2"]), "formal": (4, ["0", "2"])}, 5),
            ((7, 11, 2), {"chat": (1, ["4"]), "sql": (5, ["0", "4"])}, 3),
        ]
    ):
        names = list(adapters)
        on = _("adapters {names} on an MLP {d_in} -> {hidden} -> {d_out}, x of shape ({batch}, {d_in})").format(
            names=names, d_in=sizes[0], hidden=sizes[1], d_out=sizes[2], batch=batch
        )
        x = torch.randn(batch, sizes[0], generator=torch.Generator().manual_seed(84 + case)).to(model_dtype())
        with tempfile.TemporaryDirectory(prefix="check08_") as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            for i, (name, (r, targets)) in enumerate(adapters.items()):
                torch.manual_seed(100 + i)  # random, non-zero A and B: each adapter changes the outputs
                config = LoraConfig(r=r, lora_alpha=8, target_modules=targets, init_lora_weights=False)
                get_peft_model(_mlp(sizes), config).save_pretrained(f"{tmp}/{name}")
            with torch.no_grad():
                want = {n: PeftModel.from_pretrained(_mlp(sizes), f"{tmp}/{n}").eval()(x).double() for n in names}
                plain = _mlp(sizes)(x)
            base = _mlp(sizes)
            got = answer(adapter_outputs, base, {n: f"{tmp}/{n}" for n in names}, x.clone())
        loaded = {n for m in base.modules() if isinstance(m, LoraLayer) for n in m.lora_A}
        same = lambda a, b: close(a, b.double(), plain.dtype)  # noqa: E731
        wrong = lambda: [n for n in names if not same(got[n], want[n])]  # noqa: E731
        expect(
            (
                not isinstance(got, dict) or set(got) != set(names),
                lambda: _("return a dict with one output per adapter name, keys {names}; got {got}").format(
                    names=names, got=sorted(got) if isinstance(got, dict) else type(got).__name__
                ),
            ),
            (
                lambda: any(tensor_mismatch(got[n], plain.shape) for n in names),
                lambda: _("expected an output tensor {shape} per adapter, got {got}").format(
                    shape=tuple(plain.shape), got={n: tensor_mismatch(got[n], plain.shape) or _("that") for n in names}
                ),
            ),
            (
                lambda: all(same(got[n], plain) for n in names),
                _("these are the base model's outputs: no adapter was active (outside a disable_adapter() block?)"),
            ),
            (
                lambda: (
                    all(same(got[n], got[names[0]]) for n in names) and any(same(got[names[0]], want[n]) for n in names)
                ),
                _(
                    "every output is one adapter's: load each adapter's own folder under its name and "
                    "call model.set_adapter(name) before each forward"
                ),
            ),
            (
                wrong,
                lambda: _(
                    "wrong output for {names}: load each adapter once under its own name (PeftModel.from_pretrained(base, path, adapter_name=name) for the first, model.load_adapter(path, adapter_name=name) for the others), then set_adapter(name)"
                ).format(names=wrong()),
            ),
            (
                loaded != set(names),
                _(
                    "load every adapter on ONE PeftModel around `base` (from_pretrained, then load_adapter): "
                    "the base model is loaded once, not copied per adapter"
                ),
            ),
            on=on,
        )
