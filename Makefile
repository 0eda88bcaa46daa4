# The two commands of the README. Both create .venv if missing and install vbench into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LABEL := CPU, quick presets, inputs simulated from real stained tissue

.PHONY: demo test test-fast test-paper lint docs install leaderboard lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The main job: the default suite, stored in ./vbench.db; `vbench run` prints the leaderboard,
# then the publishable files go to ./vbench-published/ (their names are printed last).
demo: $(STAMP)
	$(BIN)/vbench run --suite default
	$(BIN)/vbench publish vbench-published --label "$(LABEL)"

# Every test, on every core (pytest-xdist); CI runs this. The paper presets' CPU check is too heavy
# for it (about 20 min and 8 GB on 2 cores): `make test-paper`.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not paper"

test-paper: $(STAMP)
	$(BIN)/python -m pytest -q -p no:xdist -m paper

# The development loop: the unit tests, without the end-to-end tests marked slow (they spawn
# processes, install packages, start servers or a browser).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not slow and not paper"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The docs site (docs/, mkdocs.yml) into ./site; docs/commands.md is regenerated from the CLI's help first.
docs: $(STAMP)
	$(BIN)/cog -r docs/commands.md
	$(BIN)/mkdocs build --strict

# Regenerates the published leaderboard of the default suite (leaderboard/): every file there is
# rendered from leaderboard/leaderboard.json (tests/test_publish.py checks it). Steps are the
# budget; the seconds cap is lifted so a busy machine cannot truncate a published run.
leaderboard: $(STAMP)
	rm -rf leaderboard/results.db leaderboard/results-artifacts leaderboard/figures leaderboard/samples
	$(BIN)/vbench run --suite default --db sqlite:///leaderboard/results.db -q --max-seconds 7200
	$(BIN)/vbench publish leaderboard --db sqlite:///leaderboard/results.db --label "$(LABEL)"

# Rewrites the tested lock (constraints.txt) from the environment; run it after `make test` passes
# with upgraded packages, and commit the result with the test run.
lock: $(STAMP)
	{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
