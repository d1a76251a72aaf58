# The two commands: `make serve` and `make test`. Both install what they need into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
# The address phones are given (in formList, manifests, QR codes); on a phone in the same network,
# this computer's LAN address, e.g. HOST=0.0.0.0 PUBLIC_BASE_URL=http://192.168.1.20:5000.
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: serve test install bench clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Development server: embedded SQLite in instance/, photos in media/, forms published, demo county.
# How it serves (threads, timeouts, proxies) is in gunicorn.conf.py, shared with production.
serve: install
	DEVELOPMENT=1 PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(BIN)/flask --app wsgi dev-setup
	DEVELOPMENT=1 PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) exec $(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - wsgi:app

# The whole suite on SQLite, then on PostgreSQL when TEST_DATABASE_URL is set.
test: install
	env -u TEST_DATABASE_URL $(BIN)/pytest
	if [ -n "$$TEST_DATABASE_URL" ]; then $(BIN)/pytest; fi

bench: install
	$(BIN)/python bench/formlist.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
