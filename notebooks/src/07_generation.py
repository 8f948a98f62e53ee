# Source of notebooks/07_generation.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 07 · Text generation, one token at a time
#
# A causal language model does one thing: given some tokens, it scores every token of the
# vocabulary as the next one. Everything else, greedy decoding, sampling, beam search, stopping,
# chat, is a loop around that call, and `model.generate` is that loop with many options. This
# chapter writes the loop by hand, proves it equal to `generate`, and then uses `generate`'s
# options knowing exactly what each one does to the logits.
#
# **Learning objectives**
# - turn logits into a next token, and write greedy decoding, with and without the key/value
#   cache, that produces exactly the tokens of `model.generate`;
# - implement temperature, top-k and top-p as logits transforms and the multinomial draw, check
#   them against transformers' own warpers and `generate`, and sample reproducibly;
# - compute a sequence's log-probability by hand, compare beam search with greedy decoding by it,
#   and control length, repetition, padding and the end-of-sequence token with the right
#   `generate` arguments;
# - map each decoding strategy to its arguments in today's transformers, use a chat template and
#   stream the output;
# - measure what the KV cache saves;
# - compare zero-shot and few-shot (in-context) prompts by label log-probabilities, and run
#   `generate` on an encoder-decoder loaded with `AutoModelForSeq2SeqLM`.
#
# **Prerequisites:** [06 · Attention](06_attention.ipynb) (causal mask, grouped-query attention).
# **Run time:** 53 s on a 2-core CPU (quick profile).
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import time

import matplotlib.pyplot as plt
import torch

import course_utils as cu
from course_utils import generation as gen
from course_utils import plots

env = cu.setup(seed=0)

# %% [markdown]
# The model is SmolLM2-135M-Instruct, a small Llama-style chat model. transformers 5 loads the
# dtype a checkpoint stores (`dtype="auto"`): bfloat16 for the Hub's weights; float32 for the
# offline stand-in, a 4-bit quantised copy of the same model converted once to float32 (so online
# and offline outputs differ anyway: the weights are not the same). We load it in float32 on both branches
# because this chapter checks its by-hand loops against `generate` and the model to about `1e-4`,
# far finer than bfloat16's 2 to 3 significant digits, and because a CPU without bfloat16 units
# computes float32 faster.

# %%
from transformers import AutoModelForCausalLM, AutoTokenizer

lm_path = cu.resolve_checkpoint(cu.CAUSAL_LM)
tokenizer = AutoTokenizer.from_pretrained(lm_path)
model = AutoModelForCausalLM.from_pretrained(lm_path, dtype=torch.float32).eval()
EOS = tokenizer.eos_token_id

# %% tags=["nbval-check-output", "same-online"]
print(type(model).__name__, f"| {model.num_parameters():,} parameters | vocabulary {model.config.vocab_size:,}")
print("eos:", repr(tokenizer.eos_token), EOS, "| pad:", repr(tokenizer.pad_token), tokenizer.pad_token_id)

# %% [markdown]
# ## 1 · From logits to the next token
# The model returns one vector of **logits** (unnormalised scores, one per vocabulary entry) for
# *every* input position: position *t*'s logits score the token that follows token *t*. For
# generation only the last position matters. A softmax turns its logits into probabilities.

# %% tags=["nbval-check-output"]
prompt = tokenizer("Once upon a time", return_tensors="pt")
print("prompt ids:", prompt["input_ids"].tolist())
with torch.no_grad():
    logits = model(**prompt).logits
print("logits:", tuple(logits.shape), "= (batch, positions, vocabulary)")
next_logits = logits[:, -1].float()  # (1, vocab): the scores for the token after "time"
probs = next_logits.softmax(dim=-1)
top = probs.topk(8)
top_tokens = [tokenizer.decode(i) for i in top.indices[0]]
print("8 most likely next tokens:", top_tokens)

# %%
print("their probabilities:", [round(p, 3) for p in top.values[0].tolist()])
fig = plots.plot_bars([repr(t) for t in top_tokens], top.values[0], xlabel="probability (0 to 1)",
                      title="P(next token | 'Once upon a time')")
fig.axes[0].set_ylabel("next token")
plt.show()

# %% [markdown]
# ## 2 · Greedy decoding by hand, equal to `generate`
# Greedy decoding appends the most likely token and repeats. The simplest loop feeds the whole
# sequence back in at every step:

# %%
N_NEW = cu.by_profile(quick=16, full=50)
with torch.no_grad():
    ids = prompt["input_ids"]
    for _ in range(N_NEW):
        next_id = model(ids, use_cache=False).logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=-1)
greedy_no_cache = ids
print(tokenizer.decode(greedy_no_cache[0]))

# %% [markdown]
# That recomputes the keys and values of every earlier token at every step, although they never
# change (the causal mask means token *t* never looks at later tokens). The **KV cache** keeps
# them: after the first call (the *prefill*, which reads the whole prompt) each step feeds only
# the new token and the cache (`cache=`; `past_key_values=` before transformers 5.24), and the model
# appends the new keys and values.

# %%
with torch.no_grad():
    out = model(**prompt, use_cache=True)  # prefill
    ids = prompt["input_ids"]
    for _ in range(N_NEW):
        next_id = out.logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=-1)
        out = model(next_id, cache=out.cache, use_cache=True)
greedy_cache, cache = ids, out.cache

# %% tags=["nbval-check-output", "same-online"]
reference = model.generate(**prompt, max_new_tokens=N_NEW, do_sample=False)
print("new tokens:", reference.shape[1] - prompt["input_ids"].shape[1])
print("by hand, no cache == generate:", torch.equal(greedy_no_cache, reference))
print("by hand, KV cache == generate:", torch.equal(greedy_cache, reference))
print("course_utils.generation.greedy_decode == generate:",
      torch.equal(gen.greedy_decode(model, prompt["input_ids"], N_NEW, eos_token_id=EOS), reference))

# %% [markdown]
# The tokens are identical. The logits are equal up to float rounding (the cached path multiplies
# smaller matrices in a different order):

# %%
with torch.no_grad():
    full = model(greedy_cache[:, :-1], use_cache=False).logits[:, -1]  # last prediction, whole sequence re-read
    prefix = model(greedy_cache[:, :-2], use_cache=True)  # cache everything but the last input token
    stepped = model(greedy_cache[:, -2:-1], cache=prefix.cache).logits[:, -1]
torch.testing.assert_close(stepped, full, rtol=1e-4, atol=1e-4)
diffs = {"logits with vs without KV cache": (stepped - full).abs().max().item()}
print("max |cached - uncached| logit:", diffs["logits with vs without KV cache"])

# %% [markdown]
# ## 3 · The KV cache: what it holds and what it saves
# transformers 5 returns a `DynamicCache` with one entry per layer; each holds keys and values
# of shape `(batch, key/value heads, tokens, head_dim)`. Thanks to grouped-query attention
# (notebook 06) SmolLM2 caches 3 key/value heads instead of 9.

# %% tags=["nbval-check-output", "same-online"]
cfg = model.config
print(type(cache).__name__, "| layers:", len(cache.layers), "| tokens cached:", cache.get_seq_length())
print("keys of layer 0:", tuple(cache.layers[0].keys.shape), "| values:", tuple(cache.layers[0].values.shape))
bytes_per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * 4  # k and v, float32
print(f"cache size per token: {bytes_per_token:,} bytes (x{cfg.num_attention_heads // cfg.num_key_value_heads} without GQA)")

