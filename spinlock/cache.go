// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"
)

// Check is a pure function of the object's bytes and the options, and programs load the
// same embedded object again and again (per interface, per test, per restart of a
// component): the last few reports are kept, keyed by a SHA-256 of the bytes and the
// options, and a repeated check costs the hash. Callers get their own copy.

type reportKey [sha256.Size]byte

const cachedReports = 8

type reportCache struct {
	mu      sync.Mutex
	keys    [cachedReports]reportKey
	reports [cachedReports]*Report
	next    int
}

// reports is the package's cache; disabled (nil) in the benchmarks that measure a
// first check.
var reports = &reportCache{}

func cacheKey(elf []byte, o Options) reportKey {
	h := sha256.New()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(o.Kernel.Major))
	binary.LittleEndian.PutUint64(b[8:], uint64(o.Kernel.Minor))
	h.Write(b[:])
	h.Write([]byte(o.Name))
	h.Write([]byte{0})
	names := make([]string, 0, len(o.ProgramTypes))
	for n := range o.ProgramTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		binary.LittleEndian.PutUint64(b[:8], uint64(o.ProgramTypes[n]))
		h.Write([]byte(n))
		h.Write(b[:8])
	}
	binary.LittleEndian.PutUint64(b[:8], uint64(walkBudget))
	h.Write(b[:8])
	h.Write(elf)
	var k reportKey
	h.Sum(k[:0])
	return k
}

func (c *reportCache) get(k reportKey) (*Report, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.reports {
		if r != nil && c.keys[i] == k {
			return r.clone(), true
		}
	}
	return nil, false
}

func (c *reportCache) put(k reportKey, r *Report) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[c.next], c.reports[c.next] = k, r.clone()
	c.next = (c.next + 1) % cachedReports
}

// clone copies a report deep enough that its caller may change it.
func (r *Report) clone() *Report {
	cp := *r
	cp.Findings = slices.Clone(r.Findings)
	if cp.Findings == nil {
		cp.Findings = []Finding{}
	}
	cp.Notes = slices.Clone(r.Notes)
	return &cp
}
