# `make demo` and `make test` need only python3 (>= 3.11) and make: the environment is built here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
EMBED  := $(VENV)/.embeddings-stamp
# torch's CPU build; a looser range would let pip fetch a multi-GB CUDA build
TORCH  ?= torch==2.13.0
DEMO   ?= demo-output

.PHONY: venv demo test bench browser java clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# Sentence embeddings (optional feature source, used by the tests and benchmarks).
$(EMBED): $(STAMP)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test,embeddings,multilingual,spark]"
	@touch $(EMBED)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/contact-reasons demo --out $(DEMO)

# Headless Chromium and CJK fonts for the report.html screenshot test (Debian packages, as root).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "CJK" || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } || \
	  echo "note: chromium could not be installed here; the report.html screenshot test will skip"

# Java 17 for the Spark engine's tests (Debian package, as root); without it they skip.
java:
	@command -v java >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } || \
	  echo "note: Java could not be installed here; the Spark engine tests will skip"

# Spark in local mode: loopback only, workers run this venv's interpreter
test: export SPARK_LOCAL_IP := 127.0.0.1
test: export PYSPARK_PYTHON := $(abspath $(BIN)/python)
test: $(EMBED) browser java
	$(BIN)/python -m pytest

bench: export SPARK_LOCAL_IP := 127.0.0.1
bench: $(EMBED) java
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
