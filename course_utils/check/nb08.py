"""Checkers for notebook 08 (parameter-efficient fine-tuning with LoRA)."""

from __future__ import annotations

import copy
import functools
import numbers
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._core import Verdict, call_safely, tensor_mismatch, verdict

__all__ = ["exercise_08_1", "exercise_08_2", "exercise_08_3", "exercise_08_4"]

#: The attention projections of exercise 08.2 (query, key, value, attention output), per architecture.
FOUR_PROJECTIONS = {
    "bert": ["query", "key", "value", "attention.output.dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "attention.out_lin"],
}
R_08_2 = 6


@contextmanager
def _quiet_peft() -> Iterator[None]:
    """Hide the FutureWarning that peft 0.21 triggers under transformers 5 (not the learner's doing)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _peft_trainable(model: Any, **config: Any) -> int:
    """Trainable parameters of ``get_peft_model(deepcopy(model), LoraConfig(**config))``."""
    from peft import LoraConfig, get_peft_model

    with _quiet_peft():
        peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(**config))
    return sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


@functools.cache
def _cached_encoder_config(**overrides: Any) -> Any:
    from transformers import AutoConfig

    import course_utils as cu

    return AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False), **overrides)


def _encoder_config(**overrides: Any) -> Any:
    """The encoder's config (read once), as a copy: building a model may write into its config."""
    return copy.deepcopy(_cached_encoder_config(**overrides))


#: A feed-forward layer's module name, by architecture (exercise 08.1 targets it beside the projections).
_FEED_FORWARD = {"bert": "dense", "distilbert": "lin1"}


def _small_encoder() -> Any:
    """The encoder's architecture with 2 layers and random weights: its real module names, built in 0.1 s."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(0)
    return AutoModel.from_config(_encoder_config(num_hidden_layers=2))


def _ladder() -> Any:
    """13 linear layers named '0' ... '12' with varying widths: names where substrings mislead."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    widths = [6, 9, 4, 11, 5, 8, 7, 10, 3, 12, 6, 5, 9, 4]
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(widths, widths[1:])])


