# Two commands do everything on a fresh machine:
#   make book   execute every notebook and build the HTML book into _build/html
#   make test   build the book (warnings are errors), then run all tests:
#               srlib's unit tests, every notebook under nbval, and the built pages in Chromium
#   make kernel register .venv as the Jupyter kernel "Upscaling with PyTorch" (JupyterHub)
# Each creates the virtual environment .venv and installs requirements.txt when needed.

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

# JupyterHub: `make kernel` registers this environment as a named Jupyter kernel. For all
# users of a shared hub: make kernel VENV=/opt/upscaling KERNEL_PREFIX=/usr/local
KERNEL_NAME    ?= upscaling-with-pytorch
KERNEL_DISPLAY ?= Upscaling with PyTorch
KERNEL_PREFIX  ?=

.PHONY: book test kernel clean

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

kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --name $(KERNEL_NAME) --display-name "$(KERNEL_DISPLAY)" \
	  $(if $(KERNEL_PREFIX),--prefix $(KERNEL_PREFIX),--user)

clean:
	rm -rf _build
