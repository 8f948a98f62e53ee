"""Checkers of notebook 06: the adversarial table (FAKES, run by test_check_fakes.py), and the worked
solutions, read from notebooks/solutions/src/06_attention_solutions.py, accepted in float32 and bfloat16."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from fakes import Fake, solution
from transformers import AutoModelForCausalLM, LlamaForCausalLM
from transformers.masking_utils import sliding_window_causal_mask_function, sliding_window_overlay

from course_utils import attention as att
from course_utils import check
from course_utils.check._core import precision

NAMES = ("multi_head_attention_bmm", "head_entropy", "sliding_window_mask", "kv_cache_bytes")
mha_bmm, head_entropy, sliding_window_mask, kv_cache_bytes = solution("06", *NAMES)


# ------------------------------------------------------------------ 06.1: multi-head attention with bmm


def bmm_mha(x, attn, num_heads, scale_hidden=False, dim=-1, merge=True, fold=True, ew_scores=False, ew_context=False):
    """Folded-heads attention with bmm, or one typical mistake / evasion switched on by a flag."""
    b, s, hidden = x.shape
    hd = hidden // num_heads

    def split(t):
        return t.view(b, s, num_heads, hd).transpose(1, 2).reshape(b * num_heads, s, hd) if fold else t.view(-1, s, hd)

    q, k, v = split(attn.query(x)), split(attn.key(x)), split(attn.value(x))
    scores = (q[:, :, None] * k[:, None]).sum(-1) if ew_scores else torch.bmm(q, k.transpose(1, 2))
    w = torch.softmax(scores / math.sqrt(hidden if scale_hidden else hd), dim=dim)
    ctx = (w[..., None] * v[:, None]).sum(-2) if ew_context else torch.bmm(w, v)
    if ew_scores:  # an identity bmm, so that a bmm "computes" the context
        ctx = torch.bmm(ctx, torch.eye(hd, dtype=ctx.dtype).expand(b * num_heads, hd, hd))
    ctx = ctx.view(b, num_heads, s, hd).transpose(1, 2) if merge else ctx
    return ctx.reshape(b, s, hidden)


def course_mha_plus_dummy_bmm(x, attn, num_heads):  # the example
    torch.bmm(torch.ones(1, 2, 2), torch.ones(1, 2, 2))
    return att.multi_head_attention(x, attn.query, attn.key, attn.value, None, num_heads=num_heads)[0]


def heads_of(x, attn, num_heads):
    b, s, hidden = x.shape
    return [p(x).view(b, s, num_heads, -1).transpose(1, 2) for p in (attn.query, attn.key, attn.value)]


def torch_sdpa(x, attn, num_heads):
    return F.scaled_dot_product_attention(*heads_of(x, attn, num_heads)).transpose(1, 2).reshape(x.shape)


def class_level_matmul(x, attn, num_heads):
    q, k, v = heads_of(x, attn, num_heads)
    w = torch.softmax(torch.Tensor.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1)), -1)
    return torch.Tensor.matmul(w, v).transpose(1, 2).reshape(x.shape)


def course_split_heads(x, attn, num_heads):
    q, k, v = (att.split_heads(p(x), num_heads) for p in (attn.query, attn.key, attn.value))
    return att.merge_heads(torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.size(-1)), -1) @ v)


def swallowed_mha(x, attn, num_heads):
    try:
        return course_mha_plus_dummy_bmm(x, attn, num_heads)
    except BaseException:
        return torch.zeros_like(x)


# ------------------------------------------------------------------ 06.2: head entropy


def xlogy_entropy(w):
    return -torch.special.xlogy(w, w).sum(-1)  # (batch, heads, n_q)


def swallowed_entropy(w):
    try:
        return torch.distributions.Categorical(probs=w).entropy().mean(dim=(0, 2))
    except BaseException:
        return xlogy_entropy(w[:1]).mean(dim=(0, 2))


FIRST_ENTROPY = [1.0942, 1.0672, 0.9346, 0.3727, 0.2078]  # 06.2's first input, hard-coded


# ------------------------------------------------------------------ 06.3: sliding-window mask


def positions(n):
    return torch.arange(n)[:, None], torch.arange(n)[None, :]


def library_window(n, window):
    i, j = positions(n)
    return sliding_window_causal_mask_function(window + 1)(0, 0, i, j)


def overlay_window(n, window):
    i, j = positions(n)
    return sliding_window_overlay(window + 1)(0, 0, i, j) & (j <= i)


def swallowed_window(n, window):
    try:
        return library_window(n, window)
    except BaseException:
        return torch.ones(n, n).tril().bool()


# ------------------------------------------------------------------ 06.4: KV-cache bytes


def measured_cache(config, n_tokens, bytes_per_value=4):
    model = AutoModelForCausalLM.from_config(config)
    cache = model(torch.arange(1, n_tokens + 1)[None], use_cache=True).cache
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


def class_level_model(config, n_tokens, bytes_per_value=4):
    model = LlamaForCausalLM._from_config(config)
    return 2 * len(model.model.layers) * config.num_key_value_heads * config.head_dim * n_tokens * bytes_per_value


def swallowed_measure(config, n_tokens, bytes_per_value=4):
    try:
        return measured_cache(config, n_tokens, bytes_per_value)
    except BaseException:
        return 8448


def cache_with(config, n_tokens, bytes_per_value=4, heads="num_key_value_heads", hd=None, kv=2, layers=True):
    head_dim = hd(config) if hd else config.head_dim
    n_layers = config.num_hidden_layers if layers else 1
    return kv * n_layers * getattr(config, heads) * head_dim * n_tokens * bytes_per_value


FAKES = {
    "06.1": {
        "library": [
            Fake("course multi_head_attention plus a dummy torch.bmm (issue 23)", (course_mha_plus_dummy_bmm,), "switched off"),
            Fake("F.scaled_dot_product_attention on split heads", (torch_sdpa,), "`F.scaled_dot_product_attention` is switched off"),
            Fake("course split_heads/merge_heads with einsum", (course_split_heads,), "switched off"),
        ],
        "constant": [Fake("zeros of x's shape", (lambda x, attn, h: torch.zeros_like(x),), "failed on batch=3, seq=7")],
        "ignores": [
            Fake("hard-coded 4 heads", (lambda x, attn, h: mha_bmm(x, attn, 4),), "num_heads=6"),
            Fake("the key projection as values", (lambda x, attn, h: mha_bmm(x, type(attn)(query=attn.query, key=attn.key, value=attn.key), h),), "split into heads"),
        ],
        "guard": [
            Fake("class-level Tensor.matmul", (class_level_matmul,), "`matmul / @` is switched off"),
            Fake("elementwise products, then an identity bmm", (lambda x, a, h: bmm_mha(x, a, h, ew_scores=True),), "the scores (batch*heads, seq, seq) must come from torch.bmm"),
            Fake("bmm for the scores, elementwise weighted sum", (lambda x, a, h: bmm_mha(x, a, h, ew_context=True),), "the weighted sum (batch*heads, seq, head_dim) must come from torch.bmm"),
            Fake("catches the switch-off and returns zeros", (swallowed_mha,), "switched off"),
        ],
        "other": [
            Fake("scaled by sqrt(hidden)", (lambda x, a, h: bmm_mha(x, a, h, scale_hidden=True),), "d_k is the head size"),
            Fake("softmax over the queries", (lambda x, a, h: bmm_mha(x, a, h, dim=-2),), "softmax over the keys"),
            Fake("heads merged without the transpose", (lambda x, a, h: bmm_mha(x, a, h, merge=False),), "merge the heads back"),
            Fake("heads folded without the transpose", (lambda x, a, h: bmm_mha(x, a, h, fold=False, merge=False),), "split into heads"),
            Fake("returns (context, None)", (lambda x, a, h: (mha_bmm(x, a, h), None),), "not a tuple"),
        ],
    },
    "06.2": {
        "library": [
            Fake("Categorical(probs=w).entropy()", (lambda w: torch.distributions.Categorical(probs=w).entropy().mean(dim=(0, 2)),), "`an entropy function` is switched off"),
            Fake("scipy.stats.entropy", (lambda w: torch.from_numpy(scipy.stats.entropy(w.float().numpy(), axis=-1)).mean(dim=(0, 2)),), "switched off"),
        ],
        "constant": [Fake("the first input's entropies, hard-coded", (lambda w: torch.tensor(FIRST_ENTROPY),), "failed on weights of shape (3, 2, 4, 7)")],
        "ignores": [
            Fake("the first batch element only", (lambda w: xlogy_entropy(w[:1]).mean(dim=(0, 2)),), "failed on weights of shape (2, 5, 6, 6)"),
            Fake("the last query only", (lambda w: xlogy_entropy(w)[:, :, -1].mean(0),), "failed on weights of shape (2, 5, 6, 6)"),
        ],
        "guard": [
            Fake("class-level Categorical.entropy", (lambda w: torch.distributions.Categorical.entropy(torch.distributions.Categorical(probs=w)).mean(dim=(0, 2)),), "switched off"),
            Fake("catches the switch-off, falls back to the first batch element", (swallowed_entropy,), "switched off"),
        ],
        "other": [
            Fake("w * log w (NaN at masked zeros)", (lambda w: -(w * w.log()).sum(-1).mean(dim=(0, 2)),), "0·log 0"),
            Fake("the sign", (lambda w: -xlogy_entropy(w).mean(dim=(0, 2)),), "the sign"),
            Fake("averaged over the keys", (lambda w: -torch.special.xlogy(w, w).mean(-1).mean(dim=(0, 2)),), "sum over the keys"),
            Fake("one value per query, not per head", (lambda w: xlogy_entropy(w).mean(dim=(0, 1)),), "one value per head"),
            Fake("entropy of the query-averaged distribution", (lambda w: xlogy_entropy(w.mean(2, keepdim=True)).mean(dim=(0, 2)),), "failed on weights of shape (2, 5, 6, 6)"),
            Fake("in bits", (lambda w: xlogy_entropy(w).mean(dim=(0, 2)) / math.log(2),), "expected ["),
            Fake("normalised by log(n_keys)", (lambda w: xlogy_entropy(w).mean(dim=(0, 2)) / math.log(w.size(-1)),), "expected ["),
        ],
    },
    "06.3": {
        "library": [
            Fake("transformers' sliding_window_causal_mask_function", (library_window,), "`transformers' sliding-window masks` is switched off"),
            Fake("transformers' sliding_window_overlay and a causal mask", (overlay_window,), "switched off"),
        ],
        "constant": [Fake("the mask for n=7, window=2, hard-coded", (lambda n, w: sliding_window_mask(7, 2),), "shape (10, 10)")],
        "ignores": [
            Fake("ignores window: a causal mask", (lambda n, w: torch.ones(n, n).tril().bool(),), "a sliding window"),
            Fake("hard-coded window=2", (lambda n, w: sliding_window_mask(n, 2),), "window=3"),
        ],
        "guard": [Fake("catches the switch-off, falls back to causal", (swallowed_window,), "switched off")],
        "other": [
            Fake("inverted (True = blocked)", (lambda n, w: ~sliding_window_mask(n, w),), "inverted"),
            Fake("a symmetric band, not causal", (lambda n, w: (positions(n)[0] - positions(n)[1]).abs() <= w,), "causal"),
            Fake("window counts the token itself (transformers' convention)", (lambda n, w: sliding_window_mask(n, w - 1) if w else torch.eye(n).bool(),), "off by one"),
            Fake("an int mask", (lambda n, w: sliding_window_mask(n, w).int(),), "bool"),
            Fake("an additive float mask (0 / -inf)", (lambda n, w: torch.zeros(n, n).masked_fill(~sliding_window_mask(n, w), float("-inf")),), "bool"),
        ],
    },
    "06.4": {
        "library": [Fake("builds the model and measures its cache", (measured_cache,), "`building a model` is switched off")],
        "constant": [Fake("the first config's size, hard-coded", (lambda c, n, bytes_per_value=4: 8448,), "expected")],
        "ignores": [
            Fake("a fixed 4 bytes per value", (lambda c, n, bytes_per_value=4: kv_cache_bytes(c, n),), "bytes_per_value"),
            Fake("ignores n_tokens (2,048)", (lambda c, n, bytes_per_value=4: kv_cache_bytes(c, 2048, bytes_per_value),), "11 tokens"),
        ],
        "guard": [
            Fake("catches the switch-off, returns a constant", (swallowed_measure,), "switched off"),
            Fake("class-level LlamaForCausalLM._from_config", (class_level_model,), "switched off"),
        ],
        "other": [
            Fake("num_attention_heads", (lambda c, n, bytes_per_value=4: cache_with(c, n, bytes_per_value, heads="num_attention_heads"),), "num_key_value_heads"),
            Fake("keys only", (lambda c, n, bytes_per_value=4: cache_with(c, n, bytes_per_value, kv=1),), "keys AND values"),
            Fake("hidden_size // num_attention_heads", (lambda c, n, bytes_per_value=4: cache_with(c, n, bytes_per_value, hd=lambda c: c.hidden_size // c.num_attention_heads),), "config.head_dim"),
            Fake("one layer", (lambda c, n, bytes_per_value=4: cache_with(c, n, bytes_per_value, layers=False),), "num_hidden_layers"),
            Fake("in MiB", (lambda c, n, bytes_per_value=4: kv_cache_bytes(c, n, bytes_per_value) / 2**20,), "expected"),
            Fake("a string", (lambda c, n, bytes_per_value=4: f"{kv_cache_bytes(c, n, bytes_per_value):,} bytes",), "return a number"),
        ],
    },
}  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("number, name", list(enumerate(NAMES, 1)))
def test_worked_solution_passes(number, name, dtype, capsys):
    with precision(dtype):
        assert getattr(check, f"exercise_06_{number}")(solution("06", name))
    assert "✅" in capsys.readouterr().out


def test_06_1_accepts_an_equivalent_answer_and_restores_what_it_switched_off(capsys):
    def per_head_loop(x, attn, num_heads):  # bmm on (batch*heads) built by stacking, scale folded into q
        b, s, hidden = x.shape
        hd = hidden // num_heads
        q, k, v = (torch.stack(p(x).split(hd, -1), 1).flatten(0, 1) for p in (attn.query, attn.key, attn.value))
        ctx = torch.bmm(torch.bmm(q / math.sqrt(hd), k.transpose(1, 2)).softmax(-1), v)
        return torch.cat(ctx.unflatten(0, (b, num_heads)).unbind(1), -1)

    assert check.exercise_06_1(per_head_loop)
    assert not check.exercise_06_1(course_mha_plus_dummy_bmm)
    capsys.readouterr()
    x = torch.randn(1, 3, 4)
    assert torch.equal(x @ x.transpose(1, 2), torch.matmul(x, x.transpose(1, 2)))  # matmul works again
    assert att.multi_head_attention(x, *[torch.nn.Linear(4, 4)] * 3, None, num_heads=2)[0].shape == x.shape
