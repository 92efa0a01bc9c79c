# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin
BENCH   ?=
PLUGINS := $(notdir $(wildcard cmd/gateway-plugin-*))

.PHONY: run build plugins test bench proto vet fmt clean

## run: build the gateway and its plugins, then serve on localhost with embedded SQLite.
run: build
	$(BIN)/gateway serve --print-admin-login-link

## build: the gateway binary and every bundled plugin into ./bin.
build: plugins
	$(GO) build -o $(BIN)/gateway ./cmd/gateway

plugins:
	@mkdir -p $(BIN)
	@for p in $(PLUGINS); do echo "build $$p"; $(GO) build -o $(BIN)/$$p ./cmd/$$p || exit 1; done

## test: install what the tests need, start PostgreSQL on loopback, run every test, tear down.
test:
	bash .ci/test.sh

## bench: every benchmark, or one: make bench BENCH=redeem
bench:
	bash .ci/bench.sh $(BENCH)

## proto: regenerate the plugin contract's Go code.
proto:
	bash .ci/proto.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) .cache
