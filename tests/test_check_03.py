"""Checkers of notebook 03: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import json

import numpy as np
import torch

from course_utils import check


def bert_parameters(config):
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h + 2 * h
    layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h
    return embeddings + config.num_hidden_layers * layer + h * h + h


def test_03_1(capsys):
    assert check.exercise_03_1(bert_parameters)
    assert capsys.readouterr().out.strip() == "✅ exercise 03.1: correct"
    h = lambda c: c.hidden_size  # noqa: E731
    assert not check.exercise_03_1(lambda c: bert_parameters(c) - h(c) ** 2 - h(c))  # no pooler
    assert "pooler is missing" in capsys.readouterr().out
    assert not check.exercise_03_1(lambda c: bert_parameters(c) - (c.type_vocab_size - 2) * h(c))  # always 2 token types
    assert "token-type embeddings" in capsys.readouterr().out
    assert not check.exercise_03_1(lambda c: 109_482_240)  # bert-base, whatever the config
    assert "read every size from the config" in capsys.readouterr().out
    assert not check.exercise_03_1(lambda c: "many")
    assert "as an int" in capsys.readouterr().out


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
    assert not check.exercise_03_2(lambda p, n: read_tensor(p, n).numpy() if n != "gamma.bf16" else read_tensor(p, n).float().numpy())
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
    assert not check.exercise_03_4(lambda m: torch.equal(m.get_output_embeddings().weight, m.get_input_embeddings().weight))
    assert "equal values are not shared storage" in capsys.readouterr().out
    assert not check.exercise_03_4(lambda m: m.config.tie_word_embeddings)
    assert "check the tensors, not the config" in capsys.readouterr().out
    assert not check.exercise_03_4(lambda m: False)
    assert "wrong for BertForMaskedLM, tie_word_embeddings=True" in capsys.readouterr().out
