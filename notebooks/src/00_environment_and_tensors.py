# Source of notebooks/00_environment_and_tensors.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 00 · Environment and tensor basics
#
# Every later notebook leans on a handful of tensor operations: matrix products in attention, views
# and transposes when heads are split, embeddings, linear layers and the triangular mask that
# makes a language model causal. This chapter checks your environment and then shows each of those
# operations once, with its shapes verified.
#
# **Learning objectives**
# - run the course's setup cell and read its report (device, profile, versions, Hub or stand-ins),
#   and find where an installed package's code lives (`pip install -e .`, `python -m`, `__file__`);
# - predict the result shape of `torch.matmul` for 1-D, 2-D and batched operands, and use `bmm`;
# - explain `view` vs `reshape`, and why a transposed tensor is not contiguous;
# - slice with `start:stop:step`, and know that a tensor slice is a view while a list slice is a copy;
# - use `unsqueeze`, `nn.Linear` and `nn.Embedding`, and build a causal mask with `triu`.
#
# **Prerequisites:** Python and NumPy. **Run time:** 5 s on a 2-core CPU (quick profile).
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup
# Every notebook starts with the same cell. `setup()` silences loading noise, seeds Python,
# NumPy, torch and transformers, and prints where you are running. The **profile** decides how much
# work the notebooks do: `quick` (small subsets, few steps: CI and CPU laptops) or `full` (the real
# recipe, the default when a CUDA GPU is present). Set `COURSE_PROFILE=quick|full` to choose.
#
# **Where huggingface.co is blocked** (mainland China), use a mirror: make
# `%env HF_ENDPOINT=https://hf-mirror.com` the first line of the cell below. `huggingface_hub` reads
# the variable once, when it is imported, so in a kernel that has already run the cell, restart the
# kernel first. Without a mirror the report says the Hub is offline, and every notebook runs on the
# PyPI stand-ins. The shell and PowerShell forms, and mirrors for `make lab`'s downloads, are in
# [README](../README.md), "Online and offline".

# %%
import numpy as np
import torch
from torch import nn

import course_utils as cu

env = cu.setup(seed=0)

# %% [markdown]
# The report is also available as fields, which later notebooks use to pick the device and sizes:

# %%
print(env.device, env.profile)
n_examples = cu.by_profile(quick=2_000, full=16_000)
print("examples this profile would train on:", n_examples)

# %% [markdown]
# ### Where the course's code comes from
# `make install` runs `pip install -e .` (through uv) in the repository: an **editable** install.
# pip records where the checkout is instead of copying the code, so `import course_utils` works
# from any folder and runs the very files you can read and edit in `course_utils/`. An ordinary
# `pip install package` copies the code into the environment's package folder; it is readable
# there too.
#
# Installed either way, a package is on `sys.path`, so `python -m package.module` runs it from any
# folder. A source folder that was never installed is found only when Python starts inside it. A
# common conclusion is that a pip install therefore beats a source checkout; in fact
# `pip install -e .` in the checkout gives both: code you can read and edit, importable from anywhere.
# To find the code behind a name, ask Python: `module.__file__`, `inspect.getsourcefile(obj)`,
# or `importlib.util.find_spec("pkg.module").origin` (which does not import the module).

# %%
import importlib.metadata
import importlib.util
import inspect
import json
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import transformers

record = importlib.metadata.distribution("course-utils").read_text("direct_url.json")
editable = json.loads(record or "{}").get("dir_info", {}).get("editable", False)
in_env = Path(transformers.__file__).resolve().is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())
print("course_utils: editable install:", editable, "| transformers: copied into this environment:", in_env)

# %% tags=["nbval-check-output", "same-online"]
cu_root = Path(cu.__file__).parent
print("cu.setup is defined in course_utils/" + Path(inspect.getsourcefile(cu.setup)).relative_to(cu_root).as_posix())
pipelines = Path(importlib.util.find_spec("transformers.pipelines").origin)
print("transformers.pipelines is transformers/" + pipelines.relative_to(Path(transformers.__file__).parent).as_posix())
elsewhere = subprocess.run([sys.executable, "-m", "course_utils", "requirements"], cwd=tempfile.gettempdir(),
                           capture_output=True, text=True, check=True)
