# Source of notebooks/06_attention.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 06 · Attention, opened up
#
# Attention is the one operation that makes a transformer a transformer: every token's new vector
# is a weighted average of the other tokens' vectors, with weights the model computes on the fly.
# This chapter writes it by hand, from one head to a whole encoder layer, on real pretrained
# weights, and checks every step against `torch` and `transformers`. Then it looks inside: heatmaps
# of what the heads attend to, the padding and causal masks, and how a model knows word order.
#
# **Learning objectives**
# - build scaled dot-product attention with `bmm`, tell attention *scores* from attention *weights*,
#   and explain the `1/sqrt(d_k)` scale;
# - rebuild a pretrained encoder's multi-head attention and whole layer from its weights, and
#   prove the result equal to the library's;
# - apply padding and causal masks, and read the mask conventions of tokenizers, torch and transformers;
# - compare encoder and decoder attention on real models, including grouped-query attention and
#   rotary positions in a Llama-style decoder, and an encoder-decoder's causal self-attention and
#   cross-attention (on a tiny random BART).
#
# **Prerequisites:** [00 · Environment and tensors](00_environment_and_tensors.ipynb) (`matmul`, `bmm`,
# `view`, `triu`). **Run time:** 8 s on a 2-core CPU (quick profile).
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import math
import sys

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import attention as att
from course_utils import plots

env = cu.setup(seed=0)

# %% [markdown]
# ## 1 · Scaled dot-product attention with `bmm`
# Each token is projected to a **query** ("what am I looking for?"), a **key** ("what do I
# contain?") and a **value** ("what do I pass on?"), like a search: the query is compared with
# every key, and the values of the best matches are returned, blended.
#
# 1. **Scores**: `Q Kᵀ`, one dot product per (query, key) pair, an `n × n` matrix of real numbers.
# 2. **Scale**: divide by `sqrt(d_k)`, the square root of the query/key size (see below why).
# 3. **Weights**: softmax over the keys, so each row is non-negative and sums to 1.
# 4. **Output**: weights `·` V, a weighted average of the values for each query.
#
# As a function, with its shapes spelled out and the weights returned too:

# %%
def scaled_dot_product_attention(query, key, value):
    """query (batch, n_q, d_k), key (batch, n_k, d_k), value (batch, n_k, d_v) -> output, weights."""
    dim_k = key.size(-1)  # d_k: the size of one query/key vector (per head, not the model's hidden size)
    attn_scores = torch.bmm(query, key.transpose(1, 2)) / np.sqrt(dim_k)  # (batch, n_q, n_k)
    attn_weights = F.softmax(attn_scores, dim=-1)  # normalise over the keys: each row sums to 1
    return torch.bmm(attn_weights, value), attn_weights  # (batch, n_q, d_v)


torch.manual_seed(0)
q, k, v = torch.randn(2, 5, 16), torch.randn(2, 5, 16), torch.randn(2, 5, 32)
out, weights = scaled_dot_product_attention(q, k, v)
reference = F.scaled_dot_product_attention(q, k, v)  # torch's fused kernel
torch.testing.assert_close(out, reference)
print("max |ours - torch| =", (out - reference).abs().max().item())

# %% tags=["nbval-check-output", "same-online"]
print("output", tuple(out.shape), "| weights", tuple(weights.shape))
print("weights >= 0:", bool((weights >= 0).all()), "| rows sum to 1:", torch.allclose(weights.sum(-1), torch.ones(2, 5)))
scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(16)
print("scores can be negative:", bool((scores < 0).any()), "| weights = softmax(scores):", torch.equal(weights, scores.softmax(-1)))

# %% [markdown]
# **Scores vs weights.** The *scores* are raw similarities, any real number; the *weights* are
# what the softmax makes of them, a probability distribution over the keys for each query.
# Models return the weights (`output_attentions=True`), and heatmaps show weights.
#
# **Why divide by `sqrt(d_k)`?** If the entries of q and k are independent with variance 1, their
# dot product is a sum of `d_k` terms and has variance `d_k`. Large scores push the softmax to a
# one-hot vector, where its gradient is almost zero and training stalls. Dividing by `sqrt(d_k)`
# brings the variance back to 1 whatever the head size. Measured on random vectors:

# %%
torch.manual_seed(0)
dims = [4, 16, 64, 256, 1024]
max_weight = {"unscaled": [], "scaled by 1/sqrt(d_k)": []}
for d in dims:
    q_, k_ = torch.randn(1000, 1, d), torch.randn(1000, 10, d)  # 1000 queries, 10 keys each
    s = torch.bmm(q_, k_.transpose(1, 2)).squeeze(1)
    print(f"d_k={d:5d}  std of q·k = {s.std():6.2f}  (sqrt(d_k) = {math.sqrt(d):5.2f})")
    max_weight["unscaled"].append(s.softmax(-1).max(-1).values.mean().item())
    max_weight["scaled by 1/sqrt(d_k)"].append((s / math.sqrt(d)).softmax(-1).max(-1).values.mean().item())
fig = plots.plot_lines(dims, max_weight, xlabel="d_k, dimensions per head (log scale)",
                       ylabel="mean largest of 10 weights (0 to 1)",
                       title="Without the scale, softmax saturates to one key")
fig.axes[0].set_xscale("log")

# %% [markdown]
# Unscaled, the largest of 10 weights approaches 1 as `d_k` grows (the softmax picks one key and
# ignores the rest); scaled, it stays put.
#
# ## 2 · Self-attention is a weighted average
# Write the inputs as `x_1 … x_n`. After self-attention token *i* is
# `x'_i = Σ_j w_ij v_j`, where `w_ij` is how much query *i* attends to key *j*, and
# `Σ_j w_ij = 1`. (Some texts write `w_ji`, with the sum over the first index: the same numbers,
# indexed the other way round. In code, `weights[i, j]` is query *i*, key *j*, and rows sum to 1.)
# The embedding of a token is no longer fixed: it is a mixture of its context. The loop below
# computes that sum literally and matches the `bmm` version.

# %% tags=["nbval-check-output", "same-online"]
w0, v0 = weights[0], v[0]  # first sequence: (5, 5) weights, (5, 32) values
by_loop = torch.stack([sum(w0[i, j] * v0[j] for j in range(5)) for i in range(5)])
torch.testing.assert_close(by_loop, out[0])
print("x'_i = sum_j w_ij v_j for every i:", torch.allclose(by_loop, out[0], atol=1e-6))
print("sum_j w_ij for each i:", w0.sum(-1).round(decimals=4).tolist())

