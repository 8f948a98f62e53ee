"""Checkers of notebook 03: the worked solutions pass in float32 and bfloat16; the fakes in FAKES are rejected."""

from __future__ import annotations

import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import safetensors
import safetensors.numpy
import safetensors.torch
import torch
from fakes import Fake, solution
from transformers import AutoModelForCausalLM, LlamaForCausalLM, PreTrainedModel
from transformers.models.llama.modeling_llama import LlamaDecoderLayer

from course_utils import check
from course_utils.check._core import precision

NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}  # the chapter's table: no BF16 entry
llama_parameters, read_tensor_pt, head_logits, shares_embeddings = solution(
    "03", "llama_parameters", "read_tensor_pt", "head_logits", "shares_embeddings", extra={"NUMPY_DTYPES": NUMPY_DTYPES}
)


def in_thread(fn, *args):
    return ThreadPoolExecutor(1).submit(fn, *args).result()


def swallowing(forbidden, fallback):
    """A learner who tries the switched-off call and falls back on something else when it is refused."""

    def fake(*args):
        try:
            return forbidden(*args)
        except BaseException:  # noqa: BLE001 - what a learner who wants ✅ would write
            return fallback(*args)

    return fake


# --- 03.1 -------------------------------------------------------------------------------------------------


def llama_with(c, **changes):
    c = copy.copy(c)
    for key, value in changes.items():
        setattr(c, key, value)
    return llama_parameters(c)


def bert_parameters(config):  # the chapter's formula, for the wrong architecture
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h + 2 * h
    layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h
    return embeddings + config.num_hidden_layers * layer + h * h + h


def with_biases(c):
    q, kv = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
    return llama_parameters(c) + c.num_hidden_layers * (
        q + 2 * kv + c.hidden_size + 2 * c.intermediate_size + c.hidden_size
    )


# --- 03.2 -------------------------------------------------------------------------------------------------


def header(path, name):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return n, json.loads(f.read(n))[name]


def read_as(path, name, numpy_dtype=None, start=None, shape=True):
    """The by-hand reader with one part changed: the NumPy dtype, where reading starts, the reshape."""
    n, info = header(path, name)
    begin, end = info["data_offsets"]
    with open(path, "rb") as f:
        f.seek(8 + n + begin if start is None else start(begin))
        raw = f.read(end - begin)
    dtype = numpy_dtype or {**NUMPY_DTYPES, "BF16": "<u2"}[info["dtype"]]
    tensor = torch.from_numpy(np.frombuffer(raw, dtype=dtype).copy())
    tensor = tensor.view(torch.bfloat16) if info["dtype"] == "BF16" and dtype == "<u2" else tensor
    return tensor.reshape(info["shape"]) if shape else tensor


def first_in_file(path, name):
    n, info = header(path, name)
    with open(path, "rb") as f:
        f.seek(8)
        first = next(k for k in json.loads(f.read(n)) if k != "__metadata__")
    return read_tensor_pt(path, first)


# --- 03.3 -------------------------------------------------------------------------------------------------


def bert_head_for_all(model, inputs):
    return model.classifier(model.base_model(**inputs).pooler_output)


def distil_without(relu=True, pre=True):
    def fake(model, inputs):
        if model.config.model_type != "distilbert":
            return head_logits(model, inputs)
        first = model.base_model(**inputs).last_hidden_state[:, 0]
        first = model.pre_classifier(first) if pre else first
        return model.classifier(torch.relu(first) if relu and pre else first)

    return fake


def mean_pooled(model, inputs):
    hidden = model.base_model(**inputs).last_hidden_state
    if model.config.model_type == "distilbert":
        return model.classifier(torch.relu(model.pre_classifier(hidden.mean(1))))
    return model.classifier(model.base_model.pooler.activation(model.base_model.pooler.dense(hidden.mean(1))))


# --- 03.4 -------------------------------------------------------------------------------------------------


def find_tied(model):
    from accelerate.utils import find_tied_parameters

    return bool(find_tied_parameters(model))


def find_tied_alias(model):
    from accelerate.utils import modeling

    return bool(modeling.find_tied_parameters(model))


