# Two commands a user needs: `make demo` (main job on the bundled corpus) and `make test`.
# Both create .venv on first use: torch 2.13.0 (CPU wheel) first, so nothing pulls a CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= runs/demo
DEMO_ARGS ?=

.PHONY: venv test demo clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0
	touch $@

test: venv
	$(BIN)/ruff check vocoder tests tools
	$(BIN)/python -m pytest -q

# every shipped checkpoint on the held-out clips (torch + ONNX), a short GAN fine-tune, HTML reports;
# DEMO_ARGS=--quick: 2 clips, 2 steps, no MOS (tools/run_demo.py --help)
demo: venv
	$(BIN)/python tools/run_demo.py --out $(DEMO_OUT) $(DEMO_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
