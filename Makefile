# audit — common tasks. `make help` lists them.

GO        ?= go
BIN       ?= bin/audit
DEMO_DB   ?= demo/audit.db
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X github.com/audit-cli/audit/internal/build.Version=$(VERSION) \
             -X github.com/audit-cli/audit/internal/build.Commit=$(COMMIT) \
             -X github.com/audit-cli/audit/internal/build.Date=$(DATE)

.PHONY: help build demo demo-web screenshot test test-short stress vet fmt docs release-check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/audit
	CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/audit

demo: build ## fill demo/audit.db with a realistic 90-day audit log and list it
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	@$(GO) run ./cmd/gen-sample -n 5000 -days 90 | $(BIN) --store $(DEMO_DB) import -
	@echo
	@echo '$$ audit list -n 15'
	@$(BIN) --store $(DEMO_DB) list -n 15
	@echo
	@echo '$$ audit list --type login --failed --since 30d -n 8'
	@$(BIN) --store $(DEMO_DB) list --type login --failed --since 30d -n 8
	@echo
	@echo 'Explore further:  export AUDIT_STORE=$(CURDIR)/$(DEMO_DB); $(BIN) list --help'

DEMO_LISTEN ?= 127.0.0.1:8787
demo-web: demo ## the demo store in the web console on DEMO_LISTEN, with a token to sign in
	@$(BIN) --store $(DEMO_DB) token create --name demo-web --role admin --expires 1d >demo/token.txt 2>&1
	@echo
	@echo "Open http://$(DEMO_LISTEN)/ and sign in with this token (admin, valid one day):"
	@grep -o 'audit_[A-Za-z0-9_-]*' demo/token.txt
	@echo "(Ctrl-C stops the server.)"
	@$(BIN) --store $(DEMO_DB) serve --listen $(DEMO_LISTEN)

screenshot: ## retake docs/img/web-console.png in a real chromium (the browser test)
	UPDATE_SCREENSHOT=1 $(GO) test -count=1 -run TestBrowser ./internal/web/

test: ## run every test (PostgreSQL tests run when its server binaries are installed)
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo 'gofmt needed:'; gofmt -l .; exit 1; }
	@# The PostgreSQL store's tests need a server: a throwaway cluster
	@# (.ci/postgres.sh) unless AUDIT_TEST_POSTGRES names one already.
	@set -e; \
	if [ -z "$$AUDIT_TEST_POSTGRES" ] && .ci/postgres.sh available; then \
		trap '.ci/postgres.sh stop' EXIT INT TERM; \
		eval "$$(.ci/postgres.sh start)"; \
	elif [ -z "$$AUDIT_TEST_POSTGRES" ]; then \
		echo '################################################################' >&2; \
		echo '## PostgreSQL server binaries not found: the PostgreSQL store  ##' >&2; \
		echo '## tests are SKIPPED. Install them (apt-get install postgresql) ##' >&2; \
		echo '## or set AUDIT_TEST_POSTGRES to a server to test against.      ##' >&2; \
		echo '################################################################' >&2; \
	fi; \
	echo '$(GO) test -count=1 ./...'; \
	$(GO) test -count=1 ./...

STRESS_RUNS ?= 20
stress: ## run the whole suite STRESS_RUNS times (20) in a row; stops at the first failure
	@set -e; \
	if [ -z "$$AUDIT_TEST_POSTGRES" ] && .ci/postgres.sh available; then \
		trap '.ci/postgres.sh stop' EXIT INT TERM; \
		eval "$$(.ci/postgres.sh start)"; \
	fi; \
	for i in $$(seq 1 $(STRESS_RUNS)); do \
		echo "== stress run $$i of $(STRESS_RUNS)"; \
		$(GO) test -count=1 ./... >/tmp/audit-stress.log 2>&1 || { cat /tmp/audit-stress.log; echo "stress: run $$i of $(STRESS_RUNS) FAILED"; exit 1; }; \
	done; \
	echo "stress: $(STRESS_RUNS) of $(STRESS_RUNS) runs passed"

test-short: ## unit tests only, no end-to-end scripts
	$(GO) test -short ./...

vet: ## go vet
	$(GO) vet ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

docs: ## regenerate docs/cli, docs/man and completions/ from the command tree
	$(GO) run ./cmd/gen-docs

release-check: ## goreleaser check + the snapshot release: smoke test, lintian, dpkg install (RELEASE_CHECK_QUICK=1: this platform only)
	./.ci/release-check.sh

BENCH_N ?= 1000000
bench: ## the benchmark scripts of docs/benchmarks.md on BENCH_N events (slow: minutes each)
	BENCH_N=$(BENCH_N) bash bench/spine.sh
	BENCH_N=$(BENCH_N) bash bench/import_producers.sh
	BENCH_N=$(BENCH_N) bash bench/export.sh
	BENCH_N=$(BENCH_N) bash bench/stats.sh
	BENCH_N=$(BENCH_N) bash bench/verify.sh
	BENCH_N=$(BENCH_N) bash bench/web.sh
	bash bench/run.sh

clean: ## remove build output and the demo store
	rm -rf bin demo dist
