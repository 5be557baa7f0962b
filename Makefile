# Everything a user or CI needs: `make demo`, `make test`, `make check`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench reference clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sim,test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/luciole demo $(ARGS)

# pytest exits 5 when it collected no test: for us that is a failure, and it says so.
test: $(STAMP)
	@$(BIN)/python -m pytest $(ARGS) || { status=$$?; \
	  [ $$status -ne 5 ] || echo "make test: pytest collected no tests" >&2; exit $$status; }

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The policy reference in README.md, from the models' field descriptions (a test checks it).
reference: $(STAMP)
	$(BIN)/python tests/controllers/test_policy_reference.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
