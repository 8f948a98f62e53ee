# Learner and workshop kit (included by the Makefile): a real-browser test, slides, the course website, a
# latest-releases check. `make help` prints the comment beside each target; more detail here:
#   make site           BUNDLE_SOLUTIONS=no leaves the worked solutions out, as in the workshop bundle
#   make site-test      the offline crawl (tests/test_site.py) and headless Chromium (tests/browser/test_site.py:
#                       search in both languages, the language switch; screenshots in build/site-screens/)
#   make latest-check   LATEST_FLAGS=--pre takes pre-releases, --always tests even if nothing is new

# Debian's Chromium (Playwright drives it; `playwright install` would download its own browser). The one
# place that names its path: browser-test, slides and site-test pass it on as $CHROMIUM (make CHROMIUM=... for another).
CHROMIUM     ?= /usr/bin/chromium
BROWSER_APT  ?= chromium chromium-driver
PLAYWRIGHT   ?= playwright>=1.45,<2
SUDO         ?= $(if $(filter 0,$(shell id -u)),,sudo)
SLIDES_FLAGS ?=
# Chinese glyphs for the site's screenshots (Chromium draws boxes without a CJK font).
SITE_APT     ?= fonts-noto-cjk
SITE_PORT    ?= 8000
SITE_FLAGS   ?= $(if $(filter no,$(BUNDLE_SOLUTIONS)),--no-solutions)
LATEST_FLAGS ?=
# The make that runs this (named without $(MAKE) in the recipe, so that `make -n latest-check` only prints it).
SUBMAKE      := $(MAKE)

.PHONY: browser-deps browser-test slides slides-zh latest-check site site-serve site-deps site-test

browser-deps: install ## Debian's Chromium (apt-get) and Playwright, for the browser targets
	@test -x $(CHROMIUM) || { echo "installing $(BROWSER_APT) with apt-get (log: build/browser/apt.log)"; \
	  mkdir -p build/browser; \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(BROWSER_APT); } \
	    >build/browser/apt.log 2>&1 || { tail -20 build/browser/apt.log; exit 1; }; }
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install -q "$(PLAYWRIGHT)"

browser-test: browser-deps ## JupyterLab in headless Chromium runs notebook 00's first cells (screenshot in build/browser/)
	CHROMIUM=$(CHROMIUM) $(OFFLINE) $(PY) -m pytest tests/browser --ignore=tests/browser/test_site.py

slides: install ## reveal.js slides of every notebook in build/slides/, working offline (SLIDES_FLAGS=--check)
	CHROMIUM=$(CHROMIUM) $(PY) tools/build_slides.py $(SLIDES_FLAGS)

slides-zh: install ## the same slides for the Chinese edition, in build/slides/zh/
	CHROMIUM=$(CHROMIUM) $(PY) tools/build_slides.py --out build/slides/zh $(SLIDES_FLAGS) notebooks/zh/[0-9][0-9]_*.ipynb

# The site's tools are pyproject's `site` extra (Sphinx, myst-nb, sphinx-book-theme, sphinx-copybutton,
# Pagefind), installed here as `make lint` installs `dev`: not part of make install.
site: install ## the course website, both editions, from the stored notebooks (never run), in build/site/
	$(UV) -e ".[$(EXTRAS),site]" "$(TORCH)"
	$(PY) tools/build_site.py build $(SITE_FLAGS)

site-serve: ## serve build/site/ on http://127.0.0.1:8000/ (SITE_PORT=...; search needs http)
	@test -f build/site/BUILD.json || $(SUBMAKE) --no-print-directory site
	$(PY) tools/build_site.py serve --port $(SITE_PORT)

site-deps: browser-deps ## a CJK font for the site's screenshots (apt-get), beside browser-deps
	@fc-list :lang=zh 2>/dev/null | grep -q . || { echo "installing $(SITE_APT) with apt-get (log: build/browser/apt-fonts.log)"; \
	  mkdir -p build/browser; \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SITE_APT); } \
	    >build/browser/apt-fonts.log 2>&1 || { tail -20 build/browser/apt-fonts.log; exit 1; }; }

# --import-mode=importlib: tests/test_site.py and tests/browser/test_site.py share a module name.
site-test: site site-deps ## make site, then its offline crawl and its checks in headless Chromium
	CHROMIUM=$(CHROMIUM) COURSE_SITE_TEST=1 $(PY) -m pytest --import-mode=importlib tests/test_site.py tests/browser/test_site.py

latest-check: ## the tests against the newest transformers/datasets/peft/accelerate/evaluate, in .venv-latest
	VENV=$(VENV) PYTHON=$(PYTHON) MAKE="$(SUBMAKE)" $(PYTHON) tools/latest_check.py $(LATEST_FLAGS)
