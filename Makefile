# Two commands do everything on a fresh Debian/Ubuntu machine with Python >= 3.11:
#   make book   install what is missing, then build the book (every chapter executed)
#   make test   install, unit tests, nbval on every chapter, book build with -W, rendered-page check

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
NOTEBOOK_ENV := env -u MPLBACKEND
# Generated jets are cached under _build/ (ignored by git) unless you set JETGEOM_DATA yourself,
# so a build or CI run on a clean clone is self-contained.
export JETGEOM_DATA ?= $(CURDIR)/_build/jetgeom_data

CHAPTER_NOTEBOOKS := $(wildcard chapters/*.ipynb)

.PHONY: help install book test clean

help:
	@echo "make install  install torch (only if missing), jetgeom_lite[test,book] and chromium (apt, root only)"
	@echo "make book     install, then build the book into _build/html (executes every chapter)"
	@echo "make test     install, unit tests, nbval on every chapter, book build with -W, rendered-page check"
	@echo "make clean    remove _build (the built book and the jet cache under it)"

install:
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
	$(NOTEBOOK_ENV) $(JUPYTER_BOOK) build .
	@echo "book: open _build/html/index.html"

test: install
	@echo "== 1/4 unit tests (the rendered-page check runs in step 4, on the book built in step 3)"
	$(UNIT_ENV) $(PYTHON) -m pytest tests --ignore=tests/test_rendered_book.py
	@echo "== 2/4 nbval on every chapter"
	@if [ -n "$(CHAPTER_NOTEBOOKS)" ]; then \
	  echo "$(PYTHON) -m pytest --nbval-lax --nbval-current-env chapters"; \
	  $(NOTEBOOK_ENV) $(PYTHON) -m pytest --nbval-lax --nbval-current-env chapters; \
	else echo "no chapter notebooks in chapters/ yet"; fi
	@echo "== 3/4 book build, warnings as errors"
	$(NOTEBOOK_ENV) $(JUPYTER_BOOK) build . -W --keep-going
	@echo "== 4/4 rendered pages in headless chromium"
	$(UNIT_ENV) JETGEOM_REQUIRE_RENDERED=1 $(PYTHON) -m pytest tests/test_rendered_book.py

clean:
	rm -rf _build
