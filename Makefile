# newswire: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.newswire-installed
WAREHOUSE ?= var/newswire.duckdb

.PHONY: install test run bench clean

install: $(STAMP)

$(STAMP): setup.py requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

test: install
	$(BIN)/python -m pytest tests

run: install
	$(BIN)/newswire process --input 'examples/raw/*.jsonl' --warehouse $(WAREHOUSE)
	$(BIN)/newswire query --warehouse $(WAREHOUSE) \
	  "SELECT agency, title, left(body, 60) AS body FROM articles ORDER BY published_at"

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var build *.egg-info