# %% [markdown]
# ## 3 · Multi-head attention, rebuilt from a pretrained encoder
# One head can only produce one weighting per token. Multi-head attention runs `h` heads side by
# side, each on its own slice of the hidden vector (`head_dim = hidden / h`), and concatenates the
# results: `split` `(batch, seq, hidden)` into `(batch, heads, seq, head_dim)`, attend per head,
# `merge` back, project.
#
# We load a BERT encoder. Two details matter: `attn_implementation="eager"` (the plain
# matrix-product code path, the only one that returns attention weights), and BERT rather than
# DistilBERT (`cu.ENCODER`), because the code below follows BERT's module names
# (`query`, `key`, `value`). Offline both names resolve to the same stand-in.

# %%
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

ENCODER_NAME = "bert-base-uncased"
enc_path = cu.resolve_checkpoint(ENCODER_NAME)
tokenizer = AutoTokenizer.from_pretrained(enc_path)
encoder = AutoModel.from_pretrained(enc_path, attn_implementation="eager").eval()
cfg = encoder.config
head_dim = cfg.hidden_size // cfg.num_attention_heads

# %% tags=["nbval-check-output"]
print(type(encoder).__name__, "| layers", cfg.num_hidden_layers, "| heads", cfg.num_attention_heads,
      "| hidden", cfg.hidden_size, "| head_dim", head_dim, "| position embeddings:", cfg.position_embedding_type)
sentences = ["time flies like an arrow", "fruit flies like a banana"]
batch = tokenizer(sentences, return_tensors="pt")
tokens = [tokenizer.convert_ids_to_tokens(ids) for ids in batch["input_ids"]]
for t in tokens:
    print(t)

# %% [markdown]
# One forward pass gives everything to compare against: the hidden states entering and leaving
# each layer (`output_hidden_states`), the attention weights of every layer (`output_attentions`)
# and, through a forward hook, what the first layer's self-attention module itself returns.

# %%
captured = {}
self_attn = encoder.encoder.layer[0].attention.self
hook = self_attn.register_forward_hook(lambda module, args, output: captured.update(layer0=output))
with torch.no_grad():
    enc_out = encoder(**batch, output_hidden_states=True, output_attentions=True)
hook.remove()
lib_context, lib_weights = captured["layer0"]  # (batch, seq, hidden) before the output projection, (batch, heads, seq, seq)

# %% tags=["nbval-check-output"]
x = enc_out.hidden_states[0]  # the input of layer 0: the embeddings
h = cfg.num_attention_heads


def split_heads(t):  # (batch, seq, hidden) -> (batch, heads, seq, head_dim)
    return t.view(t.size(0), t.size(1), h, head_dim).transpose(1, 2)


with torch.no_grad():
    q_h, k_h, v_h = (split_heads(proj(x)) for proj in (self_attn.query, self_attn.key, self_attn.value))
    scores_h = q_h @ k_h.transpose(-2, -1) / math.sqrt(head_dim)  # bmm needs 3-D; matmul batches over heads too
    weights_h = scores_h.softmax(dim=-1)
    context = (weights_h @ v_h).transpose(1, 2).reshape(x.shape)  # merge the heads back
print("q per head", tuple(q_h.shape), "| weights", tuple(weights_h.shape), "| merged", tuple(context.shape))
torch.testing.assert_close(weights_h, lib_weights)
torch.testing.assert_close(weights_h, enc_out.attentions[0])
torch.testing.assert_close(context, lib_context)
print("weights equal the model's:", torch.allclose(weights_h, enc_out.attentions[0], atol=1e-6))
print("context equals the module's output:", torch.allclose(context, lib_context, atol=1e-6))

# %%
diffs = {}  # the largest float difference of every parity check, gathered for the recap
diffs["attention weights, layer 0"] = (weights_h - enc_out.attentions[0]).abs().max().item()
diffs["attention output, layer 0"] = (context - lib_context).abs().max().item()
print(diffs)

# %% [markdown]
# `course_utils.attention.multi_head_attention` is the same computation packaged as a function
# (it also handles masks, grouped-query heads and rotary positions, used below). Later exercises
# compare your code with it.

# %% tags=["nbval-check-output", "same-online"]
with torch.no_grad():
    ref_context, ref_weights = att.multi_head_attention(
        x, self_attn.query, self_attn.key, self_attn.value, None, num_heads=h
    )
print("course_utils reference agrees:", torch.allclose(ref_context, context, atol=1e-6), torch.allclose(ref_weights, weights_h, atol=1e-6))

# %% [markdown]
# ### The whole encoder layer
# Attention is half a layer. BERT's layer (post-norm, as in the original Transformer) is
#
# 1. `a = LayerNorm(x + Dense(attention(x)))`: output projection, **residual** (skip)
#    connection, layer normalisation;
# 2. `y = LayerNorm(a + W2 · GELU(W1 · a))`: a position-wise **feed-forward** network, applied to
#    every token separately, then residual and LayerNorm again.
#
# Residual connections let gradients flow through deep stacks; LayerNorm keeps each token's vector
# at a stable scale. Chaining the layer by hand through the whole encoder must reproduce every
# hidden state the model returned:

# %%
def encoder_layer(layer, x):
    """One BERT layer by hand: self-attention, residual, LayerNorm, feed-forward, residual, LayerNorm."""
    sa = layer.attention.self
    ctx, w = att.multi_head_attention(x, sa.query, sa.key, sa.value, None, num_heads=h)
    a = layer.attention.output.LayerNorm(x + layer.attention.output.dense(ctx))
    ffn = layer.output.dense(F.gelu(layer.intermediate.dense(a)))
    return layer.output.LayerNorm(a + ffn), w


with torch.no_grad():
    hidden, layer_diffs = x, []
    for i, layer in enumerate(encoder.encoder.layer):
        hidden, w = encoder_layer(layer, hidden)
        layer_diffs.append((hidden - enc_out.hidden_states[i + 1]).abs().max().item())
        torch.testing.assert_close(hidden, enc_out.hidden_states[i + 1])
        torch.testing.assert_close(w, enc_out.attentions[i])
diffs["encoder layers (all)"] = max(layer_diffs)
print("max |by hand - model| per layer:", layer_diffs)

