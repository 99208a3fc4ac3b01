# ztnc: ZeroTier Network Containers on seccomp user notification.
GO      ?= go
GOFLAGS ?=
export CGO_ENABLED := 1

.PHONY: all build test unit static bench demo clean fuzz compat

all: build

build:
	$(GO) build $(GOFLAGS) -o bin/ztnc-run ./cmd/ztnc-run
	$(GO) build $(GOFLAGS) -o bin/ztnc ./cmd/ztnc

# Everything: vet, unit tests, and the end-to-end suites in tests/ (which run
# each case as root and again as uid 65534 when started as root).
test: build static
	$(GO) vet ./...
	ZTNC_RUN=$(CURDIR)/bin/ztnc-run $(GO) test -count=1 -timeout 35m ./...
	# the real programs again on a container's path (no pidfd_getfd, no process_vm_readv)
	ZTNC_SLOW_PATH=1 ZTNC_RUN=$(CURDIR)/bin/ztnc-run $(GO) test -count=1 -timeout 10m ./tests/programs/
	GO=$(GO) ./zerotier/fuzz.sh 3000x  # a count, not a duration: a timed run can end in a spurious "context deadline exceeded" on a loaded machine

unit:
	$(GO) test -count=1 ./supervisor/... ./netstack/... ./zerotier/...

# A fully static ztnc-run (libseccomp.a from libseccomp-dev) for FROM scratch images.
static:
	$(GO) build -tags netgo,osusergo -ldflags '-linkmode external -extldflags "-static"' -o bin/ztnc-run-static ./cmd/ztnc-run

# The README's first command: a lab (ztnc root + controller + network on this
# machine), a web server under ztnc-run on node A, curl under ztnc-run on node
# B fetching README.md from A's virtual address. Offline; nothing on the
# host's network.
demo: build
	./tests/demo.sh

# The compatibility matrix (tests/compat): real servers on one ztnc node and
# their clients on another over a lab network, as root and as uid 65534, over
# IPv4 and IPv6. Results in tests/_results (OK.*, FAIL.*, SUMMARY.md). Also
# run by `make test` (go test ./... includes tests/compat).
compat: build
	ZTNC_RUN=$(CURDIR)/bin/ztnc-run $(GO) test -count=1 -timeout 30m -v -run '^TestCompat$$' ./tests/compat

bench: build
	ZTNC_RUN=$(CURDIR)/bin/ztnc-run $(GO) run ./tests/bench
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./zerotier/packet ./zerotier/crypto/salsa2012 ./zerotier/crypto/aesctr ./zerotier/crypto/aesgmacsiv ./zerotier/node

# Every fuzz target (zerotier/, cmd/ztnc) for FUZZTIME each.
FUZZTIME ?= 60s
fuzz:
	GO=$(GO) ./zerotier/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin tests/_results
