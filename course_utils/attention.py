"""Reference attention, written to be read: scaled dot-product, masks, heads, rotary positions.

Notebook 06 builds each piece by hand and checks it against ``torch`` and ``transformers``;
the exercise checkers compare a learner's code with these functions. Shapes follow the
transformers convention: activations ``(batch, seq, hidden)``, per-head tensors
``(batch, heads, seq, head_dim)``. Boolean masks follow ``torch.nn.functional.scaled_dot_product_attention``:
**True means "may attend"**, False means "blocked".

Each function's body is the computation only; its argument checks come first in this file and
run at the public boundary (:func:`course_utils._args.checked_by`), before the body.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_utils._args import checked_by, number, positive_int, tensor

__all__ = [
    "apply_rotary",
    "causal_mask",
    "merge_heads",
    "multi_head_attention",
    "padding_mask",
    "repeat_kv",
    "rotary_cos_sin",
    "scaled_dot_product_attention",
    "split_heads",
]


# ------------------------------------------------------------------------------- argument checks


def _sdpa_arguments(query, key, value, mask=None, scale=None) -> None:
    tensor("query", query, 2)
    tensor("key", key, 2)
    tensor("value", value, 2)
    if query.size(-1) != key.size(-1):
        raise ValueError(f"query and key must share their last dimension, got {query.size(-1)} and {key.size(-1)}")
    if key.size(-2) != value.size(-2):
        raise ValueError(
            f"key and value must have the same number of positions, got {key.size(-2)} and {value.size(-2)}"
        )
    if scale is not None:
        number("scale", scale, 0)
    if mask is not None and tensor("mask", mask, 1).dtype != torch.bool and not mask.is_floating_point():
        raise ValueError(f"mask must be a bool or float tensor, got dtype {mask.dtype}")


def _causal_mask_arguments(n, device=None) -> None:
    positive_int("n", n)


def _padding_mask_arguments(attention_mask) -> None:
    if tensor("attention_mask", attention_mask).dim() != 2:
        raise ValueError(f"attention_mask must be 2-D (batch, seq), got shape {tuple(attention_mask.shape)}")
    if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
        raise ValueError("attention_mask must contain only 0 (padding) and 1 (real token)")


def _split_heads_arguments(x, num_heads) -> None:
    tensor("x", x, 3)
    positive_int("num_heads", num_heads)
    if x.size(-1) % num_heads:
        raise ValueError(f"the last dimension ({x.size(-1)}) must be divisible by num_heads ({num_heads})")


def _merge_heads_arguments(x) -> None:
    tensor("x", x, 4)


def _repeat_kv_arguments(x, n_rep) -> None:
    tensor("x", x, 4)
    positive_int("n_rep", n_rep)


def _rotary_cos_sin_arguments(positions, head_dim, base=10_000.0) -> None:
    tensor("positions", positions, 1)
    positive_int("head_dim", head_dim)
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for rotary embeddings, got {head_dim}")
    number("base", base, 1)


def _apply_rotary_arguments(x, cos, sin) -> None:
    tensor("x", x, 1)
    if cos.shape != sin.shape or cos.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"cos and sin must have the same shape ending in head_dim={x.shape[-1]}, "
            f"got {tuple(cos.shape)} and {tuple(sin.shape)}"
        )


def _multi_head_attention_arguments(
    x, q_proj, k_proj, v_proj, o_proj, num_heads, num_kv_heads=None, mask=None, rotary=None
) -> None:
    tensor("x", x, 3)
    positive_int("num_heads", num_heads)
    if num_kv_heads is not None and num_heads % positive_int("num_kv_heads", num_kv_heads):
        raise ValueError(f"num_heads ({num_heads}) must be a multiple of num_kv_heads ({num_kv_heads})")
    for name, proj in (("q_proj", q_proj), ("k_proj", k_proj), ("v_proj", v_proj)):
        if not isinstance(proj, nn.Module):
            raise TypeError(f"{name} must be an nn.Module such as nn.Linear, got {type(proj).__name__}")


# ------------------------------------------------------------------------------- the reference


@checked_by(_sdpa_arguments)
def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(Q Kᵀ · scale + mask) V`` over the last two dims; returns ``(output, weights)``.

    ``query (..., n_q, d)``, ``key (..., n_k, d)``, ``value (..., n_k, d_v)``. ``mask`` broadcasts to
    ``(..., n_q, n_k)``: boolean (True = may attend) or float (added to the scores, ``-inf`` blocks).
    ``scale`` defaults to ``1/sqrt(d)``. A row whose keys are all blocked gives NaN, as in torch.

    Taught in: 06 Attention, "Scaled dot-product attention with `bmm`".
    """
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    scores = query @ key.transpose(-2, -1) * scale  # attention *scores*: any real number
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, float("-inf"))
    elif mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-1)  # attention *weights*: each row sums to 1
    return weights @ value, weights


