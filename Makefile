# bpfkit — see README.md. `make demo` runs the main example, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
CLANG ?= clang
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror \
	-I/usr/include/$(shell uname -m)-linux-gnu -Ibpf/include \
	-fdebug-prefix-map=$(CURDIR)=. -fdebug-compilation-dir=.
BPF_SRCS := $(shell find bpf -name '*.bpf.c' | sort)
BPF_OBJS := $(BPF_SRCS:.c=.o)
DEMO_DURATION ?= 6s
FUZZTIME ?= 15s

.PHONY: all deps bpf gen demo test unit vet check-bpf check-gen fuzz bench clean-bpf

all: bpf
	$(GO) build ./...

## deps: install Debian packages (libbpf from bookworm-backports), mount tracefs and bpffs
deps:
	@bash scripts/deps.sh

## bpf: compile every bpf/**/*.bpf.c into its committed .bpf.o
bpf: $(BPF_OBJS)

%.bpf.o: %.bpf.c $(wildcard bpf/include/*.h)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

## demo: run examples/minimal for a few seconds
demo: deps
	$(GO) run ./examples/minimal -duration $(DEMO_DURATION)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	CGO_ENABLED=0 $(GO) build ./maps/... ./spinlock/...

## check-bpf: rebuild every BPF object and fail if it differs from the committed one
check-bpf:
	@touch $(BPF_SRCS)
	@$(MAKE) --no-print-directory bpf
	@git diff --exit-code --stat -- $(BPF_OBJS) || { echo "committed BPF objects are stale: run 'make bpf' and commit"; exit 1; }

## gen: regenerate every Go skeleton in the repository (their //go:generate lines run bpfkit gen)
gen:
	$(GO) generate ./...

## check-gen: regenerate every skeleton and fail if one differs from the committed one
check-gen:
	@$(MAKE) --no-print-directory gen
	@git diff --exit-code --stat -- '*.skel.go' '*.bpf.o' || { echo "committed skeletons are stale: run 'make gen' and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- '*.skel.go' '*.bpf.o')" || { git status --short -- '*.skel.go' '*.bpf.o'; echo "make gen wrote files that are not committed"; exit 1; }

## test: everything CI runs
test: deps vet check-bpf check-gen unit fuzz

unit:
	BPFKIT_REQUIRE_PRIVILEGED=1 $(GO) test -race -count=1 -timeout 30m ./...

## fuzz: a short run of every fuzz target (the seed corpora run in every `go test`)
fuzz:
	$(GO) test ./spinlock -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./spinlock -run '^$$' -fuzz '^FuzzInterpret$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./loader -run '^$$' -fuzz '^FuzzOpenBytes$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s
	$(GO) test ./loader -run '^$$' -fuzz '^FuzzSectionTable$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s
	$(GO) test ./internal/sys -run '^$$' -fuzz '^FuzzBTFValue$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s
	$(GO) test ./loader/tracepipe -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s

## bench: every benchmark against its baseline in the same run (numbers: docs/BENCHMARKS.md)
bench: deps bpf
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m ./bench/
	$(GO) test -run '^$$' -bench Lifecycle -benchmem -benchtime 20x -count 6 ./loader
	$(GO) test -run '^$$' -bench Lifecycle -benchmem -benchtime 20x -count 4 ./examples/skeleton
	$(GO) test -run '^$$' -bench Check -benchmem -count 3 ./spinlock

clean-bpf:
	rm -f $(BPF_OBJS)
