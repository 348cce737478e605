PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install demo test benchmark clean

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

benchmark: $(STAMP)
	N2S_PYTHON=$(abspath $(BIN))/python bash benchmarks/snapshot.sh quality.n2stack_self

clean:
	rm -rf $(VENV) demo_output