# %% [markdown]
# **Speed, measured in one run.** The same greedy generation of a fixed number of tokens, with
# and without the cache (`min_new_tokens` keeps EOS from ending it early):

# %%
N_SPEED = cu.by_profile(quick=16, full=128)
speed_prompt = tokenizer("The history of the printing press begins " * 4, return_tensors="pt")


def tokens_per_second(use_cache: bool) -> float:
    start = time.perf_counter()
    model.generate(**speed_prompt, max_new_tokens=N_SPEED, min_new_tokens=N_SPEED, do_sample=False, use_cache=use_cache)
    return N_SPEED / (time.perf_counter() - start)


with_cache, without_cache = tokens_per_second(True), tokens_per_second(False)
speedup = with_cache / without_cache
print(f"prompt {speed_prompt['input_ids'].shape[1]} tokens + {N_SPEED} new tokens: "
      f"{with_cache:.1f} tokens/s with the cache, {without_cache:.1f} without -> {speedup:.1f}x")

# %% [markdown]
# **How the cost grows with length.** Without the cache, step *t* runs the model over all *t*
# tokens; with it, one token attends to *t* cached keys. Timing one decoding step at several
# sequence lengths:

# %%
lengths = cu.by_profile(quick=[16, 64, 256], full=[128, 256, 512, 1024, 2048])
g = torch.Generator().manual_seed(0)
step_ms = {"no cache (re-read all tokens)": [], "KV cache (one new token)": []}


