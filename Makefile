# The course's command for learners:  make lab  (set up .venv with the runtime and JupyterLab, open the course).
# make help lists every target with the comment beside it (`target: prerequisites ## what it does`):
# every target in a .PHONY line has one, in this file, kit.mk and bundle.mk (tests/test_readme.py checks it).

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
# Three set-ups, one stamp each, each a superset of the one before (so `make lab` after `make test`
# installs nothing): lab = the runtime (pyproject's [project.dependencies], what the notebooks import)
# + JupyterLab; offline = lab + gguf + the stand-in packages (python -m course_utils requirements);
# install = offline + the test tools (pytest, nbval, nbclient), what make test and the maintainers' targets use.
LAB_EXTRAS     := lab
OFFLINE_EXTRAS := lab,offline
EXTRAS   := lab,test,offline
# torch, pinned to the release the course is tested with. Which build, by machine (README, "Install"):
# a local wheel folder holding that release (the course's CI machines keep the CPU build in
# /opt/wheels) gives that wheel; anywhere else uv's --torch-backend=auto picks the CUDA build that
# fits an NVIDIA driver, else the CPU build from PyTorch's CPU index (macOS: PyPI's wheel, with MPS).
# TORCH_BACKEND=cpu forces the CPU build, TORCH_BACKEND=cu128 (etc.) a CUDA one.
TORCH_VERSION ?= 2.13.0
TORCH    ?= torch==$(TORCH_VERSION)
FIND_LINKS ?= $(wildcard /opt/wheels)
TORCH_WHEEL := $(firstword $(wildcard $(addsuffix /torch-$(TORCH_VERSION)[+-]*.whl,$(FIND_LINKS))))
TORCH_BACKEND ?= $(if $(TORCH_WHEEL),,auto)
# uv installs the stack in about a minute (pip: about four); --compile-bytecode keeps imports fast.
UV       := $(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode $(addprefix --find-links ,$(FIND_LINKS)) $(if $(TORCH_BACKEND),--torch-backend=$(TORCH_BACKEND))
STAMP         := $(VENV)/.course-installed
LAB_STAMP     := $(VENV)/.course-lab
OFFLINE_STAMP := $(VENV)/.course-offline
# Extra JupyterLab flags (containers often run as root, which JupyterLab refuses without this).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# The emotion mirror: ../shared/data on the course's CI machines, else a copy fetched once.
COURSE_DATA_DIR ?= $(if $(wildcard ../shared/data/emotion/train.jsonl),../shared/data,data/cache/data)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)) $(sort $(wildcard notebooks/solutions/[0-9][0-9]_*.ipynb))
SOURCES   := $(sort $(wildcard notebooks/src/[0-9][0-9]_*.py)) $(sort $(wildcard notebooks/solutions/src/[0-9][0-9]_*.py))
OFFLINE   := HF_HUB_OFFLINE=1 HF_EVALUATE_OFFLINE=1 COURSE_PROGRESS=0 COURSE_PROFILE=quick COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR))
NBVAL     := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with notebooks/sanitize.cfg
# Extra pytest flags for the test targets, e.g. PYTEST_ARGS="-x" or PYTEST_ARGS=--junitxml=build/junit.xml.
PYTEST_ARGS ?=

.PHONY: help lab offline install standins test test-unit test-notebooks test-zh lint notebooks zh prefetch timings data clean

help: ## list every target with what it does
	@awk -F':[^#]*## ' '/^[a-z][a-z-]*:[^=]*## /{printf "make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# A venv with uv in it, after checking the Python version (the first lines of every set-up below).
define NEW_VENV
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: the course needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Try: make PYTHON=python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.7.14,<1"
endef

$(LAB_STAMP): pyproject.toml
	$(NEW_VENV)
	$(UV) -e ".[$(LAB_EXTRAS)]" "$(TORCH)"
	touch $@

$(OFFLINE_STAMP): pyproject.toml course_utils/standins.py
	$(NEW_VENV)
	$(UV) -e ".[$(OFFLINE_EXTRAS)]" "$(TORCH)"
	$(UV) --no-deps $$($(PY) -m course_utils requirements)
	touch $@ $(LAB_STAMP)

$(STAMP): pyproject.toml course_utils/standins.py
	$(NEW_VENV)
	$(UV) -e ".[$(EXTRAS)]" "$(TORCH)"
	$(UV) --no-deps $$($(PY) -m course_utils requirements)
	touch $@ $(OFFLINE_STAMP) $(LAB_STAMP)

lab: $(LAB_STAMP) ## set up .venv (the runtime + JupyterLab) and open the course in JupyterLab
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

offline: $(OFFLINE_STAMP) ## add the offline stand-ins to .venv (packages, then built once: about 2 min)
	$(PY) -m course_utils standins

install: $(STAMP) ## set up .venv for maintainers: the runtime, JupyterLab, the stand-ins and the test tools

standins: $(OFFLINE_STAMP) ## build the offline stand-ins (the packages must be there: make offline)
	$(PY) -m course_utils standins

