"""Checkers for notebook 03 (models and heads)."""

from __future__ import annotations

import contextlib
import copy
import numbers
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, expect, fail, model_dtype, tiny_model, tolerance

__all__ = ["exercise_03_1", "exercise_03_2", "exercise_03_3", "exercise_03_4"]

#: ``switched_off`` hooks the learner's own thread only: where an exercise needs no thread, none may start.
_THREAD = {N_("a new thread"): "threading.Thread.start"}

#: Fresh Llama sizes for 03.1: every field differs between configs; grouped-query and full attention, tied and
#: untied LM heads, head_dim equal to hidden_size // num_attention_heads and not.
_LLAMA_FIELDS = "vocab_size hidden_size intermediate_size num_hidden_layers num_attention_heads".split()
_LLAMA_FIELDS += ["num_key_value_heads", "head_dim", "tie_word_embeddings"]
_LLAMA_SIZES = (
    (1_000, 64, 160, 2, 4, 2, 16, False),
    (3_001, 96, 256, 3, 6, 1, 16, True),
    (2_048, 64, 200, 2, 4, 2, 24, True),
    (517, 48, 136, 5, 3, 3, 20, False),
)


def _llama_count(
    c: Any, kv: int = 0, head_dim: int = 0, tied: Any = None, norm: int = 1, final: int = 1, bias: int = 0
) -> int:
    """The formula for ``LlamaForCausalLM(c)``; an argument changes one part to reproduce a typical mistake."""
    h, d, kv, i = c.hidden_size, head_dim or c.head_dim, kv or c.num_key_value_heads, c.intermediate_size
    layer = 2 * h * (c.num_attention_heads + kv) * d + 3 * h * i + 2 * norm * h
    layer += bias * ((c.num_attention_heads + 2 * kv) * d + 2 * h + 2 * i)  # q, k, v, o, gate, up, down
    lm_head = not (c.tie_word_embeddings if tied is None else tied)
    return c.vocab_size * h * (1 + lm_head) + c.num_hidden_layers * layer + final * norm * h


