"""README's commands run as far as they can here; `make help` lists every target; CONTRIBUTING's layout is the tree.

1. Every command in README.md and README.zh.md (each line of a fenced block, and every inline code span that
   starts with a command) is checked without installing anything: `make` targets with `make -n` (must
   succeed), pip lines' extras against pyproject.toml and their paths against the tree, the conda line's
   environment.yml (exists, parses, the environment it activates), `git clone` against tools/authoring.py's
   REPO_URL. Every relative link and every path in backticks exists (or is one git ignores: made at run time).
   (A backticked name whose first part is not in the repository, a Hub id such as `distilbert/...`, is not a path.)
2. Every target in a .PHONY line of Makefile, kit.mk and bundle.mk has a `## what it does` comment beside it,
   and `make help` prints it.
3. CONTRIBUTING.md's "Layout" lists every top-level entry of the repository and every tools/*.py, and
   nothing that is not there: each file or folder it names as an entry under tools/ or tests/ exists there.

Each check has a companion test that plants a fault (a missing target, path, extra or comment) and expects
the check to name it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import authoring  # noqa: E402  (tools/authoring.py: REPO_URL, the one place a fork sets)

READMES = ("README.md", "README.zh.md")
MAKEFILES = ("Makefile", "kit.mk", "bundle.mk")
FENCE = re.compile(r"^```[\w-]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
#: An inline code span that is a command (the rest are names, values and paths).
COMMAND = re.compile(r"^(make|pip|python3?|conda|git|jupyter|cd|export)(?: -m)? [\w.'\"]")
#: A path in backticks: a relative name with a slash, or a file name with one of the course's suffixes.
PATHLIKE = re.compile(r"^(?:[\w.-]+/)+[\w.-]*$|^[\w.-]+\.(?:py|md|yml|toml|json|ipynb)$")

# ---------------------------------------------------------------------------------------------
# 1. README's commands and paths
# ---------------------------------------------------------------------------------------------


def commands(text: str) -> list[str]:
    """Every simple command in ``text``: fenced lines (comments dropped) and inline spans, split at && and ;."""
    found = []
    for block in FENCE.findall(text):
        found += [re.split(r"\s+#\s", line, maxsplit=1)[0].strip() for line in block.splitlines()]
    found += [span for span in SPAN.findall(FENCE.sub("", text)) if COMMAND.match(span)]
    simple = [part.strip() for line in found if line and not line.startswith("#") for part in re.split(r"&&|;", line)]
    return [c for c in simple if c]


def _pyproject(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def _substituted(command: str, root: Path) -> str:
    """``command`` with ``$(python -m course_utils requirements)`` replaced by what that prints (nothing else runs)."""
    sub = "$(python -m course_utils requirements)"
    if sub not in command:
        return command
    printed = subprocess.run(
        [sys.executable, "-m", "course_utils", "requirements"], cwd=root, capture_output=True, text=True, timeout=60
    )
    return command.replace(sub, printed.stdout.strip() or "MISSING-REQUIREMENTS")


def _check_make(args: list[str], root: Path) -> list[str]:
    targets = [a for a in args if "=" not in a and not a.startswith("-")]
    if not targets:
        return ["`make` without a target"]
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *args, "VENV=/nonexistent/venv-for-make-n"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [] if proc.returncode == 0 else [f"`make -n {' '.join(args)}` fails: {proc.stderr.strip()[-300:]}"]


def _check_pip(args: list[str], root: Path) -> list[str]:
    problems = []
    extras = set(_pyproject(root)["project"].get("optional-dependencies", {}))
    name = _pyproject(root)["project"]["name"]
    skip_next = {"--index-url", "--extra-index-url", "--find-links", "-d", "--dest", "-r"}
    args = args[args.index("install") + 1 :] if "install" in args else args[args.index("download") + 1 :]
    previous = ""
    for arg in args:
        if previous in skip_next or arg.startswith("-"):
            previous = arg
            continue
        previous = arg
        editable = re.fullmatch(r"(\.|[\w./-]+)(?:\[([\w,-]+)\])?", arg)
        if editable and (arg.startswith(".") or "/" in arg):
            path, named = editable.group(1), editable.group(2) or ""
            if not (root / path / "pyproject.toml").is_file():
                problems.append(f"`pip install {arg}`: {path} is not a project folder")
            problems += [
                f"`pip install {arg}`: pyproject.toml has no extra {e!r}"
                for e in named.split(",")
                if e and e not in extras
            ]
            continue
        try:
            req = Requirement(arg)
        except InvalidRequirement:
            problems.append(f"pip: {arg!r} is neither a path nor a requirement")
            continue
        if req.url and req.name != name:
            problems.append(f"pip: {arg!r} installs {req.name}, not {name}")
        if req.url and req.url != authoring.install_url():
            problems.append(f"pip: {arg!r} is not the install cell's URL {authoring.install_url()}")
    return problems


def _check_conda(args: list[str], root: Path) -> list[str]:
    if args[:2] == ["activate"] or args[:1] == ["activate"]:
        env = yaml.safe_load((root / "environment.yml").read_text(encoding="utf-8"))
        return [] if args[-1] == env["name"] else [f"`conda activate {args[-1]}`: environment.yml names {env['name']}"]
    if args[:2] != ["env", "create"] or "-f" not in args:
        return [f"conda: the test does not know `conda {' '.join(args)}`"]
    path = root / args[args.index("-f") + 1]
    if not path.is_file():
        return [f"conda: {path.name} does not exist"]
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [] if isinstance(env, dict) and env.get("dependencies") else [f"conda: {path.name} has no dependencies"]


def command_problems(text: str, root: Path = ROOT) -> list[str]:
    """What is wrong with the commands in ``text`` (a README), checked against the project in ``root``."""
    problems: list[str] = []
    cloned = ""
    for command in commands(text):
        words = shlex.split(_substituted(command, root))
        head, args = words[0], words[1:]
        if head == "make":
            problems += _check_make(args, root)
        elif head == "pip" or (head.startswith("python") and args[:2] == ["-m", "pip"]):
            problems += _check_pip(args, root)
        elif head == "conda":
            problems += _check_conda(args, root)
        elif head == "git" and args[:1] == ["clone"]:
            cloned = args[1].removesuffix(".git").rstrip("/")
            if cloned != authoring.REPO_URL:
                problems.append(f"`git clone {args[1]}` is not tools/authoring.py's REPO_URL {authoring.REPO_URL}")
        elif head == "cd":
            if not cloned or args != [cloned.rsplit("/", 1)[1]]:
                problems.append(f"`{command}` is not the folder that `git clone` makes")
        elif head == "jupyter":
            problems += [f"`{command}`: {a} does not exist" for a in args[1:] if not (root / a).exists()]
        elif head == "export":
            continue  # environment variables: their meaning is the text's, not the tree's
        else:
            problems.append(f"the test does not know how to check `{command}`")
    return problems


def _ignored(path: str, root: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0


def path_problems(text: str, root: Path = ROOT) -> list[str]:
    """Relative links and backticked paths in ``text`` that do not exist (and that git does not ignore)."""
    candidates = [target.split("#", 1)[0] for target in LINK.findall(text) if not re.match(r"[a-z]+:|#", target)]
    spans = [span for span in SPAN.findall(FENCE.sub("", text)) if PATHLIKE.match(span)]
    # a backticked path whose first part is not in the repository is a Hub id ("distilbert/...")
    first = [s.split("/", 1)[0] for s in spans]
    candidates += [
        s for s, f in zip(spans, first) if "/" not in s or (root / f).exists() or (root / "notebooks" / f).exists()
    ]
    problems = []
    for path in dict.fromkeys(c for c in candidates if c):
        if (root / path).exists() or (root / "notebooks" / path).exists() or _ignored(path, root):
            continue
        problems.append(f"{path} does not exist")
    return problems


@pytest.mark.parametrize("name", READMES)
def test_every_command_in_the_readme_runs_as_far_as_it_can_here(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    found = commands(text)
    assert any(c.startswith("make lab") for c in found) and any(c.startswith("git clone") for c in found)
    assert any("pip install" in c for c in found) and any(c.startswith("conda env create") for c in found)
    assert command_problems(text) == []


@pytest.mark.parametrize("name", READMES)
def test_every_path_in_the_readme_exists(name):
    assert path_problems((ROOT / name).read_text(encoding="utf-8")) == []


def test_the_readmes_have_the_same_commands():
    en, zh = (commands((ROOT / name).read_text(encoding="utf-8")) for name in READMES)
    assert en == zh


def test_the_readme_is_short_and_for_learners():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "make test" in text and "optional" in text
    for heading in ("## Tests", "## Layout", "## Adding a notebook", "## Workshop kit", "## Measured figures"):
        assert heading not in text, (
            f"{heading[3:]} is maintainers' material: CONTRIBUTING.md, INSTRUCTOR.md, benchmarks/"
        )


def test_a_planted_missing_target_is_caught():
    text = "```bash\nmake lab\nmake no-such-target   # planted\n```\n"
    problems = command_problems(text)
    assert len(problems) == 1 and "make -n no-such-target" in problems[0], problems


def test_a_planted_missing_path_is_caught():
    text = "[the guide](INSTRUCTOR.md), [gone](docs/no_such_page.md), `tools/no_such_tool.py`, `notebooks/zh/`\n"
    assert path_problems(text) == ["docs/no_such_page.md does not exist", "tools/no_such_tool.py does not exist"]


def test_a_planted_wrong_pip_line_clone_or_conda_file_is_caught(tmp_path):
    text = (
        "```bash\n"
        'pip install -e ".[lab,no_such_extra]"\n'
        "git clone https://github.com/someone/else\n"
        "```\n"
        "`pip install 'course-utils @ git+https://github.com/someone/else@main'`\n"
    )
    problems = command_problems(text)
    assert any("no extra 'no_such_extra'" in p for p in problems), problems
    assert any("not tools/authoring.py's REPO_URL" in p for p in problems), problems
    assert any("is not the install cell's URL" in p for p in problems), problems
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")  # a project without environment.yml
    assert command_problems("`conda env create -f environment.yml`", tmp_path) == [
        "conda: environment.yml does not exist"
    ]


# ---------------------------------------------------------------------------------------------
# 2. make help
# ---------------------------------------------------------------------------------------------

RULE = re.compile(r"^([a-z][\w-]*)\s*:(?![=:])([^\n]*)$", re.M)


def help_problems(root: Path = ROOT) -> list[str]:
    """Targets in .PHONY without a ``##`` comment, rules not in .PHONY, and targets that `make help` leaves out."""
    texts = "\n".join((root / name).read_text(encoding="utf-8") for name in MAKEFILES)
    phony = {t for line in re.findall(r"^\.PHONY:(.*)$", texts, re.M) for t in line.split()}
    rules = {m.group(1): m.group(2) for m in RULE.finditer(texts)}
    problems = [f"{t} is in .PHONY but has no rule" for t in sorted(phony - set(rules))]
    problems += [f"{t} is a rule but not in .PHONY" for t in sorted(set(rules) - phony)]
    problems += [f"{t} has no '## what it does' comment" for t in sorted(phony & set(rules)) if "## " not in rules[t]]
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=root, capture_output=True, text=True, timeout=60
    )
    listed = set(re.findall(r"^make (\S+)\s", shown.stdout, re.M))
    problems += [f"make help does not list {t}" for t in sorted(phony - listed)]
    return problems