# %% tags=["nbval-check-output"]
print(f"all {len(encoder.encoder.layer)} layers by hand equal last_hidden_state:",
      torch.allclose(hidden, enc_out.last_hidden_state, atol=1e-5))
print("the layer keeps the shape:", tuple(x.shape), "->", tuple(hidden.shape))

# %% [markdown]
# **Is an encoder layer a convolution?** A common comparison likens it to a CNN's convolution.
# Part of that holds: the feed-forward network applies the same weights at every position, which
# is a convolution with a kernel of width 1 (checked below), and the layer keeps the shape, so
# layers stack like convolutions. The mixing does not: a convolution blends a fixed neighbourhood
# with fixed weights, while attention blends *every* position with weights computed from the
# content: the same token at the same position is mixed differently in another sentence (section 4).

# %%
ffn_in = encoder.encoder.layer[0].intermediate.dense  # W1 of layer 0's feed-forward network
with torch.no_grad():
    as_conv = F.conv1d(x.transpose(1, 2), ffn_in.weight[:, :, None], ffn_in.bias).transpose(1, 2)  # kernel width 1
    diffs["feed-forward W1 vs conv1d, kernel 1"] = (as_conv - ffn_in(x)).abs().max().item()
print("max |conv1d(kernel 1) - Linear| over every position:", diffs["feed-forward W1 vs conv1d, kernel 1"])
assert diffs["feed-forward W1 vs conv1d, kernel 1"] < 1e-4

# %% [markdown]
# ## 4 · What the heads look at
# `plots.show_heatmaps` draws a grid of attention maps (query tokens down, key tokens across).
# Below: eight heads of the last layer for "time flies like an arrow". Heads differ: look for heads
# that put most of their weight on `[CLS]` or `[SEP]` (a common "nothing to do here" target), heads
# that focus on one word for every query, and heads that spread their weight over the sentence.

# %%
last = enc_out.attentions[-1][0]  # sentence 1: (heads, seq, seq)
fig = plots.show_heatmaps(last[:8].reshape(2, 4, *last.shape[-2:]), titles=[f"head {i}" for i in range(8)],
                          xticklabels=tokens[0], yticklabels=tokens[0], figsize=(9, 4.8))
fig.suptitle(f"attention weights of the last layer (layer {cfg.num_hidden_layers - 1}), heads 0-7")
fig.axes[-1].set_ylabel("attention weight (0 to 1)")  # the colour bar
plt.show()

# %% [markdown]
# ### Contextual embeddings: "flies" and "apple"
# In both sentences "flies" is the same token at the same position (index 2), so its input vector
# is identical. Attention then mixes in the context ("time ... arrow" vs "fruit ... banana"), and
# the two vectors drift apart over the layers (not evenly: a layer can leave them as they were):

# %% tags=["nbval-check-output"]
i_flies = tokens[0].index("flies")
assert tokens[1][i_flies] == "flies"
print("input vectors of 'flies' identical:", torch.equal(enc_out.hidden_states[0][0, i_flies], enc_out.hidden_states[0][1, i_flies]))
cos_by_layer = [F.cosine_similarity(hs[0, i_flies], hs[1, i_flies], dim=0).item() for hs in enc_out.hidden_states]
print("similarity decreases from the embeddings to the last layer:", cos_by_layer[-1] < cos_by_layer[1] < cos_by_layer[0])

# %%
print("cosine('flies' in s1, 'flies' in s2) after each layer:", [round(c, 3) for c in cos_by_layer])

# %% [markdown]
# The same happens to "apple" next to a phone or next to a banana: the vector of each occurrence
# (last layer) is closer to the same sense in another sentence than to the other sense.

# %%
apple_sentences = [
    "apple announced a new iphone today",      # company
    "apple released the new macbook",           # company
    "she ate an apple with a banana",           # fruit
    "i picked a ripe apple from the tree",      # fruit
]
vectors = []
with torch.no_grad():
    for s in apple_sentences:
        enc_s = tokenizer(s, return_tensors="pt")
        position = tokenizer.convert_ids_to_tokens(enc_s["input_ids"][0]).index("apple")
        vectors.append(encoder(**enc_s).last_hidden_state[0, position])
unit = F.normalize(torch.stack(vectors), dim=-1)
similarity = unit @ unit.T
labels = ["company 1", "company 2", "fruit 1", "fruit 2"]
fig = plots.show_heatmaps(similarity, xlabel="occurrence of 'apple'", ylabel="occurrence of 'apple'",
                          xticklabels=labels, yticklabels=labels, figsize=(4.8, 4.2), cmap="Blues", vmin=0.0, vmax=1.0,
                          titles=["cosine similarity of 'apple' (last layer)"])
fig.axes[-1].set_ylabel("cosine similarity")  # the colour bar, from 0
for (i, j), value in np.ndenumerate(similarity.numpy()):
    fig.axes[0].text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if value > 0.6 else "black")

# %% tags=["nbval-check-output"]
same_sense = min(similarity[0, 1], similarity[2, 3])
cross_sense = similarity[:2, 2:].max()
print("every same-sense pair is closer than every cross-sense pair:", bool(same_sense > cross_sense))

# %% [markdown]
# ## 5 · Masks
# ### Padding
# A batch needs equal lengths, so short sentences are padded. The tokenizer's `attention_mask`
# says which positions are real (1) and which are padding (0). Padding must receive **zero
# weight**, or the real tokens would average in vectors of nothing. The trick: before the
# softmax, add `-inf` to the scores of padded keys; `exp(-inf) = 0`, so their weight is exactly 0
# and the other weights still sum to 1.

# %% tags=["nbval-check-output", "same-online"]
padded = tokenizer(["time flies like an arrow", "flies"], return_tensors="pt", padding=True)
print(padded["input_ids"].tolist())
print(padded["attention_mask"].tolist())
with torch.no_grad():
    pad_out = encoder(**padded, output_attentions=True)
    alone = encoder(**tokenizer(["flies"], return_tensors="pt"))
is_pad = padded["attention_mask"][1] == 0
print("weight on padded keys, every layer and head:", max(a[1][..., is_pad].abs().max().item() for a in pad_out.attentions))
n_real = int(padded["attention_mask"][1].sum())
torch.testing.assert_close(pad_out.last_hidden_state[1, :n_real], alone.last_hidden_state[0])
print("real tokens unchanged by padding:", torch.allclose(pad_out.last_hidden_state[1, :n_real], alone.last_hidden_state[0], atol=1e-5))

