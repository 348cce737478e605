PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install demo test lint docs benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/noise2stack demo --out demo_output

test: $(STAMP)
	$(BIN)/python -m pytest -q

# the gates CI runs before the tests: lint, format and types (configured in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/mypy

# the documentation site: the docs extra into the venv (torch stays pinned), then a strict build into site/
docs: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[docs]'
	$(BIN)/mkdocs build --strict --site-dir site

benchmark: $(STAMP)
	N2S_PYTHON=$(abspath $(BIN))/python bash benchmarks/snapshot.sh quality.n2stack_self

clean:
	rm -rf $(VENV) demo_output site
