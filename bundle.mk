# The workshop bundle (included by the Makefile): one folder that installs and runs the whole course on
# machines with no network at all (INSTRUCTOR.md, "Workshop kit" and "Before the day").
#   make bundle        on a machine with internet: build/bundle/ = the course, a wheelhouse for the learners'
#                      platform (CPU torch, runtime + lab/test/offline, the stand-in packages, uv), the
#                      emotion splits, the built stand-ins and a `make prefetch` cache if there is one, with
#                      install.sh (offline install) and lab.sh; MANIFEST.json lists every file's sha256.
#                      BUNDLE_TARGET=linux-x86_64|linux-aarch64|macos-arm64 and BUNDLE_PYTHON=3.N prepare it for
#                      another platform (default: this machine's); BUNDLE_FLAGS=--archive also writes build/bundle.tar.
#                      BUNDLE_SOLUTIONS=no leaves the worked solutions out (notebooks/solutions/ in both editions and
#                      their sources), for a workshop that hands them out after each session.
#   make bundle-test   builds a bundle, installs it with the network off (a network namespace, fresh HOME and
#                      caches), runs notebooks $(BUNDLE_NB) with the bundle's venv and checks that lab.sh serves
#                      JupyterLab; figures in build/bundle-test/report.json (81-118 s on 2 cores: benchmarks/README.md).
BUNDLE_DIR    ?= build/bundle
BUNDLE_TARGET ?=
BUNDLE_PYTHON ?=
BUNDLE_FLAGS  ?=
BUNDLE_SOLUTIONS ?= yes
BUNDLE_NB     ?= 00 03
BUNDLE_ENV    := COURSE_DATA_DIR=$(abspath $(COURSE_DATA_DIR))

.PHONY: bundle bundle-test

bundle: install standins data ## the workshop bundle in build/bundle/: installs and runs the course with no network
	$(BUNDLE_ENV) $(PY) tools/bundle.py build --force --out $(BUNDLE_DIR) $(if $(BUNDLE_TARGET),--target $(BUNDLE_TARGET)) $(if $(BUNDLE_PYTHON),--python $(BUNDLE_PYTHON)) $(if $(filter no,$(BUNDLE_SOLUTIONS)),--no-solutions) $(BUNDLE_FLAGS)

bundle-test: install standins data ## build a bundle, install it with the network off, run notebooks 00 and 03 from it
	$(BUNDLE_ENV) $(PY) tools/bundle.py rehearse --notebooks $(BUNDLE_NB)