def _count(model: Any, r: int, targets: Any, match: Callable[[str, Any], bool], per_layer: Callable[[Any], int]) -> int:
    from torch import nn

    return sum(
        per_layer(m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and name and match(name, targets)
    )


def _peft_rule(name: str, targets: Any) -> bool:
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def _substring_rule(name: str, targets: Any) -> bool:
    if isinstance(targets, str):
        return re.search(targets, name) is not None
    return any(t in name for t in targets)


def _endswith_rule(name: str, targets: Any) -> bool:
    if isinstance(targets, str):
        return re.search(targets, name) is not None
    return any(name.endswith(t) for t in targets)


def exercise_08_1(lora_trainable_params: Callable[..., Any]) -> Verdict | bool:
    """``lora_trainable_params(model, r, target_modules)`` -> the parameters LoRA trains, as PEFT counts them."""
    kind = _encoder_config().model_type  # BERT offline (stand-in), DistilBERT with the Hub
    q, k, v, _ = FOUR_PROJECTIONS[kind]
    ffn = _FEED_FORWARD[kind]
    cases = [
        (_small_encoder, f"a 2-layer {kind}", 3, [q, v]),
        (_small_encoder, f"a 2-layer {kind}", 5, [ffn]),
        (_small_encoder, f"a 2-layer {kind}", 2, rf".*\.({k}|{v})"),
        (_ladder, "nn.Sequential of 13 nn.Linear (names '0' ... '12')", 4, ["1", "2"]),
        (_ladder, "nn.Sequential of 13 nn.Linear (names '0' ... '12')", 3, r"1|2"),
    ]
    for make, what, r, targets in cases:
        model = make()
        expected = _peft_trainable(model, r=r, target_modules=targets)
        ok, got = call_safely("08.1", lora_trainable_params, model, r, targets)
        if not ok:
            return False
        if not isinstance(got, numbers.Integral) and not (hasattr(got, "item") and getattr(got, "ndim", 1) == 0):
            return verdict("08.1", False, f"return the count as an int, got {type(got).__name__}")
        got = int(got)
        if got == expected:
            continue
        where = f" (r={r}, target_modules={targets!r} on {what})"
        both = lambda m: r * (m.in_features + m.out_features)  # noqa: E731
        if got == _count(model, r, targets, _peft_rule, lambda m: m.in_features * m.out_features):
            return verdict(
                "08.1",
                False,
                "LoRA does not train the d_out × d_in matrix: it trains A (r × d_in) "
                "and B (d_out × r), r·(d_in + d_out) numbers per layer" + where,
            )
        if got in (
            _count(model, r, targets, _peft_rule, lambda m: r * m.in_features),
            _count(model, r, targets, _peft_rule, lambda m: r * m.out_features),
            _count(model, r, targets, _peft_rule, lambda m: 2 * r * m.in_features),
        ):
            return verdict(
                "08.1",
                False,
                "count both matrices with their own sizes: A is r × in_features, B is out_features × r" + where,
            )
        if got == _count(model, r, targets, _peft_rule, lambda m: both(m) + (m.bias is not None) * m.out_features):
            return verdict("08.1", False, "LoRA adds no bias (bias='none'): count r·(in + out) only" + where)
        if isinstance(targets, str) and got == _count(model, r, targets, _substring_rule, both):
            return verdict(
                "08.1",
                False,
                "a string target is a regular expression that must match the WHOLE "
                "name: re.fullmatch, not re.search" + where,
            )
        if isinstance(targets, str) and got in (
            _count(model, r, list(targets), _peft_rule, both),
            _count(model, r, list(targets), _substring_rule, both),
        ):
            return verdict(
                "08.1",
                False,
                "a single string is not a list of names: it is a regular expression, "
                "tested with re.fullmatch(target_modules, name)" + where,
            )
        if not isinstance(targets, str) and got in (
            _count(model, r, targets, _substring_rule, both),
            _count(model, r, targets, _endswith_rule, both),
        ):
            return verdict(
                "08.1",
                False,
                "a list entry matches a module whose name equals it or ends with "
                "'.' + entry, not any name that merely contains or ends with its letters" + where,
            )
        return verdict(
            "08.1",
            False,
            "wrong count" + where + ": list the nn.Linear modules whose names match "
            "and add r·(in_features + out_features) for each",
        )
    return verdict("08.1", True)


def _emotion_classifier() -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(_encoder_config(num_labels=6))


def exercise_08_2(trainable: Any) -> Verdict | bool:
    """Trainable parameters of the emotion classifier with r=6 LoRA on query, key, value, attention output."""
    if isinstance(trainable, bool) or not isinstance(trainable, numbers.Real) or not float(trainable).is_integer():
        return verdict("08.2", False, "give the count as an int, e.g. 123_456")
    got = int(trainable)  # type: ignore[call-overload]  # typeshed's numbers.Real lacks __int__; int() takes any Real
    model = _emotion_classifier()
    targets = FOUR_PROJECTIONS.get(model.config.model_type)
    if targets is None:
        return verdict("08.2", False, f"this checker knows no projection names for {model.config.model_type!r}")
    from course_utils.scripts.train_emotion import head_module_names, is_head_parameter

    head = head_module_names(model)  # the classifier and the pooler: new layers train in full
    head_params = sum(p.numel() for n, p in model.named_parameters() if is_head_parameter(n, model.base_model_prefix))
    pooler_params = sum(p.numel() for n, p in model.named_parameters() if ".pooler." in n)

    def lora(r: int, names: list[str]) -> int:
        return _peft_trainable(model, r=r, target_modules=names)

    def with_head(r: int, names: list[str]) -> int:
        return _peft_trainable(
            model, task_type="SEQ_CLS", r=r, lora_alpha=16, target_modules=names, modules_to_save=head
        )

    expected = with_head(R_08_2, targets)
    if got == expected:
        return verdict("08.2", True)
    lora_only = lora(R_08_2, targets)
    if got == lora_only:
        return verdict(
            "08.2", False, "the new classification head (modules_to_save) trains in full: add its weights and bias"
        )
    if pooler_params and got == expected - pooler_params:
        return verdict(
            "08.2",
            False,
            "the pooler is effectively new too (notebook 05) and lora_classifier() "
            "trains it in full: add its weights and bias",
        )
    if got == expected + head_params:
        return verdict(
            "08.2",
            False,
            "the frozen original of a modules_to_save layer does not train: count "
            "the head once (old PEFT versions counted it twice)",
        )
    if got in (with_head(8, targets), lora(8, targets)):
        return verdict("08.2", False, f"this configuration uses r={R_08_2}, not the chapter's r=8")
    query_value = [targets[0], targets[2]]
    if got in (with_head(R_08_2, query_value), with_head(8, query_value)):
        return verdict(
            "08.2", False, "that is LoRA on query and value only: add key and the attention output projection"
        )
    layers = model.config.num_hidden_layers
    if got in (lora_only // layers + head_params, lora_only // layers):
        return verdict("08.2", False, f"LoRA wraps those projections in every one of the {layers} layers")
    return verdict(
        "08.2",
        False,
        "not the count PEFT reports: per layer 4 projections × r·(d_in + d_out), "
        "times the layers, plus the head's weights and biases",
    )


def _lora_linear(d_in: int, d_out: int, r: int, alpha: int, bias: bool, seed: int) -> Any:
    """A PEFT LoRA layer around a fresh ``nn.Linear`` with random, non-zero A and B."""
    import torch
    from peft import LoraConfig, get_peft_model
    from torch import nn

    torch.manual_seed(seed)
    holder = nn.Sequential(nn.Linear(d_in, d_out, bias=bias))
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=["0"], lora_dropout=0.2, init_lora_weights=False)
    with _quiet_peft():
        peft_model = get_peft_model(holder, config).eval()
    wrapped = peft_model.base_model.model
    assert isinstance(wrapped, nn.Sequential)  # holder, its Linear now wrapped by LoRA
    return wrapped[0]


def exercise_08_3(merge_lora: Callable[..., Any]) -> Verdict | bool:
    """``merge_lora(lora_layer)`` -> a new plain ``nn.Linear`` with weight ``W + (alpha/r) B A`` (and the bias)."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(808)
    for d_in, d_out, r, alpha, bias, seed in [(12, 7, 4, 10, True, 1), (5, 9, 2, 3, False, 2)]:
        layer = _lora_linear(d_in, d_out, r, alpha, bias, seed)
        x = torch.randn(6, d_in, generator=gen)
        with torch.no_grad():
            before = layer(x)
        ok, merged = call_safely("08.3", merge_lora, layer)
        if not ok:
            return False
        with torch.no_grad():
            after = layer(x)
        if not torch.allclose(after, before, atol=1e-6):
            return verdict(
                "08.3",
                False,
                "your function changed the PEFT layer (its base weight?): build a NEW "
                "nn.Linear and copy the merged weight into it",
            )
        if not isinstance(merged, nn.Linear) or type(merged) is not nn.Linear:
            return verdict("08.3", False, f"return a plain torch.nn.Linear, got {type(merged).__name__}")
        if tuple(merged.weight.shape) != (d_out, d_in):
            return verdict(
                "08.3",
                False,
                f"the merged weight must have the base weight's shape (d_out, d_in) = "
                f"{(d_out, d_in)}, got {tuple(merged.weight.shape)}",
            )
        if (merged.bias is None) != (layer.base_layer.bias is None):
            return verdict("08.3", False, "keep the base layer's bias (or its absence): nn.Linear(..., bias=...)")
        W, b = layer.base_layer.weight, layer.base_layer.bias
        A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight

        def linear(weight: torch.Tensor) -> torch.Tensor:
            return x @ weight.T + (b if b is not None else 0)

        with torch.no_grad():
            got = merged(x)
            if torch.allclose(got, before, atol=1e-5):
                continue
            if torch.allclose(got, linear(W), atol=1e-5):
                return verdict("08.3", False, "that is the base layer alone: add the update (alpha/r) B A to W")
            if torch.allclose(got, linear(W + B @ A), atol=1e-5):
                return verdict("08.3", False, "scale the update by lora_alpha / r (layer.scaling['default'])")
            if any(torch.allclose(got, linear(W + s * B @ A), atol=1e-5) for s in (r / alpha, alpha, 1 / r)):
                return verdict("08.3", False, "wrong scale: the update is multiplied by lora_alpha / r")
            if b is not None and torch.allclose(got, x @ (W + layer.scaling["default"] * B @ A).T, atol=1e-5):
                return verdict("08.3", False, "copy the base layer's bias into the merged layer")
        return verdict(
            "08.3",
            False,
            f"the merged layer's outputs differ from the LoRA layer's (d_in={d_in}, "
            f"d_out={d_out}): the merged weight is W + (alpha/r) · B @ A",
        )
    return verdict("08.3", True)


def _tiny_base() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def exercise_08_4(adapter_outputs: Callable[..., Any]) -> Verdict | bool:
    """``adapter_outputs(base, adapters, x)`` -> ``{name: output}``, all adapters loaded on one PeftModel."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model

    names = ["pirate", "french", "formal"]
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(84))
    with tempfile.TemporaryDirectory(prefix="check08_") as tmp:
        with _quiet_peft():
            paths = {}
            for i, name in enumerate(names):
                base = _tiny_base()
                torch.manual_seed(100 + i)  # random, non-zero A and B: each adapter changes the outputs
                config = LoraConfig(r=2 + i, lora_alpha=8, target_modules=["0", "2"], init_lora_weights=False)
                get_peft_model(base, config).save_pretrained(str(Path(tmp) / name))
                paths[name] = str(Path(tmp) / name)
            expected = {}
            for name in names:
                alone = PeftModel.from_pretrained(_tiny_base(), paths[name]).eval()
                with torch.no_grad():
                    expected[name] = alone(x)
            with torch.no_grad():
                plain = _tiny_base()(x)
        ok, got = call_safely("08.4", adapter_outputs, _tiny_base(), dict(paths), x.clone())
    if not ok:
        return False
    if not isinstance(got, dict) or set(got) != set(names):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        return verdict("08.4", False, f"return a dict with one output per adapter name, keys {names}; got {keys}")
    for name in names:
        out = got[name]
        if (shape := tensor_mismatch(out, plain.shape)) is not None:
            return verdict(
                "08.4", False, f"{name!r}: expected the model's output tensor {tuple(plain.shape)}, got {shape}"
            )
    got = {k: v.detach() for k, v in got.items()}
    if all(torch.allclose(got[n], plain, atol=1e-5) for n in names):
        return verdict(
            "08.4",
            False,
            "these are the base model's outputs: no adapter was active (outside a disable_adapter() block?)",
        )
    first = next((n for n in names if torch.allclose(got[names[0]], expected[n], atol=1e-5)), None)
    if all(torch.allclose(got[n], got[names[0]], atol=1e-6) for n in names):
        which = f"the {first!r} adapter" if first else "one adapter"
        return verdict("08.4", False, f"every output is {which}'s: call model.set_adapter(name) before each forward")
    wrong = [n for n in names if not torch.allclose(got[n], expected[n], atol=1e-5)]
    if wrong:
        return verdict(
            "08.4",
            False,
            f"wrong output for {wrong}: load each adapter once under its own name "
            "(PeftModel.from_pretrained(base, path, adapter_name=name) for the first, "
            "model.load_adapter(path, adapter_name=name) for the others), then set_adapter(name)",
        )
    return verdict("08.4", True)
