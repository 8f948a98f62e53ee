"""Checkers of notebook 03: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import json

import numpy as np
import torch

from course_utils import check


def llama_parameters(config):
    h, i, d = config.hidden_size, config.intermediate_size, config.head_dim
    attention = h * config.num_attention_heads * d * 2 + h * config.num_key_value_heads * d * 2  # q, o; k, v
    layer = attention + 3 * h * i + 2 * h  # gate, up, down; two RMSNorm weights
    lm_head = 0 if config.tie_word_embeddings else config.vocab_size * h
    return config.vocab_size * h + config.num_hidden_layers * layer + h + lm_head


def bert_parameters(config):  # the chapter's formula, for the wrong architecture
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h + 2 * h
    layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h
    return embeddings + config.num_hidden_layers * layer + h * h + h


def test_03_1(capsys):
    from transformers import AutoConfig

    import course_utils as cu

    assert check.exercise_03_1(llama_parameters)
    assert capsys.readouterr().out.strip() == "✅ exercise 03.1: correct"
    smollm2 = AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False))
    assert llama_parameters(smollm2) == 134_515_008  # what chapter 03 prints for the loaded causal LM

    def placeholder(config):
        raise NotImplementedError

    def no_gqa(c):
        return (
            llama_parameters(c)
            + 2 * c.num_hidden_layers * c.hidden_size * (c.num_attention_heads - c.num_key_value_heads) * c.head_dim
        )

    def always_tied(c):
        return (
            llama_parameters(c)
            + (c.vocab_size * c.hidden_size if c.tie_word_embeddings else 0)
            - c.vocab_size * c.hidden_size
        )

    def head_twice(c):
        return llama_parameters(c) + (c.vocab_size * c.hidden_size if c.tie_word_embeddings else 0)

    def head_dim_from_sizes(c):
        import copy

        c = copy.copy(c)
        c.head_dim = c.hidden_size // c.num_attention_heads
        return llama_parameters(c)

    cases = {
        placeholder: "not implemented yet",
        no_gqa: "grouped-query attention",
        always_tied: "does not tie",
        head_twice: "counted once",
        head_dim_from_sizes: "read config.head_dim",
        (lambda c: llama_parameters(c) - c.hidden_size): "model.norm after the last layer",
        (
            lambda c: llama_parameters(c) + (2 * c.num_hidden_layers + 1) * c.hidden_size
        ): "RMSNorm has a weight and no bias",
        (lambda c: llama_parameters(c) + c.num_hidden_layers * 4 * c.hidden_size): "no biases",
        (lambda c: 134_515_008): "the count is",  # SmolLM2's count, whatever the config
        bert_parameters: "your function raised AttributeError",
        (lambda c: "many"): "as an int",
    }
    for wrong, hint in cases.items():
        assert not check.exercise_03_1(wrong)
        assert hint in capsys.readouterr().out, hint


NP = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


def read_tensor(path, name):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        info = json.loads(f.read(n))[name]
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    if info["dtype"] == "BF16":
        return torch.from_numpy(np.frombuffer(raw, "<u2").copy()).view(torch.bfloat16).reshape(info["shape"])
    return torch.from_numpy(np.frombuffer(raw, NP[info["dtype"]]).copy()).reshape(info["shape"])


def test_03_2(capsys):
    assert check.exercise_03_2(read_tensor)
    assert capsys.readouterr().out.strip() == "✅ exercise 03.2: correct"

    def bf16_as_half(path, name):
        NP["BF16"] = "<f2"
        try:
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                info = json.loads(f.read(n))[name]
                begin, end = info["data_offsets"]
                f.seek(8 + n + begin)
                raw = f.read(end - begin)
            return torch.from_numpy(np.frombuffer(raw, NP[info["dtype"]]).copy()).reshape(info["shape"])
        finally:
            del NP["BF16"]

    def chapter_version(path, name):  # no BF16 entry at all
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            info = json.loads(f.read(n))[name]
        return torch.zeros(1) if info["dtype"] != "BF16" else NP[info["dtype"]]

    def offsets_from_file_start(path, name):
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            info = json.loads(f.read(n))[name]
            begin, end = info["data_offsets"]
            f.seek(begin)  # forgets 8 + N
            raw = f.read(end - begin)
        if info["dtype"] == "BF16":
            return torch.from_numpy(np.frombuffer(raw, "<u2").copy()).view(torch.bfloat16).reshape(info["shape"])
        return torch.from_numpy(np.frombuffer(raw, NP[info["dtype"]]).copy()).reshape(info["shape"])

    assert not check.exercise_03_2(bf16_as_half)
    assert "BF16 is not float16" in capsys.readouterr().out
    assert not check.exercise_03_2(chapter_version)
    assert "read its bytes as '<u2'" in capsys.readouterr().out
    assert not check.exercise_03_2(offsets_from_file_start)
    assert "byte 8 + N" in capsys.readouterr().out
    assert not check.exercise_03_2(
        lambda p, n: read_tensor(p, n).numpy() if n != "gamma.bf16" else read_tensor(p, n).float().numpy()
    )
    assert "return a torch.Tensor" in capsys.readouterr().out


def head_logits(model, inputs):
    with torch.no_grad():
        out = model.base_model(**inputs)
    if model.config.model_type == "distilbert":
        return model.classifier(torch.relu(model.pre_classifier(out.last_hidden_state[:, 0])))
    return model.classifier(out.pooler_output)


def test_03_3(capsys):
    assert check.exercise_03_3(head_logits)
    assert capsys.readouterr().out.strip() == "✅ exercise 03.3: correct"
    assert not check.exercise_03_3(lambda m, x: m(**x).logits)
    assert "not with model(**inputs)" in capsys.readouterr().out
    assert not check.exercise_03_3(lambda m, x: head_logits(m, x).softmax(-1))
    assert "no softmax" in capsys.readouterr().out
    assert not check.exercise_03_3(lambda m, x: m.classifier(m.base_model(**x).last_hidden_state[:, 0]))
    assert "pooler_output" in capsys.readouterr().out

    def distil_without_relu(model, inputs):
        if model.config.model_type == "distilbert":
            return model.classifier(model.pre_classifier(model.base_model(**inputs).last_hidden_state[:, 0]))
        return head_logits(model, inputs)

    assert not check.exercise_03_3(distil_without_relu)
    assert "a ReLU sits between" in capsys.readouterr().out
    assert not check.exercise_03_3(lambda m, x: head_logits(m, {"input_ids": x["input_ids"]}))
    assert "attention_mask" in capsys.readouterr().out


def test_03_4(capsys):
    solution = lambda m: m.get_output_embeddings().weight is m.get_input_embeddings().weight  # noqa: E731
    assert check.exercise_03_4(solution)
    assert capsys.readouterr().out.strip() == "✅ exercise 03.4: correct"
    assert not check.exercise_03_4(
        lambda m: torch.equal(m.get_output_embeddings().weight, m.get_input_embeddings().weight)
    )
    assert "equal values are not shared storage" in capsys.readouterr().out
    assert not check.exercise_03_4(lambda m: m.config.tie_word_embeddings)
    assert "check the tensors, not the config" in capsys.readouterr().out
    assert not check.exercise_03_4(lambda m: False)
    assert "wrong for BertForMaskedLM, tie_word_embeddings=True" in capsys.readouterr().out
