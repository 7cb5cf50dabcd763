# Two commands work on a fresh machine with python3 and make:
#   make demo   — create .venv, install, train the MLP application on its embedded digits data
#   make test   — create .venv, install with test extras, run the whole test suite
#   make docs   — build the documentation site into site/ (mkdocs --strict: broken links fail)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench clean docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/keras-dlss train mlp --epochs 60 --out out/mlp
	$(BIN)/keras-dlss export out/mlp/model.keras --format onnx --out out/mlp/model.onnx

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal -q tests

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out site
