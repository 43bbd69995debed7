# The README's two commands: `make demo` and `make test`. Each creates the virtual environment it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smartfolio demo

# Three workers, one test file each at a time: the end-to-end tests mostly wait on freqtrade and the
# replay clock, so they overlap well on 2 cores (module fixtures stay in one worker).
test: $(STAMP)
	$(BIN)/python -m pytest -n 3 --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check freqtrade_smartfolio tests benchmarks user_data
	$(BIN)/mypy freqtrade_smartfolio

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_backtest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