print("python -m course_utils requirements, run in another folder:", elsewhere.stdout.strip())

# %% [markdown]
# ## 1 · `torch.matmul`: the shape depends on the operands
# `matmul` picks its behaviour from the number of dimensions of each operand.
#
# | operands | result |
# |---|---|
# | 1-D · 1-D | dot product, a 0-D scalar |
# | 2-D · 2-D | matrix product |
# | 1-D · 2-D | a 1 is prepended to the vector, then removed again |
# | 2-D · 1-D | matrix-vector product |
# | N-D (N > 2) | batched: leading dimensions are broadcast |

# %% tags=["nbval-check-output", "same-online"]
cases = {
    "1-D (3) · 1-D (3)": (torch.randn(3), torch.randn(3)),
    "2-D (3,4) · 2-D (4,5)": (torch.randn(3, 4), torch.randn(4, 5)),
    "1-D (3) · 2-D (3,5)": (torch.randn(3), torch.randn(3, 5)),
    "2-D (3,4) · 1-D (4)": (torch.randn(3, 4), torch.randn(4)),
    "3-D (10,3,4) · 3-D (10,4,5)": (torch.randn(10, 3, 4), torch.randn(10, 4, 5)),
    "3-D (10,3,4) · 1-D (4)": (torch.randn(10, 3, 4), torch.randn(4)),
    "3-D (10,3,4) · 2-D (4,5)": (torch.randn(10, 3, 4), torch.randn(4, 5)),
    "4-D (2,1,3,4) · 3-D (5,4,6)": (torch.randn(2, 1, 3, 4), torch.randn(5, 4, 6)),
}
for name, (a, b) in cases.items():
    print(f"{name:30s} -> {tuple(torch.matmul(a, b).shape)}")

# %% [markdown]
# The last case broadcasts the batch dimensions `(2, 1)` and `(5,)` to `(2, 5)`. Each rule can be
# checked against an explicit computation:

# %%
a, b = torch.randn(3, 4), torch.randn(4)
assert torch.allclose(a @ b, (a * b).sum(dim=1))  # each row times the vector
v, m = torch.randn(3), torch.randn(3, 5)
assert torch.allclose(v @ m, (v.unsqueeze(0) @ m).squeeze(0))  # prepend 1, multiply, remove it
x, w = torch.randn(10, 3, 4), torch.randn(4, 5)
assert torch.allclose(x @ w, torch.stack([xi @ w for xi in x]))  # w is reused for every batch item
print("matmul rules verified")

# %% [markdown]
# ## 2 · `torch.bmm`: batched matrix product without broadcasting
# `bmm` takes exactly two 3-D tensors with the same batch size, `(b, n, m) · (b, m, p) -> (b, n, p)`.
# Attention uses it for `Q Kᵀ` and `weights · V` (notebook 06).

# %% tags=["nbval-check-output", "same-online"]
q, k = torch.randn(10, 3, 4), torch.randn(10, 5, 4)
scores = torch.bmm(q, k.transpose(1, 2))
print(tuple(scores.shape))
assert torch.allclose(scores, q @ k.transpose(1, 2))
try:
    torch.bmm(q, torch.randn(4, 5))  # no broadcasting in bmm
except RuntimeError as err:
    print("bmm refuses a 2-D operand:", str(err).splitlines()[0])

# %% [markdown]
# ## 3 · Views, `reshape` and contiguity
# A *view* shares memory with its base tensor: writing through one changes the other.
# `view` only works when the memory layout allows it; `reshape` returns a view when it can and a
# copy when it must. `transpose` swaps strides without moving data, so the result is not
# *contiguous* and `view` refuses it.

# %% tags=["nbval-check-output", "same-online"]
t = torch.arange(16.0).reshape(4, 4)
b = t.view(2, 8)
assert b.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()  # same memory
b[0, 0] = 3.14
print("t[0, 0] after writing through the view:", t[0, 0].item())

