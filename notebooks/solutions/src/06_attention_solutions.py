# Worked solutions of notebook 06's exercises (built with `make notebooks`).

# %% [markdown]
# # 06 · Solutions: attention, opened up
#
# Worked solutions to the exercises of [06 · Attention, opened up](../06_attention.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import math

import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import attention as att
from course_utils import plots

env = cu.setup(seed=0)

# %% [markdown]
# **06.1** `torch.bmm` multiplies 3-D tensors only, so the heads go into the batch dimension:
# `(batch, seq, hidden)` → `view(batch, seq, heads, hd)` → `transpose(1, 2)` → `reshape(batch * heads,
# seq, hd)`. After the two products, undo the same steps in reverse order. Divide by
# `sqrt(head_dim)`, not `sqrt(hidden)`. On the encoder's first layer it equals the course's
# reference (and so the model, as the chapter proved):

# %%
from transformers import AutoModel, AutoTokenizer


def multi_head_attention_bmm(x: torch.Tensor, attn, num_heads: int) -> torch.Tensor:
    batch, seq, hidden = x.shape
    hd = hidden // num_heads

    def fold(t):  # (batch, seq, hidden) -> (batch * heads, seq, hd)
        return t.view(batch, seq, num_heads, hd).transpose(1, 2).reshape(batch * num_heads, seq, hd)

    q, k, v = fold(attn.query(x)), fold(attn.key(x)), fold(attn.value(x))
    weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(hd), dim=-1)
    context = torch.bmm(weights, v)  # (batch * heads, seq, hd)
    return context.view(batch, num_heads, seq, hd).transpose(1, 2).reshape(batch, seq, hidden)


enc_path = cu.resolve_checkpoint("bert-base-uncased")
tokenizer = AutoTokenizer.from_pretrained(enc_path)
encoder = AutoModel.from_pretrained(enc_path, attn_implementation="eager").eval()
batch = tokenizer(["time flies like an arrow", "fruit flies like a banana"], return_tensors="pt")
with torch.no_grad():
    enc_out = encoder(**batch, output_hidden_states=True, output_attentions=True)
    sa, h = encoder.encoder.layer[0].attention.self, encoder.config.num_attention_heads
    ours = multi_head_attention_bmm(enc_out.hidden_states[0], sa, h)
    reference, _ = att.multi_head_attention(enc_out.hidden_states[0], sa.query, sa.key, sa.value, None, num_heads=h)

# %% tags=["nbval-check-output", "same-online"]
print("bmm version equals the reference on layer 0:", torch.allclose(ours, reference, atol=1e-5))
assert cu.check.exercise_06_1(multi_head_attention_bmm)

# %% [markdown]
# **06.2** Sum `-w log w` over the keys (one distribution per query), then average over batch and
# queries. `torch.special.xlogy(w, w)` is `w · log w` with `0 · log 0 = 0`, which matters as soon as
# a mask puts exact zeros in the weights (`w * w.log()` gives NaN there). The maximum possible
# entropy is `log(n_keys)`, a uniform row.

# %% tags=["nbval-check-output"]
def head_entropy(weights: torch.Tensor) -> torch.Tensor:
    return -torch.special.xlogy(weights, weights).sum(dim=-1).mean(dim=(0, 2))


entropy = head_entropy(enc_out.attentions[-1])
fig = plots.plot_bars([f"head {i}" for i in range(len(entropy))], entropy, xlabel="mean entropy (nats)",
                      title=f"Last layer, max log({batch['input_ids'].size(1)}) = {math.log(batch['input_ids'].size(1)):.2f}")
fig.axes[0].set_ylabel("attention head")
print("sharpest head:", int(entropy.argmin()), "| most diffuse head:", int(entropy.argmax()))
assert cu.check.exercise_06_2(head_entropy)

# %% [markdown]
# **06.3** Compare query positions (a column) with key positions (a row): a key is allowed when it
# is not in the future (`j <= i`) and at most `window` positions back (`i - j <= window`). True
# means "may attend", the convention of `F.scaled_dot_product_attention`, so the mask goes in as
# `attn_mask` unchanged, and the weights outside the window are exactly 0:

# %% tags=["nbval-check-output", "same-online"]
def sliding_window_mask(n: int, window: int) -> torch.Tensor:
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j <= i) & (i - j <= window)


mask = sliding_window_mask(6, 3)
print(mask.int())
q, k, v = torch.randn(2, 6, 8), torch.randn(2, 6, 8), torch.randn(2, 6, 8)
out, w = att.scaled_dot_product_attention(q, k, v, mask=mask)
torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
print("weights outside the window are exactly 0:", bool((w[:, ~mask] == 0).all()))
assert cu.check.exercise_06_3(sliding_window_mask)

# %% [markdown]
# **06.4** Each layer caches one key and one value vector per token and per **key/value** head:
# `2 · layers · kv_heads · head_dim · tokens · bytes`. SmolLM2 (30 layers, 3 KV heads of 64)
# at 2,048 tokens in float32, and the same model without grouped-query attention:

# %% tags=["nbval-check-output", "same-online"]
from transformers import AutoConfig


def kv_cache_bytes(config, n_tokens: int, bytes_per_value: int = 4) -> int:
    return 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * n_tokens * bytes_per_value


lm_cfg = AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False))
gqa = kv_cache_bytes(lm_cfg, 2048)
lm_cfg.num_key_value_heads = lm_cfg.num_attention_heads  # 9 KV heads: plain multi-head attention
print(f"SmolLM2, 2,048 tokens, float32: {gqa:,} bytes ({gqa / 2**20:.0f} MiB) with GQA, "
      f"{kv_cache_bytes(lm_cfg, 2048):,} bytes with 9 KV heads")
assert cu.check.exercise_06_4(kv_cache_bytes)
