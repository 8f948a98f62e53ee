# Worked solutions of notebook 00's exercises (built with `make notebooks`).

# %% [markdown]
# # 00 · Solutions: environment and tensor basics
#
# Worked solutions to the exercises of [00 · Environment and tensor basics](../00_environment_and_tensors.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import torch

import course_utils as cu

env = cu.setup(seed=0)

# %% [markdown]
# **00.1** The batch dimensions `(7, 1)` and `(2,)` are aligned on the right and broadcast to
# `(7, 2)`; the matrix part is `(3, 4) @ (4, 6) -> (3, 6)`.

# %% tags=["nbval-check-output", "same-online"]
print(tuple((torch.randn(7, 1, 3, 4) @ torch.randn(2, 4, 6)).shape))
assert cu.check.exercise_00_1((7, 2, 3, 6))

# %% [markdown]
# **00.2** Compare every position index with every length: `(1, max_len) >= (batch, 1)` broadcasts
# to `(batch, max_len)`. True marks padding, as `nn.MultiheadAttention`'s `key_padding_mask`
# wants it; `~mask` is the "may attend" mask of `F.scaled_dot_product_attention`, and
# `(~mask).long()` a Hugging Face `attention_mask`.

# %% tags=["nbval-check-output", "same-online"]
def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


print(padding_mask(torch.tensor([2, 4]), 4))
assert cu.check.exercise_00_2(padding_mask)

# %% [markdown]
# **00.3** Only `t[1:]` is contiguous: it drops whole rows, so the rest is still one block in row
# order. `t.T` swaps the strides; `t[:, ::2]` skips every other element of each row. The answers
# must be bools: the checker refuses the placeholder `None`, although `None` is falsy.

# %% tags=["nbval-check-output", "same-online"]
t = torch.randn(4, 6)
answers = {"t.T": t.T.is_contiguous(), "t[:, ::2]": t[:, ::2].is_contiguous(), "t[1:]": t[1:].is_contiguous()}
print(answers)
assert cu.check.exercise_00_3(answers)
