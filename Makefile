# Two commands do everything on a fresh Debian/Ubuntu machine with Python >= 3.11:
#   make book   install what is missing, then build the book (every chapter executed)
#   make test   install, unit tests and doctests, the book build with -W (every chapter executed
#               once), then nbval-lax checks on the executed chapters and the rendered pages

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
JUPYTER_BOOK ?= jupyter-book
TORCH_VERSION ?= 2.13.0

# Same hashes on every run.
export PYTHONHASHSEED := 0
# Python code outside notebooks draws with Agg (no display needed). Notebooks must not inherit
# MPLBACKEND: it overrides the kernel's inline backend and every figure would vanish from the book.
UNIT_ENV := MPLBACKEND=Agg
# One torch thread per kernel: on 2 shared cores, spinning OpenMP threads slowed Sinkhorn 6-10x
# (chapter 2). A reader's own JETGEOM_THREADS wins.
export JETGEOM_THREADS ?= 1
NOTEBOOK_ENV := env -u MPLBACKEND
# Generated jets are cached under _build/ (ignored by git) unless you set JETGEOM_DATA yourself,
# so a build or CI run on a clean clone is self-contained.
export JETGEOM_DATA ?= $(CURDIR)/_build/jetgeom_data

# The browser test typesets the maths with this MathJax from the npm registry (the online book
# loads MathJax 3 from a CDN, which the test cannot reach).
MATHJAX_VERSION ?= 3.2.2
MATHJAX_PREFIX := _build/node
MATHJAX := $(MATHJAX_PREFIX)/node_modules/mathjax/es5/tex-mml-chtml.js
# --all: Sphinx re-reads every page, so every chapter is executed even when only the package changed.
BOOK_BUILD := $(NOTEBOOK_ENV) $(JUPYTER_BOOK) build . --all

.PHONY: help install book test clean mathjax energyflow-check colab-check

help:
	@echo "make install           torch (only if missing), jetgeom_lite[test,book], chromium (apt, root only)"
	@echo "make book              install, then build the book into _build/html (executes every chapter)"
	@echo "make test              install, unit tests + doctests, book build with -W (executes every chapter"
	@echo "                       once), nbval-lax checks on the executed chapters, rendered pages in Chromium"
	@echo "make energyflow-check  EMD against energyflow/wasserstein in a small numpy<2 venv (_build/energyflow-venv)"
	@echo "make colab-check       every chapter in a Colab-like venv (Python 3.13, numpy 2, ipywidgets 7.7.1)"
	@echo "make clean             remove _build (the built book, the jet cache and the check venvs under it)"

install:
	@echo "install: started $$(date +%T)"
	@if $(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11))"; then :; else \
	  echo "install: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); the book needs >= 3.11"; exit 1; fi
	@if $(PYTHON) -c "import os, sys, sysconfig; managed = os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')); sys.exit(managed and sys.prefix == sys.base_prefix)"; then :; else \
	  echo "install: $(PYTHON) is managed by the system (PEP 668). Make a virtual environment first:"; \
	  echo "         python3 -m venv .venv && . .venv/bin/activate && make $(MAKECMDGOALS)"; exit 1; fi
	@if torch_version=$$($(PYTHON) -c "import torch; print(torch.__version__)" 2>/dev/null); then \
	  echo "install: torch $$torch_version is importable; leaving it as it is"; \
	else \
	  echo "install: torch is missing -> $(PYTHON) -m pip install torch==$(TORCH_VERSION)"; \
	  $(PYTHON) -m pip install "torch==$(TORCH_VERSION)"; \
	fi
	@if status=$$($(PYTHON) .ci/requirements_met.py test book); then \
	  echo "install: jetgeom_lite[test,book] is installed editable from here and $$status; skipping pip"; \
	else \
	  echo "install: $$status -> $(PYTHON) -m pip install --prefer-binary -e \".[test,book]\""; \
	  $(PYTHON) -m pip install --quiet --prefer-binary -e ".[test,book]"; \
	fi
	@if [ -x /usr/bin/chromium ]; then \
	  echo "install: /usr/bin/chromium is there ($$(/usr/bin/chromium --version 2>/dev/null | tail -n 1))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "install: /usr/bin/chromium is missing -> apt-get update && apt-get install -y chromium"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
	  echo "install: /usr/bin/chromium is missing and this is not root with apt-get;"; \
	  echo "         run 'sudo apt-get install chromium' for the rendered-page check of 'make test'"; \
	fi

book: install
	$(BOOK_BUILD)
	@echo "book: open _build/html/index.html"

# Each chapter is executed once, by the book build (execute_notebooks: force, errors fail it); the
# executed copies in _build/jupyter_execute/ are then checked as `pytest --nbval-lax` would check
# them (tests/test_build.py), so nothing runs a chapter twice.
test: install mathjax
	@echo "== 1/3 unit tests and doctests ($$(date +%T))"
	$(UNIT_ENV) $(PYTHON) -m pytest tests --doctest-modules jetgeom_lite -m "not built_book"
	@echo "== 2/3 book build, warnings as errors: executes every chapter ($$(date +%T))"
	$(BOOK_BUILD) -W --keep-going
	@echo "== 3/3 the built book: nbval-lax checks on the executed chapters, rendered pages in Chromium ($$(date +%T))"
	$(UNIT_ENV) JETGEOM_REQUIRE_RENDERED=1 $(PYTHON) -m pytest tests -m built_book

mathjax:
	@if [ -f $(MATHJAX) ]; then echo "mathjax: $(MATHJAX) is there"; exit 0; fi; \
	if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "mathjax: npm is missing -> apt-get update && apt-get install -y npm"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; \
	  else echo "mathjax: npm is missing; run 'sudo apt-get install npm' for the maths check of 'make test'"; exit 0; fi; \
	fi; \
	echo "mathjax: npm install --prefix $(MATHJAX_PREFIX) mathjax@$(MATHJAX_VERSION)"; \
	npm install --prefix $(MATHJAX_PREFIX) --no-audit --no-fund --loglevel=error mathjax@$(MATHJAX_VERSION)

energyflow-check:
	bash scripts/energyflow_check.sh

colab-check:
	bash scripts/colab_like.sh

clean:
	rm -rf _build