def test_make_help_lists_every_target_with_its_comment():
    assert help_problems() == []
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert re.search(r"^make lab +set up \.venv", shown.stdout, re.M)
    assert len(shown.stdout.splitlines()) >= 29


def test_a_planted_target_without_a_comment_is_caught(tmp_path):
    for name in MAKEFILES:
        shutil.copy(ROOT / name, tmp_path / name)
    with (tmp_path / "kit.mk").open("a") as kit:
        kit.write("\n.PHONY: planted\nplanted:\n\t@true\n")
    assert help_problems(tmp_path) == ["planted has no '## what it does' comment", "make help does not list planted"]


# ---------------------------------------------------------------------------------------------
# 3. CONTRIBUTING.md's layout
# ---------------------------------------------------------------------------------------------

#: Top-level entries that are git's own configuration, not the course's.
NOT_LISTED = {".gitignore", ".gitattributes"}


def layout_block(text: str) -> str:
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    [block] = FENCE.findall(section)
    return block


def tracked(root: Path = ROOT) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.splitlines()


#: How the layout names a file (with its extension) or a folder (with its slash) as an entry under a folder.
NAMED = re.compile(r"[\w.-]+(?:/[\w.-]+)*(?:\.\w+|/)")


def layout_sections(block: str) -> dict[str, list[str]]:
    """Each top-level entry of ``block`` and its lines (its own, then the indented ones under it)."""
    sections: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in block.splitlines():
        if line and not line[0].isspace():
            lines = sections.setdefault(line.split()[0], [])
        lines.append(line)
    return sections


