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

.PHONY: help build demo test test-short vet fmt docs bench clean

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

test: ## run every test (PostgreSQL tests run when its server binaries are installed)
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo 'gofmt needed:'; gofmt -l .; exit 1; }
	$(GO) test -count=1 ./...

test-short: ## unit tests only, no end-to-end scripts
	$(GO) test -short ./...

vet: ## go vet
	$(GO) vet ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output and the demo store
	rm -rf bin demo dist