base = torch.tensor([[0, 1, 4], [2, 3, 5]])
tt = base.transpose(0, 1)
print("base strides", base.stride(), "contiguous:", base.is_contiguous())
print("transposed strides", tt.stride(), "contiguous:", tt.is_contiguous())
try:
    tt.view(6)
except RuntimeError as err:
    print("view on the transpose fails:", str(err).split(".")[0])
print("reshape works:", tt.reshape(6).tolist(), "| so does contiguous().view:", tt.contiguous().view(6).tolist())

# %% [markdown]
# ## 4 · `unsqueeze` and slicing
# `unsqueeze(dim)` inserts a dimension of size 1 *before* position `dim` (so `dim=-1` appends one at
# the end). Slices take `start:stop:step` per dimension: `start` is included, `stop` is not, and
# every part may be left out (`::2` is "from the start to the end, every second one").

# %% tags=["nbval-check-output", "same-online"]
x = torch.tensor([1, 2, 3, 4])
print(x.unsqueeze(0).shape, x.unsqueeze(1).shape, torch.randn(3, 4).unsqueeze(-1).shape)
g = torch.arange(16).view(4, 4)
print(g)
slices = {"g[1:, 0::2]": g[1:, 0::2], "g[:3, :2]": g[:3, :2], "g[:, 1:3]": g[:, 1:3],
          "g[2:, ::2]": g[2:, ::2], "g[:, 0:3:2]": g[:, 0:3:2]}
for name, part in slices.items():
    print(f"{name:12s}", part.tolist())
assert g[1:, 0::2].tolist() == [[4, 6], [8, 10], [12, 14]]
assert g[2:, ::2].tolist() == [[8, 10], [12, 14]]  # the step applies to the columns too
assert g[:, 0::2].tolist() == g[:, [0, 2]].tolist()  # columns with index 0 and 2

# %% [markdown]
# `0::2` keeps the columns with an **even index**, 0 and 2: the first and the third column. A
# common reading calls them "the even columns, counting from 1", which is backwards (counted from
# 1 they are columns 1 and 3). Another takes `[2:, ::2]` for the whole last two rows
# `[[8, 9, 10, 11], [12, 13, 14, 15]]`; in fact the step applies to the columns too, and the
# printout above shows `[[8, 10], [12, 14]]`.
#
# A **list** slice is a new list (so `L[:]` copies a list), but a **tensor** slice is a view of the
# same memory: writing into it changes the original. Call `.clone()` when you need a copy.

# %% tags=["nbval-check-output", "same-online"]
numbers = [0, 1, 2, 3, 4]
part = numbers[1:3]
part[0] = 99
tensor = torch.arange(5)
view = tensor[1:3]
view[0] = 99
cloned = tensor[3:].clone()
cloned[0] = -1
print("list after writing into its slice:  ", numbers)
print("tensor after writing into its slice:", tensor.tolist())
assert numbers[1] == 1 and tensor[1] == 99 and tensor[3] == 3  # the clone did not write through

# %% [markdown]
# Ranges in torch exclude their end in the same way: `torch.randint(low, high, size)` draws from
# `low` to `high - 1` (like `range` and NumPy's `randint`; Python's `random.randint(a, b)`,
# by contrast, includes `b`).

# %% tags=["nbval-check-output", "same-online"]
draws = torch.randint(0, 3, (10_000,), generator=torch.Generator().manual_seed(0))
print("torch.randint(0, 3, ...) gives", sorted(draws.unique().tolist()))
assert draws.min() == 0 and draws.max() == 2

# %% [markdown]
# ## 5 · `nn.Linear` and `nn.Embedding`
# `nn.Linear(in, out)` computes `x Wᵀ + b` on the last dimension; any leading dimensions pass
# through. `nn.Embedding(num, dim)` is a lookup table: row `i` of its weight is the vector for id `i`.

# %% tags=["nbval-check-output"]
torch.manual_seed(0)
linear = nn.Linear(20, 30)
inputs = torch.randn(128, 20)
out = linear(inputs)
print("Linear:", tuple(out.shape), "weight", tuple(linear.weight.shape))
assert torch.allclose(out, inputs @ linear.weight.T + linear.bias, atol=1e-6)