def named_under(section: list[str]) -> set[str]:
    """The files and folders that a folder's indented lines name first (``authoring.py``, ``spawn/``)."""
    firsts = [line.split()[0] for line in section[1:] if line.strip()]
    return {name for name in firsts if NAMED.fullmatch(name)}


def layout_problems(block: str, files: list[str]) -> list[str]:
    """Top-level entries and tools/*.py among ``files`` (repository paths) that ``block`` leaves out, and
    the entries (top-level, or named under tools/ or tests/) that ``block`` lists but ``files`` lacks."""
    sections = layout_sections(block)
    top = {f.split("/", 1)[0] + ("/" if "/" in f else "") for f in files} - NOT_LISTED
    tools = {f.split("/", 1)[1] for f in files if re.fullmatch(r"tools/[\w.-]+\.py", f)}
    problems = [f"the layout does not list {entry}" for entry in sorted(top - set(sections))]
    problems += [f"the layout lists {entry}, which is not in the repository" for entry in sorted(set(sections) - top)]
    problems += [f"the layout does not list tools/{name}" for name in sorted(tools - named_under(sections["tools/"]))]
    for folder in ("tools/", "tests/"):
        inside = [PurePosixPath(f[len(folder) :]) for f in files if f.startswith(folder)]
        present = {p.as_posix() for p in inside} | {d.as_posix() + "/" for p in inside for d in p.parents if d.parts}
        stale = named_under(sections.get(folder, [])) - present
        problems += [f"the layout lists {folder}{name}, which is not in the repository" for name in sorted(stale)]
    return problems


