"""Shared machinery of the exercise checkers: one verdict line, a specific hint when wrong.

A checker prints its verdict and returns a :class:`Verdict`, not a bare ``bool``. The two behave
alike in code (``if checker(...)``, ``assert checker(...)``, ``assert not checker(...)``,
``checker(...) == True``), but a :class:`Verdict` displays nothing in Jupyter. A checker call is
the last line of an exercise cell, and Jupyter shows the value of a cell's last expression, so a
bare ``bool`` printed a stray ``False`` under the hint.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from .. import progress
from ..i18n import N_, _


class Verdict:
    """A checker's result: truthy when the answer is right, equal to ``True``/``False`` like a bool, silent in IPython.

    ``exercise`` is the id (``"00.3"``), ``ok`` the plain bool and ``hint`` the text printed when wrong.
    """

    __slots__ = ("exercise", "ok", "hint")

    def __init__(self, exercise: str, ok: bool, hint: str = "") -> None:
        self.exercise = exercise
        self.ok = bool(ok)
        self.hint = hint

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Verdict):
            return self.ok == other.ok
        if isinstance(other, (bool, int)):
            return self.ok == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"Verdict(exercise={self.exercise!r}, ok={self.ok})"

    def _ipython_display_(self) -> None:
        """Display nothing: the verdict line was printed already."""


def verdict(exercise: str, ok: bool, hint: str = "") -> Verdict:
    """Print ``✅ exercise <id>: correct`` or ``❌ exercise <id>: <hint>``; return a :class:`Verdict` (truthy iff ``ok``)."""
    if not isinstance(exercise, str) or not exercise:
        raise ValueError(f"exercise must be an id such as '06.1', got {exercise!r}")
    if ok:
        print(_("✅ exercise {exercise}: correct").format(exercise=exercise))
    else:
        print(_("❌ exercise {exercise}: {hint}").format(exercise=exercise, hint=hint or _("not yet right")))
    return Verdict(exercise, bool(ok), "" if ok else hint)


class Wrong(Exception):
    """Raised inside a checker's body: the answer is wrong, and ``hint`` says why (the first rule that failed)."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


class SwitchedOff(BaseException):
    """Raised when the learner's code calls what the exercise asks them to write.

    A ``BaseException``, so that a learner's ``except Exception`` does not swallow it.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def fail(hint: str, on: str = "") -> NoReturn:
    """Reject the answer with ``hint``; ``on`` names the input it failed on (appended to the hint)."""
    raise Wrong(_("{hint} (failed on {on})").format(hint=hint, on=on) if on else hint)


Rule = tuple[Any, "str | Callable[[], str]"]


def expect(*rules: Rule, on: str = "") -> None:
    """Read ``(condition, hint)`` rules top to bottom: the first whose condition holds rejects the answer.

    A condition is a value (truthy means *wrong*) or a zero-argument callable, evaluated only when the
    rules above it passed (so a later rule may assume what an earlier one checked). A hint may be a
    callable too. ``on`` names the input, shown after the hint.
    """
    for condition, hint in rules:
        if condition() if callable(condition) else condition:
            fail(hint() if callable(hint) else hint, on)


def _resolve(path: str) -> Any:
    """The object at a dotted path (``"transformers.GenerationMixin.generate"``): the longest importable module, then attributes."""
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = inspect.getattr_static(obj, name) if isinstance(obj, type) else getattr(obj, name)
            obj = getattr(obj, "__func__", obj)  # staticmethod / classmethod
        return obj
    raise ImportError(f"cannot import {path!r}")


def _codes(fn: Any) -> list[Any]:
    """The code object that calling ``fn`` always enters: the innermost function's (decorators'
    wrapper code is shared by every function they wrap: ``torch.no_grad`` would catch the learner's own loop)."""
    inner = inspect.unwrap(fn) if callable(fn) else fn
    return [inner.__code__] if hasattr(inner, "__code__") else []


