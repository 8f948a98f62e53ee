"""Checkers of notebook 06: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import math

import torch

from course_utils import check


def mha_bmm(x, attn, num_heads):
    """The worked solution: heads folded into the batch, two bmm calls."""
    b, s, hidden = x.shape
    hd = hidden // num_heads

    def fold(t):  # (b, s, hidden) -> (b*heads, s, hd)
        return t.view(b, s, num_heads, hd).transpose(1, 2).reshape(b * num_heads, s, hd)

    q, k, v = fold(attn.query(x)), fold(attn.key(x)), fold(attn.value(x))
    w = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(hd), dim=-1)
    ctx = torch.bmm(w, v).view(b, num_heads, s, hd)
    return ctx.transpose(1, 2).reshape(b, s, hidden)


def test_06_1_accepts_solution_and_names_mistakes(capsys):
    assert check.exercise_06_1(mha_bmm)
    capsys.readouterr()

    def wrong_scale(x, attn, num_heads):
        b, s, hidden = x.shape
        hd = hidden // num_heads
        fold = lambda t: t.view(b, s, num_heads, hd).transpose(1, 2).reshape(b * num_heads, s, hd)  # noqa: E731
        q, k, v = fold(attn.query(x)), fold(attn.key(x)), fold(attn.value(x))
        w = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(hidden), dim=-1)
        return torch.bmm(w, v).view(b, num_heads, s, hd).transpose(1, 2).reshape(b, s, hidden)

    def no_transpose_merge(x, attn, num_heads):
        b, s, hidden = x.shape
        hd = hidden // num_heads
        fold = lambda t: t.view(b, s, num_heads, hd).transpose(1, 2).reshape(b * num_heads, s, hd)  # noqa: E731
        q, k, v = fold(attn.query(x)), fold(attn.key(x)), fold(attn.value(x))
        w = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(hd), dim=-1)
        return torch.bmm(w, v).reshape(b, s, hidden)

    def with_matmul(x, attn, num_heads):
        b, s, hidden = x.shape
        hd = hidden // num_heads
        q, k, v = (p(x).view(b, s, num_heads, hd).transpose(1, 2) for p in (attn.query, attn.key, attn.value))
        ctx = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1) @ v
        return ctx.transpose(1, 2).reshape(b, s, hidden)

    assert not check.exercise_06_1(wrong_scale)
    assert "d_k is the head size" in capsys.readouterr().out
    assert not check.exercise_06_1(no_transpose_merge)
    assert "merge the heads back" in capsys.readouterr().out
    assert not check.exercise_06_1(with_matmul)
    assert "torch.bmm was never called" in capsys.readouterr().out
    assert not check.exercise_06_1(lambda x, attn, num_heads: (mha_bmm(x, attn, num_heads), None))
    assert "not a tuple" in capsys.readouterr().out
    assert not check.exercise_06_1(lambda x, attn, num_heads: mha_bmm(x, attn, 12))  # hard-coded head count
    assert "wrong for hidden=48, num_heads=4" in capsys.readouterr().out
    assert torch.bmm.__name__ == "bmm"  # the checker restored torch.bmm


def test_06_2_accepts_solution_and_names_mistakes(capsys):
    def solution(weights):
        return -torch.special.xlogy(weights, weights).sum(-1).mean(dim=(0, 2))

    assert check.exercise_06_2(solution)
    assert not check.exercise_06_2(lambda w: -(w * w.log()).sum(-1).mean(dim=(0, 2)))
    assert "0·log 0" in capsys.readouterr().out
    assert not check.exercise_06_2(lambda w: torch.special.xlogy(w, w).sum(-1).mean(dim=(0, 2)))
    assert "the sign" in capsys.readouterr().out
    assert not check.exercise_06_2(lambda w: -torch.special.xlogy(w, w).mean(-1).mean(dim=(0, 2)))
    assert "sum over the keys" in capsys.readouterr().out
    assert not check.exercise_06_2(lambda w: -torch.special.xlogy(w, w).sum(-1).mean(-1))
    assert "one value per head" in capsys.readouterr().out


def test_06_3_accepts_solution_and_names_mistakes(capsys):
    def solution(n, window):
        i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
        return (j <= i) & (i - j <= window)

    assert check.exercise_06_3(solution)
    assert not check.exercise_06_3(lambda n, w: ~solution(n, w))
    assert "inverted" in capsys.readouterr().out
    assert not check.exercise_06_3(lambda n, w: (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() <= w)
    assert "causal" in capsys.readouterr().out
    assert not check.exercise_06_3(lambda n, w: solution(n, w - 1))
    assert "off by one" in capsys.readouterr().out
    assert not check.exercise_06_3(lambda n, w: solution(n, w).int())
    assert "bool" in capsys.readouterr().out


def test_06_4_accepts_solution_and_names_mistakes(capsys):
    def solution(config, n_tokens, bytes_per_value=4):
        return 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * n_tokens * bytes_per_value

    assert check.exercise_06_4(solution)
    capsys.readouterr()
    assert not check.exercise_06_4(
        lambda c, n, bytes_per_value=4: (
            2 * c.num_hidden_layers * c.num_attention_heads * c.head_dim * n * bytes_per_value
        )
    )
    assert "num_key_value_heads" in capsys.readouterr().out
    assert not check.exercise_06_4(lambda c, n, bytes_per_value=4: solution(c, n, bytes_per_value) // 2)
    assert "keys AND values" in capsys.readouterr().out
    assert not check.exercise_06_4(
        lambda c, n, bytes_per_value=4: (
            2
            * c.num_hidden_layers
            * c.num_key_value_heads
            * (c.hidden_size // c.num_attention_heads)
            * n
            * bytes_per_value
        )
    )
    assert "config.head_dim" in capsys.readouterr().out
    assert not check.exercise_06_4(lambda c, n, bytes_per_value=4: solution(c, n, 4))
    assert "bytes_per_value" in capsys.readouterr().out
