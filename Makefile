# Everything a user or CI needs: `make demo`, `make test`, `make check`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench bench-smoke reference clean

# The versions that were tested (constraints.txt), not whatever is newest today.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[sim,test,dev]'
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

# What CI runs so that no benchmark can rot: each at a tiny size (--smoke), which must exit 0
# and end with its JSON summary, an object with a "bench" key. Not a measure: nothing is
# timed or compared, a loaded machine cannot fail it.
IS_SUMMARY := import json, sys; s = json.loads(sys.stdin.read()); sys.exit(not isinstance(s, dict) or "bench" not in s)
bench-smoke: $(STAMP)
	@for b in bench/*.py; do echo "== $$b --smoke"; \
	  out=$$($(BIN)/python $$b --smoke); status=$$?; printf '%s\n' "$$out"; \
	  [ $$status -eq 0 ] || { echo "bench-smoke: $$b failed (exit $$status)" >&2; exit 1; }; \
	  printf '%s\n' "$$out" | tail -n 1 | $(BIN)/python -c '$(IS_SUMMARY)' 2>/dev/null \
	    || { echo "bench-smoke: $$b did not end with its JSON summary" >&2; exit 1; }; \
	done

# The policy reference in README.md, from the models' field descriptions (a test checks it).
reference: $(STAMP)
	$(BIN)/python tests/controllers/test_policy_reference.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
