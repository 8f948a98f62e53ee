"""No function is longer than a reader can hold: 80 lines in course_utils (check/ aside), 100 in tools/.

Every ``def`` counts, methods and nested functions included, from its ``def`` line (decorators
aside) to its last line, docstring and comments included (issue 31).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The longest a function may be, by folder.
LIMITS = {"course_utils": 80, "tools": 100}
#: Folders that keep their own limit (the exercises' checkers belong to another issue).
EXEMPT = ("course_utils/check/",)


def long_functions(source: str, limit: int, filename: str = "<source>") -> list[str]:
    """``"file:line name (N lines)"`` for every function in ``source`` longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append(f"{filename}:{node.lineno} {node.name} ({length} lines)")
    return found


def _files(folder: str) -> list[Path]:
    return [
        p
        for p in sorted((ROOT / folder).rglob("*.py"))
        if not p.relative_to(ROOT).as_posix().startswith(EXEMPT) and "__pycache__" not in p.parts
    ]


@pytest.mark.parametrize("folder", sorted(LIMITS))
def test_no_function_is_longer_than_its_folders_limit(folder):
    files = _files(folder)
    assert len(files) >= 5, f"found only {len(files)} Python files under {folder}/"
    too_long = [
        hit
        for path in files
        for hit in long_functions(path.read_text(encoding="utf-8"), LIMITS[folder], path.relative_to(ROOT).as_posix())
    ]
    assert not too_long, f"longer than {LIMITS[folder]} lines; cut into named steps: {too_long}"


def _function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}():\n{body}"


def test_the_measure_counts_from_def_to_the_last_line_methods_and_nested_functions_included():
    assert long_functions(_function("fits", 79), 80) == []  # 80 lines: the limit itself passes
    assert long_functions(_function("over", 80), 80) == ["<source>:1 over (81 lines)"]
    method = "class C:\n" + _function("method", 85, indent="    ")
    assert long_functions(method, 80) == ["<source>:2 method (86 lines)"]
    nested = "def outer():\n" + _function("inner", 90, indent="    ") + "    return inner\n"
    assert [hit.split()[1] for hit in long_functions(nested, 80)] == ["outer", "inner"]
    assert long_functions("async " + _function("coroutine", 81), 80) == ["<source>:1 coroutine (82 lines)"]


def test_the_check_exemption_is_the_only_one():
    assert any(p.match("course_utils/check/*.py") for p in (ROOT / "course_utils" / "check").glob("*.py"))
    assert not any("check" in p.relative_to(ROOT).parts for p in _files("course_utils"))
    assert ROOT / "course_utils" / "scripts" / "ddp_train.py" in _files("course_utils")
    assert ROOT / "course_utils" / "metrics" / "__init__.py" in _files("course_utils")
