# newswire: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.newswire-installed
WAREHOUSE ?= var/newswire.duckdb

.PHONY: install test run run-live process bench clean

install: $(STAMP)

$(STAMP): setup.py requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

test: install
	$(BIN)/python -m pytest tests

SAMPLE_FEEDS := examples/feeds/feeds.yaml
SHOW_SQL := SELECT agency, outlet_count AS outlets, title, feed_ids FROM stories_current ORDER BY outlet_count DESC, first_seen

# The main job on the embedded default: the bundled feeds served over local HTTP, the in-process
# Pub/Sub emulator, the streaming pipeline on the DirectRunner, a DuckDB warehouse.
run: install
	$(BIN)/newswire run --feeds $(SAMPLE_FEEDS) --serve examples/feeds --warehouse $(WAREHOUSE) --until-idle
	$(BIN)/newswire query --warehouse $(WAREHOUSE) "$(SHOW_SQL)"
	@echo "warehouse: $(WAREHOUSE)   query it: $(BIN)/newswire query --warehouse $(WAREHOUSE) \"SQL\""

# The same, polling on schedule until Ctrl-C, with live progress.
run-live: install
	$(BIN)/newswire run --feeds $(SAMPLE_FEEDS) --serve examples/feeds --warehouse $(WAREHOUSE)

# Batch: a file of raw items into the warehouse.
process: install
	$(BIN)/newswire process --input 'examples/raw/*.jsonl' --warehouse $(WAREHOUSE)

bench: install
	$(BIN)/python -m benchmarks

# Cloud targets (deploy/Makefile): deploy-schemas, deploy-template, deploy-launch, deploy-update,
# deploy-drain, deploy-pollers-image. Settings come from deploy/scripts/env.sh (see docs/deploy.md).
deploy-%: install
	$(MAKE) -C deploy $* PYTHON=$(abspath $(BIN))/python

clean:
	rm -rf $(VENV) var build *.egg-info