@contextlib.contextmanager
def switched_off(targets: dict[str, Any]) -> Iterator[list[str]]:
    """While the block runs, calling any target raises :class:`SwitchedOff` (named as in ``targets``).

    ``targets`` maps the name a hint shows (``"generate()"``) to a dotted path, a callable, or a
    tuple of them. Python functions are recognised by their code object, so an alias, a bound
    method, the class-level form (``GenerationMixin.generate(model, ...)``) and a decorated copy are
    all caught; torch functions (``torch.bmm``, ``Tensor.bmm``) through a ``TorchFunctionMode``.
    The block yields a list that records every name called, even when the learner's code caught the
    exception. Whatever happens in the block, everything is restored on exit.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    codes: dict[Any, str] = {}
    torch_fns: dict[Any, str] = {}
    for name, spec in targets.items():
        for item in spec if isinstance(spec, tuple) else (spec,):
            fn = _resolve(item) if isinstance(item, str) else item
            found = _codes(fn)
            if found:
                codes.update(dict.fromkeys(found, name))
            else:  # a torch function: its Tensor-method form too (torch.bmm and a.bmm(b))
                torch_fns[fn] = name
                method = getattr(torch.Tensor, getattr(fn, "__name__", ""), None)
                if method is not None:
                    torch_fns[method] = name
    called: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            called.append(codes[frame.f_code])
            raise SwitchedOff(codes[frame.f_code])

    class Off(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            name = torch_fns.get(func) or torch_fns.get(getattr(func, "__func__", None))
            if name is not None:
                called.append(name)
                raise SwitchedOff(name)
            return func(*args, **(kwargs or {}))

    previous, previous_threads = sys.getprofile(), threading.getprofile()
    mode = Off() if torch_fns else contextlib.nullcontext()
    try:
        with mode:
            if codes:
                sys.setprofile(profile)
                threading.setprofile(profile)  # threads the learner's code starts are watched too
            yield called
    finally:
        if previous is not None and not callable(previous) and hasattr(previous, "enable"):
            previous.enable()  # a cProfile.Profile (%prun): it re-installs its own C hook
        else:
            sys.setprofile(previous)
        threading.setprofile(previous_threads)


_CURRENT: contextvars.ContextVar[tuple[str, str, dict[str, Any]]] = contextvars.ContextVar("exercise")
#: Set by :func:`answer` when the learner's code raised NotImplementedError: a placeholder, not an attempt (course_utils.progress).
_NOT_YET: contextvars.ContextVar[bool] = contextvars.ContextVar("not_yet", default=False)


def answer(fn: Any, *args: Any, none_ok: bool = False, when: str = "", fix: str = "", **kwargs: Any) -> Any:
    """Run the learner's ``fn(*args, **kwargs)`` inside the current checker and return its result.

    While it runs, what the exercise asks the learner to write is switched off (the checker's
    ``off``). A raised error, a ``None`` result (unless ``none_ok``), a placeholder
    (``NotImplementedError``) or a call of a switched-off function rejects the answer with a hint;
    ``when`` and ``fix`` go before and after the learner's error message.
    """
    exercise, asks, off = _CURRENT.get()
    if not callable(fn):
        fail(_("pass your function itself (got {type}), e.g. check(my_fn)").format(type=type(fn).__name__))
    called: list[str] = []
    result = None
    try:
        with switched_off(off) as called:
            result = fn(*args, **kwargs)
    except SwitchedOff as stray:  # raised by a watch of an enclosing checker, say: name it all the same
        called = called or [stray.name]
    except NotImplementedError:
        _NOT_YET.set(True)
        fail(_("not implemented yet: fill in the function and run the cell again"))
    except Exception as exc:  # the learner's code failed: show why, do not crash the notebook
        if not called:
            fail(
                _("{when}your function raised {error}: {message}{fix}").format(
                    when=when, error=type(exc).__name__, message=exc, fix=fix
                )
            )
    if called:
        fail(
            _("{exercise} asks for {asks}: `{name}` is switched off while the checker runs").format(
                exercise=exercise, asks=_(asks), name=_(called[0])
            )
        )
    if result is None and not none_ok:
        fail(_("your function returned None: did you forget `return`?"))
    return result


def checker(exercise: str, *, asks: str = N_("your own code"), off: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Decorator that makes a checker of a body written as rules (:func:`expect`, :func:`fail`, :func:`answer`).

    It binds the exercise id once, runs the body with the notebook's torch random state saved and
    restored, turns the first :class:`Wrong` into the printed hint, and always returns a
    :class:`Verdict`, which it also appends to the learner's record (:mod:`course_utils.progress`; a
    placeholder answer, the untouched ``None`` or ``NotImplementedError``, is not an attempt).
    ``off`` (see :func:`switched_off`) names what the exercise re-implements: it is switched off
    only while :func:`answer` runs the learner's code; ``asks`` says what the exercise asks for, in
    the hint shown when it is called anyway.
    """
    if not re.fullmatch(r"\d\d\.\d", exercise):
        raise ValueError(f"exercise must be an id such as '06.1', got {exercise!r}")

    def decorate(body: Callable[..., Any]) -> Callable[..., Verdict]:
        @functools.wraps(body)
        def run(*args: Any, **kwargs: Any) -> Verdict:
            import torch

            token = _CURRENT.set((exercise, asks, off or {}))
            not_yet = _NOT_YET.set(False)
            try:
                with torch.random.fork_rng(devices=[]):
                    body(*args, **kwargs)
                result = verdict(exercise, True)
            except Wrong as wrong:
                result = verdict(exercise, False, wrong.hint)
            finally:
                placeholder = _NOT_YET.get() or progress.unanswered(args, kwargs)
                _CURRENT.reset(token)
                _NOT_YET.reset(not_yet)
            progress.record(exercise, result.ok, result.hint, placeholder=placeholder)
            return result

        run.exercise = exercise  # type: ignore[attr-defined]
        run.switched_off = dict(off or {})  # type: ignore[attr-defined]
        return run

    return decorate