@checked_by(_causal_mask_arguments)
def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(n, n)`` mask, True on and below the diagonal: position i may attend to j <= i.

    Taught in: 06 Attention, "The causal mask".
    """
    return ~torch.triu(torch.ones(n, n, dtype=torch.bool, device=device), diagonal=1)


@checked_by(_padding_mask_arguments)
def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Turn a tokenizer's ``attention_mask`` (batch, n_k) of 1/0 into a boolean (batch, 1, 1, n_k) key mask.

    Taught in: 06 Attention, "Padding".
    """
    return attention_mask.bool()[:, None, None, :]


@checked_by(_split_heads_arguments)
def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(batch, seq, heads*head_dim)`` -> ``(batch, heads, seq, head_dim)``.

    Taught in: 06 Attention, "A decoder layer's attention by hand: RMSNorm, rotary positions, grouped-query attention".
    """
    batch, seq, hidden = x.shape
    return x.view(batch, seq, num_heads, hidden // num_heads).transpose(1, 2)


@checked_by(_merge_heads_arguments)
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(batch, heads, seq, head_dim)`` -> ``(batch, seq, heads*head_dim)`` (inverse of :func:`split_heads`).

    Taught in: 06 Attention, "Multi-head attention, rebuilt from a pretrained encoder".
    """
    batch, heads, seq, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * head_dim)


@checked_by(_repeat_kv_arguments)
def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Grouped-query attention: repeat each of the ``kv_heads`` ``n_rep`` times along dim 1 (consecutive copies).

    Taught in: 06 Attention, "A decoder layer's attention by hand: RMSNorm, rotary positions, grouped-query attention".
    """
    return x.repeat_interleave(n_rep, dim=1)


@checked_by(_rotary_cos_sin_arguments)
def rotary_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10_000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE tables for integer ``positions`` (seq,): ``cos, sin`` of shape (seq, head_dim), halves repeated.

    Taught in: 06 Attention, "A decoder layer's attention by hand: RMSNorm, rotary positions, grouped-query attention".
    """
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]  # (seq, head_dim/2)
    angles = torch.cat([angles, angles], dim=-1)  # the "rotate half" layout used by Llama
    return angles.cos(), angles.sin()


@checked_by(_apply_rotary_arguments)
def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x (..., seq, head_dim)`` by position: ``x·cos + rotate_half(x)·sin`` (Llama's layout).

    Taught in: 06 Attention, "A decoder layer's attention by hand: RMSNorm, rotary positions, grouped-query attention".
    """
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


@checked_by(_multi_head_attention_arguments)
def multi_head_attention(
    x: torch.Tensor,
    q_proj: nn.Linear,
    k_proj: nn.Linear,
    v_proj: nn.Linear,
    o_proj: nn.Linear | None,
    num_heads: int,
    num_kv_heads: int | None = None,
    mask: torch.Tensor | None = None,
    rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-attention of ``x (batch, seq, hidden)`` with given projections; returns ``(output, weights)``.

    Project to q, k, v; split into heads (``num_kv_heads`` < ``num_heads`` is grouped-query
    attention: k and v heads are shared by groups of query heads); optionally rotate q and k
    (``rotary=(cos, sin)``); attend with :func:`scaled_dot_product_attention`; merge the heads;
    apply ``o_proj`` unless it is None. ``weights`` is ``(batch, num_heads, seq, seq)``.

    Taught in: 06 Attention, "Multi-head attention, rebuilt from a pretrained encoder".
    """
    num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    q = split_heads(q_proj(x), num_heads)
    k = split_heads(k_proj(x), num_kv_heads)
    v = split_heads(v_proj(x), num_kv_heads)
    if rotary is not None:
        cos, sin = rotary
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    group = num_heads // num_kv_heads
    k, v = repeat_kv(k, group), repeat_kv(v, group)
    context, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    out = merge_heads(context)
    if o_proj is not None:
        out = o_proj(out)
    return out, weights
