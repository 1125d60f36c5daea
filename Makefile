# Two commands: `make quickstart` and `make test`. Both create or reuse .venv and install
# the project into it first, so they work on a fresh machine with only python3 (>= 3.11).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.retaillab-installed

.PHONY: quickstart test lint bench install clean system chromium postgres lab

# uv installs the same packages as pip in seconds rather than minutes (parallel downloads, no
# per-package subprocess), compiled to bytecode as pip does (with PYTHONDONTWRITEBYTECODE set,
# uncompiled packages are compiled again by every process); where uv cannot be had, pip does it
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing retaillab[dev] into $(VENV)"
	@if $(BIN)/python -m pip install --quiet uv >/dev/null 2>&1 && \
		$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'; then \
		echo "installed with uv"; \
	else \
		echo "uv could not install it: installing with pip"; \
		$(BIN)/python -m pip install --quiet --upgrade pip && \
		$(BIN)/python -m pip install --quiet -e '.[dev]'; \
	fi
	@touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/retaillab quickstart

# JupyterLab at the project root on 127.0.0.1 (URL with its token printed), kernels on .venv
lab: $(STAMP)
	$(BIN)/retaillab lab

lint: $(STAMP)
	$(BIN)/ruff check retaillab tests bench notebooks

# both cores; a notebook's cells (one kernel under nbval) and a module's tests stay together,
# and modules go out in the order the root conftest sorts them (longest first), not by size
PYTEST_WORKERS ?= 2
# the system packages (apt-get, about a minute on a fresh machine) install in the background
# from the start, beside the install (uv) and the first half of the suite: the tests that need
# them wait for the marker SYSTEM_READY and run after the other long ones
SYSTEM_READY := $(CURDIR)/.system-ready
test:
	@rm -f $(SYSTEM_READY); ($(MAKE) --no-print-directory system; touch $(SYSTEM_READY)) &
	@$(MAKE) --no-print-directory lint
	@$(BIN)/python -m compileall -q retaillab  # read by every process even where bytecode is not written
	RETAILLAB_SYSTEM_READY=$(SYSTEM_READY) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) \
		--dist loadscope --no-loadscope-reorder

# the report test renders a page in headless Chromium, and the shared-store tests (tests/services)
# start a throwaway PostgreSQL server of their own (initdb in a temporary folder; Debian puts
# initdb under /usr/lib/postgresql/*/bin): whichever is missing is installed in one apt-get
# call where apt-get can, and the tests that need it are skipped, saying why, where it cannot
system:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		missing="$$missing postgresql"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
			>/dev/null) || echo "could not install$$missing: the tests that need it are skipped"; \
	fi

chromium postgres: system

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
