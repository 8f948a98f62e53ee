"""Checkers for notebook 06 (attention)."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ._core import Verdict, call_safely, tensor_mismatch, verdict

__all__ = ["exercise_06_1", "exercise_06_2", "exercise_06_3", "exercise_06_4"]


def _fresh_attention(hidden: int, seed: int) -> SimpleNamespace:
    """A stand-in for BERT's ``attention.self``: seeded ``query``/``key``/``value`` projections."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return SimpleNamespace(
        query=nn.Linear(hidden, hidden), key=nn.Linear(hidden, hidden), value=nn.Linear(hidden, hidden)
    )


def _mha_variant(
    x: Any,
    attn: SimpleNamespace,
    num_heads: int,
    scale_dim: int | None = None,
    softmax_dim: int = -1,
    merge_without_transpose: bool = False,
) -> Any:
    """Multi-head attention with one typical mistake switched on (used to name the learner's)."""

    b, s, hidden = x.shape
    hd = hidden // num_heads
    q, k, v = (p(x).view(b, s, num_heads, hd).transpose(1, 2) for p in (attn.query, attn.key, attn.value))
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale_dim or hd)
    ctx = scores.softmax(dim=softmax_dim) @ v  # (b, heads, s, hd)
    if merge_without_transpose:
        return ctx.reshape(b, s, hidden)
    return ctx.transpose(1, 2).reshape(b, s, hidden)


