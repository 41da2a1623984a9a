# Every target sets itself up: a fresh clone needs only `make triage` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: triage triage-repo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The fixtures are a snapshot of 2026-11-29: pinning the clock keeps their stale/age rules stable.
triage: $(STAMP)
	$(BIN)/triage run fixtures/prs --base fixtures/base --out out/ --llm off --now 2026-11-29T12:00:00Z

# The base check (already landed, needs a rebase) needs a clone: `make_fixtures.py --repo` writes the
# fixtures' own commits into out/tidewater-repo, PR heads under refs/pull/N/head, and moves main on.
triage-repo: $(STAMP)
	rm -rf out/tidewater-repo
	$(BIN)/python fixtures/make_fixtures.py --repo out/tidewater-repo
	$(BIN)/triage run fixtures/prs --repo out/tidewater-repo --base main --out out/repo --llm off --now 2026-11-29T12:00:00Z

# `make test` skips tests marked slow so it stays under a minute; `make test ALL=1` (what .ci/run runs) runs them all.
ALL ?=
PYTEST_MARK := $(if $(ALL),,-m 'not slow')

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_MARK); rc=$$?; if [ $$rc -eq 5 ]; then echo 'pytest collected no tests' >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) out .triage-cache .pytest_cache
