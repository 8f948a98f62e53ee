# Worked solutions of notebook 01's exercises (built with `make notebooks`).

# %% [markdown]
# # 01 · Solutions: pipelines
#
# Worked solutions to the exercises of [01 · Pipelines, and what they hide](../01_pipelines.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

# %% [markdown]
# The objects of the chapter's sections 1 and 2: the sentiment pipeline, and its tokenizer and
# model loaded by hand.

# %%
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline, set_seed

sentiment_ckpt = cu.resolve_checkpoint(cu.SENTIMENT)
classifier = pipeline("sentiment-analysis", model=sentiment_ckpt, device=env.device)
tokenizer = AutoTokenizer.from_pretrained(sentiment_ckpt)
model = AutoModelForSequenceClassification.from_pretrained(sentiment_ckpt).to(env.device).eval()

# %% [markdown]
# **01.1** The same three stages as section 2, on the causal LM: tokenize the prompt, run the
# model, and keep the logits of the **last** position (`logits[0, -1]`): position `i` predicts token
# `i + 1`, so only the last one looks past the prompt. Softmax over the vocabulary, `topk`, and
# `tokenizer.decode([id])` names each id (a leading space is part of the token). Greedy decoding
# takes exactly the most likely token, so it is the first token of the greedy continuation.

# %%
causal_ckpt = cu.resolve_checkpoint(cu.CAUSAL_LM)
generator = pipeline("text-generation", model=causal_ckpt, device=env.device)

# %% tags=["nbval-check-output"]
def next_token_probs(prompt: str, k: int) -> list[tuple[str, float]]:
    inputs = generator.tokenizer(prompt, return_tensors="pt").to(env.device)
    with torch.inference_mode():
        logits = generator.model(**inputs).logits[0, -1]
    top = logits.softmax(dim=-1).topk(k)
    return [(generator.tokenizer.decode([i]), p) for i, p in zip(top.indices.tolist(), top.values.tolist())]


top = next_token_probs("Once upon a time", 5)
first_greedy = generator("Once upon a time", max_new_tokens=1, do_sample=False, return_full_text=False)[0]["generated_text"]
print("most likely next token == the greedy pipeline's first new token:", top[0][0] == first_greedy)
print("probabilities sorted, top 5 sum to at most 1:", [p for _, p in top] == sorted((p for _, p in top), reverse=True),
      sum(p for _, p in top) <= 1)
assert cu.check.exercise_01_1(next_token_probs)

# %% [markdown]
# **01.2** Give the tokenizer the two texts as two arguments: it builds one sequence
# `[CLS] text [SEP] text_pair [SEP]` (and, for this BERT, `token_type_ids` 0 then 1), which is
# what the pipeline does with `{"text", "text_pair"}`. `tokenizer([text, text_pair])` would be a
# *batch* of two separate texts, and two results.

# %% tags=["nbval-check-output", "same-online"]
def pair_scores(text: str, text_pair: str) -> dict[str, float]:
    inputs = tokenizer(text, text_pair, truncation=True, return_tensors="pt").to(env.device)
    with torch.inference_mode():
        probs = model(**inputs).logits.softmax(dim=-1)[0].cpu()
    return {model.config.id2label[i]: p.item() for i, p in enumerate(probs)}


text, text_pair = "The plot was thin.", "The acting saved it."
print(tokenizer.convert_ids_to_tokens(tokenizer(text, text_pair)["input_ids"]))
print("rows as a batch of two:", len(tokenizer([text, text_pair])["input_ids"]))
assert cu.check.exercise_01_2(pair_scores)

# %% [markdown]
# **01.3** Tokenize every text (special tokens included, no padding), cut the lengths into
# consecutive groups of `batch_size` (the last group may be smaller), and add up
# *group size × longest length in the group*. One long text in a group makes every other text
# in it as long, and those padding positions cost as much compute as real tokens. Sorting the
# texts by length first puts similar lengths together, so little padding is left.

# %% tags=["nbval-check-output", "same-online"]
def padded_positions(texts: list[str], batch_size: int) -> int:
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    groups = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
    return sum(len(group) * max(group) for group in groups)


texts = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]
real = sum(len(ids) for ids in tokenizer(texts)["input_ids"])
print("real tokens:", real, "| batch_size=1:", padded_positions(texts, 1), "| batch_size=2:", padded_positions(texts, 2))
assert cu.check.exercise_01_3(padded_positions)

# %% [markdown]
# **01.4** Sampling draws from torch's random number generator, so seed it right before each
# call, inside the function (`transformers.set_seed` seeds Python, NumPy and torch). Return the
# pipeline's `generated_text`, which starts with the prompt; the checker draws with the same seed
# itself and compares, so text made up without the model (`str(seed)`, say) is refused. Seeding once
# outside the function makes only the first call repeatable. Greedy decoding (`do_sample=False`)
# draws nothing: it takes the most likely token each step, so it is repeatable without a seed.

# %%
def sample_story(prompt: str, seed: int) -> str:
    set_seed(seed)
    return generator(prompt, do_sample=True, temperature=0.7, max_new_tokens=8)[0]["generated_text"]


# %% tags=["nbval-check-output"]
story = sample_story("Once upon a time", 0)
print("same seed, same text:", story == sample_story("Once upon a time", 0), "| continues the prompt:", story.startswith("Once upon a time"))
assert cu.check.exercise_01_4(sample_story)
