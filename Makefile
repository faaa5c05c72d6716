# labhub — `make help` lists the targets. The two set-up commands are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# ---- settings (override on the command line: make images TAG=2026.11 IMAGE_PREFIX=myorg) ----
IMAGE_PREFIX ?= labhub
TAG ?= latest
# Where the root image starts. Falls back to a debootstrap-built Debian when it cannot be had,
# unless set explicitly (then a missing image stops the build).
BASE_IMAGE ?= debian:bookworm-slim
ROOTFS_IMAGE ?= $(IMAGE_PREFIX)/debian-rootfs:bookworm
# A PEM bundle the image builds must trust (TLS-intercepting proxy). Default: the bundle the host's
# own tools were pointed at ($$SSL_CERT_FILE, $$REQUESTS_CA_BUNDLE or $$PIP_CERT), if any.
EXTRA_CA_BUNDLE ?= $(firstword $(SSL_CERT_FILE) $(REQUESTS_CA_BUNDLE) $(PIP_CERT))
# Extra `docker build` options, e.g. an HTTP proxy the builds must use:
#   DOCKER_BUILD_ARGS="--build-arg http_proxy=http://proxy:3128 --build-arg https_proxy=http://proxy:3128"
DOCKER_BUILD_ARGS ?=
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=

export IMAGE_PREFIX TAG BASE_IMAGE ROOTFS_IMAGE EXTRA_CA_BUNDLE DOCKER_BUILD_ARGS
# Decided once, in the top-level make: a sub-make sees the exported BASE_IMAGE as 'environment'.
ifeq ($(origin BASE_IMAGE_EXPLICIT),undefined)
export BASE_IMAGE_EXPLICIT := $(if $(filter command line environment,$(origin BASE_IMAGE)),1,0)
endif
export LABHUB_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' hub/pyproject.toml)

image = $(IMAGE_PREFIX)/$(1):$(TAG)
have_image = docker image inspect $(call image,$(1)) >/dev/null 2>&1
# Images `make up` needs: the CPU runtime always, the CUDA runtime where the host has an NVIDIA GPU.
UP_IMAGES := base-notebook tensorflow-cpu $(if $(shell command -v nvidia-smi 2>/dev/null),tensorflow-cuda)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo; echo "  variables: IMAGE_PREFIX=$(IMAGE_PREFIX) TAG=$(TAG) BASE_IMAGE=$(BASE_IMAGE) EXTRA_CA_BUNDLE=$(EXTRA_CA_BUNDLE)"

# ---- engine and host tools ----
.PHONY: docker
docker: ## Make sure a Docker engine answers (installs docker.io and starts dockerd if needed)
	@scripts/docker-bootstrap.sh

.PHONY: host-deps
host-deps: ## Install host tools the hub needs (configurable-http-proxy)
	@scripts/host-deps.sh hub

$(VENV)/.installed: hub/pyproject.toml constraints.txt
	@scripts/make-venv.sh $(PYTHON) $(VENV)
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create the hub's Python virtualenv (.venv)

# ---- images ----
.PHONY: base-rootfs
base-rootfs: docker ## Build the Debian base image from packages (debootstrap + docker import), no registry needed
	@scripts/build-base-rootfs.sh $(ROOTFS_IMAGE)

.PHONY: image-base image-tensorflow-cpu image-tensorflow-cuda image-hub image-dind
image-base: docker ## Build labhub/base-notebook (Python venv, JupyterLab, jupyterhub-singleuser)
	@scripts/build-image.sh base-notebook
image-tensorflow-cpu: image-base ## Build labhub/tensorflow-cpu
	@scripts/build-image.sh tensorflow-cpu
image-tensorflow-cuda: image-base ## Build labhub/tensorflow-cuda (tensorflow[and-cuda] from pip)
	@scripts/build-image.sh tensorflow-cuda
image-hub: docker ## Build labhub/hub (the hub as a container, for docker-compose)
	@scripts/build-image.sh hub
image-dind: docker ## Build labhub/dind (a Docker engine in a container: swarm nodes for tests, docs/scale-out.md)
	@scripts/build-image.sh dind

.PHONY: images
images: image-base image-tensorflow-cpu image-tensorflow-cuda ## Build all user images and print their sizes
	@docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^$(IMAGE_PREFIX)/' | sort

.PHONY: images-missing
images-missing: docker
	@for name in $(UP_IMAGES); do \
	  $(call have_image,$$name) || scripts/build-image.sh $$name || exit 1; \
	done

# ---- run ----
.PHONY: up
up: docker host-deps venv images-missing ## Build what is missing and serve the hub on http://127.0.0.1:8000
	@scripts/hub.sh start

.PHONY: down
down: ## Stop the hub and the user servers; all user data (home volumes) is kept
	@scripts/hub.sh stop

.PHONY: logs
logs: ## Follow the hub's log
	@tail -n 100 -f state/hub.log

.PHONY: backup
backup: venv ## Save state, stores and home volumes into a dated snapshot in BACKUP_DIR (lab running or not)
	@test -n "$(BACKUP_DIR)" || { echo "make backup: give BACKUP_DIR=<folder of the snapshots> (docs/admin.md)" >&2; exit 2; }
	@if [ -z "$${LABHUB_CONFIG:-}" ] && [ -f labhub.yaml ]; then export LABHUB_CONFIG="$$PWD/labhub.yaml"; fi; \
	  $(VENV)/bin/labhub backup "$(BACKUP_DIR)"

.PHONY: cert
cert: venv ## Make a self-signed TLS certificate for HOST=<name> in the state folder; prints the hub.tls settings
	@scripts/make-cert.sh "$(HOST)"

# ---- tests and benchmarks ----
.PHONY: test
test: docker venv ## Run every test (unit, images, docker, browser); CI runs this
	@scripts/host-deps.sh test
	@$(MAKE) --no-print-directory images image-hub image-dind
	$(VENV)/bin/pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: venv ## Run the fast tests that need no Docker
	$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

.PHONY: test-images
test-images: docker venv ## Run the image tests against the built images
	$(VENV)/bin/pytest tests/images $(PYTEST_ARGS)

.PHONY: bench
bench: docker venv ## Run the benchmarks; JSON in bench/results/
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

.PHONY: clean
clean: ## Remove build leftovers and the venv (keeps images, state and user volumes)
	rm -rf $(VENV) images/.build .pytest_cache bench/results
	find . -name __pycache__ -prune -exec rm -rf {} +