# %%
diffs["padded vs unpadded hidden states"] = (pad_out.last_hidden_state[1, :n_real] - alone.last_hidden_state[0]).abs().max().item()
print("max |padded - alone| =", diffs["padded vs unpadded hidden states"])

# %% [markdown]
# (The hidden states *at* the padded positions are not zero: padded queries still attend to
# real keys. They are meaningless and ignored downstream, for example by mean pooling that uses
# the attention mask.)
#
# **Is 1 "keep" or "block"?** It depends on the API, which trips everyone:
#
# | where | type | keep | block |
# |---|---|---|---|
# | tokenizer `attention_mask` | int | 1 | 0 (padding) |
# | `F.scaled_dot_product_attention(attn_mask=...)` | bool | True | False |
# | `nn.MultiheadAttention(attn_mask=..., key_padding_mask=...)` | bool | **False** | **True** |
# | additive mask (eager attention in transformers) | float | 0 | `-inf`, or the dtype's most negative number |
#
# transformers turns the 1/0 `attention_mask` into an additive mask using
# `torch.finfo(dtype).min` rather than `-inf`. The two forms agree whenever a row has a real key:

# %% tags=["nbval-check-output", "same-online"]
keep = att.padding_mask(padded["attention_mask"])  # (batch, 1, 1, seq), True = real token
print("bool mask for the short sentence:", keep[1, 0, 0].tolist())
additive = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
q4 = torch.randn(2, 1, keep.size(-1), 8)
out_bool, _ = att.scaled_dot_product_attention(q4, q4, q4, mask=keep)
out_add, _ = att.scaled_dot_product_attention(q4, q4, q4, mask=additive)
torch.testing.assert_close(out_bool, F.scaled_dot_product_attention(q4, q4, q4, attn_mask=keep))
print("-inf and finfo.min masks agree:", torch.allclose(out_bool, out_add))

# %% [markdown]
# They differ on a row with **no** real key. Such rows occur: in a decoder batch padded on the left
# (notebook 07), the first positions are padding, and the causal mask lets them see only earlier
# positions, padding too. With `-inf` every score of the row is `-inf`, and the softmax computes
# `-inf - (-inf)`: NaN. Their outputs are ignored, but a NaN does not stay put: in the next layer a
# real token gives that position a weight of 0, and `0 × NaN` is NaN. With `finfo.min` (about
# `-3.4e38`) every score of the row becomes the same number, because the scores' differences are far
# below float32's spacing at that size; the softmax of equal numbers is uniform, and the output is
# the plain average of the values. One query, three keys, all blocked:

# %% tags=["nbval-check-output", "same-online"]
scores_row = torch.tensor([[2.0, -1.0, 0.5]])  # one query's scores for 3 keys
values_row = torch.tensor([[1.0], [2.0], [6.0]])  # one number per key: the average is 3
for name, block in (("-inf", float("-inf")), ("finfo.min", torch.finfo(torch.float32).min)):
    masked = scores_row + block  # the additive mask, on every key of the row
    w_row = masked.softmax(dim=-1)
    print(f"{name:9s}: masked scores {[f'{m:.4g}' for m in masked[0].tolist()]} -> "
          f"weights {[round(w, 4) for w in w_row[0].tolist()]} -> output {(w_row @ values_row).item()}")
assert torch.allclose(w_row @ values_row, values_row.mean(0))  # finfo.min (the last one): the plain average
print("0 x NaN =", (torch.tensor(0.0) * float("nan")).item())

# %% [markdown]
# ### The causal mask
# A decoder predicts the next token, so position *i* must not see positions after *i*. The blocked
# positions are those **above** the diagonal: `torch.triu(ones, diagonal=1)` (notebook 00). Our
# function with that mask equals torch's `is_causal=True`:

# %% tags=["nbval-check-output", "same-online"]
n = 5
blocked = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
assert torch.equal(~blocked, att.causal_mask(n))
q5, k5, v5 = torch.randn(3, n, 8), torch.randn(3, n, 8), torch.randn(3, n, 8)
causal_out, causal_w = att.scaled_dot_product_attention(q5, k5, v5, mask=~blocked)
torch.testing.assert_close(causal_out, F.scaled_dot_product_attention(q5, k5, v5, is_causal=True))
print(blocked.int())
print("weights above the diagonal are exactly 0:", torch.equal(causal_w[:, blocked], torch.zeros(3, int(blocked.sum()))))

# %%
diffs["causal mask vs is_causal=True"] = (causal_out - F.scaled_dot_product_attention(q5, k5, v5, is_causal=True)).abs().max().item()
print("max |ours - torch| =", diffs["causal mask vs is_causal=True"])

# %% [markdown]
# ## 6 · Encoder-only, decoder-only, encoder-decoder
#
# | family | attention | sees | typical tasks | examples |
# |---|---|---|---|---|
# | encoder-only | bidirectional self-attention | left **and** right context | classification, NER, embeddings | BERT, DistilBERT, RoBERTa |
# | decoder-only | causal self-attention | left context only (autoregressive) | text generation, chat | GPT, Llama, SmolLM2 |
# | encoder-decoder | encoder: bidirectional; decoder: causal self-attention **plus cross-attention** to the encoder's outputs | the whole input, and the output so far | translation, summarisation | T5, BART |
#
# The boundaries have blurred (decoder-only models now classify and translate well), but the
# masks have not. Our encoder's attention uses the upper triangle; a causal LM's never does.
# SmolLM2 is the course's decoder. We load it in float32: its Hub weights are stored in bfloat16
# (offline, the stand-in is a 4-bit quantised copy converted to float32, so its numbers differ from
# the Hub model's anyway), and the by-hand checks below compare with the model to about `1e-5`,
# far finer than bfloat16's 2 to 3 significant digits.

# %%
lm_path = cu.resolve_checkpoint(cu.CAUSAL_LM)
lm_tokenizer = AutoTokenizer.from_pretrained(lm_path)
lm = AutoModelForCausalLM.from_pretrained(lm_path, attn_implementation="eager", dtype=torch.float32).eval()
lm_cfg = lm.config
lm_batch = lm_tokenizer("The cat sat on the mat because it was tired", return_tensors="pt")
lm_tokens = [lm_tokenizer.decode(i) for i in lm_batch["input_ids"][0]]  # readable labels (no "Ġ" for spaces)
lm_captured = {}
lm_hook = lm.model.layers[0].self_attn.register_forward_hook(lambda m, a, o: lm_captured.update(layer0=o))
with torch.no_grad():
    lm_out = lm(**lm_batch, output_attentions=True, output_hidden_states=True)
