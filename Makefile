# The two commands of the README. Both create .venv if missing and install vbench into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install leaderboard lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The main job: the default suite, stored in ./vbench.db; `vbench run` prints the leaderboard.
demo: $(STAMP)
	$(BIN)/vbench run --suite default

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Regenerates the published leaderboard of the default suite (leaderboard/).
leaderboard: $(STAMP)
	rm -rf leaderboard/results.db leaderboard/results-artifacts
	$(BIN)/vbench run --suite default --db sqlite:///leaderboard/results.db -q
	printf '# Published leaderboard: default suite\n\nRegenerate with `make leaderboard`.\n\n' > leaderboard/README.md
	$(BIN)/vbench leaderboard --db sqlite:///leaderboard/results.db --format md >> leaderboard/README.md
	$(BIN)/vbench leaderboard --db sqlite:///leaderboard/results.db --format json > leaderboard/leaderboard.json

# Rewrites the tested lock (constraints.txt) from the environment; run it after `make test` passes
# with upgraded packages, and commit the result with the test run.
lock: $(STAMP)
	{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
