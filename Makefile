# SPDX-License-Identifier: Apache-2.0
# bpfkit — see README.md. `make demo` runs the main example, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
CLANG ?= clang
# clang >= 15 for the objects that need it: a __kptr field is a btf_type_tag, which clang 14
# (Debian 12's default) drops. scripts/deps.sh installs clang-19 from Debian 12.
CLANG19 ?= clang-19
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror \
	-I/usr/include/$(shell uname -m)-linux-gnu -Ibpf/include \
	-fdebug-prefix-map=$(CURDIR)=. -fdebug-compilation-dir=.
BPF_SRCS := $(shell find bpf -name '*.bpf.c' | sort)
BPF_OBJS := $(BPF_SRCS:.c=.o)
# The objects built with $(CLANG19); every other one stays on $(CLANG), byte for byte.
BPF_CLANG19_SRCS := bpf/testdata/spinlock/a_kptr.bpf.c
DEMO_DURATION ?= 6s
# FUZZTIME: a duration (60s) or count (10000x) for every fuzz target; by default each runs
# the inputs it ran in about 15 s here (make fuzz)
FUZZTIME ?=
# A fully static binary: loader's static.go and eusearch.c (build tag static) link libbpf,
# libelf, zstd and zlib from their .a files; netgo and osusergo keep glibc's NSS out.
STATIC_TAGS := static,netgo,osusergo
STATIC_LDFLAGS := -linkmode external -extldflags "-static"
# staticcheck, pinned: the newest release (2026-10), from the Go module proxy; it needs Go 1.26.
STATICCHECK_VERSION := v0.8.2
# The Debian kernels make test-kernels boots in qemu (see scripts/vm/kernel.sh).
KERNELS ?= 6.1 6.12
# make vm-test: one package's tests in one of those kernels (RUN: a -test.run pattern).
VM_KERNEL ?= 6.12
PKG ?= ./loader
RUN ?=
# make mutate: only the mutations whose name matches this regexp (all when empty).
MUTATE ?=

.PHONY: all deps bpf gen demo test unit vet staticcheck check-bpf check-gen fuzz bench clean-bpf static check-static test-kernels vm-test mutate

all: bpf
	$(GO) build ./...

## deps: install Debian packages (libbpf from bookworm-backports), mount tracefs and bpffs
deps:
	@bash scripts/deps.sh

## bpf: compile every bpf/**/*.bpf.c into its committed .bpf.o
bpf: $(BPF_OBJS)

BPF_CC = $(CLANG)
$(BPF_CLANG19_SRCS:.c=.o): BPF_CC = $(CLANG19)