FAKES: dict[str, dict[str, list[Fake] | str]] = {
    "03.1": {
        "library": [
            Fake(
                "sum of numel over LlamaForCausalLM(config)",
                (lambda c: sum(p.numel() for p in LlamaForCausalLM(c).parameters()),),
                "`building the model` is switched off",
            ),
            Fake(
                "model.num_parameters() of a meta model",
                (lambda c: AutoModelForCausalLM.from_config(c).num_parameters(),),
                "`building the model` is switched off",
            ),
            Fake(
                "one decoder layer built and counted, times the layers",
                (
                    lambda c: (
                        c.num_hidden_layers * sum(p.numel() for p in LlamaDecoderLayer(c, 0).parameters())
                        + (3 - c.tie_word_embeddings) * c.vocab_size * c.hidden_size
                    ),
                ),
                "`building the model` is switched off",
            ),
        ],
        "constant": [
            Fake("SmolLM2's count, whatever the config", (lambda c: 134_515_008,), "the count is"),
            Fake("the count of the checker's first config", (lambda c: 214_336,), "the count is"),
        ],
        "ignores": [
            Fake(
                "ignores num_key_value_heads",
                (lambda c: llama_with(c, num_key_value_heads=c.num_attention_heads),),
                "grouped-query attention",
            ),
            Fake(
                "ignores head_dim",
                (lambda c: llama_with(c, head_dim=c.hidden_size // c.num_attention_heads),),
                "read config.head_dim",
            ),
            Fake(
                "ignores tie_word_embeddings (never tied)",
                (lambda c: llama_with(c, tie_word_embeddings=False),),
                "counted once",
            ),
            Fake(
                "ignores intermediate_size (4 x hidden)",
                (lambda c: llama_with(c, intermediate_size=4 * c.hidden_size),),
                "the count is",
            ),
        ],
        "guard": [
            Fake(
                "the model built in another thread",
                (lambda c: in_thread(lambda: LlamaForCausalLM(c).num_parameters()),),
                "`a new thread` is switched off",
            ),
            Fake(
                "class-level num_parameters, refusal swallowed",
                (swallowing(lambda c: PreTrainedModel.num_parameters(LlamaForCausalLM(c)), lambda c: 0),),
                "`building the model` is switched off",
            ),
        ],
        "other": [
            Fake(
                "LlamaModel's count (no LM head)", (lambda c: llama_with(c, tie_word_embeddings=True),), "does not tie"
            ),
            Fake("BERT's formula", (bert_parameters,), "no attribute"),
            Fake("linear layers with biases", (with_biases,), "no biases"),
            Fake(
                "norms with a bias, as LayerNorm",
                (lambda c: llama_parameters(c) + (2 * c.num_hidden_layers + 1) * c.hidden_size,),
                "RMSNorm has a weight and no bias",
            ),
            Fake("no final norm", (lambda c: llama_parameters(c) - c.hidden_size,), "model.norm"),
            Fake(
                "non-embedding parameters only",
                (lambda c: llama_parameters(c) - c.vocab_size * c.hidden_size * (2 - c.tie_word_embeddings),),
                "the count is",
            ),
            Fake("a count as text", (lambda c: f"{llama_parameters(c):,}",), "as an int"),
        ],
    },
    "03.2": {
        "library": [
            Fake(
                "safe_open(path, 'pt').get_tensor",
                (lambda p, n: safetensors.safe_open(p, "pt").get_tensor(n),),
                "`safetensors' reader` is switched off",
            ),
            Fake(
                "safe_open(path, 'np') and from_numpy",
                (lambda p, n: torch.from_numpy(safetensors.safe_open(p, "np").get_tensor(n)),),
                "`safetensors' reader` is switched off",
            ),
            Fake(
                "safetensors.torch.load_file",
                (lambda p, n: safetensors.torch.load_file(p)[n],),
                "`safetensors' reader` is switched off",
            ),
            Fake(
                "safetensors.torch.load of the bytes",
                (lambda p, n: safetensors.torch.load(open(p, "rb").read())[n],),
                "`safetensors' reader` is switched off",
            ),
            Fake(
                "safetensors.numpy.load_file",
                (lambda p, n: torch.from_numpy(safetensors.numpy.load_file(p)[n]),),
                "`safetensors' reader` is switched off",
            ),
            Fake(
                "safetensors.deserialize",
                (lambda p, n: dict(safetensors.deserialize(open(p, "rb").read()))[n],),
                "`safetensors' reader` is switched off",
            ),
        ],
        "constant": [
            Fake("a fixed tensor", (lambda p, n: torch.zeros(2, 3, 4, dtype=torch.bfloat16),), "wrong values")
        ],
        "ignores": [
            Fake("ignores name: the first tensor of the file", (first_in_file,), "failed on tensor"),
            Fake("ignores path: a fixed file", (lambda p, n: read_tensor_pt("model.safetensors", n),), "No such file"),
        ],
        "guard": [
            Fake(
                "the reader run in another thread",
                (lambda p, n: in_thread(lambda: safetensors.safe_open(p, "pt").get_tensor(n)),),
                "switched off while the checker runs",
            ),
            Fake(
                "the class-level get_tensor",
                (lambda p, n: safetensors.safe_open.get_tensor(safetensors.safe_open(p, "pt"), n),),
                "`safetensors' reader` is switched off",
            ),
            Fake(
                "load_file, refusal swallowed",
                (swallowing(lambda p, n: safetensors.torch.load_file(p)[n], lambda p, n: torch.zeros(1)),),
                "`safetensors' reader` is switched off",
            ),
        ],
        "other": [
            Fake(
                "BF16 read as float16",
                (lambda p, n: read_as(p, n, "<f2" if header(p, n)[1]["dtype"] == "BF16" else None),),
                "BF16 is not float16",
            ),
            Fake(
                "the chapter's table, no BF16",
                (lambda p, n: read_as(p, n, NUMPY_DTYPES[header(p, n)[1]["dtype"]]),),
                "read '<u2'",
            ),
            Fake(
                "offsets from the file's start", (lambda p, n: read_as(p, n, start=lambda begin: begin),), "byte 8 + N"
            ),
            Fake("no reshape", (lambda p, n: read_as(p, n, shape=False),), "reshape to the header's shape"),
            Fake(
                "BF16 upcast to float32",
                (
                    lambda p, n: (
                        read_tensor_pt(p, n).float() if header(p, n)[1]["dtype"] == "BF16" else read_tensor_pt(p, n)
                    ),
                ),
                "the header says torch.bfloat16",
            ),
            Fake("a NumPy array", (lambda p, n: read_tensor_pt(p, n).float().numpy(),), "return a torch.Tensor"),
        ],
    },
    "03.3": {
        "library": [
            Fake("model(**inputs).logits", (lambda m, x: m(**x).logits,), "`model(**inputs)` is switched off"),
            Fake("model.forward(**inputs)", (lambda m, x: m.forward(**x)[0],), "`model(**inputs)` is switched off"),
        ],
        "constant": [
            Fake(
                "zeros of the right shape",
                (lambda m, x: torch.zeros(len(x["input_ids"]), m.config.num_labels),),
                "your logits differ",
            ),
            Fake(
                "random logits of the right shape",
                (lambda m, x: torch.randn(len(x["input_ids"]), m.config.num_labels),),
                "your logits differ",
            ),
        ],
        "ignores": [
            Fake(
                "ignores the attention_mask",
                (lambda m, x: head_logits(m, {"input_ids": x["input_ids"]}),),
                "attention_mask",
            ),
            Fake("ignores model_type: BERT's head for both", (bert_head_for_all,), "pooler_output"),
        ],
        "guard": [
            Fake(
                "the class-level forward",
                (lambda m, x: type(m).forward(m, **x).logits,),
                "`model(**inputs)` is switched off",
            ),
            Fake(
                "nn.Module.__call__",
                (lambda m, x: torch.nn.Module.__call__(m, **x).logits,),
                "`model(**inputs)` is switched off",
            ),
            Fake(
                "the model run in another thread",
                (lambda m, x: in_thread(lambda: m(**x).logits),),
                "`a new thread` is switched off",
            ),
            Fake(
                "model(**inputs), refusal swallowed",
                (swallowing(lambda m, x: m(**x).logits, bert_head_for_all),),
                "`model(**inputs)` is switched off",
            ),
        ],
        "other": [
            Fake("one row of logits", (lambda m, x: head_logits(m, x)[:1],), "expected logits of shape"),
            Fake("probabilities", (lambda m, x: head_logits(m, x).softmax(-1),), "no softmax"),
            Fake(
                "BERT: classifier on last_hidden_state[:, 0]",
                (
                    lambda m, x: (
                        m.classifier(m.base_model(**x).last_hidden_state[:, 0])
                        if m.config.model_type == "bert"
                        else head_logits(m, x)
                    ),
                ),
                "pooler_output",
            ),
            Fake("DistilBERT without the ReLU", (distil_without(relu=False),), "a ReLU sits between"),
            Fake("DistilBERT: classifier only", (distil_without(pre=False),), "two layers"),
            Fake("mean of the tokens instead of the first", (mean_pooled,), "your logits differ"),
        ],
    },
    "03.4": {
        "library": [
            Fake("accelerate's find_tied_parameters", (find_tied,), "`find_tied_parameters()` is switched off")
        ],
        "constant": [
            Fake("always True", (lambda m: True,), "compare model.get_output_embeddings()"),
            Fake("always False", (lambda m: False,), "compare model.get_output_embeddings()"),
        ],
        "ignores": [
            Fake(
                "reads the config, not the tensors",
                (lambda m: m.config.tie_word_embeddings,),
                "check the tensors, not the config",
            )
        ],
        "guard": [
            Fake(
                "find_tied_parameters through another module",
                (find_tied_alias,),
                "`find_tied_parameters()` is switched off",
            ),
            Fake(
                "find_tied_parameters in another thread",
                (lambda m: in_thread(find_tied, m),),
                "`a new thread` is switched off",
            ),
            Fake(
                "find_tied_parameters, refusal swallowed",
                (swallowing(find_tied, lambda m: m.config.tie_word_embeddings),),
                "`find_tied_parameters()` is switched off",
            ),
        ],
        "other": [
            Fake(
                "equal values (torch.equal)",
                (lambda m: torch.equal(m.get_output_embeddings().weight, m.get_input_embeddings().weight),),
                "equal values are not shared storage",
            ),
            Fake(
                "equal shapes",
                (lambda m: m.get_output_embeddings().weight.shape == m.get_input_embeddings().weight.shape,),
                "compare model.get_output_embeddings()",
            ),
            Fake(
                "Llama's attribute names",
                (lambda m: m.lm_head.weight is m.model.embed_tokens.weight,),
                "no attribute 'lm_head'",
            ),
            Fake(
                "a tensor of comparisons",
                (lambda m: m.get_output_embeddings().weight == m.get_input_embeddings().weight,),
                "return True or False",
            ),
        ],
    },
}

SOLUTIONS = {"03.1": llama_parameters, "03.2": read_tensor_pt, "03.3": head_logits, "03.4": shares_embeddings}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_worked_solution_passes(exercise, dtype, capsys):
    with precision(dtype):
        assert getattr(check, "exercise_" + exercise.replace(".", "_"))(SOLUTIONS[exercise])
    assert capsys.readouterr().out.strip() == f"✅ exercise {exercise}: correct"


def test_03_1_formula_matches_the_course_causal_lm():
    from transformers import AutoConfig

    import course_utils as cu

    smollm2 = AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False))
    assert llama_parameters(smollm2) == 134_515_008  # what chapter 03 prints for the loaded causal LM


def test_what_is_switched_off_comes_back(capsys, tmp_path):
    def placeholder(config):
        raise NotImplementedError

    assert not check.exercise_03_1(placeholder)
    assert "not implemented yet" in capsys.readouterr().out
    assert not check.exercise_03_2(lambda p, n: in_thread(lambda: safetensors.safe_open(p, "pt").get_tensor(n)))
    path = str(tmp_path / "after.safetensors")
    safetensors.torch.save_file({"x": torch.arange(3.0)}, path)
    assert torch.equal(safetensors.torch.load_file(path)["x"], torch.arange(3.0))  # safetensors' readers are back
    assert in_thread(lambda: threading.current_thread().name)  # and Thread.start