lm_hook.remove()

# %% tags=["nbval-check-output", "same-online"]
upper = torch.triu(torch.ones(len(lm_tokens), len(lm_tokens), dtype=torch.bool), diagonal=1)
seq_len = batch["input_ids"].size(1)
print(type(lm).__name__, "| layers", lm_cfg.num_hidden_layers, "| query heads", lm_cfg.num_attention_heads,
      "| key/value heads", lm_cfg.num_key_value_heads, "| head_dim", lm_cfg.head_dim)
print("decoder: weight above the diagonal, all layers and heads:", max(a[..., upper].abs().max().item() for a in lm_out.attentions))
enc_upper = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=1)
print("encoder uses the upper triangle:", bool((enc_out.attentions[0][..., enc_upper] > 0).any()))

# %%
middle = lm_cfg.num_hidden_layers // 2
fig = plots.show_heatmaps(lm_out.attentions[middle][0, :4], titles=[f"layer {middle} head {i}" for i in range(4)],
                          xticklabels=lm_tokens, yticklabels=lm_tokens, figsize=(10, 3.6))
fig.suptitle(f"{type(lm).__name__}: causal attention weights, heads 0-3 of layer {middle}")
fig.axes[-1].set_ylabel("attention weight (0 to 1)")  # the colour bar
plt.show()

# %% [markdown]
# Every row stops at the diagonal: each token attends only to itself and the tokens on its left.
# Many heads put most of their weight on the first token (an "attention sink"), a known habit of
# causal LMs.
#
# ### A decoder layer's attention by hand: RMSNorm, rotary positions, grouped-query attention
# Llama-style decoders (SmolLM2 is one) change three things:
#
# - **pre-norm with RMSNorm**: the input is normalised *before* attention, by its root mean square
#   only (no mean subtraction, no bias): `x / sqrt(mean(x²) + eps) · w`;
# - **rotary position embeddings (RoPE)**: q and k are rotated by an angle proportional to their
#   position (section 7);
# - **grouped-query attention (GQA)**: fewer key/value heads than query heads. SmolLM2 has 9 query
#   heads sharing 3 key/value heads (groups of 3), which makes the KV cache of notebook 07 three
#   times smaller. Before the product, each k/v head is repeated for its group.
#
# Below, each step is written out once and compared with the library: with the loaded model's
# modules, and with the functions of the file that defines the model's class (`modeling`, found
# from the model itself). The sizes come from the model's config.

# %% tags=["nbval-check-output", "same-online"]
modeling = sys.modules[type(lm).__module__]  # the file that defines the loaded model's class
layer0 = lm.model.layers[0]
sa = layer0.self_attn
n_q, n_kv, hd = lm_cfg.num_attention_heads, lm_cfg.num_key_value_heads, lm_cfg.head_dim
print(type(lm).__name__, "is defined in", modeling.__name__)
print("query heads", n_q, "| key/value heads", n_kv, "| head_dim", hd, "| query heads per key/value head", n_q // n_kv)

# %% [markdown]
# **RMSNorm**, one line:

# %%
with torch.no_grad():
    x_lm = lm_out.hidden_states[0]  # token embeddings (no position vector is added in a Llama)
    rms = x_lm * torch.rsqrt(x_lm.pow(2).mean(-1, keepdim=True) + lm_cfg.rms_norm_eps) * layer0.input_layernorm.weight
    diffs["RMSNorm, layer 0"] = (rms - layer0.input_layernorm(x_lm)).abs().max().item()
print("max |RMSNorm by hand - input_layernorm|:", diffs["RMSNorm, layer 0"])
assert diffs["RMSNorm, layer 0"] < 1e-5

# %% [markdown]
# **Head splitting.** The projections return one long vector per token; head *h* is the slice
# `h·head_dim … (h+1)·head_dim − 1`. `view` cuts the last dimension into `(heads, head_dim)` and
# `transpose` moves the heads before the positions. `k_proj` and `v_proj` have only
# `num_key_value_heads × head_dim` outputs, so they split into fewer heads:

# %% tags=["nbval-check-output", "same-online"]
n_batch, n_tok, _ = rms.shape
with torch.no_grad():
    q_flat, k_flat, v_flat = sa.q_proj(rms), sa.k_proj(rms), sa.v_proj(rms)
q_heads = q_flat.view(n_batch, n_tok, n_q, hd).transpose(1, 2)  # (batch, heads, seq, head_dim)
k_heads = k_flat.view(n_batch, n_tok, n_kv, hd).transpose(1, 2)
v_heads = v_flat.view(n_batch, n_tok, n_kv, hd).transpose(1, 2)
print("q_proj", tuple(q_flat.shape), "->", tuple(q_heads.shape), "| k_proj", tuple(k_flat.shape), "->", tuple(k_heads.shape))
print(f"query head 1 is columns {hd}-{2 * hd - 1} of q_proj's output:", torch.equal(q_heads[:, 1], q_flat[..., hd:2 * hd]))
print("equal to course_utils.attention.split_heads:",
      torch.equal(q_heads, att.split_heads(q_flat, n_q)) and torch.equal(k_heads, att.split_heads(k_flat, n_kv)))

# %% [markdown]
# **RoPE's frequencies and tables.** The `head_dim` coordinates form `head_dim / 2` pairs; pair
# *i* turns at the frequency `inv_freq[i] = 1 / base^(2i / head_dim)`, from 1 radian per position
# (pair 0) down to a very slow turn (the last pair), with `base` the config's `rope_theta`. The
# angle of a pair at position *m* is `m · inv_freq[i]`; the tables hold its cosine and sine, each
# half repeated to match the `rotate_half` layout below.

# %%
base = lm_cfg.rope_parameters["rope_theta"]
inv_freq = 1.0 / base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)  # (head_dim/2,): fast to slow
positions = torch.arange(n_tok)
angles = positions[:, None].float() * inv_freq[None, :]  # (seq, head_dim/2): position x frequency
cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()  # (seq, head_dim)
with torch.no_grad():
    cos_ref, sin_ref = lm.model.rotary_emb(x_lm, positions[None])  # the model's own tables, (1, seq, head_dim)
