"""Checkers for notebook 03 (models and heads)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._core import Verdict, call_safely, silent, tensor_mismatch, verdict

__all__ = ["exercise_03_1", "exercise_03_2", "exercise_03_3", "exercise_03_4"]

#: Small Llama-style decoders with sizes the notebook never uses (fresh inputs for 03.1): grouped-query
#: attention, tied and untied LM heads, and a head_dim that is not hidden_size // num_attention_heads.
_FRESH_LLAMA_SIZES: tuple[dict[str, Any], ...] = (
    dict(
        vocab_size=1_000,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    ),
    dict(
        vocab_size=3_001,
        hidden_size=96,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=1,
        tie_word_embeddings=True,
    ),
    dict(
        vocab_size=2_048,
        hidden_size=64,
        intermediate_size=200,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=24,
        tie_word_embeddings=True,
    ),
)


def _llama_count(
    config: Any,
    *,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    tied: bool | None = None,
    final_norm: bool = True,
    norm_bias: bool = False,
) -> int:
    """The formula for ``LlamaForCausalLM(config)``, with one part changed to reproduce a typical mistake."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    d = config.head_dim if head_dim is None else head_dim
    kv = config.num_key_value_heads if kv_heads is None else kv_heads
    tied = config.tie_word_embeddings if tied is None else tied
    norm = 2 * h if norm_bias else h
    layer = 2 * h * config.num_attention_heads * d + 2 * h * kv * d + 3 * h * i + 2 * norm
    return config.vocab_size * h * (1 if tied else 2) + layers * layer + (norm if final_norm else 0)


