# The two commands the README opens with: `make demo` and `make test`. Each installs any missing
# Debian packages first (apt-get, through sudo when not root).
SWIFT ?= swift
BIN := .build/debug/loyali-hooks
RELEASE_BIN := .build/release/loyali-hooks

# Demo-only secrets so the dry-run can sign without setup. Real deployments set these in the
# environment; pipeline files only ever reference them.
DEMO_ENV := NOTIFY_SECRET=whsec_demo_notifications_not_for_production \
            FULFILLMENT_SECRET=whsec_demo_fulfillment_not_for_production \
            SYNC_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

.PHONY: deps build release demo test bench bench-plugin fuzz clean

deps:
	@bash .ci/install-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Dry-run every pipeline in pipelines/ on the bundled sample events: a line per delivery, one
# delivery in full (headers and the exact signed body) and the summary, on one screen.
demo: build
	$(DEMO_ENV) $(BIN) validate pipelines/
	$(DEMO_ENV) $(BIN) run pipelines/ --dry-run

# The Swift tests (with a throwaway PostgreSQL for the PostgreSQL store's tests, stopped at the end
# whatever happens; AlertRulesTests runs docs/alerts.yaml through promtool), then the Prometheus
# rules check and their unit tests (docs/alerts.test.yaml), the pipeline tests in pipelines/tests/ (no secrets needed), then the
# dashboard in headless Chromium (Tests/Browser; screenshots land in Tests/Browser/output/).
# Debian's python3 carries python3-selenium, whatever python3 is first on PATH.
PYTHON ?= /usr/bin/python3
test: deps
	bash .ci/with-postgres $(SWIFT) test
	$(SWIFT) build
	promtool check rules docs/alerts.yaml
	promtool test rules docs/alerts.test.yaml
	$(BIN) check pipelines/
	$(PYTHON) Tests/Browser/dashboard_test.py $(BIN)

# Every benchmark, each against its baseline measured in the same run (see docs/benchmarks.md).
bench: release
	bash bench/dry-run.sh
	bash bench/delivery.sh
	bash bench/plugin.sh
	bash bench/ingest.sh

# A no-op Python transform plugin against a built-in no-op step, in the same run.
bench-plugin: release
	bash bench/plugin.sh

# Every libFuzzer target in Tests/Fuzz for SECONDS seconds each (docs/fuzzing.md). Not part of
# `make test` or CI: it needs a release build with -sanitize=fuzzer,address.
SECONDS ?= 60
fuzz: deps
	SWIFT=$(SWIFT) bash Tests/Fuzz/run.sh $(SECONDS)

clean:
	rm -rf .build Tests/Fuzz/.build