diffs["RoPE inv_freq vs model"] = (inv_freq - lm.model.rotary_emb.inv_freq).abs().max().item()
diffs["RoPE tables vs model"] = max((cos - cos_ref[0]).abs().max().item(), (sin - sin_ref[0]).abs().max().item())
print(f"base {base:g}, rope_type {lm_cfg.rope_parameters.get('rope_type', 'default')!r}: {len(inv_freq)} frequencies, "
      f"{inv_freq[0].item():.3g} to {inv_freq[-1].item():.3g} radians per position")
print("max |inv_freq by hand - model's|:", diffs["RoPE inv_freq vs model"], "| max |cos, sin by hand - model's|:", diffs["RoPE tables vs model"])
assert diffs["RoPE inv_freq vs model"] < 1e-6 and diffs["RoPE tables vs model"] < 1e-5

# %% [markdown]
# **Rotate-half.** Llama pairs coordinate *i* with coordinate *i + head_dim/2* (not with its
# neighbour). Rotating every pair by its angle is `x·cos + rotate_half(x)·sin`, where
# `rotate_half` maps the halves `(x1, x2)` to `(−x2, x1)`. Both q and k are rotated; v is not.

# %%
def rotate_half(t):
    half = t.size(-1) // 2
    return torch.cat([-t[..., half:], t[..., :half]], dim=-1)  # (x1, x2) -> (-x2, x1)


q_l = q_heads * cos + rotate_half(q_heads) * sin  # cos, sin (seq, head_dim) broadcast over batch and heads
k_l = k_heads * cos + rotate_half(k_heads) * sin
q_lib, k_lib = modeling.apply_rotary_pos_emb(q_heads, k_heads, cos_ref, sin_ref)
assert torch.equal(rotate_half(q_heads), modeling.rotate_half(q_heads))
diffs["RoPE rotation vs apply_rotary_pos_emb"] = max((q_l - q_lib).abs().max().item(), (k_l - k_lib).abs().max().item())
print("max |rotated q, k by hand - the library's apply_rotary_pos_emb|:", diffs["RoPE rotation vs apply_rotary_pos_emb"])
assert diffs["RoPE rotation vs apply_rotary_pos_emb"] < 1e-5
torch.testing.assert_close(q_l, att.apply_rotary(q_heads, cos, sin))  # and course_utils' version

# %% [markdown]
# **`repeat_kv`.** Query head *h* uses key/value head `h // group`, with `group` query heads per
# key/value head. Indexing the heads with that list copies each key/value head for its group:

# %% tags=["nbval-check-output", "same-online"]
group = n_q // n_kv
kv_of_head = torch.arange(n_q) // group  # the key/value head that each query head reads
k_rep, v_rep = k_l[:, kv_of_head], v_heads[:, kv_of_head]  # (batch, n_q, seq, head_dim)
print("key/value head of each query head:", kv_of_head.tolist())
print("k", tuple(k_l.shape), "->", tuple(k_rep.shape))
print("equal to the library's repeat_kv:", torch.equal(k_rep, modeling.repeat_kv(k_l, group)) and torch.equal(v_rep, modeling.repeat_kv(v_heads, group)),
      "| to course_utils':", torch.equal(k_rep, att.repeat_kv(k_l, group)))

# %% [markdown]
# **The causal mask and the attention.** The mask line blocks what lies above the diagonal (the
# future); then come scores, softmax, the weighted sum, the merge of the heads (`transpose` back,
# `reshape`) and the output projection:

# %%
above_diagonal = torch.triu(torch.ones(n_tok, n_tok, dtype=torch.bool), diagonal=1)  # True = a later key: blocked
with torch.no_grad():
    scores_l = q_l @ k_rep.transpose(-2, -1) / math.sqrt(hd)  # (batch, n_q, seq, seq)
    w_l = scores_l.masked_fill(above_diagonal, float("-inf")).softmax(dim=-1)
    ctx_l = (w_l @ v_rep).transpose(1, 2).reshape(n_batch, n_tok, n_q * hd)  # merge the heads
    attn_l = sa.o_proj(ctx_l)
diffs["decoder (GQA + RoPE) weights, layer 0"] = (w_l - lm_out.attentions[0]).abs().max().item()
diffs["decoder (GQA + RoPE) output, layer 0"] = (attn_l - lm_captured["layer0"][0]).abs().max().item()
print({k: diffs[k] for k in list(diffs)[-2:]})
torch.testing.assert_close(w_l, lm_out.attentions[0])
torch.testing.assert_close(attn_l, lm_captured["layer0"][0])

# %% [markdown]
# From here on the helper does the same in one call:
# `att.multi_head_attention(..., num_kv_heads=..., mask=att.causal_mask(n), rotary=(cos, sin))`.

# %% tags=["nbval-check-output", "same-online"]
print("weights equal the model's:", torch.allclose(w_l, lm_out.attentions[0], atol=1e-5))
print("attention output equals the module's:", torch.allclose(attn_l, lm_captured["layer0"][0], atol=1e-5))
print("weight above the diagonal:", w_l[..., above_diagonal].abs().max().item())
with torch.no_grad():
    helper_out, _ = att.multi_head_attention(rms, sa.q_proj, sa.k_proj, sa.v_proj, sa.o_proj, num_heads=n_q,
                                             num_kv_heads=n_kv, mask=att.causal_mask(n_tok), rotary=(cos, sin))
print("course_utils.attention.multi_head_attention agrees:", torch.allclose(helper_out, attn_l, atol=1e-5))

# %% [markdown]
# ### Encoder-decoder: causal self-attention plus cross-attention
# An encoder-decoder (BART, T5) runs two stacks. The encoder reads the whole source once,
# attending both ways. The decoder writes the target: in every layer a **causal** self-attention
# over the target so far, then a **cross-attention** whose queries come from the decoder and whose
# keys and values are the encoder's last hidden states.
#
# No pretrained encoder-decoder installs from PyPI, so offline there is no real BART or T5. A tiny
# BART with **random weights**, built from a `BartConfig` (2 + 2 layers, `d_model` 32), shows the
# mechanics; they are those of `facebook/bart-base` (loaded with `AutoModelForSeq2SeqLM` in
# notebook 07). It reuses the BERT tokenizer: `fnlp/bart-base-chinese` also pairs BART with a
# BERT-style vocabulary.

# %%
from transformers import BartConfig, BartForConditionalGeneration
from transformers.models.bart.modeling_bart import shift_tokens_right

