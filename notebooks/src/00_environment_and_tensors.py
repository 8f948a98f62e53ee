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
# - run the course's setup cell and read its report (device, profile, versions, Hub or stand-ins);
# - predict the result shape of `torch.matmul` for 1-D, 2-D and batched operands, and use `bmm`;
# - explain `view` vs `reshape`, and why a transposed tensor is not contiguous;
# - use `unsqueeze`, `nn.Linear` and `nn.Embedding`, and build a causal mask with `triu`.
#
# **Prerequisites:** Python and NumPy. **Run time:** about 10 s on a 2-core CPU (quick profile).
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup
# Every notebook starts with the same cell. `setup()` silences loading noise, seeds Python,
# NumPy, torch and transformers, and prints where you are running. The **profile** decides how much
# work the notebooks do: `quick` (small subsets, few steps: CI and CPU laptops) or `full` (the real
# recipe, the default when a CUDA GPU is present). Set `COURSE_PROFILE=quick|full` to choose.

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

# %%
# NBVAL_CHECK_OUTPUT
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

# %%
# NBVAL_CHECK_OUTPUT
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

# %%
# NBVAL_CHECK_OUTPUT
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
# the end). Slices take `start:stop:step` per dimension.

# %%
# NBVAL_CHECK_OUTPUT
x = torch.tensor([1, 2, 3, 4])
print(x.unsqueeze(0).shape, x.unsqueeze(1).shape, torch.randn(3, 4).unsqueeze(-1).shape)
grid = torch.arange(20).reshape(4, 5)
print(grid)
print("grid[1:, 0::2] =\n", grid[1:, 0::2])  # rows 1.., every second column from 0

# %% [markdown]
# ## 5 · `nn.Linear` and `nn.Embedding`
# `nn.Linear(in, out)` computes `x Wᵀ + b` on the last dimension; any leading dimensions pass
# through. `nn.Embedding(num, dim)` is a lookup table: row `i` of its weight is the vector for id `i`.

# %%
# NBVAL_CHECK_OUTPUT
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

# %%
# NBVAL_CHECK_OUTPUT
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

# %%
# NBVAL_CHECK_OUTPUT
print(np.triu(np.arange(12).reshape(4, 3) + 1, k=1))
print(np.triu(np.arange(3 * 4 * 5).reshape(3, 4, 5))[1])  # N-D: per matrix on the last two axes

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

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/00_environment_and_tensors_solutions.ipynb](solutions/00_environment_and_tensors_solutions.ipynb).
#
# **00.1** Without running it, write down the shape of `torch.randn(7, 1, 3, 4) @ torch.randn(2, 4, 6)`.

# %%
my_shape = None  # e.g. (1, 2, 3)
cu.check.exercise_00_1(my_shape)

# %% [markdown]
# **00.2** Write `padding_mask(lengths, max_len)`: a bool tensor of shape `(batch, max_len)` that is
# True where a position is padding (index ≥ length). Use `torch.arange` and broadcasting, no loops.

# %%
def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_00_2(padding_mask)

# %% [markdown]
# **00.3** For `t = torch.randn(4, 6)`, which of `t.T`, `t[:, ::2]`, `t[1:]` are contiguous? Predict
# first, then check with `is_contiguous()`.

# %%
my_answers = {"t.T": None, "t[:, ::2]": None, "t[1:]": None}  # True or False each
cu.check.exercise_00_3(my_answers)

# %% [markdown]
# ## Recap
# - `matmul` adapts to the operands' dimensions; `bmm` is the strict batched version.
# - Views share memory; `transpose` makes tensors non-contiguous; `reshape` copes with both.
# - `nn.Linear` acts on the last dimension; `nn.Embedding` is a table lookup.
# - `triu(..., diagonal=1)` marks the future positions a causal model must not attend to.
#
# **Next:** [01 · Pipelines](01_pipelines.ipynb), where a whole model hides behind one call.
