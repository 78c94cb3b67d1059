# Wolke. `make run` starts the whole cloud in one process; `make test` passes every test.
export CGO_ENABLED := 0
GO ?= go
BIN := bin/wolke

.PHONY: all build run test test-deps unit e2e bench chaos proto fmt vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/wolke

run: build
	./$(BIN) dev --dir ./wolke-data

# test installs the clients the end-to-end tests drive, then runs every test.
# The services' own packages also run under the race detector (which
# needs cgo): the block path (the NBD server's request loop, the volume's
# write cache and write-back, the chunk servers and their store), meta,
# the gateway, IAM, control and repair. The cluster, chaos and e2e tests,
# which take minutes already, do not.
test: test-deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m ./block/nbd/... ./block/volume/... ./chunk/... \
		./meta/... ./gateway/... ./iam/... ./control/... ./repair/...

test-deps:
	./scripts/install-test-deps.sh

# chaos runs the fault-injection suite in its long form (CHAOS=long: more
# rounds, objects up to 64 MiB; minutes). `make test` runs it short.
chaos: build
	CHAOS=long $(GO) test -count=1 -v -timeout 30m ./chaos/
	CHAOS=long $(GO) test -count=1 -v -timeout 30m -run 'TestChaos' ./e2e/

# bench measures the storage core once (about 15 minutes; knobs at the top of
# scripts/bench.sh) and writes bench/results/DATE.md.
bench: build
	./scripts/bench.sh

PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
proto:
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	GOBIN=$(CURDIR)/bin $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/bin $(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH=$(CURDIR)/bin:$$PATH protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative meta/metapb/*.proto

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
