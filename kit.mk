# Learner and workshop kit (included by the Makefile): a real-browser test, slides, a latest-releases check.
#   make browser-test   JupyterLab + headless Chromium run notebook 00's first cells; screenshot in build/browser/
#   make slides         reveal.js slides of every notebook in build/slides/ (offline; SLIDES_FLAGS=--check screenshots them)
#   make slides-zh      the same for the Chinese edition, in build/slides/zh/
#   make latest-check   unit tests + notebooks against the newest transformers/datasets/peft/accelerate/evaluate
#                       in a separate .venv-latest (LATEST_FLAGS=--pre takes pre-releases, --always tests even if nothing is new)

# Debian's Chromium (Playwright drives it; `playwright install` would download its own browser). The one
# place that names its path: browser-test and slides pass it on as $CHROMIUM (make CHROMIUM=... for another).
CHROMIUM     ?= /usr/bin/chromium
BROWSER_APT  ?= chromium chromium-driver
PLAYWRIGHT   ?= playwright>=1.45,<2
SUDO         ?= $(if $(filter 0,$(shell id -u)),,sudo)
SLIDES_FLAGS ?=
LATEST_FLAGS ?=
# The make that runs this (named without $(MAKE) in the recipe, so that `make -n latest-check` only prints it).
SUBMAKE      := $(MAKE)

.PHONY: browser-deps browser-test slides slides-zh latest-check

browser-deps: install
	@test -x $(CHROMIUM) || { echo "installing $(BROWSER_APT) with apt-get (log: build/browser/apt.log)"; \
	  mkdir -p build/browser; \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(BROWSER_APT); } \
	    >build/browser/apt.log 2>&1 || { tail -20 build/browser/apt.log; exit 1; }; }
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install -q "$(PLAYWRIGHT)"

browser-test: browser-deps
	CHROMIUM=$(CHROMIUM) $(OFFLINE) $(PY) -m pytest tests/browser

slides: install
	CHROMIUM=$(CHROMIUM) $(PY) tools/build_slides.py $(SLIDES_FLAGS)

slides-zh: install
	CHROMIUM=$(CHROMIUM) $(PY) tools/build_slides.py --out build/slides/zh $(SLIDES_FLAGS) notebooks/zh/[0-9][0-9]_*.ipynb

latest-check:
	VENV=$(VENV) PYTHON=$(PYTHON) MAKE="$(SUBMAKE)" $(PYTHON) tools/latest_check.py $(LATEST_FLAGS)
