# Convenience targets; the README's two set-up commands do not need make.
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.edassets/dagster

.PHONY: ui demo test validate

ui:  ## Dagster UI on the instance `edassets demo` writes to (http://127.0.0.1:3000)
	mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

demo:
	$(VENV)/bin/edassets demo

test:
	$(VENV)/bin/pytest -n auto

validate:  ## what CI checks besides the tests: the definitions load
	$(VENV)/bin/dagster definitions validate -w workspace.yaml
