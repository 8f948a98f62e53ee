"""The checkers' shared machinery: a Verdict acts like a bool in code and displays nothing in Jupyter;
a checker reads its rules top to bottom; what an exercise re-implements is off while the learner's code runs."""

from __future__ import annotations

import inspect
import re
import threading

import pytest
import torch
from IPython.core.formatters import DisplayFormatter

from course_utils import check, embeddings
from course_utils.check import _core


def test_verdict_is_a_silent_bool(capsys):
    right, wrong = _core.verdict("9.9", True), _core.verdict("9.9", False, "try again")
    assert right and not wrong
    assert right == True and wrong == False and wrong != True  # noqa: E712 - comparisons with the bools
    assert right == 1 and wrong == 0 and right == _core.verdict("9.8", True)
    assert (right.exercise, right.ok, wrong.hint) == ("9.9", True, "try again")
    assert repr(wrong) == "Verdict(exercise='9.9', ok=False)"
    assert capsys.readouterr().out.splitlines() == [
        "✅ exercise 9.9: correct",
        "❌ exercise 9.9: try again",
        "✅ exercise 9.8: correct",
    ]
    formatter = DisplayFormatter()
    assert formatter.format(wrong) == ({}, {})  # what Jupyter shows for a cell ending in a checker call: nothing
    assert formatter.format(False)[0] == {"text/plain": "False"}  # what it showed before
    with pytest.raises(ValueError, match="exercise must be an id"):
        _core.verdict("", True)


@_core.checker("99.1", asks="your own doubling", off={"embeddings.mean_pool": "course_utils.embeddings.mean_pool"})
def exercise_99_1(double):
    """A checker written as rules: the first rule that holds rejects the answer."""
    for x in (3, 8):
        got = _core.answer(double, x)
        _core.expect(
            (not isinstance(got, int), "return an int"),
            (lambda: got == x, "you returned the input unchanged"),
            (lambda: got != 2 * x, "not twice the input"),
            on=f"x={x}",
        )


def test_checker_reads_rules_top_to_bottom_and_names_the_input(capsys):
    assert isinstance(exercise_99_1(lambda x: 2 * x), _core.Verdict) and exercise_99_1(lambda x: 2 * x)
    assert exercise_99_1.exercise == "99.1" and exercise_99_1.__doc__.startswith("A checker")
    assert not exercise_99_1(lambda x: 6)  # a constant, right on the first input only
    assert not exercise_99_1(lambda x: "6")
    assert not exercise_99_1(lambda x: x)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "✅ exercise 99.1: correct",
        "✅ exercise 99.1: correct",
        "❌ exercise 99.1: not twice the input (failed on x=8)",
        "❌ exercise 99.1: return an int (failed on x=3)",
        "❌ exercise 99.1: you returned the input unchanged (failed on x=3)",
    ]


def test_answer_turns_learner_errors_into_hints(capsys):
    def stub(x):
        raise NotImplementedError

    for wrong, hint in [
        (stub, "not implemented yet"),
        (lambda x: 1 / 0, "your function raised ZeroDivisionError: division by zero"),
        (lambda x: None, "did you forget `return`?"),
        ("not a function", "pass your function itself (got str)"),
    ]:
        result = exercise_99_1(wrong)
        assert isinstance(result, _core.Verdict) and not result and hint in result.hint
    assert capsys.readouterr().out.count("❌") == 4


def test_what_the_exercise_asks_for_is_off_while_the_learner_runs(capsys):
    h, mask = torch.randn(1, 2, 3), torch.ones(1, 2)
    pool = embeddings.mean_pool

    def calls_it(x):
        pool(h, mask)  # an alias taken before the checker ran
        return 2 * x

    def swallows_it(x):
        try:
            embeddings.mean_pool(h, mask)
        except BaseException:  # noqa: BLE001 - the learner hides the switch-off
            pass
        return 2 * x

    def from_a_thread(x):
        worker = threading.Thread(target=lambda: embeddings.mean_pool(h, mask))
        worker.start()
        worker.join()
        return 2 * x

    for fake in (calls_it, swallows_it, from_a_thread):
        result = exercise_99_1(fake)
        assert not result, fake.__name__
        assert (
            result.hint
            == "99.1 asks for your own doubling: `embeddings.mean_pool` is switched off while the checker runs"
        )
    assert torch.equal(embeddings.mean_pool(h, mask), h.mean(1))  # on again afterwards
    assert exercise_99_1(lambda x: 2 * x)
    capsys.readouterr()


def test_switched_off_catches_torch_functions_and_restores_everything():
    import sys

    a = torch.ones(1, 2, 2)
    with _core.switched_off({"torch.bmm": "torch.bmm"}) as called:
        with pytest.raises(_core.SwitchedOff):
            a.bmm(a)  # the method form too
        assert (a * a).sum() == 4  # everything else runs
    assert called == ["torch.bmm"] and torch.equal(torch.bmm(a, a), a * 2)
    assert sys.getprofile() is None and threading.getprofile() is None


def test_tiny_model_is_seeded_private_and_in_the_dtype_asked():
    before = torch.random.get_rng_state()
    a, b = _core.tiny_model("llama", "lm"), _core.tiny_model("llama", "lm")
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.config.head_dim == a.config.hidden_size // a.config.num_attention_heads
    with _core.precision(torch.bfloat16):
        assert _core.tiny_model("bert", "classifier", num_labels=3).dtype == torch.bfloat16
    assert _core.tiny_model("distilbert", "lm").dtype == torch.float32
    with pytest.raises(ValueError, match="arch must be one of"):
        _core.tiny_model("gpt9")
    with pytest.raises(ValueError, match="head must be one of"):
        _core.tiny_model("bert", "seq2seq")


def _placeholder(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(n for n in dir(check) if re.fullmatch(r"exercise_\d\d_\d", n)))
def test_every_checker_is_a_rule_table_that_returns_a_silent_verdict(name, capsys):
    fn = getattr(check, name)
    assert fn.exercise == name.removeprefix("exercise_").replace("_", ".")  # the id, bound once
    required = [p for p in inspect.signature(fn).parameters.values() if p.default is p.empty]
    result = fn(*[_placeholder] * len(required))
    assert isinstance(result, _core.Verdict) and not result, f"{name} returned {result!r}"
    assert DisplayFormatter().format(result) == ({}, {})
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("❌"), (name, out)