def test_the_layout_lists_the_tree():
    block = layout_block((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    assert layout_problems(block, tracked()) == []


def test_a_planted_missing_entry_is_caught():
    block = layout_block((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    files = tracked() + ["NEWS.md", "tools/planted_tool.py"]
    assert layout_problems(block, files) == [
        "the layout does not list NEWS.md",
        "the layout does not list tools/planted_tool.py",
    ]
    without = "\n".join(line for line in block.splitlines() if not line.startswith("kit.mk"))
    assert layout_problems(without, tracked()) == ["the layout does not list kit.mk"]
    # a tool named only inside another entry's description is not listed
    without = "\n".join(line for line in block.splitlines() if not line.strip().startswith("bundle.py "))
    assert "bundle.py" in without
    assert layout_problems(without, tracked()) == ["the layout does not list tools/bundle.py"]


@pytest.mark.parametrize(
    "gone, problem",
    [
        ("tools/timings.py", "tools/timings.py"),
        ("tools/spawn/", "tools/spawn/"),
        ("tests/fault_proxy.py", "tests/fault_proxy.py"),
        ("tests/colab/rehearsal.py", "tests/colab/rehearsal.py"),
        ("benchmarks/", "benchmarks/"),
    ],
)
def test_a_planted_stale_entry_is_caught(gone, problem):
    block = layout_block((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    files = [f for f in tracked() if not f.startswith(gone)]
    assert len(files) < len(tracked())
    assert layout_problems(block, files) == [f"the layout lists {problem}, which is not in the repository"]


def test_a_planted_stale_name_under_tools_and_tests_is_caught():
    block = layout_block((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    planted = block.replace("\ntools/ ", "\n                  fixtures.py      planted\ntools/ ", 1)
    planted = planted.replace("\ntranslations/ ", "\n                  old_tool.py      planted\ntranslations/ ", 1)
    assert planted.count("planted") == 2
    assert layout_problems(planted, tracked()) == [
        "the layout lists tools/old_tool.py, which is not in the repository",
        "the layout lists tests/fixtures.py, which is not in the repository",
    ]