data: $(LAB_STAMP) ## fetch the emotion splits into COURSE_DATA_DIR unless they are there
	$(PY) -m course_utils emotion $(COURSE_DATA_DIR)

test: install standins data mirror-deps ## every test: tests/, then every notebook with nbval (offline, quick profile)
	$(OFFLINE) $(PY) -m pytest tests $(NOTEBOOKS) $(NBVAL) $(PYTEST_ARGS)

test-unit: install standins data mirror-deps ## tests/ only, in make test's offline setting
	$(OFFLINE) $(PY) -m pytest tests $(PYTEST_ARGS)

test-notebooks: install standins data ## every notebook and solution with nbval only, as make test runs them
	$(OFFLINE) $(PY) -m pytest $(NOTEBOOKS) $(NBVAL) $(PYTEST_ARGS)

# The Chinese edition run from notebooks/zh/ (about 6 minutes; not part of make test, which checks
# that it is the English run's build): proves its cells run from that folder too.
test-zh: install standins data ## the Chinese notebooks from notebooks/zh/ with nbval (about 6 minutes)
	$(OFFLINE) $(PY) -m pytest $(sort $(wildcard notebooks/zh/[0-9][0-9]_*.ipynb)) $(sort $(wildcard notebooks/zh/solutions/[0-9][0-9]_*.ipynb)) $(NBVAL) $(PYTEST_ARGS)

# ruff and mypy (pyproject's dev extra, [tool.ruff] and [tool.mypy]): lint, format check and type
# check of course_utils/; CI runs it before make test. The notebooks' sources are linted, not formatted.
LINT_PATHS := course_utils tools benchmarks tests conftest.py notebooks/src notebooks/solutions/src
lint: install ## ruff (lint + format check) on the code and notebook sources, mypy on course_utils/
	$(UV) -e ".[$(EXTRAS),dev]" "$(TORCH)"
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

notebooks: install standins data ## rebuild notebooks/*.ipynb from notebooks/src/ (NB=one source) with fresh outputs
	$(OFFLINE) $(PY) tools/authoring.py build $(if $(NB),$(NB),$(SOURCES))
	$(MAKE) --no-print-directory zh

# The Chinese edition (translations/README.md): notebooks/zh/, README.zh.md and INSTRUCTOR.zh.md from
# the English run and translations/zh/; it fails, naming each unit, when a translation is stale.
zh: ## build the Chinese edition (notebooks/zh/, README.zh.md, INSTRUCTOR.zh.md) from translations/zh/
	$(PY) tools/translate.py build

prefetch: install ## download every Hub asset into data/cache for a room without internet
	$(PY) -m course_utils prefetch

# Copy notebooks/timings.json (written by `make test`) into the headers, README and INSTRUCTOR.md.
timings: ## copy notebooks/timings.json (written by make test) into the headers, README and INSTRUCTOR.md
	$(PY) tools/timings.py
	$(PY) tools/translate.py build

clean: ## remove data/cache (stand-ins, prefetches) and the notebooks' scratch folders
	rm -rf data/cache notebooks/_scratch notebooks/zh/_scratch

include kit.mk

# ---------------------------------------------------------------------------------------------
# The online branch, rehearsed: a local Hugging Face Hub (olah on loopback, in its own venv)
# serves the canonical checkpoints and dair-ai/emotion (tools/hub_mirror.py says what each is).
#   make test-online    every notebook with HF_ENDPOINT = the mirror and HF_HUB_OFFLINE unset
#   make test-prefetch  `make prefetch` through the mirror, then every notebook with HF_HUB_OFFLINE=1
#   NB="notebooks/01_pipelines.ipynb ..." limits either to some notebooks.
HUB_VENV ?= .venv-hub
OLAH     ?= olah==0.5.4
# Notebooks at a time in test-online: 2 kernels with one torch thread each finished 13 notebooks in
# 212 s where one at a time with two threads took 340 s (this 2-core machine; benchmarks/README.md).
ONLINE_JOBS ?= 2
REHEARSE := COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR)) OLAH_PYTHON=$(abspath $(HUB_VENV))/bin/python $(PY) tools/rehearse.py

.PHONY: mirror-deps mirror test-online test-prefetch

$(HUB_VENV)/.olah-installed: | install
	test -x $(HUB_VENV)/bin/python || $(PYTHON) -m venv $(HUB_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(HUB_VENV)/bin/python --compile-bytecode "$(OLAH)"
	touch $@

mirror-deps: $(HUB_VENV)/.olah-installed ## install olah (the local Hub server) in its own .venv-hub

mirror: mirror-deps standins data ## build the local Hub mirror in data/cache/hub-mirror/
	COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR)) $(PY) tools/hub_mirror.py build

test-online: mirror ## every notebook (NB=...) through the local Hub mirror, HF_HUB_OFFLINE unset
	$(REHEARSE) --jobs $(ONLINE_JOBS) online $(NB)

test-prefetch: mirror ## make prefetch through the mirror, then every notebook (NB=...) offline
	$(REHEARSE) prefetch $(NB)

include bundle.mk