_DTYPE: contextvars.ContextVar[Any] = contextvars.ContextVar("dtype", default=None)


@contextlib.contextmanager
def precision(dtype: Any) -> Iterator[None]:
    """Within the block, checkers build their tiny models in ``dtype`` (``torch.bfloat16``, say), as a
    learner's runtime might load them: tests prove that a right answer passes in every dtype."""
    token = _DTYPE.set(dtype)
    try:
        yield
    finally:
        _DTYPE.reset(token)


def model_dtype() -> Any:
    """The dtype checkers build their models in: float32 unless :func:`precision` says otherwise."""
    import torch

    return _DTYPE.get() or torch.float32


def tolerance(dtype: Any) -> float:
    """How close a right answer computed in ``dtype`` comes to the reference: a few units in its last place (at least 1e-4)."""
    import torch

    return max(1e-4, 8 * torch.finfo(dtype).eps)


def close(got: Any, ref: Any, dtype: Any, scale: Any = None) -> bool:
    """``got`` is a tensor of ``ref``'s shape, equal to it at ``dtype``'s precision: the largest difference,
    on the CPU in float64 (any device), within :func:`tolerance` times ``scale`` (default: the
    largest ``|ref|``). NaN is never close."""
    import torch

    if tensor_mismatch(got, ref.shape) is not None:
        return False
    diff = (got.detach().to("cpu", torch.float64) - ref.detach().to("cpu", torch.float64)).abs()
    bound = float(ref.detach().abs().max()) if scale is None and ref.numel() else (1.0 if scale is None else scale)
    return bool(diff.numel() == 0 or diff.max() <= tolerance(dtype) * bound + 1e-12)


_TINY: dict[str, dict[str, Any]] = {
    "bert": dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
    "distilbert": dict(vocab_size=120, dim=32, n_layers=2, n_heads=2, hidden_dim=64),
    "llama": dict(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=False,
    ),
}
_HEADS = {"base": "AutoModel", "classifier": "AutoModelForSequenceClassification", "lm": "AutoModelForCausalLM"}


def tiny_model(arch: str, head: str = "base", *, seed: int = 0, dtype: Any = None, **config: Any) -> Any:
    """A seeded, randomly initialised tiny model (milliseconds to run) for checkers and tests.

    ``arch``: ``"bert"``, ``"distilbert"`` or ``"llama"``; ``head``: ``"base"``, ``"classifier"``
    or ``"lm"`` (masked LM for the encoders, causal LM for llama). ``config`` overrides the small
    defaults of ``_TINY``. Built under a private seed (the caller's random state is untouched), in
    ``dtype``, else :func:`model_dtype`.
    """
    import torch
    import transformers

    if arch not in _TINY:
        raise ValueError(f"arch must be one of {sorted(_TINY)}, got {arch!r}")
    if head not in _HEADS:
        raise ValueError(f"head must be one of {sorted(_HEADS)}, got {head!r}")
    auto = "AutoModelForMaskedLM" if head == "lm" and arch != "llama" else _HEADS[head]
    cfg = transformers.AutoConfig.for_model(arch, **{**_TINY[arch], **config})  # derived sizes (head_dim) follow
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = getattr(transformers, auto).from_config(cfg)
    return model.to(dtype if dtype is not None else model_dtype()).eval()


@functools.lru_cache(maxsize=1)
def encoder_tokenizer() -> Any:
    """The course encoder's tokenizer, the one the notebooks use (the stand-in offline), loaded once."""
    from transformers import AutoTokenizer

    from ..models import ENCODER, resolve_checkpoint

    return AutoTokenizer.from_pretrained(resolve_checkpoint(ENCODER, verbose=False))


def tensor_mismatch(got: Any, shape: Any) -> str | None:
    """None when ``got`` is a tensor of ``shape``; else what it is instead (its shape, or its type) for a hint."""
    import torch

    if not isinstance(got, torch.Tensor):
        return type(got).__name__
    return None if tuple(got.shape) == tuple(shape) else str(tuple(got.shape))
