# Worked solutions of notebook 02's exercises (built with `make notebooks`).

# %% [markdown]
# # 02 · Solutions: tokenizers
#
# Worked solutions to the exercises of [02 · Tokenizers](../02_tokenizers.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

# %% [markdown]
# The chapter's tokenizer: uncased WordPiece (offline stand-in: all-MiniLM-L6-v2, the same
# vocabulary).

# %%
from transformers import AutoModelForSequenceClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER))

# %% [markdown]
# **02.1** `truncation="only_second"` takes tokens off the end of the second segment only.
# `truncation=True` means `"longest_first"`: it removes one token at a time from whichever segment
# is longer at that moment, so once the passage is down to the question's length the question
# loses tokens too (here its `?`). `"only_first"` would cut the question, and when the question
# alone cannot make room it raises an error.

# %% tags=["nbval-check-output", "same-online"]
def truncate_pair(question: str, passage: str, max_length: int) -> list[int]:
    return tokenizer(question, passage, truncation="only_second", max_length=max_length)["input_ids"]


question = "Which river flows through the old town of the course?"
passage = ("The town grew up on both banks of the river. For centuries merchants crossed it by ferry, "
           "until the first stone bridge was finished.")
print("only_second  ", tokenizer.decode(truncate_pair(question, passage, 24)))
print("longest_first", tokenizer.decode(tokenizer(question, passage, truncation=True, max_length=24)["input_ids"]))
try:
    tokenizer(question, passage, truncation="only_first", max_length=24)
except Exception as err:  # the Rust tokenizer raises a plain Exception here
    print("only_first   ", err)
assert cu.check.exercise_02_1(truncate_pair)

# %% [markdown]
# **02.2** `word_ids()` gives each token's word (`None` for special tokens); the word's span runs
# from the start of its first token to the end of its last, read from `offset_mapping`
# (`enc.word_to_chars(word)` gives the same span directly). An emoji becomes `[UNK]` in this
# vocabulary, but its offsets still point at the emoji in the original text: the span recovers
# what the id lost.

# %% tags=["nbval-check-output", "same-online"]
def word_span(text: str, token_index: int) -> tuple[int, int] | None:
    enc = tokenizer(text, return_offsets_mapping=True)
    words = enc.word_ids()
    if words[token_index] is None:
        return None
    spans = [span for span, w in zip(enc["offset_mapping"], words) if w == words[token_index]]
    return spans[0][0], spans[-1][1]


text = "I love 🤗 tokenizers"
enc = tokenizer(text)
for i, token in enumerate(enc.tokens()):
    span = word_span(text, i)
    assert span is None or span == tuple(enc.word_to_chars(enc.word_ids()[i]))
    print(f"{i} {token:8s} {span} {text[span[0]:span[1]] if span else ''!r}")
assert cu.check.exercise_02_2(word_span)

# %% [markdown]
# **02.3** After `add_tokens`, `len(tokenizer)` counts every id, new ones included; resize the
# embedding matrix to exactly that. Neither `vocab_size` (the base vocabulary) nor the number
# `add_tokens` returns is the right size: below, `"course"` is already in the vocabulary, so the
# tokenizer gains one id although `add_tokens` reports two.

# %% tags=["nbval-check-output", "same-online"]
def add_and_resize(tokenizer, model, new_tokens: list[str]) -> int:
    tokenizer.add_tokens(new_tokens)
    model.resize_token_embeddings(len(tokenizer))
    return model.get_input_embeddings().num_embeddings


demo_tok = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False))
demo_model = AutoModelForSequenceClassification.from_pretrained(cu.resolve_checkpoint(cu.SENTIMENT, verbose=False))
before = len(demo_tok)
rows = add_and_resize(demo_tok, demo_model, ["huggingface", "course"])
print("new ids:", len(demo_tok) - before, "| embedding rows:", rows, "= len(tokenizer):", len(demo_tok))
fresh = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False))
print("add_tokens reports", fresh.add_tokens(["huggingface", "course"]), "for the same two tokens")
assert cu.check.exercise_02_3(add_and_resize)

# %% [markdown]
# **02.4** Encode the pair, so that every chunk is `[CLS] question [SEP] ... [SEP]`, and let the
# tokenizer chunk the second segment only: `truncation="only_second"` (02.1) with
# `return_overflowing_tokens=True` and `stride` (section 5). The question is repeated because a
# chunk without it cannot be answered: the model scores answer spans *for* that question. Each
# chunk then gives its best span (03's `best_span`), and the answer is the span with the highest
# start + end score over all chunks, mapped back to characters with `offset_mapping`.

# %% tags=["nbval-check-output", "same-online"]
def qa_chunks(question: str, context: str, max_length: int, stride: int) -> list[list[int]]:
    return tokenizer(question, context, truncation="only_second", max_length=max_length, stride=stride,
                     return_overflowing_tokens=True)["input_ids"]


question = "How many bridges cross the river?"
context = " ".join(["The river flows through the old town and under seven stone bridges."] * 6)
chunks = qa_chunks(question, context, 40, 8)
head = tokenizer(question)["input_ids"]  # [CLS] question [SEP]
print("context tokens:", len(tokenizer(context, add_special_tokens=False)["input_ids"]),
      "| chunk lengths:", [len(c) for c in chunks])
print("every chunk starts with [CLS] question [SEP]:", all(c[: len(head)] == head for c in chunks))
assert chunks[0][-9:-1] == chunks[1][len(head) : len(head) + 8]  # 8 shared context tokens
assert cu.check.exercise_02_4(qa_chunks)
