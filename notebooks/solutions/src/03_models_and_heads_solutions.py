# Worked solutions of notebook 03's exercises (built with `make notebooks`).

# %% [markdown]
# # 03 · Solutions: models and heads
#
# Worked solutions to the exercises of [03 · Models and heads](../03_models_and_heads.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertModel,
)

# %% [markdown]
# **03.1** Printing the model lists every weight; none of Llama's linear layers has a bias, and an
# RMSNorm has a weight only (`H`). Per layer: `q_proj` and `o_proj` are `H × (heads · head_dim)`,
# `k_proj` and `v_proj` only `H × (kv_heads · head_dim)` (SmolLM2: 9 query heads share 3
# key/value heads), the MLP is three `H × I` matrices, plus two norms. Around the layers: the
# embedding matrix `V × H`, one final norm, and the LM head, which is the embedding matrix itself
# when `tie_word_embeddings` is set (counted once, as `num_parameters()` does). Rotary position
# embeddings have no parameters. Every size comes from the config, `head_dim` included.

# %% tags=["nbval-check-output", "same-online"]
def llama_parameters(config) -> int:
    h, i, d = config.hidden_size, config.intermediate_size, config.head_dim
    attention = 2 * h * config.num_attention_heads * d + 2 * h * config.num_key_value_heads * d  # q, o; k, v
    layer = attention + 3 * h * i + 2 * h  # gate, up, down; two RMSNorm weights
    lm_head = 0 if config.tie_word_embeddings else config.vocab_size * h
    return config.vocab_size * h + config.num_hidden_layers * layer + h + lm_head


lm_config = AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False))
with torch.device("meta"):  # shapes only
    counted = AutoModelForCausalLM.from_config(lm_config).num_parameters()
print(f"{lm_config.model_type}: formula {llama_parameters(lm_config):,} | the model built on the meta device {counted:,}")
assert llama_parameters(lm_config) == counted
assert cu.check.exercise_03_1(llama_parameters)

# %% [markdown]
# **03.2** Same header walk as in the chapter; the only new part is BF16. It is the upper half of
# a float32 (same 8-bit exponent, 7-bit mantissa), so NumPy cannot interpret it; read the raw
# 16-bit words as unsigned integers and let torch reinterpret the bits with `.view(torch.bfloat16)`.
# We check it on a small random BERT saved in bfloat16.

# %% tags=["nbval-check-output", "same-online"]
NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def read_tensor_pt(path, name) -> torch.Tensor:
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        info = json.loads(f.read(n))[name]
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)  # offsets count from the data section
        raw = f.read(end - begin)
    if info["dtype"] == "BF16":
        words = torch.from_numpy(np.frombuffer(raw, dtype="<u2").copy())
        return words.view(torch.bfloat16).reshape(info["shape"])
    return torch.from_numpy(np.frombuffer(raw, dtype=NUMPY_DTYPES[info["dtype"]]).copy()).reshape(info["shape"])


tiny = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
with tempfile.TemporaryDirectory() as tmp:
    tiny.to(torch.bfloat16).save_pretrained(tmp)
    weights = Path(tmp) / "model.safetensors"
    name = "encoder.layer.0.attention.self.query.weight"
    by_hand = read_tensor_pt(weights, name)
    print(name, by_hand.dtype, tuple(by_hand.shape), "| equal to the model:", torch.equal(by_hand, tiny.state_dict()[name]))
assert cu.check.exercise_03_2(read_tensor_pt)

# %% [markdown]
# **03.3** `base_model` is the body (`model.bert` or `model.distilbert`). In eval mode dropout is
# the identity, so the head is: BERT, `classifier(pooler_output)` (the pooler is `tanh(dense(h_CLS))`,
# part of the body); DistilBERT, `classifier(relu(pre_classifier(h_0)))`. Here on the course's
# encoder with a new 3-label head, then on the checker's random models.

# %% tags=["nbval-check-output"]
def head_logits(model, inputs: dict) -> torch.Tensor:
    with torch.no_grad():
        out = model.base_model(**inputs)
        if model.config.model_type == "distilbert":
            first = out.last_hidden_state[:, 0]
            return model.classifier(torch.relu(model.pre_classifier(first)))
        return model.classifier(out.pooler_output)


ckpt = cu.resolve_checkpoint(cu.ENCODER)
tokenizer = AutoTokenizer.from_pretrained(ckpt)
clf = AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=3)
batch = tokenizer(["A short one.", "A somewhat longer sentence, with padding in the other row."], padding=True, return_tensors="pt")
with torch.no_grad():
    reference = clf(**batch).logits
torch.testing.assert_close(head_logits(clf, dict(batch)), reference)
print("by hand == model:", True, "| logits shape", tuple(reference.shape))
assert cu.check.exercise_03_3(head_logits)

# %% [markdown]
# **03.4** Tied weights are one `Parameter` object used twice, so `is` (or equal `data_ptr()`)
# is the test; `torch.equal` would also accept a copy, and the config only says what
# `post_init()` did when the model was built. This answers the question: the stand-in's masked-LM
# decoder *is* the word-embedding matrix, so it is never "missing"; only the other head tensors
# (the transform's dense layer and LayerNorm, and the output bias: 6 tensors) are newly
# initialized.

# %% tags=["nbval-check-output"]
def shares_embeddings(model) -> bool:
    return model.get_output_embeddings().weight is model.get_input_embeddings().weight


mlm = AutoModelForMaskedLM.from_pretrained(ckpt)
print("masked LM decoder is the word-embedding matrix:", shares_embeddings(mlm))
assert cu.check.exercise_03_4(shares_embeddings)
