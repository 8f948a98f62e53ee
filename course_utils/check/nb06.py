"""Checkers for notebook 06 (attention): each tries several inputs, with what the exercise rebuilds switched off."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, close, expect, model_dtype, tensor_mismatch, tiny_model

__all__ = ["exercise_06_1", "exercise_06_2", "exercise_06_3", "exercise_06_4"]


def _close(got: Any, want: Any, dtype: Any) -> bool:
    """:func:`close` with an absolute floor: attention outputs are of order one."""
    return close(got, want, dtype, scale=1 + float(want.abs().max()))


def _which(same: Any, variants: Any, default: str) -> str:
    """The hint of the first ``(value, hint)`` of ``variants`` whose value ``same(value)`` matches, else ``default``."""
    return next((hint for value, hint in variants if same(value)), default)


def _count(on: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The learner's ``fn(*args, **kwargs)`` as a Python number (a 0-d tensor or a numpy number converted); else a hint."""
    got = answer(fn, *args, **kwargs)
    got = got.tolist() if hasattr(got, "tolist") else got
    expect(
        (
            isinstance(got, bool) or not isinstance(got, (int, float)),
            _("return a number, got {type}").format(type=type(got).__name__),
        ),
        on=on,
    )
    return got


@contextlib.contextmanager
def _bmm_outputs() -> Iterator[list[Any]]:
    """Within the block, the output of every ``torch.bmm`` / ``Tensor.bmm`` call is appended to the yielded list."""
    from torch.overrides import TorchFunctionMode

    outputs: list[Any] = []

    class Log(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            if getattr(func, "__name__", "") == "bmm":
                outputs.append(out)
            return out

    with Log():
        yield outputs


def _mha(x: Any, attn: Any, heads: int, full_scale: bool = False, dim: int = -1, transpose_back: bool = True) -> Any:
    """Multi-head attention in float32 (or one typical mistake): ``(output, folded scores, folded context)``."""
    import torch.nn.functional as F

    b, s, hidden = x.shape
    hd = hidden // heads
    q, k, v = (
        F.linear(x.float(), p.weight.float(), p.bias.float()).view(b, s, heads, hd).transpose(1, 2).reshape(-1, s, hd)
        for p in (attn.query, attn.key, attn.value)
    )
    scores = q @ k.transpose(1, 2)  # (batch * heads, seq, seq)
    context = (scores / math.sqrt(hidden if full_scale else hd)).softmax(dim) @ v
    merged = context.view(b, heads, s, hd).transpose(1, 2) if transpose_back else context
    return merged.reshape(b, s, hidden), scores, context


_MHA_MISTAKES = (
    (dict(full_scale=True), N_("d_k is the head size: divide the scores by sqrt(hidden // num_heads), not sqrt(hidden)")),
    (dict(dim=-2), N_("softmax over the keys (the last dim): each query's weights must sum to 1")),
    (dict(transpose_back=False), N_("merge the heads back: (batch*heads, seq, hd) -> view(batch, heads, seq, hd) -> "
     "transpose(1, 2) -> reshape(batch, seq, hidden)")),
)  # fmt: skip


@checker(
    "06.1",
    asks=N_("the products written with torch.bmm"),
    off={
        "course_utils.attention": tuple(
            f"course_utils.attention.{name}"
            for name in ("multi_head_attention", "scaled_dot_product_attention", "split_heads", "merge_heads")
        ),
        "F.scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention",
        "F.multi_head_attention_forward": "torch.nn.functional.multi_head_attention_forward",
        "matmul / @": ("torch.matmul", "torch.Tensor.matmul", "torch.Tensor.__matmul__", "torch.Tensor.__rmatmul__"),
        "einsum": "torch.einsum",
        "mm": ("torch.mm", "torch.Tensor.mm"),
    },
)
def exercise_06_1(multi_head_attention_bmm: Any) -> None:
    """``multi_head_attention_bmm(x, attn, num_heads)`` -> ``(batch, seq, hidden)``; both products by ``torch.bmm``."""
    import torch

    dtype = model_dtype()
    for batch, seq, hidden, heads in ((3, 7, 48, 4), (2, 5, 36, 6), (1, 9, 32, 8), (2, 1, 24, 2), (2, 6, 60, 5)):
        torch.manual_seed(hidden)
        linear = lambda: torch.nn.Linear(hidden, hidden).to(dtype).requires_grad_(False)  # noqa: E731
        attn = SimpleNamespace(query=linear(), key=linear(), value=linear())
        x = (3 * torch.randn(batch, seq, hidden)).to(dtype)
        with _bmm_outputs() as products:
            got = answer(multi_head_attention_bmm, x.clone(), attn, heads)
        want, scores, context = _mha(x, attn, heads)
        expect(
            (isinstance(got, tuple), _("return the context tensor alone (batch, seq, hidden), not a tuple")),
            (tensor_mismatch(got, x.shape), lambda: _("expected a tensor of shape {shape} (heads merged back), got {got}").format(shape=tuple(x.shape), got=tensor_mismatch(got, x.shape))),
            (lambda: not _close(got, want, dtype), lambda: _which(
                lambda kw: _close(got, _mha(x, attn, heads, **kw)[0], dtype), [(kw, _(hint)) for kw, hint in _MHA_MISTAKES],
                _("split into heads with view(batch, seq, heads, hd).transpose(1, 2), fold to (batch*heads, seq, hd), "
                "bmm, softmax, bmm"))),
            (lambda: not any(_close(out, s, dtype) for out in products for s in (scores, scores / math.sqrt(hidden // heads))),
             _("the scores (batch*heads, seq, seq) must come from torch.bmm(q, k.transpose(1, 2)) on the folded heads")),
            (lambda: not any(_close(out, context, dtype) for out in products),
             _("the weighted sum (batch*heads, seq, head_dim) must come from torch.bmm(weights, v) on the folded heads")),
            on=f"batch={batch}, seq={seq}, hidden={hidden}, num_heads={heads}",
        )  # fmt: skip


@checker(
    "06.2",
    asks=N_("the entropy written out"),
    off={N_("an entropy function"): ("torch.distributions.Categorical.entropy", "scipy.stats.entropy")},
)
def exercise_06_2(head_entropy: Any) -> None:
    """``head_entropy(weights)``: ``(batch, heads, n_q, n_k)`` -> ``(heads,)``, mean over batch and queries of ``-Σ_j w log w``."""
    import torch

    dtype = model_dtype()
    lengths = torch.tensor([7, 5, 2])  # the keys of a padded batch: rows of 7, 5 and 2 real tokens
    for seed, (shape, keep) in enumerate(
        (
            ((2, 5, 6, 6), torch.ones(6, 6).tril().bool()),  # causal: exact zeros above the diagonal
            ((3, 2, 4, 7), (torch.arange(7) < lengths[:, None])[:, None, None]),  # padding, n_q != n_k
            ((1, 3, 1, 5), torch.ones(5).bool()),
        )
    ):
        sharpness = torch.logspace(-1, 1, shape[1])[:, None, None]  # diffuse ... sharp heads
        scores = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * sharpness
        weights = scores.masked_fill(~keep, float("-inf")).softmax(-1).to(dtype)
        with torch.no_grad():
            got = answer(head_entropy, weights.clone())
        w = weights.float()
        want = -torch.special.xlogy(w, w).sum(-1).mean(dim=(0, 2))
        expect(
            (tensor_mismatch(got, want.shape), lambda: _("one value per head: shape {shape}, got {got}; sum over keys (dim=-1), then average over dims 0 and 2").format(shape=tuple(want.shape), got=tensor_mismatch(got, want.shape))),
            (lambda: bool(got.isnan().any()), _("NaN: masked weights are exactly 0 and 0·log 0 gives NaN; count it as 0 "
             "with torch.special.xlogy(w, w) or w * w.clamp_min(1e-12).log()")),
            (lambda: not _close(got, want, dtype), lambda: _which(lambda v: _close(got, v, dtype), (
                (-want, _("the sign: entropy is -Σ w log w, which is >= 0")),
                (want / shape[-1], _("sum over the keys (a distribution's entropy), do not average over them")),
            ), _("expected {expected}, got {got}: -(w * log w).sum(-1), then mean over dims 0 and 2").format(expected=[round(v, 3) for v in want.tolist()], got=[round(v, 3) for v in got.float().tolist()]))),
            on=_("weights of shape {shape}").format(shape=shape),
        )  # fmt: skip


@checker(
    "06.3",
    asks=N_("the mask built from positions"),
    off={
        N_("transformers' sliding-window masks"): tuple(
            f"transformers.masking_utils.{name}"
            for name in (
                "sliding_window_causal_mask_function",
                "sliding_window_overlay",
                "create_sliding_window_causal_mask",
            )
        )
    },
)
def exercise_06_3(sliding_window_mask: Any) -> None:
    """``sliding_window_mask(n, window)`` -> bool ``(n, n)``, True where query i may attend key j: ``i - window <= j <= i``."""
    import torch

    for n, window in ((7, 2), (10, 3), (5, 0), (4, 9), (6, 5), (1, 0), (9, 4)):
        got = answer(sliding_window_mask, n, window)
        i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
        want = (j <= i) & (i - j <= window)
        mistakes = (
            (~want, _("inverted: True must mean MAY ATTEND (F.scaled_dot_product_attention's convention)")),
            ((i - j).abs() <= window, _("the window must also be causal: block the future (j > i)")),
            (
                (j <= i) & (i - j < window),
                _("off by one: a token sees itself AND `window` earlier tokens (i - window <= j)"),
            ),
            (j <= i, _("a sliding window: also block the keys more than `window` positions back")),
        )
        expect(
            (tensor_mismatch(got, (n, n)), lambda: _("expected a tensor of shape ({n}, {n}), got {got}").format(n=n, got=tensor_mismatch(got, (n, n)))),
            (lambda: got.dtype != torch.bool, _("return a bool tensor (True = may attend, as F.scaled_dot_product_attention expects)")),
            (lambda: not torch.equal(got.cpu(), want), lambda: _which(lambda mask: torch.equal(got.cpu(), mask), mistakes,
             _("wrong: compare arange(n)[:, None] (queries) with arange(n)[None, :] (keys)"))),
            on=f"n={n}, window={window}",
        )  # fmt: skip


def _cache_bytes(dtype: Any, n_tokens: int, **config: Any) -> tuple[Any, int]:
    """A tiny Llama of ``config`` in ``dtype``: its config, and the bytes of keys + values it really caches for ``n_tokens``."""
    import torch

    model = tiny_model("llama", "lm", dtype=dtype, **config)
    with torch.no_grad():
        cache = model(torch.arange(1, n_tokens + 1)[None], use_cache=True).cache
    return model.config, sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


@checker(
    "06.4",
    asks=N_("the size computed from the config"),
    off={
        N_("building a model"): (
            "transformers.PreTrainedModel.__init__",
            "transformers.cache_utils.DynamicCache.__init__",
        )
    },
)
def exercise_06_4(kv_cache_bytes: Any) -> None:
    """``kv_cache_bytes(config, n_tokens, bytes_per_value=4)`` -> bytes of a decoder's key/value cache, as a real cache holds."""
    import torch

    for dtype, n_tokens, layers, heads, kv, hd, hidden in (
        (torch.float32, 11, 3, 8, 2, 16, 96),
        (torch.bfloat16, 7, 2, 6, 6, 8, 48),
        (torch.float16, 5, 4, 6, 1, 32, 84),  # head_dim is not hidden_size // num_attention_heads
        (torch.float64, 1, 1, 4, 4, 8, 32),
    ):
        config, want = _cache_bytes(
            dtype, n_tokens, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv, head_dim=hd,
            hidden_size=hidden,
        )  # fmt: skip
        size, on = (
            dtype.itemsize,
            _("{layers} layers, {heads} heads, {kv} KV heads, head_dim {hd}, {n_tokens} tokens, {dtype}").format(
                layers=layers, heads=heads, kv=kv, hd=hd, n_tokens=n_tokens, dtype=dtype
            ),
        )
        got = _count(
            on, kv_cache_bytes, config, n_tokens, **({} if dtype == torch.float32 else {"bytes_per_value": size})
        )
        mistakes = {
            2 * layers * heads * hd * n_tokens * size: _(
                "grouped-query attention: the cache holds num_key_value_heads heads, not num_attention_heads"
            ),
            layers * kv * hd * n_tokens * size: _("keys AND values: the cache stores two tensors per layer (factor 2)"),
            2 * layers * kv * (hidden // heads) * n_tokens * size: _(
                "use config.head_dim: it need not equal hidden_size // num_attention_heads"
            ),
            2 * kv * hd * n_tokens * size: _("every layer has its own cache: multiply by num_hidden_layers"),
            want // size * 4: _("multiply by the bytes_per_value argument (2 for bfloat16/float16), not a fixed 4"),
        }
        expect(
            (
                got != want,
                lambda: mistakes.get(got, _("expected {want:,} bytes, got {got:,}").format(want=want, got=got)),
            ),
            on=on,
        )