emb = nn.Embedding(num_embeddings=8, embedding_dim=4)
ids = torch.tensor([[1, 5, 5, 0], [7, 2, 0, 0]])  # a batch of 2 sequences of token ids
vectors = emb(ids)
print("Embedding:", tuple(ids.shape), "->", tuple(vectors.shape))
assert torch.equal(vectors[0, 1], emb.weight[5]) and torch.equal(vectors[0, 1], vectors[0, 2])

# %% [markdown]
# ## 6 · The causal mask with `triu`
# `torch.triu(m, diagonal=k)` keeps the elements on and above the `k`-th diagonal and zeroes the
# rest (`k=1` starts one above the main diagonal; `k<0` moves below it). A decoder must not look at
# future tokens, so the positions *above* the diagonal are the ones to block. NumPy's `np.triu`
# has the same rule (its argument is called `k`) and applies to the last two axes of an N-D array.

# %% tags=["nbval-check-output", "same-online"]
n = 5
blocked = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
print(blocked.int())
scores = torch.zeros(n, n).masked_fill(blocked, float("-inf"))
weights = scores.softmax(dim=-1)
print(weights)
assert (blocked.numpy() == np.triu(np.ones((n, n), dtype=bool), k=1)).all()
assert torch.equal(blocked, ~torch.tril(torch.ones(n, n, dtype=torch.bool)))

# %% [markdown]
# Row `i` of `weights` spreads attention evenly over positions `0..i` only: token `i` sees itself
# and the past. Notebook 06 checks that a real language model's attention has exactly this shape.

# %% tags=["nbval-check-output", "same-online"]
print(np.triu(np.arange(12).reshape(4, 3) + 1, k=1))
print(np.triu(np.arange(3 * 4 * 5).reshape(3, 4, 5))[1])  # N-D: per matrix on the last two axes

# %% [markdown]
# ### Which way round? Three mask conventions
# `blocked` above is True where attention is **not** allowed. Libraries disagree on the direction,
# so read each one's documentation (a common question is whether 1 and 0 have one agreed meaning:
# they do not):
#
# | mask | where you meet it | True / 1 means |
# |---|---|---|
# | `attention_mask` (ints) | Hugging Face tokenizers and models (notebook 02) | 1 = a real token: attend to it |
# | boolean `attn_mask` | `F.scaled_dot_product_attention` | True = may attend |
# | `key_padding_mask`, boolean `attn_mask` | `nn.MultiheadAttention` | True = ignore (padding, blocked) |
#
# One batch with two padded positions, written both ways; both functions must ignore the padding:

# %% tags=["nbval-check-output", "same-online"]
import torch.nn.functional as F

attention_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])  # Hugging Face: 1 = keep
is_padding = attention_mask == 0  # True = ignore, for nn.MultiheadAttention
may_attend = ~is_padding  # True = attend, for F.scaled_dot_product_attention
print(is_padding.int().tolist(), "<- is_padding, as ints")
torch.manual_seed(0)
mha = nn.MultiheadAttention(embed_dim=4, num_heads=1, batch_first=True)
x = torch.randn(2, 5, 4)
out_mha, _ = mha(x, x, x, key_padding_mask=is_padding)
q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)  # the module's projections
out_sdpa = mha.out_proj(F.scaled_dot_product_attention(q, k, v, attn_mask=may_attend[:, None, :]))
diff = (out_mha - out_sdpa).abs().max().item()
print("MultiheadAttention(is_padding) == scaled_dot_product_attention(may_attend):", diff < 1e-6)
assert diff < 1e-6
flipped = F.scaled_dot_product_attention(q, k, v, attn_mask=is_padding[:, None, :])  # the wrong way round
print("the mask the wrong way round gives other outputs, and no error:", not torch.allclose(flipped, out_sdpa))