@checker(
    "03.1",
    asks=N_("the count from the config's sizes"),
    off={
        N_("building the model"): ("transformers.PreTrainedModel.__init__", "torch.nn.Module.__init__"),
        "num_parameters()": "transformers.PreTrainedModel.num_parameters",
    }
    | _THREAD,
)
def exercise_03_1(llama_parameters: Any) -> None:
    """``llama_parameters(config)`` -> the parameter count of ``LlamaForCausalLM(config)``, from the config's sizes."""
    import torch

    for sizes in _LLAMA_SIZES:
        with torch.device("meta"):  # shapes only: the reference count costs no memory
            model = tiny_model("llama", "lm", **dict(zip(_LLAMA_FIELDS, sizes)))
        c, right = model.config, model.num_parameters()
        got = answer(llama_parameters, copy.deepcopy(c))
        on = "LlamaConfig(" + ", ".join(f"{k}={v}" for k, v in zip(_LLAMA_FIELDS, sizes)) + ")"
        expect(
            (
                not isinstance(got, numbers.Real),
                _("return the count as an int, got {type}").format(type=type(got).__name__),
            ),
            on=on,
        )
        if got == right:
            continue
        expect(
            (
                got == _llama_count(c, kv=c.num_attention_heads),
                _(
                    "grouped-query attention: k_proj and v_proj have "
                    "num_key_value_heads * head_dim outputs, fewer than q_proj's num_attention_heads * head_dim"
                ),
            ),
            (
                got == _llama_count(c, head_dim=c.hidden_size // c.num_attention_heads),
                _("read config.head_dim ({head_dim}): it need not be hidden_size // num_attention_heads").format(
                    head_dim=c.head_dim
                ),
            ),
            (
                got == _llama_count(c, tied=not c.tie_word_embeddings),
                _("this config ties the LM head to the embeddings: one vocab x hidden matrix, counted once")
                if c.tie_word_embeddings
                else _(
                    "this config does not tie (tie_word_embeddings=False): lm_head is a second vocab x hidden matrix"
                ),
            ),
            (got == _llama_count(c, final=0), _("one RMSNorm is missing: besides two per layer there is model.norm")),
            (
                got == _llama_count(c, norm=2),
                _("RMSNorm has a weight and no bias: H parameters, not 2H as in LayerNorm"),
            ),
            (
                0 < got - right <= _llama_count(c, norm=2, bias=1) - right,
                _("{extra:,} too many: Llama's linear layers have no biases, and RoPE has no parameters").format(
                    extra=got - right
                ),
            ),
            on=on,
        )
        fail(
            _(
                "the count is {right:,}, you gave {got:,}: per layer q/k/v/o, gate/up/down and two RMSNorms; plus the embeddings, the final norm and the LM head unless tied"
            ).format(right=right, got=got),
            on=on,
        )


def _safetensors_reader(*args: Any, **kwargs: Any) -> Any:
    """Stands in for safetensors' compiled readers while the learner's runs (``answer`` catches it by its code)."""
    raise RuntimeError(_("safetensors' own reader is switched off while the checker runs"))


@contextlib.contextmanager
def _compiled_off() -> Iterator[None]:
    """Replace safetensors' compiled readers (which ``off`` cannot see: they have no Python code) by
    :func:`_safetensors_reader`, in every thread, and restore them."""
    import safetensors

    rust = getattr(safetensors, "_safetensors_rust", safetensors)
    types = {safetensors.safe_open, getattr(rust, "_safe_open_handle", safetensors.safe_open)}
    places = [(cls, name) for cls in types for name in ("get_tensor", "get_tensors", "get_slice") if name in vars(cls)]
    places += [(module, "deserialize") for module in {safetensors, rust}]
    saved = [(owner, name, vars(owner)[name]) for owner, name in places]
    try:
        for owner, name in places:
            with contextlib.suppress(TypeError, AttributeError):  # an immutable compiled type: leave it
                setattr(owner, name, _safetensors_reader)
        yield
    finally:
        for owner, name, value in saved:
            with contextlib.suppress(TypeError, AttributeError):
                setattr(owner, name, value)


@checker(
    "03.2",
    asks=N_("the header walk by hand"),
    off={
        N_("safetensors' reader"): (
            "safetensors.torch.load_file",
            "safetensors.torch.load",
            "safetensors.numpy.load_file",
            "safetensors.numpy.load",
            _safetensors_reader,
        )
    },
)
def exercise_03_2(read_tensor: Any) -> None:
    """``read_tensor(path, name)`` -> a ``torch.Tensor`` read by hand from a .safetensors file: F32, F16, I64 and BF16."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(303)
    files = {  # names, shapes and orders the notebook never uses; BF16 among the others; a scalar and an empty tensor
        "fresh.safetensors": {
            "gamma.bf16": torch.randn(2, 3, 4, generator=gen).to(torch.bfloat16),
            "alpha.weight": torch.randn(3, 5, generator=gen),
            "beta.half": torch.randn(4, 2, generator=gen).half(),
            "delta.ids": torch.randint(-(2**40), 2**40, (7,), generator=gen),
            "epsilon.scale": torch.randn((), generator=gen),
        },
        "other.safetensors": {
            "a.ids": torch.randint(0, 9, (2, 2), generator=gen),
            "empty": torch.zeros(0, 3),
            "w.bf16": torch.randn(5, generator=gen).to(torch.bfloat16),
            "z.half": torch.randn(1, 6, generator=gen).half(),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        for file, tensors in files.items():
            path = str(Path(tmp) / file)
            save_file(tensors, path, metadata={"format": "pt", "file": file})
            for name, want in tensors.items():
                bf16 = want.dtype == torch.bfloat16
                with _compiled_off():
                    got = answer(
                        read_tensor,
                        path,
                        name,
                        when=_("reading {name!r}: ").format(name=name),
                        fix=_(" (BF16 has no NumPy dtype: read '<u2', then .view(torch.bfloat16))") * bf16,
                    )
                expect(
                    (
                        not isinstance(got, torch.Tensor),
                        _("return a torch.Tensor (got {type}): torch.from_numpy(array.copy())").format(
                            type=type(got).__name__
                        ),
                    ),
                    (
                        lambda: bf16 and got.dtype == torch.float16,
                        _(
                            "BF16 is not float16 ('<f2'): it keeps float32's "
                            "exponent; read '<u2' and .view(torch.bfloat16)"
                        ),
                    ),
                    (
                        lambda: got.dtype != want.dtype,
                        lambda: _("dtype {got}, the header says {expected}").format(got=got.dtype, expected=want.dtype),
                    ),
                    (
                        lambda: got.shape != want.shape,
                        lambda: _("shape {got}, expected {expected}: reshape to the header's shape").format(
                            got=tuple(got.shape), expected=tuple(want.shape)
                        ),
                    ),
                    (
                        lambda: not torch.equal(got.cpu(), want),
                        _("wrong values: data_offsets count from the start of the data section, byte 8 + N"),
                    ),
                    on=_("tensor {name!r} of {file}").format(name=name, file=file),
                )


def _padded_batch(seed: int, left: bool) -> dict[str, Any]:
    """Four rows of random ids (vocabulary of the tiny models), three of them padded on the right or on the left."""
    import torch

    ids = torch.randint(5, 120, (4, 9), generator=torch.Generator().manual_seed(seed))
    mask = (torch.arange(9) < torch.tensor([[9], [6], [3], [7]])).long()
    mask = mask.flip(1) if left else mask
    return {"input_ids": ids * mask, "attention_mask": mask}


@checker(
    "03.3",
    asks=N_("the head applied by hand"),
    off={
        "model(**inputs)": (
            "transformers.BertForSequenceClassification.forward",
            "transformers.DistilBertForSequenceClassification.forward",
        )
    }
    | _THREAD,
)
def exercise_03_3(head_logits: Any) -> None:
    """``head_logits(model, inputs)`` -> the logits of a BERT or DistilBERT sequence classifier, computed from ``model.base_model``."""
    import torch

    tol = tolerance(model_dtype())
    for seed, (arch, labels, left) in enumerate(
        [("bert", 3, False), ("distilbert", 3, False), ("bert", 5, True), ("distilbert", 2, True)]
    ):
        # weights ten times the usual init: the mask then moves the logits well beyond bfloat16's tolerance
        model = tiny_model(arch, "classifier", seed=seed, num_labels=labels, initializer_range=0.2)
        inputs = _padded_batch(seed, left)
        with torch.no_grad():
            want = model(**inputs).logits
            unmasked = model(input_ids=inputs["input_ids"]).logits
            first = model.base_model(**inputs).last_hidden_state[:, 0]
        got = answer(head_logits, model, dict(inputs))
        on = (
            _("a random {model} with {labels} labels, padding on the left")
            if left
            else _("a random {model} with {labels} labels, padding on the right")
        ).format(model=model.__class__.__name__, labels=labels)

        def near(ref: Any, got: Any = got) -> bool:
            with torch.no_grad():
                ref = (ref() if callable(ref) else ref).float().cpu()
            return torch.allclose(got.detach().float().cpu(), ref, rtol=tol, atol=tol * float(ref.abs().max()))

        if isinstance(got, torch.Tensor) and got.shape == want.shape and near(want):
            continue
        expect(
            (
                lambda: not isinstance(got, torch.Tensor) or got.shape != want.shape,
                lambda: _("expected logits of shape {shape} (batch, num_labels), got {got}").format(
                    shape=tuple(want.shape), got=getattr(got, "shape", type(got).__name__)
                ),
            ),
            (lambda: near(want.softmax(-1)), _("logits are raw scores: no softmax")),
            (lambda: near(unmasked), _("pass the attention_mask to the body too: the padded rows come out wrong")),
            (
                lambda: near(lambda: model.classifier(first)),
                _("BERT's head reads pooler_output ([CLS] through dense + tanh)")
                if arch == "bert"
                else _("DistilBERT's head has two layers: pre_classifier, ReLU, then classifier"),
            ),
            (
                lambda: arch == "distilbert" and near(lambda: model.classifier(model.pre_classifier(first))),
                _("DistilBERT: a ReLU sits between pre_classifier and classifier"),
            ),
            on=on,
        )
        fail(_("your logits differ from the model's; check config.model_type and follow that class's forward()"), on=on)


def _tie_cases() -> Iterator[tuple[str, Any, bool, str]]:
    """(model, whether its LM head truly is its input embedding, the hint when the answer gets it wrong)."""
    import torch

    plain = _("compare model.get_output_embeddings().weight with model.get_input_embeddings().weight")
    for arch in ("bert", "llama", "distilbert"):
        for tie in (True, False):
            yield f"{arch} LM, tie_word_embeddings={tie}", tiny_model(arch, "lm", tie_word_embeddings=tie), tie, plain
    copied = tiny_model("llama", "lm", seed=1, tie_word_embeddings=False)
    with torch.no_grad():
        copied.lm_head.weight.copy_(copied.get_input_embeddings().weight)
    yield (
        _("an untied llama LM whose lm_head holds a copy of the embedding values"),
        copied,
        False,
        (_("equal values are not shared storage: compare the Parameters with `is` (or data_ptr()), not torch.equal")),
    )
    untied = tiny_model("bert", "lm", seed=2, tie_word_embeddings=True)
    untied.get_output_embeddings().weight = torch.nn.Parameter(untied.get_input_embeddings().weight.detach().clone())
    config = _("check the tensors, not the config: the config says what post_init() did when the model was built")
    yield _("a bert LM built tied whose decoder then got a new Parameter"), untied, False, config
    tied = tiny_model("llama", "lm", seed=3, tie_word_embeddings=False)
    tied.lm_head.weight = tied.get_input_embeddings().weight
    yield _("a llama LM built untied whose lm_head was then set to the embedding Parameter"), tied, True, config


@checker(
    "03.4",
    asks=N_("the comparison of the two weights"),
    off={"find_tied_parameters()": "accelerate.utils.find_tied_parameters"} | _THREAD,
)
def exercise_03_4(shares_embeddings: Any) -> None:
    """``shares_embeddings(model)`` -> True when the LM head's weight IS the input embedding matrix (same storage)."""
    for what, model, truth, hint in _tie_cases():
        got = answer(shares_embeddings, model)
        expect(
            (not isinstance(got, (bool, int)), _("return True or False, got {type}").format(type=type(got).__name__)),
            (got != truth, hint),
            on=what,
        )