@silent
def exercise_03_1(llama_parameters: Callable[[Any], int]) -> Verdict:
    """``llama_parameters(config)`` -> the parameter count of ``LlamaForCausalLM(config)``, from the config's sizes."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    for sizes in _FRESH_LLAMA_SIZES:
        config = LlamaConfig(**sizes)
        ok, got = call_safely("03.1", llama_parameters, config)
        if not ok:
            return ok
        try:
            got = int(got)
        except (TypeError, ValueError):
            return verdict("03.1", False, f"return the count as an int, got {type(got).__name__}")
        with torch.device("meta"):  # shapes only: the reference count costs no memory
            expected = LlamaForCausalLM(config).num_parameters()
        if got == expected:
            continue
        h, d, heads = config.hidden_size, config.head_dim, config.num_attention_heads
        # LlamaConfig defaults head_dim to hidden_size // num_attention_heads, num_key_value_heads to num_attention_heads
        assert d is not None and config.num_key_value_heads is not None
        desc = ", ".join(f"{k}={v}" for k, v in sizes.items())
        if got == _llama_count(config, kv_heads=heads):
            return verdict(
                "03.1",
                False,
                "grouped-query attention: k_proj and v_proj have num_key_value_heads * head_dim "
                "outputs, fewer than q_proj's num_attention_heads * head_dim",
            )
        if d != h // heads and got == _llama_count(config, head_dim=h // heads):
            return verdict(
                "03.1",
                False,
                f"read config.head_dim ({d}): here it is not hidden_size // num_attention_heads "
                f"({h // heads}), so q_proj has {heads} x {d} outputs",
            )
        if got == _llama_count(config, tied=not config.tie_word_embeddings):
            if config.tie_word_embeddings:
                return verdict(
                    "03.1",
                    False,
                    "this config ties the LM head to the embeddings (config.tie_word_embeddings): "
                    "one shared vocab x hidden matrix, counted once",
                )
            return verdict(
                "03.1",
                False,
                "this config does not tie (tie_word_embeddings=False): lm_head is a second vocab x hidden matrix",
            )
        if got == _llama_count(config, final_norm=False):
            return verdict(
                "03.1", False, "one RMSNorm is missing: besides two per layer there is model.norm after the last layer"
            )
        if got == _llama_count(config, norm_bias=True):
            return verdict(
                "03.1", False, "RMSNorm has a weight and no bias: H parameters, not 2H as in BERT's LayerNorm"
            )
        biases = config.num_hidden_layers * (
            (heads + 2 * config.num_key_value_heads) * d + 2 * h + 2 * config.intermediate_size
        )
        if 0 < got - expected <= biases + (2 * config.num_hidden_layers + 1) * h:
            return verdict(
                "03.1",
                False,
                f"{got - expected:,} too many: Llama's linear layers have no biases "
                "(config.attention_bias and config.mlp_bias are False), and there are no position embeddings (RoPE)",
            )
        return verdict(
            "03.1",
            False,
            f"for LlamaConfig({desc}) the count is {expected:,}, you gave {got:,}: per layer "
            "q/k/v/o projections, gate/up/down of the MLP and two RMSNorms; plus the embeddings, the final norm "
            "and the LM head unless tied",
        )
    return verdict("03.1", True)


@silent
def exercise_03_2(read_tensor: Callable[[Any, str], Any]) -> Verdict:
    """``read_tensor(path, name)`` -> a ``torch.Tensor`` read by hand from a .safetensors file: F32, F16, I64 and BF16."""
    import torch
    from safetensors.torch import save_file

    if not callable(read_tensor):
        return verdict(
            "03.2", False, f"pass your function itself (got {type(read_tensor).__name__}), e.g. check(read_tensor)"
        )

    def learner(path: str, name: str) -> Any:
        try:
            return read_tensor(path, name)
        except KeyError as err:  # the chapter's NUMPY_DTYPES has no BF16 entry
            if "BF16" in str(err):
                raise KeyError("BF16 has no NumPy dtype: read its bytes as '<u2', then .view(torch.bfloat16)") from None
            raise

    gen = torch.Generator().manual_seed(303)
    tensors = {  # names and sizes the notebook never uses; BF16 sits between the others in the file
        "alpha.weight": torch.randn(3, 5, generator=gen),
        "beta.half": torch.randn(4, 2, generator=gen).half(),
        "gamma.bf16": torch.randn(2, 3, 4, generator=gen).to(torch.bfloat16),
        "delta.ids": torch.randint(0, 10_000, (7,), generator=gen),
        "epsilon.bias": torch.randn(6, generator=gen),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "fresh.safetensors")
        save_file(tensors, path)
        for name in ("gamma.bf16", "alpha.weight", "beta.half", "delta.ids", "epsilon.bias"):
            expected = tensors[name]
            ok, got = call_safely("03.2", learner, path, name)
            if not ok:
                return ok
            if not isinstance(got, torch.Tensor):
                return verdict(
                    "03.2", False, f"return a torch.Tensor (got {type(got).__name__}): torch.from_numpy(array.copy())"
                )
            if name == "gamma.bf16" and got.dtype == torch.float16:
                return verdict(
                    "03.2",
                    False,
                    "BF16 is not float16 ('<f2'): it keeps float32's exponent; read '<u2' and .view(torch.bfloat16)",
                )
            if got.dtype != expected.dtype:
                return verdict("03.2", False, f"{name}: dtype {got.dtype}, the header says {expected.dtype}")
            if tuple(got.shape) != tuple(expected.shape):
                return verdict(
                    "03.2",
                    False,
                    f"{name}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}: reshape to the header's shape",
                )
            if not torch.equal(got, expected):
                return verdict(
                    "03.2",
                    False,
                    f"{name}: wrong values; data_offsets count from the start of the data section, byte 8 + N",
                )
    return verdict("03.2", True)


def _tiny_classifiers() -> list[tuple[str, Any]]:
    """A randomly initialised BERT and DistilBERT sequence classifier (3 labels), in eval mode."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    torch.manual_seed(3)
    bert = BertForSequenceClassification(
        BertConfig(
            vocab_size=120,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=3,  # type: ignore[call-arg]  # PreTrainedConfig takes num_labels through **kwargs
        )
    )
    distil = DistilBertForSequenceClassification(
        # PreTrainedConfig takes num_labels through **kwargs
        DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=2, hidden_dim=64, num_labels=3)  # type: ignore[call-arg]
    )
    return [("BERT", bert.eval()), ("DistilBERT", distil.eval())]


