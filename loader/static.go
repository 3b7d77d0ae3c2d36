// SPDX-License-Identifier: Apache-2.0

//go:build static

package loader

// Built with `-tags static`, package loader links libbpf and everything it needs from
// their static archives (Debian's libbpf-dev, libelf-dev, zlib1g-dev, libzstd-dev), so
// that `go build -tags static -ldflags '-linkmode external -extldflags "-static"'` makes
// a binary that needs no shared library on the target host. The order matters for a
// static link: each archive is listed after the ones that use it (libbpf uses libelf,
// libelf uses zstd and zlib). pkg-config's -lbpf (cgo.go) comes first.
//
// Debian's libelf.a (elfutils 0.192) calls six thread-safe tsearch wrappers
// (eu_search_tree_init and others) that elfutils builds into a private helper library
// it ships in no package; eusearch.c defines them.

// #cgo LDFLAGS: -lbpf -lelf -lzstd -lz -pthread
import "C"