torch.manual_seed(0)
bart_cfg = BartConfig(
    vocab_size=tokenizer.vocab_size, d_model=32, encoder_layers=2, decoder_layers=2,
    encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
    max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
    eos_token_id=tokenizer.sep_token_id, decoder_start_token_id=tokenizer.sep_token_id,
)
bart = BartForConditionalGeneration(bart_cfg).eval()  # random weights: the numbers mean nothing, shapes and masks do
bart.set_attn_implementation("eager")  # to get attention weights, as for the encoder above
source = tokenizer(["time flies like an arrow", "fruit flies"], return_tensors="pt", padding=True,
                   return_token_type_ids=False)  # BART has no segment embeddings
target = tokenizer(["le temps vole", "les mouches"], return_tensors="pt", padding=True)
labels = target["input_ids"].masked_fill(target["attention_mask"] == 0, -100)  # -100: ignored by the loss
decoder_input_ids = shift_tokens_right(labels, bart_cfg.pad_token_id, bart_cfg.decoder_start_token_id)
with torch.no_grad():
    s2s = bart(**source, decoder_input_ids=decoder_input_ids, output_attentions=True)
    from_labels = bart(**source, labels=labels)  # builds decoder_input_ids from the labels itself

# %% [markdown]
# `decoder_input_ids` are the labels **shifted right**: `decoder_start_token_id` first, the last
# label dropped, `-100` replaced by padding. Position *t* of the decoder reads the target tokens
# before *t* and is trained to predict token *t* (teacher forcing). Pass `labels=` alone and the
# model shifts them for you.

# %% tags=["nbval-check-output", "same-online"]
print("labels           ", labels.tolist())
print("decoder_input_ids", decoder_input_ids.tolist())
print("labels= alone builds the same decoder inputs:", torch.equal(s2s.logits, from_labels.logits))
n_src, n_tgt = source["input_ids"].size(1), decoder_input_ids.size(1)
print("encoder output", tuple(s2s.encoder_last_hidden_state.shape), "= (batch, source tokens, d_model)")
print("decoder self-attention", tuple(s2s.decoder_attentions[0].shape), "= (batch, heads, target, target)")
print("cross-attention       ", tuple(s2s.cross_attentions[0].shape), "= (batch, heads, target, source)")
future = torch.triu(torch.ones(n_tgt, n_tgt, dtype=torch.bool), diagonal=1)
print("decoder self-attention above the diagonal:", max(a[..., future].abs().max().item() for a in s2s.decoder_attentions))
real_src = source["attention_mask"].bool()[:, None, None, :].expand_as(s2s.cross_attentions[0])
print("cross-attention > 0 from every target position to every real source token:",
      all(bool((a[real_src] > 0).all()) for a in s2s.cross_attentions))
print("cross-attention on padded source tokens:", max(a[~real_src].abs().max().item() for a in s2s.cross_attentions))

# %% [markdown]
# So the decoder's self-attention is causal (nothing above the diagonal), while its
# cross-attention is not: the first target position already sees the last source token. The only
# mask cross-attention uses is the source's padding mask, the same `attention_mask` the encoder
# got. The encoder's own weights are in `s2s.encoder_attentions`.

# %% [markdown]
# ## 7 · Where does word order come from?
# Attention itself is blind to order: permute the input tokens and the outputs are permuted the
# same way, nothing else changes. Without positional information "dog bites man" and "man bites
# dog" would be the same bag of vectors.

# %% tags=["nbval-check-output", "same-online"]
perm = torch.tensor([3, 0, 4, 1, 2])
xs = torch.randn(1, 5, 8)
plain, _ = att.scaled_dot_product_attention(xs, xs, xs)
shuffled, _ = att.scaled_dot_product_attention(xs[:, perm], xs[:, perm], xs[:, perm])
print("attention(permuted x) == permuted attention(x):", torch.allclose(shuffled, plain[:, perm], atol=1e-6))

# %% [markdown]
# **BERT: learned absolute positions.** A table of `max_position_embeddings` vectors, one per
# position, learned in pre-training and *added* to the token embeddings (with the segment
# embedding), then LayerNorm. Rebuilding layer 0's input from the three tables:

# %% tags=["nbval-check-output"]
emb = encoder.embeddings
print("position table:", tuple(emb.position_embeddings.weight.shape))
with torch.no_grad():
    summed = (emb.word_embeddings(batch["input_ids"]) + emb.position_embeddings(torch.arange(seq_len))
              + emb.token_type_embeddings(batch["token_type_ids"]))
    rebuilt = emb.LayerNorm(summed)
torch.testing.assert_close(rebuilt, enc_out.hidden_states[0])
print("LayerNorm(word + position + segment) == layer 0's input:", torch.allclose(rebuilt, enc_out.hidden_states[0], atol=1e-6))

# %% [markdown]
# **Llama: rotary positions.** Nothing is added to the embeddings. Instead each (q, k) pair of
# coordinates is rotated by an angle `position × frequency`. The dot product of a rotated query at
# position *m* and a rotated key at position *n* then depends only on the offset `m − n`: the model
# sees *relative* positions. Section 6 built the tables by hand and matched the model's;
# `att.rotary_cos_sin` computes the same tables for any positions. Shifting both positions by 100
# leaves the score unchanged:

# %% tags=["nbval-check-output", "same-online"]
cos_long, sin_long = att.rotary_cos_sin(torch.arange(200), hd, base=lm_cfg.rope_parameters["rope_theta"])
print("course_utils' tables equal the ones by hand:", torch.equal(cos_long[:n_tok], cos) and torch.equal(sin_long[:n_tok], sin))
qv, kv = q_l[0, 0, 0], k_l[0, 0, 0]  # any query and key vector


def rope_score(m, n):
    return att.apply_rotary(qv, cos_long[m], sin_long[m]) @ att.apply_rotary(kv, cos_long[n], sin_long[n])


print("score(5, 2) == score(105, 102):", torch.allclose(rope_score(5, 2), rope_score(105, 102), atol=1e-4))
print("score(5, 2) == score(5, 3):", torch.allclose(rope_score(5, 2), rope_score(5, 3), atol=1e-4))

