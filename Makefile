# newswire: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.newswire-installed
WAREHOUSE ?= var/newswire.duckdb

.PHONY: help install test run run-live process status bench clean clean-data

# The first target, so a bare `make` lists the others: each target's `## ` comment is its help.
help: ## list the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*## (.*)/\1\t\2/' | \
	  awk -F'\t' '{ printf "  make %-16s %s\n", $$1, $$2 }'

install: $(STAMP) ## create .venv and install newswire with its test dependencies

$(STAMP): setup.py requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

test: install ## run the test suite
	$(BIN)/python -m pytest tests

SAMPLE_FEEDS := examples/feeds/feeds.yaml
SHOW_SQL := SELECT agency, outlet_count AS outlets, title, feed_ids FROM stories_current ORDER BY outlet_count DESC, first_seen

# The main job on the embedded default: the bundled feeds served over local HTTP, the in-process
# Pub/Sub emulator, the streaming pipeline on the DirectRunner, a DuckDB warehouse.
run: install ## run the main job once on the bundled sample feeds, then show the stories
	$(BIN)/newswire run --feeds $(SAMPLE_FEEDS) --serve examples/feeds --warehouse $(WAREHOUSE) --until-idle
	$(BIN)/newswire query --warehouse $(WAREHOUSE) "$(SHOW_SQL)"
	@echo "warehouse: $(WAREHOUSE)   query it: $(BIN)/newswire query --warehouse $(WAREHOUSE) \"SQL\""

# The same, polling on schedule until Ctrl-C, with live progress.
run-live: install ## the same, polling on schedule with live progress until Ctrl-C
	$(BIN)/newswire run --feeds $(SAMPLE_FEEDS) --serve examples/feeds --warehouse $(WAREHOUSE)

# Batch: a file of raw items into the warehouse.
process: install ## batch: the bundled raw items file into the warehouse
	$(BIN)/newswire process --input 'examples/raw/*.jsonl' --warehouse $(WAREHOUSE)

status: install ## feed health of the warehouse's pollers (WAREHOUSE=...)
	$(BIN)/newswire status --warehouse $(WAREHOUSE)

bench: install ## run the benchmarks
	$(BIN)/python -m benchmarks

# Cloud targets (deploy/Makefile): deploy-schemas, deploy-template, deploy-launch, deploy-update,
# deploy-drain, deploy-pollers-image. Settings come from deploy/scripts/env.sh (see docs/deploy.md).
deploy-%: install ## cloud targets: deploy-schemas, -template, -launch, -update, -drain, -pollers-image
	$(MAKE) -C deploy $* PYTHON=$(abspath $(BIN))/python

# var/ (the warehouse, its queue and the pollers' state) is data, not build output: only clean-data removes it.
clean: ## remove .venv and build output (keeps var/, the data)
	rm -rf $(VENV) build *.egg-info

clean-data: ## remove var/: the warehouse, its queue and the pollers' state
	rm -rf var