def exercise_06_1(multi_head_attention_bmm: Callable[..., Any]) -> Verdict | bool:
    """``multi_head_attention_bmm(x, attn, num_heads)`` -> context ``(batch, seq, hidden)``, computed with ``torch.bmm``."""
    import torch

    from .. import attention as att

    for hidden, heads, seed in ((48, 4, 61), (36, 6, 62)):
        attn = _fresh_attention(hidden, seed)
        x = torch.randn(3, 7, hidden, generator=torch.Generator().manual_seed(seed))
        calls = []
        real_bmm = torch.bmm

        def counting_bmm(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return real_bmm(*args, **kwargs)

        torch.bmm = counting_bmm
        try:
            with torch.no_grad():
                ok, got = call_safely("06.1", multi_head_attention_bmm, x, attn, heads)
        finally:
            torch.bmm = real_bmm
        if not ok:
            return ok  # the failing verdict, already printed
        if isinstance(got, tuple):
            return verdict("06.1", False, "return the context tensor alone (batch, seq, hidden), not a tuple")
        if (shape := tensor_mismatch(got, x.shape)) is not None:
            return verdict(
                "06.1", False, f"expected a tensor of shape {tuple(x.shape)} (heads merged back), got {shape}"
            )
        with torch.no_grad():
            expected, _ = att.multi_head_attention(x, attn.query, attn.key, attn.value, None, num_heads=heads)
            wrong = {
                "d_k is the head size: divide the scores by sqrt(hidden // num_heads), not sqrt(hidden)": _mha_variant(
                    x, attn, heads, scale_dim=hidden
                ),
                "softmax over the keys (the last dim): each query's weights must sum to 1": _mha_variant(
                    x, attn, heads, softmax_dim=-2
                ),
                "merge the heads back: (batch*heads, seq, hd) -> (batch, heads, seq, hd) -> transpose(1, 2) -> reshape": _mha_variant(
                    x, attn, heads, merge_without_transpose=True
                ),
            }
        if not torch.allclose(got.detach(), expected, atol=1e-5, rtol=1e-4):
            for hint, variant in wrong.items():
                if torch.allclose(got.detach(), variant, atol=1e-5, rtol=1e-4):
                    return verdict("06.1", False, hint)
            return verdict(
                "06.1",
                False,
                f"wrong for hidden={hidden}, num_heads={heads}: split into heads with "
                "view(batch, seq, heads, hd).transpose(1, 2), fold to (batch*heads, seq, hd), bmm, softmax, bmm",
            )
        if not calls:
            return verdict(
                "06.1",
                False,
                "right numbers, but torch.bmm was never called: fold the heads into the "
                "batch dimension and use torch.bmm (the point of the exercise)",
            )
    return verdict("06.1", True)


def _entropy_reference(weights: Any) -> Any:
    import torch

    return -torch.special.xlogy(weights, weights).sum(-1).mean(dim=(0, 2))


def exercise_06_2(head_entropy: Callable[..., Any]) -> Verdict | bool:
    """``head_entropy(weights)``: weights ``(batch, heads, n_q, n_k)`` -> ``(heads,)`` mean over batch and queries of ``-Σ_j w log w``."""
    import torch

    from .. import attention as att

    gen = torch.Generator().manual_seed(606)
    heads, n = 5, 6
    sharpness = torch.tensor([0.1, 0.5, 1.0, 3.0, 10.0])[None, :, None, None]  # diffuse ... sharp
    scores = torch.randn(2, heads, n, n, generator=gen) * sharpness
    weights = scores.masked_fill(~att.causal_mask(n), float("-inf")).softmax(-1)  # exact zeros above the diagonal
    ok, got = call_safely("06.2", head_entropy, weights.clone())
    if not ok:
        return ok  # the failing verdict, already printed
    expected = _entropy_reference(weights)
    if not isinstance(got, torch.Tensor):
        return verdict("06.2", False, f"return a tensor of shape ({heads},), got {type(got).__name__}")
    got = got.detach().float()
    if tuple(got.shape) != (heads,):
        return verdict(
            "06.2",
            False,
            f"one value per head: shape ({heads},), got {tuple(got.shape)}; sum over keys "
            "(dim=-1), then average over batch and queries (dims 0 and 2)",
        )
    if torch.isnan(got).any():
        return verdict(
            "06.2",
            False,
            "NaN: causal (or padding) weights are exactly 0 and 0·log 0 gives NaN; count it as 0 "
            "with torch.special.xlogy(w, w) or w * w.clamp_min(1e-12).log()",
        )
    if torch.allclose(got, -expected, atol=1e-5):
        return verdict("06.2", False, "the sign: entropy is -Σ w log w, which is >= 0")
    if torch.allclose(got, expected / n, atol=1e-5) or torch.allclose(
        got, -torch.special.xlogy(weights, weights).mean(-1).mean(dim=(0, 2)), atol=1e-5
    ):
        return verdict("06.2", False, "sum over the keys (a distribution's entropy), do not average over them")
    if not torch.allclose(got, expected, atol=1e-5):
        return verdict(
            "06.2",
            False,
            f"expected {[round(v, 3) for v in expected.tolist()]}, got "
            f"{[round(v, 3) for v in got.tolist()]}: -(w * log w).sum(-1), then mean over dims 0 and 2",
        )
    return verdict("06.2", True)


def exercise_06_3(sliding_window_mask: Callable[..., Any]) -> Verdict | bool:
    """``sliding_window_mask(n, window)`` -> bool ``(n, n)``, True where query i may attend key j: ``i - window <= j <= i``."""
    import torch

    for n, window in ((7, 2), (10, 3), (5, 0), (4, 9)):
        ok, got = call_safely("06.3", sliding_window_mask, n, window)
        if not ok:
            return ok  # the failing verdict, already printed
        i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
        expected = (j <= i) & (i - j <= window)
        if (shape := tensor_mismatch(got, (n, n))) is not None:
            return verdict("06.3", False, f"expected a tensor of shape ({n}, {n}), got {shape}")
        if got.dtype != torch.bool:
            return verdict(
                "06.3", False, "return a bool tensor (True = may attend, as F.scaled_dot_product_attention expects)"
            )
        if torch.equal(got, expected):
            continue
        if torch.equal(got, ~expected):
            return verdict(
                "06.3",
                False,
                "inverted: True must mean MAY ATTEND (F.scaled_dot_product_attention's convention), False blocked",
            )
        if torch.equal(got, (i - j).abs() <= window):
            return verdict("06.3", False, "the window must also be causal: block the future (j > i)")
        if torch.equal(got, (j <= i) & (i - j < window)):
            return verdict(
                "06.3", False, "off by one: a token sees itself AND `window` earlier tokens (i - window <= j)"
            )
        return verdict(
            "06.3", False, f"wrong for n={n}, window={window}: compare arange(n)[:, None] with arange(n)[None, :]"
        )
    return verdict("06.3", True)


def _measured_cache_bytes(config: Any, n_tokens: int) -> int:
    """Bytes of keys + values a tiny random Llama of ``config`` really caches for ``n_tokens`` (float32)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    ids = torch.randint(0, config.vocab_size, (1, n_tokens), generator=torch.Generator().manual_seed(n_tokens))
    with torch.no_grad():
        cache = model(ids, use_cache=True).cache
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


def exercise_06_4(kv_cache_bytes: Callable[..., Any]) -> Verdict | bool:
    """``kv_cache_bytes(config, n_tokens, bytes_per_value=4)`` -> bytes of a decoder's key/value cache, checked against a real cache."""
    from transformers import LlamaConfig

    configs = [
        LlamaConfig(
            vocab_size=64,
            hidden_size=96,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=8,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=64,
        ),
        LlamaConfig(
            vocab_size=64,
            hidden_size=48,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=6,
            num_key_value_heads=6,
            max_position_embeddings=64,
        ),
        LlamaConfig(
            vocab_size=64,
            hidden_size=80,
            intermediate_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=32,
            max_position_embeddings=64,
        ),
    ]
    for config, n_tokens in zip(configs, (11, 7, 5)):
        ok, got = call_safely("06.4", kv_cache_bytes, config, n_tokens)
        if not ok:
            return ok  # the failing verdict, already printed
        try:
            got = int(got)
        except (TypeError, ValueError):
            return verdict("06.4", False, f"return a number of bytes (an int), got {type(got).__name__}")
        expected = _measured_cache_bytes(config, n_tokens)
        if got == expected:
            continue
        layers, kv, heads, hd = (
            config.num_hidden_layers,
            config.num_key_value_heads,
            config.num_attention_heads,
            config.head_dim,
        )
        # LlamaConfig defaults num_key_value_heads to num_attention_heads, head_dim to hidden_size // num_attention_heads
        assert kv is not None and hd is not None
        hints = {
            2
            * layers
            * heads
            * hd
            * n_tokens
            * 4: "grouped-query attention: the cache holds num_key_value_heads heads, not num_attention_heads",
            layers * kv * hd * n_tokens * 4: "keys AND values: the cache stores two tensors per layer (factor 2)",
            2 * layers * kv * (config.hidden_size // heads) * n_tokens * 4: "use config.head_dim: it need not equal "
            "hidden_size // num_attention_heads",
            2 * kv * hd * n_tokens * 4: "every layer has its own cache: multiply by num_hidden_layers",
            2 * layers * kv * hd * n_tokens: "bytes, not values: multiply by bytes_per_value (4 for float32)",
        }
        return verdict(
            "06.4",
            False,
            hints.get(
                got,
                f"expected {expected:,} bytes for {layers} layers, {kv} KV heads, "
                f"head_dim {hd}, {n_tokens} tokens; got {got:,}",
            ),
        )
    ok, half = call_safely("06.4", kv_cache_bytes, configs[0], 11, bytes_per_value=2)
    if not ok:
        return ok  # the failing verdict, already printed
    if half != _measured_cache_bytes(configs[0], 11) // 2:
        return verdict("06.4", False, "use the bytes_per_value argument (2 for bfloat16/float16) instead of a fixed 4")
    return verdict("06.4", True)
