# The course's two commands:  make lab  (open the course)  and  make test  (run every test).
# Both create or reuse the virtual environment in $(VENV) and install what the notebooks need.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
# What `make install` adds to the runtime (pyproject's [project.dependencies], what the notebooks
# import): lab (JupyterLab), test (pytest, nbval, nbclient), offline (gguf, for the stand-ins).
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
STAMP    := $(VENV)/.course-installed
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

.PHONY: help install standins lab test test-unit test-notebooks test-zh lint notebooks zh prefetch timings data clean

help:
	@echo "make lab        set up and open the course in JupyterLab"
	@echo "make test       set up and run every test (unit tests + every notebook, offline, quick profile)"
	@echo "make install    only set up $(VENV): the runtime + JupyterLab, the test tools and the offline stand-ins"
	@echo "make test-unit  the unit tests only (tests/, offline, as make test runs them)"
	@echo "make lint       ruff: lint of the package, tools, benchmarks, tests and notebook sources, format check (not the notebooks); mypy: types"
	@echo "make notebooks  rebuild notebooks/*.ipynb from notebooks/src/*.py and store fresh outputs"
	@echo "make timings    copy notebooks/timings.json (written by make test) into the headers, README and INSTRUCTOR.md"
	@echo "make test-zh    run the Chinese notebooks from notebooks/zh/ with nbval (about 6 minutes)"
	@echo "make zh         build the Chinese edition (notebooks/zh/, README.zh.md, INSTRUCTOR.zh.md) from translations/zh/"
	@echo "make prefetch   download every Hub asset into data/cache for a room without internet"
	@echo "make browser-test  JupyterLab in headless Chromium runs notebook 00's first cells (screenshot in build/browser/)"
	@echo "make slides     reveal.js slides of every notebook in build/slides/ (work offline)"
	@echo "make slides-zh  the same for the Chinese edition (notebooks/zh/) in build/slides/zh/"
	@echo "make latest-check  the tests against the newest transformers/datasets/peft/accelerate/evaluate"

$(STAMP): pyproject.toml course_utils/standins.py
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: the course needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Try: make PYTHON=python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.7.14,<1"
	$(UV) -e ".[$(EXTRAS)]" "$(TORCH)"
	$(UV) --no-deps $$($(PY) -m course_utils requirements)
	touch $@

install: $(STAMP)

standins: install
	$(PY) -m course_utils standins

data: install
	$(PY) -m course_utils emotion $(COURSE_DATA_DIR)

lab: install
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

test: install standins data mirror-deps
	$(OFFLINE) $(PY) -m pytest tests $(NOTEBOOKS) $(NBVAL) $(PYTEST_ARGS)

test-unit: install standins data mirror-deps
	$(OFFLINE) $(PY) -m pytest tests $(PYTEST_ARGS)

test-notebooks: install standins data
	$(OFFLINE) $(PY) -m pytest $(NOTEBOOKS) $(NBVAL) $(PYTEST_ARGS)

# The Chinese edition run from notebooks/zh/ (about 6 minutes; not part of make test, which checks
# that it is the English run's build): proves its cells run from that folder too.
test-zh: install standins data
	$(OFFLINE) $(PY) -m pytest $(sort $(wildcard notebooks/zh/[0-9][0-9]_*.ipynb)) $(sort $(wildcard notebooks/zh/solutions/[0-9][0-9]_*.ipynb)) $(NBVAL) $(PYTEST_ARGS)

# ruff and mypy (pyproject's dev extra, [tool.ruff] and [tool.mypy]): lint, format check and type
# check of course_utils/; CI runs it before make test. The notebooks' sources are linted, not formatted.
LINT_PATHS := course_utils tools benchmarks tests conftest.py notebooks/src notebooks/solutions/src
lint: install
	$(UV) -e ".[$(EXTRAS),dev]" "$(TORCH)"
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

notebooks: install standins data
	$(OFFLINE) $(PY) tools/authoring.py build $(if $(NB),$(NB),$(SOURCES))
	$(MAKE) --no-print-directory zh

# The Chinese edition (translations/README.md): notebooks/zh/, README.zh.md and INSTRUCTOR.zh.md from
# the English run and translations/zh/; it fails, naming each unit, when a translation is stale.
zh:
	$(PY) tools/translate.py build

prefetch: install
	$(PY) -m course_utils prefetch

# Copy notebooks/timings.json (written by `make test`) into the headers, README and INSTRUCTOR.md.
timings:
	$(PY) tools/timings.py
	$(PY) tools/translate.py build

clean:
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
REHEARSE := COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR)) OLAH_PYTHON=$(abspath $(HUB_VENV))/bin/python $(PY) tools/rehearse.py

.PHONY: mirror-deps mirror test-online test-prefetch

$(HUB_VENV)/.olah-installed: | install
	test -x $(HUB_VENV)/bin/python || $(PYTHON) -m venv $(HUB_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(HUB_VENV)/bin/python --compile-bytecode "$(OLAH)"
	touch $@

mirror-deps: $(HUB_VENV)/.olah-installed

mirror: mirror-deps standins data
	COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR)) $(PY) tools/hub_mirror.py build

test-online: mirror
	$(REHEARSE) online $(NB)

test-prefetch: mirror
	$(REHEARSE) prefetch $(NB)

include bundle.mk