@silent
def exercise_03_3(head_logits: Callable[[Any, dict], Any]) -> Verdict:
    """``head_logits(model, inputs)`` -> the logits of a BERT or DistilBERT sequence classifier, computed from ``model.base_model``."""
    import torch

    gen = torch.Generator().manual_seed(33)
    input_ids = torch.randint(5, 120, (4, 9), generator=gen)
    attention_mask = torch.ones_like(input_ids)
    for row, length in enumerate((9, 6, 4, 7)):  # padded rows: the mask matters
        attention_mask[row, length:] = 0
        input_ids[row, length:] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("compute the logits from model.base_model and the head's layers, not with model(**inputs)")

    for arch, model in _tiny_classifiers():
        with torch.no_grad():
            expected = model(**inputs).logits
            body = model.base_model(**inputs).last_hidden_state
            unmasked = model.base_model(input_ids=input_ids).last_hidden_state
        model.forward = refuse  # the learner must not call the whole model
        ok, got = call_safely("03.3", head_logits, model, dict(inputs))
        del model.forward
        if not ok:
            return ok
        if (shape := tensor_mismatch(got, expected.shape)) is not None:
            return verdict(
                "03.3",
                False,
                f"{arch}: expected logits of shape {tuple(expected.shape)} (batch, num_labels), got {shape}",
            )
        got = got.detach().float()
        if torch.allclose(got, expected, atol=1e-5):
            continue
        with torch.no_grad():
            if torch.allclose(got, expected.softmax(-1), atol=1e-5):
                return verdict("03.3", False, "logits are raw scores: no softmax")
            if arch == "BERT":
                if torch.allclose(got, model.classifier(body[:, 0]), atol=1e-5):
                    return verdict(
                        "03.3",
                        False,
                        "BERT's head reads pooler_output ([CLS] through dense + tanh), not last_hidden_state[:, 0]",
                    )
                pooled_unmasked = model.classifier(model.bert.pooler(unmasked))
                if torch.allclose(got, pooled_unmasked, atol=1e-5):
                    return verdict(
                        "03.3", False, "pass the attention_mask to the body too: the padded rows come out wrong"
                    )
            else:
                first = body[:, 0]
                if torch.allclose(got, model.classifier(first), atol=1e-5):
                    return verdict(
                        "03.3", False, "DistilBERT's head has two layers: pre_classifier, ReLU, then classifier"
                    )
                if torch.allclose(got, model.classifier(model.pre_classifier(first)), atol=1e-5):
                    return verdict("03.3", False, "DistilBERT: a ReLU sits between pre_classifier and classifier")
                full = model.classifier(torch.relu(model.pre_classifier(unmasked[:, 0])))
                if torch.allclose(got, full, atol=1e-5):
                    return verdict(
                        "03.3", False, "pass the attention_mask to the body too: the padded rows come out wrong"
                    )
        return verdict(
            "03.3",
            False,
            f"{arch}: your logits differ from the model's; check config.model_type and follow that class's forward()",
        )
    return verdict("03.3", True)


def _tie_cases() -> list[tuple[str, Any, bool]]:
    """(description, model, truly shares its input embedding with the output projection)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(4)

    def bert(tie: bool) -> Any:
        return BertForMaskedLM(
            BertConfig(
                vocab_size=90,
                hidden_size=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=32,
                tie_word_embeddings=tie,
            )
        )

    def llama(tie: bool) -> Any:
        return LlamaForCausalLM(
            LlamaConfig(
                vocab_size=90,
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                num_key_value_heads=1,
                tie_word_embeddings=tie,
            )
        )

    copied = llama(False)  # untied, but the output weight holds a copy of the embedding values
    with torch.no_grad():
        copied.lm_head.weight.copy_(copied.get_input_embeddings().weight)
    untied_later = bert(True)  # the config still says tied, the tensors no longer are
    decoder = untied_later.get_output_embeddings()
    decoder.weight = torch.nn.Parameter(decoder.weight.detach().clone())
    return [
        ("BertForMaskedLM, tie_word_embeddings=True", bert(True), True),
        ("BertForMaskedLM, tie_word_embeddings=False", bert(False), False),
        ("LlamaForCausalLM, tie_word_embeddings=True", llama(True), True),
        ("LlamaForCausalLM, tie_word_embeddings=False", llama(False), False),
        ("copied", copied, False),
        ("untied later", untied_later, False),
    ]


@silent
def exercise_03_4(shares_embeddings: Callable[[Any], bool]) -> Verdict:
    """``shares_embeddings(model)`` -> True when the LM head's weight IS the input embedding matrix (same storage)."""
    for what, model, truth in _tie_cases():
        ok, got = call_safely("03.4", shares_embeddings, model)
        if not ok:
            return ok
        if not isinstance(got, bool):
            try:
                got = bool(got)
            except Exception:  # a tensor of several values, for instance
                return verdict("03.4", False, f"return True or False, got {type(got).__name__}")
        if got == truth:
            continue
        if what == "copied":
            return verdict(
                "03.4",
                False,
                "equal values are not shared storage: this untied model holds a copy; "
                "compare the Parameters with `is` (or data_ptr()), not torch.equal",
            )
        if what == "untied later":
            return verdict(
                "03.4",
                False,
                "this model's config says tie_word_embeddings=True but its decoder got a new "
                "Parameter: check the tensors, not the config",
            )
        return verdict(
            "03.4",
            False,
            f"wrong for {what}: compare model.get_output_embeddings().weight with model.get_input_embeddings().weight",
        )
    return verdict("03.4", True)
