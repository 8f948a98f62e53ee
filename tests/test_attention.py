"""Tests of course_utils.attention against torch and transformers."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from course_utils import attention as att
from course_utils import generation


def test_scaled_dot_product_attention_matches_torch_and_rows_sum_to_one():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    out, weights = att.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, nn.functional.scaled_dot_product_attention(q, k, v))
    assert weights.shape == (2, 3, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_scaled_dot_product_attention_masks_and_scale():
    torch.manual_seed(1)
    q, k, v = torch.randn(1, 4, 6), torch.randn(1, 4, 6), torch.randn(1, 4, 6)
    mask = att.causal_mask(4)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))
    additive = torch.zeros(4, 4).masked_fill(~mask, float("-inf"))
    out2, _ = att.scaled_dot_product_attention(q, k, v, mask=additive)
    torch.testing.assert_close(out, out2)
    out3, _ = att.scaled_dot_product_attention(q, k, v, scale=0.5)
    torch.testing.assert_close(out3, nn.functional.scaled_dot_product_attention(q, k, v, scale=0.5))


def test_scaled_dot_product_attention_rejects_bad_input():
    x = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="last dimension"):
        att.scaled_dot_product_attention(x, torch.randn(2, 3, 5), torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="same number of positions"):
        att.scaled_dot_product_attention(x, x, torch.randn(2, 2, 4))
    with pytest.raises(ValueError, match="scale"):
        att.scaled_dot_product_attention(x, x, x, scale=-1.0)
    with pytest.raises(ValueError, match="bool or float"):
        att.scaled_dot_product_attention(x, x, x, mask=torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="query"):
        att.scaled_dot_product_attention([[1.0]], x, x)


def test_causal_mask():
    m = att.causal_mask(3)
    assert m.tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    with pytest.raises(ValueError, match="n must be a positive int"):
        att.causal_mask(0)


def test_padding_mask_blocks_padded_keys():
    am = torch.tensor([[1, 1, 0], [1, 1, 1]])
    m = att.padding_mask(am)
    assert m.shape == (2, 1, 1, 3) and m[0, 0, 0].tolist() == [True, True, False]
    q = torch.randn(2, 1, 3, 4)
    _, w = att.scaled_dot_product_attention(q, q, q, mask=m)
    assert torch.equal(w[0, 0, :, 2], torch.zeros(3))
    with pytest.raises(ValueError, match="only 0"):
        att.padding_mask(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="2-D"):
        att.padding_mask(torch.ones(1, 1, 3))


def test_split_and_merge_heads_are_inverse():
    x = torch.arange(2 * 5 * 12, dtype=torch.float32).view(2, 5, 12)
    h = att.split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    assert torch.equal(h[0, 1, 0], x[0, 0, 4:8])  # head 1 owns features 4..7
    assert torch.equal(att.merge_heads(h), x)
    with pytest.raises(ValueError, match="divisible"):
        att.split_heads(x, 5)
    with pytest.raises(ValueError, match="at least 4"):
        att.merge_heads(x)


def test_repeat_kv_matches_transformers():
    from transformers.models.llama.modeling_llama import repeat_kv

    x = torch.randn(2, 3, 5, 4)
    assert torch.equal(att.repeat_kv(x, 3), repeat_kv(x, 3))
    with pytest.raises(ValueError, match="n_rep"):
        att.repeat_kv(x, 0)


def test_rotary_matches_llama():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    config = LlamaConfig(
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0},
    )
    pos = torch.arange(6)
    q, k = torch.randn(1, 2, 6, 16), torch.randn(1, 1, 6, 16)
    cos_ref, sin_ref = LlamaRotaryEmbedding(config)(q, pos[None])
    cos, sin = att.rotary_cos_sin(pos, 16, base=500.0)
    torch.testing.assert_close(cos, cos_ref[0])
    torch.testing.assert_close(sin, sin_ref[0])
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos_ref, sin_ref)
    torch.testing.assert_close(att.apply_rotary(q, cos, sin), q_ref)
    torch.testing.assert_close(att.apply_rotary(k, cos, sin), k_ref)
    with pytest.raises(ValueError, match="even"):
        att.rotary_cos_sin(pos, 15)
    with pytest.raises(ValueError, match="cos and sin"):
        att.apply_rotary(q, cos[:, :8], sin[:, :8])


def test_rotary_scores_depend_only_on_offset():
    cos, sin = att.rotary_cos_sin(torch.arange(20), 8)
    q, k = torch.randn(8), torch.randn(8)

    def score(m, n):
        return att.apply_rotary(q, cos[m], sin[m]) @ att.apply_rotary(k, cos[n], sin[n])

    torch.testing.assert_close(score(3, 1), score(13, 11))
    assert not torch.allclose(score(3, 1), score(3, 2))


def test_multi_head_attention_matches_nn_multiheadattention():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(embed_dim=12, num_heads=3, batch_first=True).eval()
    wq, wk, wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)
    projs = []
    for w, b in ((wq, bq), (wk, bk), (wv, bv)):
        lin = nn.Linear(12, 12)
        lin.weight.data, lin.bias.data = w.detach().clone(), b.detach().clone()
        projs.append(lin)
    x = torch.randn(2, 5, 12)
    mask = att.causal_mask(5)
    out, weights = att.multi_head_attention(x, *projs, mha.out_proj, num_heads=3, mask=mask)
    # nn.MultiheadAttention's boolean attn_mask means the opposite: True = blocked.
    ref, ref_w = mha(x, x, x, attn_mask=~mask, average_attn_weights=False)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(weights, ref_w)


def test_multi_head_attention_grouped_query_matches_torch():
    torch.manual_seed(0)
    x = torch.randn(1, 4, 16)
    q_proj, k_proj, v_proj = nn.Linear(16, 16), nn.Linear(16, 8), nn.Linear(16, 8)
    out, _ = att.multi_head_attention(x, q_proj, k_proj, v_proj, None, num_heads=4, num_kv_heads=2)
    q = q_proj(x).view(1, 4, 4, 4).transpose(1, 2)
    k = k_proj(x).view(1, 4, 2, 4).transpose(1, 2)
    v = v_proj(x).view(1, 4, 2, 4).transpose(1, 2)
    ref = nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    torch.testing.assert_close(out, ref.transpose(1, 2).reshape(1, 4, 16))
    with pytest.raises(ValueError, match="multiple of num_kv_heads"):
        att.multi_head_attention(x, q_proj, k_proj, v_proj, None, num_heads=4, num_kv_heads=3)
    with pytest.raises(TypeError, match="k_proj"):
        att.multi_head_attention(x, q_proj, "k", v_proj, None, num_heads=4)


@pytest.mark.parametrize("module", [att, generation], ids=lambda m: m.__name__)
def test_reference_bodies_are_bare_and_checked_at_the_boundary(module):
    """The functions the notebooks present are the computation only; their checks run before them."""
    for name in module.__all__:
        fn = getattr(module, name)
        body = inspect.getsource(fn.__wrapped__)
        assert "raise " not in body and "_check" not in body, f"{module.__name__}.{name} validates in its body"
        assert inspect.signature(fn) == inspect.signature(fn.__wrapped__), f"{name} lost its signature"
        assert fn.__doc__ and fn.__doc__ == fn.__wrapped__.__doc__
