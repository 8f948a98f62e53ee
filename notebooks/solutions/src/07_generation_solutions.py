# Worked solutions of notebook 07's exercises (built with `make notebooks`).

# %% [markdown]
# # 07 · Solutions: text generation, one token at a time
#
# Worked solutions to the exercises of [07 · Text generation](../07_generation.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import torch

import course_utils as cu

env = cu.setup(seed=0)

# %% [markdown]
# SmolLM2, as in the chapter, to try each solution on a real model (the checkers use a tiny random
# Llama with fresh inputs).

# %%
from transformers import AutoModelForCausalLM, AutoTokenizer, MinPLogitsWarper

lm_path = cu.resolve_checkpoint(cu.CAUSAL_LM)
tokenizer = AutoTokenizer.from_pretrained(lm_path)
model = AutoModelForCausalLM.from_pretrained(lm_path, dtype=torch.float32).eval()

# %% [markdown]
# **07.1** The threshold is relative: `min_p` times the probability of the most likely token, per
# row. Compare probabilities, but return the logits, with `-inf` where a token is removed.

# %% tags=["nbval-check-output", "same-online"]
def min_p_transform(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    probs = logits.softmax(dim=-1)
    threshold = min_p * probs.max(dim=-1, keepdim=True).values
    return logits.masked_fill(probs < threshold, float("-inf"))


prompt = tokenizer("She opened the door and saw a", return_tensors="pt")
with torch.no_grad():
    next_logits = model(**prompt).logits[:, -1].float()
for p in (0.05, 0.2):
    ours, library = min_p_transform(next_logits, p), MinPLogitsWarper(p)(prompt["input_ids"], next_logits)
    print(f"min_p={p}: equal to MinPLogitsWarper:", torch.equal(ours, library))
assert cu.check.exercise_07_1(min_p_transform)

# %% [markdown]
# **07.2** With left padding every prompt ends at the last column, so `logits[:, -1]` is the next
# token of every row. The `attention_mask` keeps the real tokens from attending to the padding;
# extend it with a column of ones for each new token. (RoPE scores depend only on relative
# positions, so the shifted positions of padded rows do not change the result.) Re-reading the
# whole batch at every step keeps the code short; the cache version passes `cache=out.cache` and
# only the new column.

# %% tags=["nbval-check-output", "same-online"]
@torch.no_grad()
def greedy_batch(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    for _ in range(max_new_tokens):
        next_ids = model(input_ids, attention_mask=attention_mask).logits[:, -1].argmax(dim=-1, keepdim=True)
        input_ids = torch.cat([input_ids, next_ids], dim=-1)
        attention_mask = torch.cat([attention_mask, torch.ones_like(next_ids)], dim=-1)
    return input_ids


tokenizer.padding_side = "left"
pair = tokenizer(["Once upon a time", "The capital of France is the city of"], return_tensors="pt", padding=True)
print("attention_mask:", pair["attention_mask"].tolist())
ours = greedy_batch(model, pair["input_ids"], pair["attention_mask"], 8)
print("equal to generate:", torch.equal(ours, model.generate(**pair, max_new_tokens=8, do_sample=False)))
assert cu.check.exercise_07_2(greedy_batch)

# %% [markdown]
# **07.3** Start from ONE beam (copies of the prompt would all pick the same tokens); at each step
# add every token's log-probability to its beam's score, keep the `num_beams` best of all
# `beams × vocabulary` candidates, and remember which beam each came from.

# %% tags=["nbval-check-output", "same-online"]
@torch.no_grad()
def beam_search(model, input_ids: torch.Tensor, num_beams: int, max_new_tokens: int) -> torch.Tensor:
    seqs, scores = input_ids, torch.zeros(1)
    for _ in range(max_new_tokens):
        logp = model(seqs).logits[:, -1].float().log_softmax(dim=-1)  # (beams, vocab)
        best = (scores[:, None] + logp).flatten().topk(num_beams)
        beam, token = best.indices // logp.size(-1), best.indices % logp.size(-1)
        seqs, scores = torch.cat([seqs[beam], token[:, None]], dim=-1), best.values
    return seqs[scores.argmax()][None]


beam_prompt = tokenizer("The best way to learn a language is", return_tensors="pt")
ours = beam_search(model, beam_prompt["input_ids"], num_beams=2, max_new_tokens=5)
theirs = model.generate(**beam_prompt, max_new_tokens=5, num_beams=2, early_stopping="never", length_penalty=0.0,
                        do_sample=False)
print("equal to generate(num_beams=2):", torch.equal(ours, theirs))
assert cu.check.exercise_07_3(beam_search)

# %% [markdown]
# **07.4** With the cache, the first call reads the prompt (`p` positions) and gives the first new
# token; each of the other `n - 1` tokens is fed once. The last token is never fed back. Without
# the cache, step `k` re-reads `p + k` positions: `n·p + n(n-1)/2` in all, quadratic in `n`, which is
# why the speed-up grows with the length (and the cache's memory grows only linearly).

# %% tags=["nbval-check-output", "same-online"]
def tokens_read(prompt_len: int, new_tokens: int, use_cache: bool) -> int:
    if use_cache:
        return prompt_len + new_tokens - 1
    return new_tokens * prompt_len + new_tokens * (new_tokens - 1) // 2


for n in (8, 32, 128):
    print(f"prompt 20, {n:3d} new tokens: {tokens_read(20, n, True):5d} positions with the cache, "
          f"{tokens_read(20, n, False):6d} without ({tokens_read(20, n, False) / tokens_read(20, n, True):.1f}x)")
assert cu.check.exercise_07_4(tokens_read)
