# The course's two commands:  make lab  (open the course)  and  make test  (run every test).
# Both create or reuse the virtual environment in $(VENV) and install what the notebooks need.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
# CPU build where there is no GPU (the machines this course is tested on have it as a local wheel).
# On a CUDA machine `make TORCH=torch ...`; elsewhere see README ("Install").
TORCH    ?= torch==2.13.0
# Local wheel folders (the course's CI machines keep torch's CPU wheel in /opt/wheels).
FIND_LINKS ?= $(wildcard /opt/wheels)
# uv installs the stack in about a minute (pip: about four); --compile-bytecode keeps imports fast.
UV       := $(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode $(if $(FIND_LINKS),--find-links $(FIND_LINKS))
STAMP    := $(VENV)/.course-installed
# Extra JupyterLab flags (containers often run as root, which JupyterLab refuses without this).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# The emotion mirror: ../shared/data on the course's CI machines, else a copy fetched once.
COURSE_DATA_DIR ?= $(if $(wildcard ../shared/data/emotion/train.jsonl),../shared/data,data/cache/data)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)) $(sort $(wildcard notebooks/solutions/[0-9][0-9]_*.ipynb))
SOURCES   := $(sort $(wildcard notebooks/src/[0-9][0-9]_*.py)) $(sort $(wildcard notebooks/solutions/src/[0-9][0-9]_*.py))
OFFLINE   := HF_HUB_OFFLINE=1 HF_EVALUATE_OFFLINE=1 COURSE_PROFILE=quick COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR))
NBVAL     := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: help install standins lab test test-unit test-notebooks notebooks prefetch data clean

help:
	@echo "make lab        set up and open the course in JupyterLab"
	@echo "make test       set up and run every test (unit tests + every notebook, offline, quick profile)"
	@echo "make notebooks  rebuild notebooks/*.ipynb from notebooks/src/*.py and store fresh outputs"
	@echo "make prefetch   download every Hub asset into data/cache for a room without internet"
	@echo "make browser-test  JupyterLab in headless Chromium runs notebook 00's first cells (screenshot in build/browser/)"
	@echo "make slides     reveal.js slides of every notebook in build/slides/ (work offline)"
	@echo "make latest-check  the tests against the newest transformers/datasets/peft/accelerate/evaluate"

$(STAMP): pyproject.toml course_utils/standins.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
	$(UV) -e . "$(TORCH)"
	$(UV) --no-deps $$($(PY) -m course_utils requirements)
	touch $@

install: $(STAMP)

standins: install
	$(PY) -m course_utils standins

data: install
	$(PY) -m course_utils emotion $(COURSE_DATA_DIR)

lab: install
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

test: install standins data
	$(OFFLINE) $(PY) -m pytest tests $(NOTEBOOKS) $(NBVAL)

test-unit: install
	$(PY) -m pytest tests

test-notebooks: install standins data
	$(OFFLINE) $(PY) -m pytest $(NOTEBOOKS) $(NBVAL)

notebooks: install standins data
	$(OFFLINE) $(PY) -m course_utils build $(if $(NB),$(NB),$(SOURCES))

prefetch: install
	$(PY) -m course_utils prefetch

clean:
	rm -rf data/cache notebooks/_scratch

include kit.mk