# %% [markdown]
# **Relative is not unlimited.** A RoPE model does not read texts longer than it was trained on
# for free. Past its training length (the config's `max_position_embeddings`), offsets grow beyond
# any it saw, the slow pairs of coordinates turn to angles it never met, and quality drops quickly
# when the model is simply run on longer inputs. Longer contexts need the positions *rescaled*:
# position interpolation divides every position by a factor so that a longer text stays within the
# trained range of angles (Chen et al. 2023, arXiv 2306.15595); NTK-aware scaling and YaRN (Peng et
# al. 2023, arXiv 2309.00071) stretch the slow frequencies more than the fast ones, which keep
# nearby positions sharp. Each usually comes with a short fine-tuning at the new length. In
# transformers it is a setting of the config, `rope_parameters` (called `rope_scaling` before
# transformers 5), with a `rope_type` such as `"linear"` (interpolation), `"dynamic"`, `"yarn"` or
# `"llama3"` and a `factor`. SmolLM2's `rope_type`, printed with the RoPE tables of section 6, is
# `"default"`: no scaling.

# %%
diffs["RoPE score shift by 100"] = (rope_score(5, 2) - rope_score(105, 102)).abs().item()
for name, value in diffs.items():
    print(f"{name:40s} max abs difference {value:.2e}")

# %% [markdown]
# The table above collects the largest float difference of every parity check in this notebook.
# Zero means the same operations in the same order; differences around `1e-7`–`1e-6` are float32
# rounding from a different order (fused kernels, another reduction order).
#
# ## Common pitfalls
# - **No attention weights.** transformers uses `sdpa` attention by default, and with it
#   `output_attentions=True` gives an empty tuple `()` (no error at the default log level). Load
#   with `attn_implementation="eager"` (or call `model.set_attn_implementation("eager")`).
# - **`torch.bmm` is 3-D only.** Section 1's function works for one head; with heads use `@`/`matmul`
#   on 4-D tensors, or fold heads into the batch (`view(batch * heads, seq, head_dim)`).
# - **`d_k` is the head size**, not the model's hidden size: BERT-base divides by `sqrt(64)`, not
#   `sqrt(768)`. (`np.sqrt` works; `math.sqrt` avoids mixing NumPy into torch code.)
# - **Softmax over the wrong axis.** `softmax(dim=-1)` normalises over keys; `dim=1` on a 3-D batch
#   normalises over queries and the rows no longer sum to 1.
# - **Mask polarity.** `nn.MultiheadAttention` masks with True = *blocked*, `F.scaled_dot_product_attention`
#   with True = *allowed*; tokenizers use 1 = real token. Convert explicitly (`~mask`), and test on
#   a padded batch.
# - **GQA shapes.** In Llama-style models `k_proj`/`v_proj` have `num_key_value_heads * head_dim`
#   outputs; splitting them into `num_attention_heads` fails. Split into the KV heads and
#   `repeat_kv` (or `F.scaled_dot_product_attention(..., enable_gqa=True)`).
# - **`w_ji` vs `weights[i, j]`.** Papers and textbooks index the weights either way; in code the row
#   is the query and rows sum to 1.
# - **Unshifted `decoder_input_ids`.** In an encoder-decoder they are the labels shifted right
#   (`shift_tokens_right`, `decoder_start_token_id` first). Passing the labels themselves lets each
#   position see the token it must predict; pass `labels=` alone and the model shifts them.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/06_attention_solutions.ipynb](solutions/06_attention_solutions.ipynb).
#
# **06.1** Write `multi_head_attention_bmm(x, attn, num_heads)` using only `torch.bmm` for the
# products: project with `attn.query`, `attn.key`, `attn.value`, fold the heads into the batch
# dimension `(batch * heads, seq, head_dim)`, attend, and merge back to `(batch, seq, hidden)` (no
# output projection). Try it on `encoder.encoder.layer[0].attention.self` against `context` above.

# %% tags=["nbval-check-output", "same-online"]
def multi_head_attention_bmm(x: torch.Tensor, attn, num_heads: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_06_1(multi_head_attention_bmm)

# %% [markdown]
# **06.2** Write `head_entropy(weights)`: for attention weights `(batch, heads, n_q, n_k)` return
# one value per head, the entropy `-Σ_j w_ij log w_ij` averaged over batch and queries. Masked
# weights are exactly 0 and must count as 0. Think: apply it to `enc_out.attentions[-1]` and plot
# it with `plots.plot_bars`; which heads are sharp (low entropy), which diffuse?

# %% tags=["nbval-check-output", "same-online"]
def head_entropy(weights: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_06_2(head_entropy)

# %% [markdown]
# **06.3** Write `sliding_window_mask(n, window)`: a bool `(n, n)` mask, True where query *i* may
# attend key *j*, for a causal window in which each token sees itself and the `window` tokens
# before it (`window=3`: 4 keys). Use the convention of `F.scaled_dot_product_attention`.

# %% tags=["nbval-check-output", "same-online"]
def sliding_window_mask(n: int, window: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_06_3(sliding_window_mask)

# %% [markdown]
# **06.4** Write `kv_cache_bytes(config, n_tokens, bytes_per_value=4)`: the size of a decoder's
# key/value cache from its config (keys and values, every layer). The checker compares it with
# the cache a real model returns. Think: what is it for SmolLM2 (`lm_cfg`) at 2,048 tokens in
# float32, and how much larger would it be without grouped-query attention (9 KV heads)?

# %% tags=["nbval-check-output", "same-online"]
def kv_cache_bytes(config, n_tokens: int, bytes_per_value: int = 4) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_06_4(kv_cache_bytes)

# %% [markdown]
# ## Recap
# - Attention = `softmax(Q Kᵀ / sqrt(d_k)) V`: scores are raw dot products, weights are their
#   softmax (rows sum to 1), and each output is a weighted average of values.
# - Multi-head attention splits the hidden vector into heads, attends per head and merges; with
#   the residual connections, LayerNorm and feed-forward network it makes a layer, which we
#   rebuilt exactly from pretrained weights.
# - Masks add `-inf` (or `finfo.min`) before the softmax: padding masks hide padded keys, causal
#   masks hide the future. With `finfo.min` a row with no real key gets uniform weights, not NaN.
# - Encoders attend both ways and add learned position vectors; Llama-style decoders attend left
#   only, rotate q and k by position (RoPE: `inv_freq`, rotate-half) and share key/value heads
#   (GQA: `repeat_kv`).
# - An encoder-decoder's decoder has causal self-attention plus cross-attention to the encoder's
#   output, masked only by the source padding; its inputs are the labels shifted right.
#
# **Next:** [07 · Text generation](07_generation.ipynb), where the decoder produces text one token
# at a time.
