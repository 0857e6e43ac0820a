# Two commands for a newcomer: `make demo` and `make test`.
# Both create .venv when missing and are fast when everything is already installed.

PYTHON_BOOT ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
OUTPUT      ?= outputs
SCALE       ?= all
PYTEST_ARGS ?=
# Jupyter kernel named in every notebook's metadata (allocation_analysis.pipeline.KERNEL_NAME).
KERNEL      := allocation-analysis

.PHONY: demo test lint docs lab bench install install-dev system-test-deps r-reference clean

$(PY):
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "$(KERNEL) (Python 3)" >/dev/null
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev]"
	touch $@

$(VENV)/.installed-lab: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e ".[lab]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Headless Chromium for the map tests (Debian package). Installed only when missing,
# and only where apt-get can run as root; elsewhere the browser tests say why they skip.
system-test-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing chromium and poppler-utils (Debian) for the map and PDF tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core poppler-utils >/dev/null; \
	else echo "chromium or pdftotext not found and cannot be installed here: browser tests will be skipped"; fi

demo: $(VENV)/.installed
	$(VENV)/bin/allocation-analysis demo --output $(OUTPUT)

# JupyterLab on notebooks/, with the notebooks' kernel registered for this venv. "Run all"
# with the stored parameters analyses the demo territory (generated into outputs/ on first use).
lab: $(VENV)/.installed-lab
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "$(KERNEL) (Python 3)" >/dev/null
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(VENV)/.installed-dev system-test-deps
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check allocation_analysis tests benchmarks
	$(VENV)/bin/ruff format --check allocation_analysis tests benchmarks

docs: $(VENV)/.installed-dev
	$(PY) -m allocation_analysis.docs_api

bench: $(VENV)/.installed-dev
	$(PIP) install --quiet -e ".[bench]"
	$(PY) -m benchmarks.run --scale $(SCALE) $(if $(DATA),--data $(DATA))

# Regenerate the R reference values (needs r-base-core and r-cran-survival).
r-reference:
	Rscript tests/reference/make_reference_a.R tests/reference/r_reference_a.json
	Rscript tests/reference/make_reference_b.R tests/reference/r_reference_b.json
	Rscript tests/reference/make_reference_cox_eventless.R tests/reference/r_reference_cox_eventless.json
	Rscript tests/reference/make_reference_separation.R tests/reference/r_reference_separation.json
	Rscript tests/reference/make_reference_delayed_entry.R
	Rscript tests/reference/make_reference_few_clusters.R

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