%.bpf.o: %.bpf.c $(wildcard bpf/include/*.h)
	$(BPF_CC) $(BPF_CFLAGS) -c $< -o $@

## demo: run examples/minimal for a few seconds
demo: deps
	$(GO) run ./examples/minimal -duration $(DEMO_DURATION)

## vet: go vet, gofmt, maps and spinlock without cgo, an SPDX line on every source file, staticcheck
vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	CGO_ENABLED=0 $(GO) build ./maps/... ./spinlock/...
	@GO='$(GO)' bash scripts/spdx_test.sh
	bash scripts/spdx.sh check
	@# every mutation of `make mutate` must still apply: a refactor that moves a line
	@# fails here, in seconds, not after make test in CI's mutate step
	@$(GO) run ./scripts/mutate -list >/dev/null || { $(GO) run ./scripts/mutate -list | grep STALE; exit 1; }
	@$(MAKE) --no-print-directory staticcheck

## staticcheck: staticcheck $(STATICCHECK_VERSION), default checks, on every package
staticcheck:
	@pkgs=$$($(GO) list ./...) && \
	echo "staticcheck $(STATICCHECK_VERSION) on $$(wc -w <<<"$$pkgs") packages" && \
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $$pkgs && \
	echo "staticcheck: no findings"

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

## test: everything `make test` checks (CI's .ci/run also runs test-kernels)
test: deps vet check-bpf check-gen unit fuzz check-static

## static: bin/minimal, examples/minimal as one fully static binary (no libbpf, libelf, zlib needed)
static:
	$(GO) build -tags $(STATIC_TAGS) -ldflags '$(STATIC_LDFLAGS)' -o bin/minimal ./examples/minimal

## check-static: run bin/minimal in a root holding only busybox; it must print its trace line
check-static: static
	@bash scripts/checkstatic.sh bin/minimal

## test-kernels: the differential spin-lock test and bin/minimal in Debian's 6.1 and 6.12 (qemu) and here
test-kernels: deps
	@KERNELS='$(KERNELS)' STATIC_TAGS='$(STATIC_TAGS)' STATIC_LDFLAGS='$(STATIC_LDFLAGS)' GO='$(GO)' \
		bash scripts/vm/testkernels.sh

## vm-test: PKG's tests in Debian's VM_KERNEL under qemu: make vm-test PKG=./loader VM_KERNEL=6.12 RUN=TestAttach
vm-test: deps
	@STATIC_TAGS='$(STATIC_TAGS)' STATIC_LDFLAGS='$(STATIC_LDFLAGS)' GO='$(GO)' \
		bash scripts/vm/gotest.sh -k '$(VM_KERNEL)' '$(PKG)' $(if $(RUN),-test.run '$(RUN)')

unit:
	BPFKIT_REQUIRE_PRIVILEGED=1 $(GO) test -race -count=1 -timeout 30m ./...

## mutate: break the check, the accessors and the loader on purpose, one change at a time in a copy of the tree; each must fail a test
# MUTATE, a regexp, picks mutations by name: make mutate MUTATE='^maps'. The list is in scripts/mutate/main.go.
mutate: deps
	GO='$(GO)' $(GO) run ./scripts/mutate $(if $(MUTATE),-run '$(MUTATE)')

## fuzz: a short run of every fuzz target (the seed corpora run in every `go test`)
# Each target runs a count of inputs, about what it ran in 15 s on this machine: a
# duration races Go's fuzz coordinator (go.dev/issue/75804, fixed in Go 1.27), which
# fails a run that ends while a worker is mid-input with "context deadline exceeded" and
# no failing input (1 run in 4 of FuzzWalkGenerated, 2026-11-30). Minimizing a new input
# is capped at 20 runs: time spent minimizing is time not fuzzing (with 2s per input,
# FuzzCheck spent its whole run minimizing and ran a few hundred inputs). The cache of
# inputs earlier runs found is cleared first: re-running a grown cache ate half of a
# 15 s run. The committed seeds are the corpus.
fuzz1 = $(GO) test $(1) -run '^$$' -fuzz '^$(2)$$' -fuzztime $(or $(FUZZTIME),$(3)) -fuzzminimizetime 20x
fuzz:
	$(GO) clean -fuzzcache
	$(call fuzz1,./spinlock,FuzzCheck,60000x)
	$(call fuzz1,./spinlock,FuzzInterpret,200000x)
	$(call fuzz1,./spinlock,FuzzWalkGenerated,15000x)
	$(call fuzz1,./internal/gen,FuzzNames,80000x)
	$(call fuzz1,./internal/gen,FuzzLayout,16000x)
	$(call fuzz1,./internal/gen,FuzzBTF,80000x)
	$(call fuzz1,./loader,FuzzOpenBytes,80000x)
	$(call fuzz1,./loader,FuzzSectionTable,250000x)
	$(call fuzz1,./loader,FuzzParseVerifierLog,100000x)
	$(call fuzz1,./internal/sys,FuzzBTFValue,250000x)
	$(call fuzz1,./loader/tracepipe,FuzzParse,300000x)

## bench: every benchmark against its baseline in the same run (numbers: docs/BENCHMARKS.md)
bench: deps bpf
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m ./bench/
	$(GO) test -run '^$$' -bench 'Lifecycle|LoadCheckCost' -benchmem -benchtime 20x -count 6 ./loader
	$(GO) test -run '^$$' -bench Lifecycle -benchmem -benchtime 20x -count 4 ./examples/skeleton
	$(GO) test -run '^$$' -bench 'Walk|Check' -benchmem -count 3 ./spinlock

clean-bpf:
	rm -f $(BPF_OBJS)