# %% [markdown]
# A mask the wrong way round raises no error: row 1 then attends to its two padding positions
# only, and row 2, which has no padding, to nothing at all (the cell prints only that the outputs
# differ; printing `flipped` shows the rows). Only a check like the one above
# catches it. Exercise 00.2 builds `is_padding` from sequence lengths.

# %% [markdown]
# ## Common pitfalls
# - `t.storage()` is deprecated (it warns on current torch): use `t.untyped_storage()`.
# - `matmul` of 2-D tensors is a plain matrix product; only operands with more than two
#   dimensions are *batched*. `bmm` never broadcasts.
# - `x.unsqueeze(1)` on a 1-D tensor gives shape `(4, 1)`: the new axis goes *at* index 1, which
#   for a 1-D tensor happens to be the end; for higher dimensions use `-1` to mean "last".
# - `np.zeros(n)` (with an *s*) makes zeros; `np.reshape(a, shape)` reads elements in C order
#   unless you pass `order="F"`.
# - `view` after `transpose` raises; call `.contiguous()` first or use `reshape`.
# - `0::2` selects indices 0, 2, 4, ... (the 1st, 3rd, 5th column): "even" refers to the index.
#   Calling them "the even columns, counting from 1" is backwards, and `g[2:, ::2]` is not two
#   whole rows: for `g = torch.arange(16).view(4, 4)` it is `[[8, 10], [12, 14]]`.
# - Masks do not agree on their direction: Hugging Face's `attention_mask` and SDPA's boolean
#   `attn_mask` mean "attend" with 1/True, `nn.MultiheadAttention`'s masks mean "ignore". Convert
#   with `mask == 0` or `~mask`, and check on one example.
# - `t[:]` or `t[1:3]` on a tensor is a view, not a copy (unlike a list): use `.clone()`.
# - `torch.randint(0, 3, ...)` never draws 3: `high` is exclusive.
# - "Only pip-installed packages run with `python -m` from anywhere" is a common belief: an
#   editable install of your checkout, `pip install -e .`, does too, and keeps the code editable.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/00_environment_and_tensors_solutions.ipynb](solutions/00_environment_and_tensors_solutions.ipynb).
#
# **00.1** Without running it, write down the shape of `torch.randn(7, 1, 3, 4) @ torch.randn(2, 4, 6)`.

# %% tags=["nbval-check-output", "same-online"]
my_shape = None  # e.g. (1, 2, 3)
cu.check.exercise_00_1(my_shape)

# %% [markdown]
# **00.2** Write `padding_mask(lengths, max_len)`: a bool tensor of shape `(batch, max_len)` that is
# True where a position is padding (index ≥ length), the `key_padding_mask` convention of the table
# above. Use `torch.arange` and broadcasting, no loops.

# %% tags=["nbval-check-output", "same-online"]
def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_00_2(padding_mask)

# %% [markdown]
# **00.3** For `t = torch.randn(4, 6)`, which of `t.T`, `t[:, ::2]`, `t[1:]` are contiguous? Predict
# first, then check with `is_contiguous()`. Replace each `None` with `True` or `False`.

# %% tags=["nbval-check-output", "same-online"]
my_answers = {"t.T": None, "t[:, ::2]": None, "t[1:]": None}  # True or False each
cu.check.exercise_00_3(my_answers)

# %% [markdown]
# ## Recap
# - `matmul` adapts to the operands' dimensions; `bmm` is the strict batched version.
# - Views share memory (tensor slices are views too); `transpose` makes tensors non-contiguous;
#   `reshape` copes with both.
# - `make install` is `pip install -e .`: `course_utils` imports (and runs with `python -m`) from
#   any folder, and `__file__` / `inspect.getsourcefile` show where any package's code lives.
# - `nn.Linear` acts on the last dimension; `nn.Embedding` is a table lookup.
# - `triu(..., diagonal=1)` marks the future positions a causal model must not attend to.
# - Mask directions differ: `attention_mask` 1 and SDPA's True mean "attend", `MultiheadAttention`'s
#   True means "ignore".
#
# **Next:** [01 · Pipelines](01_pipelines.ipynb), where a whole model hides behind one call.
