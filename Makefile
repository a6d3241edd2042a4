# Two commands do everything on a fresh machine:
#   make book   execute every notebook and build the HTML book into _build/html
#   make test   build the book (warnings are errors), then run all tests:
#               srlib's unit tests, every notebook under nbval, and the built pages in Chromium
# Both create the virtual environment .venv and install requirements.txt when needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Offline benchmark data beside the checkout (the project's dev and CI machines): use it
# unless the caller chose a hub cache already.
SHARED_HF_CACHE := $(abspath ../shared/data/hf-cache)
ifeq ($(origin HF_HUB_CACHE), undefined)
ifneq ($(wildcard $(SHARED_HF_CACHE)),)
export HF_HUB_CACHE := $(SHARED_HF_CACHE)
export HF_HUB_OFFLINE ?= 1
endif
endif

# T91, the SRCNN training images (chapter 5), beside the checkout when it is there.
SHARED_T91 := $(abspath ../shared/data/T91)
ifeq ($(origin SRLIB_DATA_DIR), undefined)
ifneq ($(wildcard $(SHARED_T91)),)
export SRLIB_DATA_DIR := $(SHARED_T91)
endif
endif

.PHONY: book test clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W --keep-going

test: book
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "Chromium is needed for the page tests: apt-get install chromium chromium-driver"; \
	  exit 1; }
	$(BIN)/python -m pytest tests notebooks --nbval-lax

clean:
	rm -rf _build