def best_ms(fn, repeats=3):
    """The fastest of a few runs, in milliseconds: the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return min(times)


with torch.no_grad():
    for n in lengths:
        seq = torch.randint(0, cfg.vocab_size, (1, n), generator=g)
        past = model(seq[:, :-1], use_cache=True).cache  # a cache of n - 1 tokens

        def cached_step():
            model(seq[:, -1:], cache=past, use_cache=True)
            past.crop(-1)  # drop the token just appended, so every repeat sees n - 1 cached tokens

        step_ms["no cache (re-read all tokens)"].append(best_ms(lambda: model(seq, use_cache=False), repeats=2))
        step_ms["KV cache (one new token)"].append(best_ms(cached_step))
for n, a, b in zip(lengths, *step_ms.values()):
    print(f"length {n:5d}: {a:7.1f} ms without cache, {b:6.1f} ms with")
fig = plots.plot_lines(lengths, step_ms, xlabel="tokens in the sequence", ylabel="ms per decoding step",
                       title="Cost of one decoding step")

# %% [markdown]
# Without the cache the step time grows with the length (the whole sequence goes through all 30
# layers); with it, it stays almost flat at short lengths (the weights dominate) and grows slowly
# (attention over the cached keys). Over a whole generation the no-cache total grows
# quadratically. The price of the cache is memory, growing linearly with the length.
#
# ## 4 · Temperature, top-k, top-p: logits transforms
# Sampling draws the next token from the distribution instead of taking the argmax. Three
# transforms reshape the distribution first. transformers implements them as *logits
# processors* ("warpers"), functions `(input_ids, scores) -> scores`; we write each by hand and
# compare on the same logits. A filtered token gets the logit `-inf` (probability 0), so
# `max_diff` below first checks that both versions filter the same tokens, then measures the
# largest difference on the tokens kept.
#
# **Temperature** divides the logits: `T < 1` sharpens the distribution (towards greedy), `T > 1`
# flattens it (more surprising tokens).
#
# After "Once upon a time" the comma takes 93 % of the probability and every method picks it.
# Sampling settings matter where the distribution is flat, so this section uses a more open
# prompt.

# %% tags=["nbval-check-output"]
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper


def max_diff(ours: torch.Tensor, library: torch.Tensor) -> float:
    """Largest |difference| on the tokens both keep, after checking that both filter the same tokens."""
    assert torch.equal(torch.isinf(ours), torch.isinf(library)), "the two versions filter different tokens"
    kept = torch.isfinite(ours)
    return (ours[kept] - library[kept]).abs().max().item()


open_prompt = tokenizer("She opened the door and saw a", return_tensors="pt")
input_ids = open_prompt["input_ids"]
with torch.no_grad():
    next_logits = model(**open_prompt).logits[:, -1].float()
probs = next_logits.softmax(dim=-1)
print("5 most likely next tokens:", [tokenizer.decode(i) for i in probs.topk(5).indices[0]])
for T in (0.5, 1.5):
    by_hand = next_logits / T
    print(f"T={T}: max |by hand - TemperatureLogitsWarper| =", max_diff(by_hand, TemperatureLogitsWarper(T)(input_ids, next_logits)))

# %%
ranks = list(range(1, 11))
curves = {f"T = {T}": (next_logits / T).softmax(-1).topk(10).values[0] for T in (0.5, 1.0, 1.5)}
fig = plots.plot_lines(ranks, curves, xlabel="rank of the token (1 = most likely)", ylabel="probability (0 to 1)",
                       title="Temperature reshapes the next-token distribution")

# %% [markdown]
# **Top-k** keeps the `k` highest logits and sets the rest to `-inf` (probability 0).

# %% tags=["nbval-check-output", "same-online"]
def top_k_by_hand(logits, k):
    kth_value = logits.topk(k, dim=-1).values[:, -1:]  # the k-th largest logit of each row
    return logits.masked_fill(logits < kth_value, float("-inf"))


k = 10
top_k_logits = top_k_by_hand(next_logits, k)
print("top-k: max |by hand - TopKLogitsWarper| =", max_diff(top_k_logits, TopKLogitsWarper(k)(input_ids, next_logits)))
print("tokens kept by top-k:", int(torch.isfinite(top_k_logits).sum()))

# %% [markdown]
# **Top-p (nucleus)**: sort the tokens by probability, add them up from
# the top, and keep the smallest set whose total reaches `p`. A token is kept when the mass of
# the tokens *above* it is still below `p`, so the token that crosses the threshold is included.

# %% tags=["nbval-check-output"]
def top_p_by_hand(logits, p):
    sorted_probs, order = logits.softmax(-1).sort(dim=-1, descending=True)
    mass_above = sorted_probs.cumsum(-1) - sorted_probs  # probability of the tokens ranked above each token
    keep_sorted = mass_above < p
    keep = keep_sorted.scatter(-1, order, keep_sorted)  # back to vocabulary order
    return logits.masked_fill(~keep, float("-inf"))


for p in (0.5, 0.9):
    ours, library = top_p_by_hand(next_logits, p), TopPLogitsWarper(p)(input_ids, next_logits)
    print(f"top-p={p}: max |by hand - TopPLogitsWarper| =", max_diff(ours, library),
          "| course_utils agrees:", torch.equal(gen.top_p_transform(next_logits, p), library),
          "| tokens kept:", int(torch.isfinite(ours).sum()))

# %%
for p in (0.5, 0.9):
    kept = torch.isfinite(top_p_by_hand(next_logits, p))
    print(f"top-p={p} keeps {int(kept.sum())} tokens holding {probs[kept].sum().item():.3f} of the probability")
diffs["temperature vs TemperatureLogitsWarper"] = max_diff(next_logits / 0.5, TemperatureLogitsWarper(0.5)(input_ids, next_logits))
diffs["top-k vs TopKLogitsWarper"] = max_diff(top_k_logits, TopKLogitsWarper(k)(input_ids, next_logits))
diffs["top-p vs TopPLogitsWarper"] = max(max_diff(top_p_by_hand(next_logits, p), TopPLogitsWarper(p)(input_ids, next_logits)) for p in (0.5, 0.9))
print({name: diffs[name] for name in list(diffs)[-3:]})

# %% [markdown]
# **The draw: multinomial sampling.** After the transforms, a softmax gives the probabilities and
# one token is drawn from them. By hand: stack the probabilities end to end on `[0, 1)` (their
# cumulative sum), draw a uniform number `u`, and take the token whose stretch contains `u`: a
# token with probability 0.3 owns 30 % of the line. `torch.multinomial` (what `generate` calls)
# draws from the same distribution; 20,000 draws each way, compared with the probabilities:

# %%
chain_probs = top_p_by_hand(top_k_by_hand(next_logits / 0.7, 50), 0.9).softmax(dim=-1)  # T=0.7, top-k 50, top-p 0.9
cdf = chain_probs[0].cumsum(dim=0)  # cdf[i] = P(token <= i): token i owns [cdf[i-1], cdf[i])
u = torch.rand(20_000, generator=torch.Generator().manual_seed(0)) * cdf[-1]  # uniform on [0, total)
by_cdf = torch.searchsorted(cdf, u, right=True)  # the token whose stretch contains each u
by_torch = torch.multinomial(chain_probs, 20_000, replacement=True, generator=torch.Generator().manual_seed(0))[0]
freq = {name: torch.bincount(draws, minlength=cdf.numel()) / 20_000 for name, draws in (("cdf", by_cdf), ("torch", by_torch))}
print("tokens with probability > 0:", int((chain_probs > 0).sum()), "| drawn by hand:", len(by_cdf.unique()), "| by torch:", len(by_torch.unique()))
for name, f in freq.items():
    print(f"max |frequency - probability|, {name:5s}: {(f - chain_probs[0]).abs().max().item():.4f}")
assert (chain_probs[0, by_cdf] > 0).all() and all((f - chain_probs[0]).abs().max() < 0.02 for f in freq.values())

# %% [markdown]
# **The whole chain, by hand, equal to `generate`.** `generate(do_sample=True, ...)` applies
# temperature, then top-k, then top-p, takes the softmax and draws with `torch.multinomial` from
# torch's global random generator. Seed it, and the loop below, with the transforms written
# above, draws exactly the same tokens:

# %% tags=["nbval-check-output", "same-online"]
settings = dict(temperature=0.7, top_k=50, top_p=0.9)
torch.manual_seed(42)
sampled = model.generate(**open_prompt, do_sample=True, max_new_tokens=N_NEW, **settings)

torch.manual_seed(42)
with torch.no_grad():
    out, ids = model(**open_prompt, use_cache=True), open_prompt["input_ids"]
    for _ in range(N_NEW):
        scores = out.logits[:, -1].float() / settings["temperature"]  # temperature
        scores = top_p_by_hand(top_k_by_hand(scores, settings["top_k"]), settings["top_p"])  # top-k, then top-p
        next_id = torch.multinomial(scores.softmax(dim=-1), num_samples=1)  # the draw, (1, 1)
        ids = torch.cat([ids, next_id], dim=-1)
        out = model(next_id, cache=out.cache, use_cache=True)
print("sampling by hand == generate(do_sample=True), same seed:", torch.equal(ids, sampled),
      "| tokens that differ:", int((ids != sampled).sum()))
torch.manual_seed(42)
again = model.generate(**open_prompt, do_sample=True, max_new_tokens=N_NEW, **settings)
torch.manual_seed(7)
other = model.generate(**open_prompt, do_sample=True, max_new_tokens=N_NEW, **settings)
print("same seed, same text:", torch.equal(again, sampled), "| another seed, another text:", not torch.equal(other, sampled))

# %% [markdown]
# From here on, `gen.sample_next_token(logits, temperature=..., top_k=..., top_p=...)` does those
# lines in one call; with the same seed it draws the same token:

# %% tags=["nbval-check-output", "same-online"]
same_draw = []
for seed in range(20):
    torch.manual_seed(seed)
    by_hand_draw = torch.multinomial(chain_probs, num_samples=1).item()  # chain_probs: T=0.7, top-k 50, top-p 0.9
    torch.manual_seed(seed)
    same_draw.append(gen.sample_next_token(next_logits, **settings).item() == by_hand_draw)
print("20 seeds: course_utils.generation.sample_next_token draws the same token:", all(same_draw))

# %%
for name, seq in (("seed 42", sampled), ("seed 7", other)):
    print(f"{name}: {tokenizer.decode(seq[0], skip_special_tokens=True)!r}")

# %% [markdown]
# ## 5 · Beam search
# Greedy decoding commits to the best token at each step and can miss a better *sequence*.
# A toy example: after "The", "nice" (0.5) beats "dog" (0.4), but "dog has" (0.4 × 0.9 =
# 0.36) beats "nice woman" (0.5 × 0.4 = 0.20). Beam search keeps the `num_beams` best partial
# sequences at every step:

# %% tags=["nbval-check-output", "same-online"]
tree = {  # P(next word | last word) of a toy model
    "The": {"nice": 0.5, "dog": 0.4, "car": 0.1},
    "nice": {"woman": 0.4, "house": 0.3, "guy": 0.3},
    "dog": {"has": 0.9, "runs": 0.05, "and": 0.05},
    "car": {"is": 0.3, "drives": 0.5, "turns": 0.2},
}


def toy_greedy(start, steps):
    seq, prob = [start], 1.0
    for _ in range(steps):
        word, p_word = max(tree[seq[-1]].items(), key=lambda kv: kv[1])
        seq, prob = seq + [word], prob * p_word
    return " ".join(seq), round(prob, 3)


def toy_beam(start, steps, num_beams):
    beams = [([start], 1.0)]
    for _ in range(steps):
        candidates = [(seq + [w], prob * p_w) for seq, prob in beams for w, p_w in tree[seq[-1]].items()]
        beams = sorted(candidates, key=lambda c: c[1], reverse=True)[:num_beams]
    return [(" ".join(seq), round(prob, 3)) for seq, prob in beams]


print("greedy:", toy_greedy("The", 2))
print("beam search, 2 beams:", toy_beam("The", 2, num_beams=2))

# %% [markdown]
# **The log-probability of a sequence, by hand.** The probability of a continuation is the
# product of its tokens' next-token probabilities; in logs, a sum. One forward pass over prompt +
# continuation gives the logits at every position; the log-softmax at position *t*, read at the
# token that actually follows, is `log P(token t+1 | tokens up to t)`. `generate` can give the
# same numbers: `output_scores=True` keeps each step's scores, and
# `model.compute_transition_scores(..., normalize_logits=True)` log-softmaxes them and picks the
# chosen tokens. The two agree up to float rounding (`generate` used the KV cache, section 2).

# %%
beam_prompt = tokenizer("The best way to learn a language is", return_tensors="pt")
n_prompt = beam_prompt["input_ids"].shape[1]
greedy_out = model.generate(**beam_prompt, max_new_tokens=N_NEW, do_sample=False, return_dict_in_generate=True, output_scores=True)
greedy_ids = greedy_out.sequences
with torch.no_grad():
    log_probs = model(greedy_ids).logits[0, :-1].float().log_softmax(dim=-1)  # row t: log P(next token | tokens <= t)
token_logp = log_probs[n_prompt - 1:].gather(-1, greedy_ids[0, n_prompt:, None]).squeeze(-1)  # one per new token
from_generate = model.compute_transition_scores(greedy_ids, greedy_out.scores, normalize_logits=True)[0]
diffs["token log-probs vs compute_transition_scores"] = (token_logp - from_generate).abs().max().item()
print("log P of each new token:", [round(lp, 2) for lp in token_logp.tolist()])
print(f"sum = log P(continuation | prompt) = {token_logp.sum().item():.3f}")
print("max |by hand - compute_transition_scores|:", diffs["token log-probs vs compute_transition_scores"])
torch.testing.assert_close(token_logp, from_generate, rtol=1e-4, atol=1e-3)  # float rounding: generate used the cache

# %% [markdown]
# `gen.sequence_logprob(model, sequences, prompt_length, eos_token_id=...)` is that sum, for a
# batch of sequences (counting each row up to its first EOS). With it, compare greedy with
# `num_beams=4` on the whole continuation. `num_return_sequences=3` returns the 3 best beams;
# `early_stopping=True` stops as soon as `num_beams` finished candidates exist.

# %%
beam_out = model.generate(**beam_prompt, max_new_tokens=N_NEW, do_sample=False, num_beams=4,
                          num_return_sequences=3, early_stopping=True, return_dict_in_generate=True, output_scores=True)
logp_greedy = gen.sequence_logprob(model, greedy_ids, n_prompt, eos_token_id=EOS)
torch.testing.assert_close(logp_greedy[0], token_logp.sum())  # the helper equals the sum by hand
logp_beams = gen.sequence_logprob(model, beam_out.sequences, n_prompt, eos_token_id=EOS)
print(f"greedy  log P = {logp_greedy.item():7.3f}: {tokenizer.decode(greedy_ids[0, n_prompt:])!r}")
for lp, seq in zip(logp_beams, beam_out.sequences):
    print(f"beam    log P = {lp.item():7.3f}: {tokenizer.decode(seq[n_prompt:], skip_special_tokens=True)!r}")

# %% tags=["nbval-check-output"]
print("sequences returned:", tuple(beam_out.sequences.shape))
print("best beam more probable than greedy here:", bool(logp_beams[0] > logp_greedy[0]))
gen_lengths = torch.tensor([min(N_NEW, int((s[n_prompt:] == EOS).cumsum(0).eq(0).sum()) + 1) for s in beam_out.sequences])
reconstructed = logp_beams / gen_lengths ** 1.0  # length_penalty defaults to 1.0
torch.testing.assert_close(beam_out.sequences_scores, reconstructed, rtol=1e-4, atol=1e-4)
print("sequences_scores == sum of log-probs / length ** length_penalty:", torch.allclose(beam_out.sequences_scores, reconstructed, atol=1e-4))

# %%
diffs["beam sequences_scores vs log P / length"] = (beam_out.sequences_scores - reconstructed).abs().max().item()
print("max difference:", diffs["beam sequences_scores vs log P / length"])

# %% [markdown]
# So `length_penalty` is the exponent of the length that divides a beam's summed log-probability.
# Log-probabilities are negative, so a larger exponent makes long beams look better: values
# above 1 favour longer outputs, below 1 (or negative) shorter ones. It is used **only by
# beam-based strategies** to rank finished beams; greedy decoding and sampling ignore it. (It is
# sometimes suggested against an early EOS in general: without beams it does nothing.)
#
# Beam search suits tasks whose output length is predictable (translation, summarisation). For
# open-ended text it tends to produce bland, repetitive continuations; sampling reads more naturally.
#
# ## 6 · Length, repetition and the end-of-sequence token
# **`max_length` vs `max_new_tokens`.** `max_length` counts the prompt too (for decoder-only
# models); `max_new_tokens` counts only generated tokens and wins when both are given. Prefer
# `max_new_tokens`. Likewise `min_length` counts the prompt and `min_new_tokens` does not.

# %% tags=["nbval-check-output"]
n_in = prompt["input_ids"].shape[1]
print("prompt tokens:", n_in)
print("max_length=12      ->", model.generate(**prompt, max_length=12, do_sample=False).shape[1], "tokens in all")
print("max_new_tokens=12  ->", model.generate(**prompt, max_new_tokens=12, do_sample=False).shape[1], "tokens in all")
print("both (12 new, max_length 8) ->", model.generate(**prompt, max_new_tokens=12, max_length=8, do_sample=False).shape[1])

# %% [markdown]
# **`repetition_penalty`** (CTRL paper) lowers the logits of every token already in the sequence
# (prompt included): positive logits are divided by the penalty, negative ones multiplied, so both
# move down. **`no_repeat_ngram_size=n`** forbids any n-gram from occurring twice. Greedy decoding
# tends to repeat itself: the first check below finds a 3-token sequence twice in the greedy
# continuation of "Once upon a time", and with the ban there is none:

# %% tags=["nbval-check-output"]
from transformers import RepetitionPenaltyLogitsProcessor

penalty = 1.3
seen = torch.zeros_like(next_logits, dtype=torch.bool).scatter(-1, input_ids, True)
penalised = torch.where(seen, torch.where(next_logits > 0, next_logits / penalty, next_logits * penalty), next_logits)
print("repetition penalty by hand == RepetitionPenaltyLogitsProcessor:",
      torch.equal(penalised, RepetitionPenaltyLogitsProcessor(penalty)(input_ids, next_logits.clone())))


def repeats_ngram(token_ids, n):
    grams = [tuple(token_ids[i:i + n]) for i in range(len(token_ids) - n + 1)]
    return len(grams) != len(set(grams))


N_LONG = cu.by_profile(quick=60, full=120)
plain = model.generate(**prompt, max_new_tokens=N_LONG, do_sample=False)
no_repeat = model.generate(**prompt, max_new_tokens=N_LONG, do_sample=False, no_repeat_ngram_size=3)
print("greedy repeats a 3-gram:", repeats_ngram(plain[0, n_in:].tolist(), 3))
print("with no_repeat_ngram_size=3:", repeats_ngram(no_repeat[0].tolist(), 3))

# %%
print("greedy:        ", repr(tokenizer.decode(plain[0, n_in:])))
print("no 3-gram twice:", repr(tokenizer.decode(no_repeat[0, n_in:])))

# %% [markdown]
# Here greedy decoding does not loop word for word; it comes back to its own phrases. In the stored
# run (offline stand-in), its last sentence says "the once-blue ... began to fade" twice. With the
# ban, the continuation takes another turn at the first point where a 3-token sequence would have
# repeated.
#
# **EOS and padding.** Generation stops when the model emits `eos_token_id` (here `<|im_end|>`,
# the end of a chat turn) or at the length limit. `pad_token_id` does *not* pad a single output
# up to `max_length`: in a batch, rows that have finished are filled with it while the others
# continue, and prompts of different lengths are padded with it (on the **left** for decoder-only
# models, `tokenizer.padding_side = "left"`, so that every prompt ends where generation starts).
#
# **Keeping EOS from coming too early.** A common suggestion is `logit_bias={eos: -100}`. That is
# an argument of the OpenAI API, not of transformers: `generate` rejects unknown arguments.

# %% tags=["nbval-check-output"]
chat = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France? One word."}],
                                     add_generation_prompt=True, return_tensors="pt", return_dict=True)
n_chat = chat["input_ids"].shape[1]
try:
    model.generate(**chat, max_new_tokens=5, logit_bias={EOS: -100})
except ValueError as err:
    print("ValueError:", str(err).split(" (note")[0])

# %% [markdown]
# What transformers offers instead, each a logits processor that `generate` builds from the
# argument:
#
# | argument | effect on the EOS logit |
# |---|---|
# | `min_new_tokens=n` | `-inf` until `n` tokens have been generated |
# | `suppress_tokens=[eos]` | `-inf` at every step (EOS never comes: set a length limit) |
# | `begin_suppress_tokens=[eos]` | `-inf` at the first generated step only |
# | `sequence_bias={(eos,): -10.0}` | adds a bias, the true equivalent of `logit_bias` |
# | `bad_words_ids=[[eos]]` | **nothing**: transformers removes EOS from the bad words |
#
# The model answers in a few tokens; each argument changes that (or not) as the table says:

# %% tags=["nbval-check-output"]
def new_tokens(**kwargs):
    out = model.generate(**chat, max_new_tokens=12, do_sample=False, **kwargs)
    return out[0, n_chat:]


def first_eos(tokens):
    hits = (tokens == EOS).nonzero()
    return int(hits[0]) + 1 if len(hits) else None


natural = new_tokens()
print("no argument: EOS at new token", first_eos(natural))
variants = {"min_new_tokens=10": {"min_new_tokens": 10}, "suppress_tokens=[eos]": {"suppress_tokens": [EOS]},
            "begin_suppress_tokens=[eos]": {"begin_suppress_tokens": [EOS]},
            "sequence_bias={(eos,): -10.0}": {"sequence_bias": {(EOS,): -10.0}}, "bad_words_ids=[[eos]]": {"bad_words_ids": [[EOS]]}}
outputs = {name: new_tokens(**kwargs) for name, kwargs in variants.items()}
for name, tokens in outputs.items():
    print(f"{name:30s} EOS at new token", first_eos(tokens))
assert EOS not in outputs["min_new_tokens=10"][:10] and EOS not in outputs["suppress_tokens=[eos]"]

# %%
print("no argument:      ", repr(tokenizer.decode(natural)))
print("min_new_tokens=10:", repr(tokenizer.decode(outputs["min_new_tokens=10"])))

# %% [markdown]
# Forcing length does not make a model have more to say: past its natural end it rambles. Clear
# instructions in the prompt (and `max_new_tokens` as a safety limit) are usually the better fix.
#
# ### SmolLM2's pad token is its EOS token
# SmolLM2's tokenizer has no token of its own for padding: `pad_token` is `<|im_end|>`, the EOS
# (the Hub tokenizer has the same special tokens as the stand-in). Two common pieces of advice
# concern it:
#
# - `generate(..., pad_token_id=tokenizer.eos_token_id)`: for a model whose config has no pad
#   token (GPT-2), transformers 4 printed "Setting `pad_token_id` to `eos_token_id`:50256 for
#   open-end generation." at every call, and this argument silenced it. transformers 5.24 makes
#   that replacement without a word; for SmolLM2 the argument changes nothing, the ids are equal.
# - replacing `eos_token_id` by `pad_token_id` "so that the model knows it should not end yet":
#   `eos_token_id` only tells the loop which token ends a row; the model's scores do not change.
#   For SmolLM2 it is moreover the same id.

# %% tags=["nbval-check-output", "same-online"]
print("pad:", repr(tokenizer.pad_token), tokenizer.pad_token_id, "| eos:", repr(tokenizer.eos_token), EOS,
      "| pad_token_id == eos_token_id:", tokenizer.pad_token_id == tokenizer.eos_token_id)
print("model.generation_config.pad_token_id:", model.generation_config.pad_token_id)
for name, kwargs in (("pad_token_id=eos_token_id", {"pad_token_id": tokenizer.eos_token_id}),
                     ("eos_token_id=pad_token_id", {"eos_token_id": tokenizer.pad_token_id})):
    print(f"{name}: same tokens as without it:", torch.equal(new_tokens(**kwargs), natural))

# %% [markdown]
# **What pad = EOS means in a batch.** Two chat prompts of different lengths, padded on the left.
# The pads are id 2, and so is the `<|im_end|>` that closes each turn *inside* the prompts: from
# the ids alone, padding and text cannot be told apart. The `attention_mask` can: it is what hides
# the pads (and `generate` derives the position ids from it, so a padded prompt is numbered as if
# alone). Without it, `generate` cannot infer the mask (it would from a pad id different from
# EOS) and says so; `cu.show_warnings()` shows what `cu.setup()` hides:

# %%
tokenizer.padding_side = "left"  # decoder-only: every prompt ends where generation starts
questions = ["What is the capital of France? One word.", "Write a sentence about the sea."]
pair = tokenizer.apply_chat_template([[{"role": "user", "content": q}] for q in questions], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True, padding=True)
n_pair = pair["input_ids"].shape[1]
with_mask = model.generate(**pair, max_new_tokens=12, do_sample=False)
with cu.show_warnings():
    without_mask = model.generate(input_ids=pair["input_ids"], max_new_tokens=12, do_sample=False)

# %% [markdown]
# Each row should continue as its prompt does alone:

# %% tags=["nbval-check-output"]
print("first 5 ids of each row:      ", pair["input_ids"][:, :5].tolist())
print("first 5 of the attention_mask:", pair["attention_mask"][:, :5].tolist())
print(f"id {EOS} inside the first prompt (ends of turns, not padding):", int((pair["input_ids"][0] == EOS).sum()))
for row, question in enumerate(questions):
    alone = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                          return_tensors="pt", return_dict=True)
    ref = model.generate(**alone, max_new_tokens=12, do_sample=False)[0, alone["input_ids"].shape[1]:]
    print(f"row {row} ({int((pair['attention_mask'][row] == 0).sum())} pads) continues as alone, with attention_mask:",
          torch.equal(with_mask[row, n_pair:n_pair + len(ref)], ref), "| without:", torch.equal(without_mask[row, n_pair:n_pair + len(ref)], ref))

# %% [markdown]
# The rows also end differently. A row that emits EOS is finished: its later positions are filled
# with `pad_token_id` while the other row goes on, and `generate` stops when every row is finished
# (a single prompt simply ends at its EOS, as `natural` above does). Here the fill is the EOS id
# again, so the end of a row is its *first* EOS; `skip_special_tokens=True` drops them all.

# %% tags=["nbval-check-output"]
batch_new = with_mask[:, n_pair:]
for row in range(len(questions)):
    end = first_eos(batch_new[row])
    print(f"row {row}: first EOS at new token {end}; after it: {batch_new[row, end:].tolist() if end else 'nothing, no EOS'}")
print("every id after a row's first EOS is the pad id:",
      all((batch_new[r, first_eos(batch_new[r]):] == tokenizer.pad_token_id).all() for r in range(len(questions)) if first_eos(batch_new[r])))

# %%
print(tokenizer.batch_decode(batch_new))
print(tokenizer.batch_decode(batch_new, skip_special_tokens=True))

# %% [markdown]
# ## 7 · The map of decoding strategies in transformers 5
# `generate` picks a strategy from its arguments. Code written for transformers 4 may call its
# methods (`greedy_search()`, `sample()`, `beam_search()`, `group_beam_search()`...); those public
# methods are gone. Today `GenerationConfig.get_generation_mode()` names the mode, and
# an internal table maps it to a private method or to a **Hub repository** ("custom generate"):
#
# | strategy | arguments | in transformers 5 |
# |---|---|---|
# | greedy | `num_beams=1, do_sample=False` | built in (`_sample`, argmax) |
# | multinomial sampling | `num_beams=1, do_sample=True` | built in (`_sample`) |
# | beam search | `num_beams>1, do_sample=False` | built in (`_beam_search`) |
# | beam sampling | `num_beams>1, do_sample=True` | built in (`_beam_search`) |
# | diverse (group) beam search | `num_beams>1, num_beam_groups>1, diversity_penalty` | moved to the Hub: `transformers-community/group-beam-search` |
# | constrained beam search | `force_words_ids=...` or `constraints=...` | moved to the Hub: `transformers-community/constrained-beam-search` (the `Constraint` classes are gone) |
# | contrastive search | `penalty_alpha>0, top_k>1` | moved to the Hub: `transformers-community/contrastive-search` |
# | assisted generation | `assistant_model=...` or `prompt_lookup_num_tokens=n` | built in (`_assisted_decoding`) |
#
# The third column is read from the installed library (its version is in the setup cell's report):

# %% tags=["nbval-check-output", "same-online"]
from transformers import GenerationConfig
from transformers.generation.utils import GENERATION_MODES_MAPPING

strategies = {
    "greedy": {},
    "multinomial sampling": {"do_sample": True},
    "beam search": {"num_beams": 4},
    "beam sampling": {"num_beams": 4, "do_sample": True},
    "diverse beam search": {"num_beams": 4, "num_beam_groups": 2, "diversity_penalty": 1.0},
    "constrained beam search": {"num_beams": 4, "force_words_ids": [[EOS]]},
    "contrastive search": {"penalty_alpha": 0.6, "top_k": 4},
    "assisted (prompt lookup)": {"prompt_lookup_num_tokens": 3},
}
for name, kwargs in strategies.items():
    mode = GenerationConfig(**kwargs).get_generation_mode()
    print(f"{name:25s} -> {mode.value:25s} -> {GENERATION_MODES_MAPPING[mode]}")
print("public greedy_search / sample / beam_search / group_beam_search:",
      [hasattr(model, m) for m in ("greedy_search", "sample", "beam_search", "group_beam_search")])

# %% [markdown]
# Asking for a moved strategy does not silently fall back: `generate` refuses unless you opt in
# to running the repository's code with `custom_generate=...` and `trust_remote_code=True`
# (which also needs the Hub). This course never enables remote code; read the repository first
# if you do.

# %% tags=["nbval-check-output", "same-online"]
try:
    model.generate(**prompt, max_new_tokens=5, num_beams=4, num_beam_groups=2, diversity_penalty=1.0)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## 8 · Chat templates and streaming
# An instruct model was fine-tuned on conversations in a fixed format. `apply_chat_template`
# renders a list of messages in that format; `add_generation_prompt=True` appends the header of
# the assistant's turn so that the model answers instead of continuing your message. (This
# template also adds a default system message when there is none.)

# %% tags=["nbval-check-output", "same-online"]
messages = [{"role": "user", "content": "Give me two tips for learning Python."}]
print(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))

# %% [markdown]
# `TextStreamer` prints the text as the tokens arrive (`skip_prompt=True` hides the prompt), which
# is what a chat interface does. (`TextIteratorStreamer` gives an iterator instead, for a web app
# running `generate` in a thread.)

# %%
from transformers import TextStreamer

chat_inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
reply = model.generate(**chat_inputs, max_new_tokens=cu.by_profile(quick=32, full=200), do_sample=False, streamer=streamer)

# %% [markdown]
# The answer stops mid-sentence: the quick profile allows 32 new tokens (the full profile 200). In
# the stored run it also reads oddly, a heading numbered "1.1.1" before any tip. That is the model,
# not the streaming: 135 million parameters make a weak assistant, and offline the weights are a
# 4-bit quantised copy, which costs some more quality. The larger models of the same family (360M
# and 1.7B parameters) follow such instructions better.

# %% [markdown]
# ## 9 · In-context learning: demonstrations in the prompt
# An instruct model can classify without training if the prompt says how. **Zero-shot**: an
# instruction, then the text. **Few-shot** (in-context learning, GPT-3's term): the same with a few
# solved examples, *demonstrations*, before the text. No weight changes; the demonstrations act
# only because they are tokens in the context that attention compares with the new text.
#
# We score rather than generate: after "Emotion:" the next-token log-probability of each label
# word (each is one token after a space), and the prediction is the best label. That is one
# forward pass per text, here 20 short emotion texts, with 2 demonstrations per label (12, shuffled)
# from the training split.

# %%
import random

emotion = cu.load_emotion()
names = emotion["train"].features["label"].names
short_val = [row for row in emotion["validation"] if len(row["text"].split()) <= 15]
icl_test = random.Random(0).sample(short_val, 20)
short_train = [row for row in emotion["train"].select(range(2000)) if len(row["text"].split()) <= 15]
demos = [(row["text"], names[lab]) for lab in range(len(names)) for row in [r for r in short_train if r["label"] == lab][:2]]
random.Random(0).shuffle(demos)


def query(text: str) -> str:
    return f"\nText: {text}\nEmotion:"


instruction = f"Classify the emotion of each text as one of: {', '.join(names)}.\n"
zero_shot = instruction
few_shot = instruction + "".join(query(text) + f" {label}\n" for text, label in demos)
label_ids = [tokenizer(" " + name)["input_ids"] for name in names]

# %% tags=["nbval-check-output", "same-online"]
print("label tokens:", dict(zip(names, label_ids)))
assert all(len(ids) == 1 for ids in label_ids)
print(f"few-shot prompt, shortened:\n{instruction}[... {len(demos) - 1} more demonstrations ...]"
      + query(demos[-1][0]) + f" {demos[-1][1]}\n" + query(icl_test[0]["text"]))

# %% [markdown]
# The instruction and demonstrations are the same for every text, so their keys and values are
# computed once and kept in a KV cache (section 3); each text then costs a forward pass over its
# own tokens only, and `crop` drops them again. Each query starts with a newline, where the
# tokenizer cuts the whole prompt too, so the tokens and the result equal reading the whole prompt:

# %%
label_index = torch.tensor([ids[0] for ids in label_ids])


@torch.no_grad()
def label_logprobs(prefix: str, texts: list[str]) -> torch.Tensor:
    """(len(texts), labels): log P(label word | prefix + query(text)) for every text."""
    cache = model(**tokenizer(prefix, return_tensors="pt"), use_cache=True).cache
    rows = []
    for text in texts:
        query_ids = tokenizer(query(text), return_tensors="pt")["input_ids"]
        logits = model(query_ids, cache=cache, use_cache=True).logits[0, -1]
        cache.crop(-query_ids.size(1))  # back to the prefix alone
        rows.append(logits.float().log_softmax(-1)[label_index])
    return torch.stack(rows)


fingerprint = sum(p.sum().item() for p in model.parameters())
texts, gold = [row["text"] for row in icl_test], torch.tensor([row["label"] for row in icl_test])
scores = {"zero-shot": label_logprobs(zero_shot, texts), "few-shot": label_logprobs(few_shot, texts)}
with torch.no_grad():
    whole = tokenizer(few_shot + query(texts[0]), return_tensors="pt")
    whole_lp = model(**whole).logits[0, -1].float().log_softmax(-1)[label_index]
assert whole["input_ids"][0].tolist() == tokenizer(few_shot)["input_ids"] + tokenizer(query(texts[0]))["input_ids"]
torch.testing.assert_close(scores["few-shot"][0], whole_lp, rtol=1e-4, atol=1e-4)
assert fingerprint == sum(p.sum().item() for p in model.parameters())  # no weight changed

# %% [markdown]
# The accuracies below are not checked: they depend on the weights (offline, a 4-bit quantised
# copy of SmolLM2) and on which demonstrations are drawn.

# %%
for name, lp in scores.items():
    pred = lp.argmax(-1)
    counts = {names[i]: int((pred == i).sum()) for i in range(len(names)) if (pred == i).any()}
    print(f"{name:9s} accuracy {(pred == gold).float().mean().item():.2f} on {len(gold)} texts | predicted: {counts}")
print("true labels:", {names[i]: int((gold == i).sum()) for i in range(len(names)) if (gold == i).any()})

# %% [markdown]
# A 135M model is a weak, fickle in-context learner: compare how often it answers each label, and
# change the seed that orders the demonstrations to see the few-shot accuracy move (Zhao et al.
# 2021, "Calibrate before use", arXiv 2102.09690, measured such majority-label and recency biases in
# GPT-3). Larger models gain much more from demonstrations (reported for GPT-3; not measured here).
#
# **What attention compares.** A common reading is that a transformer predicts a label from the
# similarity between *samples*. More precisely, attention compares the **tokens of one context**:
# the new text's tokens attend to the demonstrations' tokens because they are in the same prompt.
# Drop the demonstrations and their effect is gone; the weights were never touched (the fingerprint
# check above). *Why* this works is open research: von Oswald et al. 2022, "Transformers learn
# in-context by gradient descent" (arXiv 2212.07677), show that a linear self-attention layer can
# perform a gradient-descent step on the demonstrations of a linear-regression task, and that
# linear-attention models trained on such tasks do so: a hypothesis about linear-attention models,
# not a description of SmolLM2. The price is concrete: every demonstration adds tokens, and the
# attention scores grow with the square of the context length.

# %% tags=["nbval-check-output", "same-online"]
query_len = tokenizer(query(texts[0]), return_tensors="pt")["input_ids"].size(1)
n_zero = tokenizer(zero_shot, return_tensors="pt")["input_ids"].size(1) + query_len
n_few = whole["input_ids"].size(1)
print(f"context for the first text: {n_zero} tokens zero-shot, {n_few} few-shot ({len(demos)} demonstrations)")
print(f"attention scores per head and layer: {n_zero ** 2:,} vs {n_few ** 2:,} ({n_few ** 2 / n_zero ** 2:.0f}x)")

# %% [markdown]
# ## 10 · Encoder-decoder models: `generate` with `AutoModelForSeq2SeqLM`
# For an encoder-decoder (BART, T5; notebook 06 shows their attention), `generate` runs the
# **encoder once** on the source, then this chapter's decoding loop in the decoder, which starts
# from `decoder_start_token_id` and cross-attends to the encoder's output. It returns target ids
# only (no prompt in front). `AutoModelForSeq2SeqLM` loads any such model.
#
# Older examples run `fnlp/bart-base-chinese` (BART with a BERT-style Chinese vocabulary)
# through `Text2TextGenerationPipeline`. transformers 5 removed that pipeline (notebook 01):

# %% tags=["nbval-check-output", "same-online"]
import transformers
from transformers import pipeline

print("transformers has Text2TextGenerationPipeline:", hasattr(transformers, "Text2TextGenerationPipeline"))
try:
    pipeline("text2text-generation")
except KeyError as err:
    print("KeyError:", err.args[0].split(" See ")[0])

# %% [markdown]
# The replacement is the pipeline's own three steps: tokenizer → `model.generate` →
# `batch_decode(skip_special_tokens=True)`. Online, the next cell loads that checkpoint (about
# 0.5 GB). Offline no pretrained seq2seq model exists (nothing on PyPI), so it builds a tiny BART
# with **random weights** and a BERT-style vocabulary of single Chinese characters, saves it and
# loads it back the same way: the mechanics are real, **the generated text is meaningless**.

# %%
from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration, BertTokenizer

S2S_NAME = "fnlp/bart-base-chinese"


def tiny_random_chinese_bart(folder: str) -> str:
    """Save a 2+2-layer BART with random weights and a character vocabulary (BERT-style) into folder."""
    chars = sorted(set("北京是中国的首都上海巴黎法国伦敦英国东京日本城市"))
    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars)}
    char_tokenizer = BertTokenizer(vocab=vocab)
    config = BartConfig(vocab_size=len(vocab), d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        max_position_embeddings=64, pad_token_id=0, bos_token_id=2, eos_token_id=3,
                        decoder_start_token_id=3, forced_eos_token_id=3)
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(folder)  # model.safetensors + config.json
    char_tokenizer.save_pretrained(folder)
    return folder


s2s_source = S2S_NAME if env.hub else None
if s2s_source is not None:
    try:
        s2s_model = AutoModelForSeq2SeqLM.from_pretrained(s2s_source, use_safetensors=True)
    except OSError as err:  # the course loads safetensors weights only
        print(f"{S2S_NAME} could not be loaded as safetensors ({type(err).__name__}): using the tiny model")
        s2s_source = None
if s2s_source is None:
    s2s_source = tiny_random_chinese_bart(str(cu.cache_dir() / "tiny-random-bart-chinese"))
    s2s_model = AutoModelForSeq2SeqLM.from_pretrained(s2s_source)
    print(f"{S2S_NAME} replaced by a tiny BART with random weights: its output is meaningless")
s2s_tokenizer = BertTokenizer.from_pretrained(s2s_source)  # the model card asks for BertTokenizer
s2s_model = s2s_model.eval()

# %% tags=["nbval-check-output"]
print(type(s2s_model).__name__)
source = s2s_tokenizer(["北京是[MASK]的首都"], return_tensors="pt", return_token_type_ids=False)
print(s2s_tokenizer.convert_ids_to_tokens(source["input_ids"][0]))
calls = {"encoder": 0, "decoder": 0}
hooks = [s2s_model.get_encoder().register_forward_pre_hook(lambda m, a: calls.update(encoder=calls["encoder"] + 1)),
         s2s_model.get_decoder().register_forward_pre_hook(lambda m, a: calls.update(decoder=calls["decoder"] + 1))]
generated = s2s_model.generate(**source, max_new_tokens=8, min_new_tokens=8, do_sample=False, num_beams=1)
for hook in hooks:
    hook.remove()
print("generate ran the encoder", calls["encoder"], "time(s) and the decoder", calls["decoder"], "times")
print("output starts with decoder_start_token_id:", bool((generated[:, 0] == s2s_model.config.decoder_start_token_id).all()))

# %%
print("generated:", s2s_tokenizer.batch_decode(generated, skip_special_tokens=True))

# %% [markdown]
# **Why a space between every two characters?** The output above has them: offline, the tiny
# random model's meaningless characters (in the stored run, one character over and over); online,
# the pretrained model's sentence. A BERT-style Chinese vocabulary has one token per character,
# and `decode` joins tokens with spaces (WordPiece's decoder only glues `##` pieces to the previous
# token). Chinese is written without spaces, so remove them after decoding. On a sentence that the
# tiny vocabulary can spell too:

# %% tags=["nbval-check-output"]
spaced = s2s_tokenizer.batch_decode(s2s_tokenizer(["北京是中国的首都"])["input_ids"], skip_special_tokens=True)
print(spaced, "->", [text.replace(" ", "") for text in spaced])

# %% [markdown]
# ## Summary of the measurements

# %%
print(f"KV cache speed-up at {N_SPEED} new tokens: {speedup:.1f}x ({with_cache:.1f} vs {without_cache:.1f} tokens/s)")
for name, value in diffs.items():
    print(f"{name:45s} largest difference {value:.2e}")

# %% [markdown]
# Every token-level comparison (greedy by hand with and without the cache, hand sampling with a
# seed, the warpers' kept tokens) is exact; the logits themselves differ only by float32 rounding.
#
# ## Common pitfalls
# - **`logit_bias` is not a `generate` argument** (it is OpenAI's). Use `min_new_tokens`,
#   `suppress_tokens`, `begin_suppress_tokens` or `sequence_bias`; `bad_words_ids=[[eos]]` is
#   silently ignored.
# - **`max_length` includes the prompt**; a long prompt leaves few or no new tokens. Use
#   `max_new_tokens` (and `min_new_tokens` rather than `min_length`).
# - **`length_penalty` only matters with beams**; it does not lengthen greedy or sampled text.
# - **`pad_token_id` does not pad a single output.** It fills finished rows of a batch and pads
#   prompts; pad decoder-only prompts on the left.
# - **Pad = EOS (SmolLM2 and many chat models).** The ids cannot show where padding is: pass the
#   `attention_mask` with a padded batch (without it the padded rows change, section 6), and take
#   a row's *first* EOS as its end. `pad_token_id=tokenizer.eos_token_id` is then a no-op.
# - **Sampling arguments without `do_sample=True`** (`temperature`, `top_k`, `top_p`) are ignored
#   by greedy decoding (transformers warns). The model's own `generation_config` may set
#   `do_sample`: print `model.generation_config` to know the defaults you run with.
# - **Old method names.** `model.greedy_search(...)`, `sample`, `beam_search`,
#   `group_beam_search` no longer exist; call `generate` with the arguments of section 7.
#   Group/constrained beam search and contrastive search now live in Hub repositories and need
#   `trust_remote_code=True`.
# - **Forgetting `add_generation_prompt=True`** with a chat model: it continues the user's turn.
# - **Loading dtype.** transformers 5 loads the checkpoint's stored dtype (`dtype="auto"`); pass
#   `dtype=torch.float32` for CPU work and reproducible comparisons.
# - **`past_key_values=` is deprecated** (transformers 5.24, removed in 5.40): pass the KV cache as
#   `model(..., cache=...)` and read it from `outputs.cache`.
# - **`Text2TextGenerationPipeline` is gone.** Older examples and model cards run
#   `fnlp/bart-base-chinese` through it; transformers 5 removed it with
#   `pipeline("text2text-generation")`. Write tokenizer → `model.generate` →
#   `batch_decode(skip_special_tokens=True)` (section 10), and `.replace(" ", "")` to undo the
#   spaces that a character-level Chinese vocabulary's `decode` puts between characters.
# - **In-context learning trains nothing.** The model does not compare *samples*; attention
#   compares the *tokens of one context*, so demonstrations matter only while they are in the
#   prompt, and each costs tokens (attention grows with the square of the length). The
#   gradient-descent reading (von Oswald et al. 2022) is a hypothesis about linear-attention models.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs (on a tiny
# random Llama, the same code path as SmolLM2) and prints ✅ or a specific hint. Worked solutions:
# [solutions/07_generation_solutions.ipynb](solutions/07_generation_solutions.ipynb).
#
# **07.1** Write `min_p_transform(logits, min_p)`: keep the tokens whose probability is at least
# `min_p` times the top token's probability, set the others to `-inf`. Compare it with
# `transformers.MinPLogitsWarper(min_p)(input_ids, logits)` on `next_logits`.

# %% tags=["nbval-check-output", "same-online"]
def min_p_transform(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_07_1(min_p_transform)

# %% [markdown]
# **07.2** Write `greedy_batch(model, input_ids, attention_mask, max_new_tokens)`: greedy decoding
# of a **left-padded** batch (`tokenizer.padding_side = "left"`), returning prompts + new tokens
# like `model.generate(input_ids=..., attention_mask=..., do_sample=False)`. Try it on two prompts
# of different lengths with `model`.

# %% tags=["nbval-check-output", "same-online"]
def greedy_batch(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_07_2(greedy_batch)

# %% [markdown]
# **07.3** Write `beam_search(model, input_ids, num_beams, max_new_tokens)` for one prompt, without
# EOS handling: keep the `num_beams` best sequences by summed log-probability at every step, and
# return the best one, shape `(1, prompt + new)`. It must equal
# `generate(num_beams=..., early_stopping="never", length_penalty=0.0, do_sample=False)`.

# %% tags=["nbval-check-output", "same-online"]
def beam_search(model, input_ids: torch.Tensor, num_beams: int, max_new_tokens: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_07_3(beam_search)

# %% [markdown]
# **07.4** Write `tokens_read(prompt_len, new_tokens, use_cache)`: how many token positions the
# model's forward passes read in all while `generate` makes `new_tokens` tokens greedily, with and
# without the KV cache. The checker counts them with a forward hook. Think: why does the speed-up
# of section 3 grow with the number of new tokens?

# %% tags=["nbval-check-output", "same-online"]
def tokens_read(prompt_len: int, new_tokens: int, use_cache: bool) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_07_4(tokens_read)

# %% [markdown]
# ## Recap
# - The model scores every vocabulary token as the next one; decoding is a loop that picks one and
#   feeds it back. Greedy by hand equals `generate(do_sample=False)` token for token, and the KV
#   cache changes the cost, not the result.
# - Temperature, top-k and top-p are logits transforms applied before the softmax; a multinomial
#   draw from the result picks the token, and with a seed the whole chain is reproducible.
# - A sequence's log-probability is the sum, over its new tokens, of the log-softmax read at the
#   token chosen; `compute_transition_scores` gives the same numbers from `generate`.
# - Beam search looks for more probable sequences; `length_penalty` ranks its finished beams.
# - Control length with `max_new_tokens`/`min_new_tokens`, repetition with `repetition_penalty` and
#   `no_repeat_ngram_size`, EOS with `suppress_tokens`/`sequence_bias`. When the pad token is the
#   EOS, the `attention_mask` is what hides the padding of a batch.
# - Chat models need their chat template; `TextStreamer` shows the answer as it is produced.
# - In-context learning puts demonstrations in the prompt: no weight changes, and every
#   demonstration lengthens the context that attention must cover.
# - Encoder-decoder models (`AutoModelForSeq2SeqLM`) encode the source once and decode from
#   `decoder_start_token_id`; tokenizer → `generate` → `batch_decode` replaces the removed
#   text2text pipeline.
#
# **Next:** [08 · PEFT and LoRA](08_peft_lora.ipynb), where we adapt such a model cheaply.
