// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// Torn data: every *Locked operation against a BPF program that, under the value's lock,
// checks a == b and adds 1 to both, 64 times per run (bpf/testdata/maps/torn.bpf.c).
// Every writer keeps a == b under the lock, so a value with a != b, seen by Go or by the
// program, is a copy that ran while the program held the lock: what BPF_F_LOCK prevents.
// Each *Locked operation is tested alone (so a failure names it) and all of them
// together; TestUnlockedOpsTear is the control: the same rig, without BPF_F_LOCK, tears.

// tornVal is struct torn of torn.bpf.c.
type tornVal struct {
	Lock maps.SpinLock
	ID   uint32
	A    uint64
	Gap  [62]uint64
	B    uint64
}

// tornBSS is torn.bpf.c's .bss: critical sections run, and those that found a != b.
type tornBSS struct {
	Sections uint64
	TornSeen uint64
}

type tornRig struct {
	o    *loader.Object
	arr  *maps.Array[tornVal]
	hash *maps.Hash[uint32, tornVal]
	bss  *maps.Array[tornBSS]
}

func openTorn(t *testing.T) *tornRig {
	t.Helper()
	testutil.RequirePrivileged(t)
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "maps", "torn.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := loader.OpenBytes("torn.bpf.o", elf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if err := o.Load(); err != nil {
		t.Fatal(err)
	}
	return &tornRig{
		o:    o,
		arr:  must[*maps.Array[tornVal]](t)(maps.NewArray[tornVal](testMap(t, o, "a_torn"))),
		hash: must[*maps.Hash[uint32, tornVal]](t)(maps.NewHash[uint32, tornVal](testMap(t, o, "h_torn"))),
		bss:  must[*maps.Array[tornBSS]](t)(maps.NewArray[tornBSS](testMap(t, o, ".bss"))),
	}
}

func (r *tornRig) counters(t *testing.T) tornBSS {
	t.Helper()
	return must[tornBSS](t)(r.bss.Lookup(0))
}

// hammer runs prog (torn_array or torn_hash) from one goroutine, in runs of 100 × 64
// critical sections, until the returned stop is called; stop returns how many critical
// sections ran while fn ran. hammer returns once the program has run at least once, so
// that fn starts against a running program.
func (r *tornRig) hammer(t *testing.T, prog string) (stop func() uint64) {
	t.Helper()
	p := must[*loader.Program](t)(r.o.Program(prog))
	var done atomic.Bool
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Go(func() {
		first := true
		for !done.Load() {
			if _, err := p.Test(&loader.TestOptions{Data: make([]byte, 64), Repeat: 100}); err != nil {
				t.Error(err)
				break
			}
			if first {
				close(started)
				first = false
			}
		}
		if first {
			close(started)
		}
	})
	<-started
	before := r.counters(t).Sections
	return func() uint64 {
		during := r.counters(t).Sections - before
		done.Store(true)
		wg.Wait()
		return during
	}
}

// A call overlaps the program when the program's count of critical sections moved
// while the call ran: only such calls can tear. The locked operations are tried until
// tornOverlaps calls overlapped (or tornBudget passes: the machine may be busy with
// other work), and must have overlapped at least tornMinOverlaps times. The unlocked
// controls run until their first torn value: on an idle machine that comes within a few
// hundred overlapping calls (see their logs), so a locked operation that dropped
// BPF_F_LOCK fails (make mutate checks it); on a machine busy with other work, where the
// program and the calls seldom run at the same instant, it took up to ~20,000.
const (
	tornOverlaps    = 20000
	tornMinOverlaps = 3000
	tornBudget      = 10 * time.Second
	// tornControlBudget bounds an unlocked control, which stops at its first tear.
	tornControlBudget = 40 * time.Second
)

// tornOp is one operation under test: it returns the values it read (readers) and
// reports a torn one, or writes a value with a == b (writers). i counts the calls.
type tornOp struct {
	name string
	prog string // torn_array or torn_hash
	// setup prepares the map once; op runs in a loop.
	setup func(t *testing.T, r *tornRig)
	op    func(r *tornRig, i uint64) (torn bool, err error)
}

// consistent writes v under key 0 of the array, with a == b.
func consistent(i uint64) tornVal { return tornVal{ID: uint32(i), A: i << 32, B: i << 32} }

func initArray(t *testing.T, r *tornRig) {
	t.Helper()
	if n, err := r.arr.BatchUpdate([]uint32{0, 1}, []tornVal{{}, {}}); err != nil || n != 2 {
		t.Fatalf("BatchUpdate = %d, %v", n, err)
	}
}

func initHash(t *testing.T, r *tornRig) {
	t.Helper()
	if err := r.hash.Update(0, tornVal{}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
}

// batchRead reads both array entries with read and reports whether one was torn.
func batchRead(r *tornRig, read func(*maps.Cursor, []uint32, []tornVal) (int, error)) (bool, error) {
	var cur maps.Cursor
	keys, vals := make([]uint32, 2), make([]tornVal, 2)
	n, err := read(&cur, keys, vals)
	if err != nil {
		return false, err
	}
	torn := false
	for i := range n {
		torn = torn || vals[i].A != vals[i].B
	}
	return torn, nil
}

// lookupAndDelete takes key 0 out of the hash map with take, waiting for torn_hash to
// put it back when it is absent (see torn.bpf.c for why user space does not).
func lookupAndDelete(take func(uint32) (tornVal, error)) (bool, error) {
	for range 1_000_000 {
		v, err := take(0)
		if errors.Is(err, maps.ErrKeyNotExist) {
			runtime.Gosched()
			continue
		}
		return v.A != v.B, err
	}
	return false, errors.New("torn_hash did not put key 0 back")
}

var lockedOps = []tornOp{
	{name: "UpdateLocked", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		return false, r.arr.UpdateLocked(0, consistent(i), maps.UpdateAny)
	}},
	{name: "BatchUpdateLocked", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		_, err := r.arr.BatchUpdateLocked([]uint32{0, 1}, []tornVal{consistent(i), consistent(i)})
		return false, err
	}},
	{name: "LookupLockedInto", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		var v tornVal
		err := r.arr.LookupLockedInto(0, &v)
		return v.A != v.B, err
	}},
	{name: "LookupLocked", prog: "torn_hash", setup: initHash, op: func(r *tornRig, i uint64) (bool, error) {
		v, err := r.hash.LookupLocked(0)
		return v.A != v.B, err
	}},
	{name: "BatchLookupLocked", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		return batchRead(r, r.arr.BatchLookupLocked)
	}},
	{name: "BatchLookupLocked-hash", prog: "torn_hash", setup: initHash, op: func(r *tornRig, i uint64) (bool, error) {
		return batchRead(r, r.hash.BatchLookupLocked)
	}},
	{name: "LookupAndDeleteLocked", prog: "torn_hash", op: func(r *tornRig, i uint64) (bool, error) {
		return lookupAndDelete(r.hash.LookupAndDeleteLocked)
	}},
}

// unlockedOps are lockedOps without BPF_F_LOCK, in the same order.
var unlockedOps = []tornOp{
	{name: "Update", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		return false, r.arr.Update(0, consistent(i), maps.UpdateAny)
	}},
	{name: "BatchUpdate", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		_, err := r.arr.BatchUpdate([]uint32{0, 1}, []tornVal{consistent(i), consistent(i)})
		return false, err
	}},
	{name: "LookupInto", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		var v tornVal
		err := r.arr.LookupInto(0, &v)
		return v.A != v.B, err
	}},
	{name: "Lookup", prog: "torn_hash", setup: initHash, op: func(r *tornRig, i uint64) (bool, error) {
		v, err := r.hash.Lookup(0)
		return v.A != v.B, err
	}},
	{name: "BatchLookup", prog: "torn_array", setup: initArray, op: func(r *tornRig, i uint64) (bool, error) {
		return batchRead(r, r.arr.BatchLookup)
	}},
	{name: "BatchLookup-hash", prog: "torn_hash", setup: initHash, op: func(r *tornRig, i uint64) (bool, error) {
		return batchRead(r, r.hash.BatchLookup)
	}},
	{name: "LookupAndDelete", prog: "torn_hash", op: func(r *tornRig, i uint64) (bool, error) {
		return lookupAndDelete(r.hash.LookupAndDelete)
	}},
}

// tornRun runs op against its program until it sees a torn value, or until maxOverlaps
// calls overlapped the program, or for budget. It returns the calls made and how many
// overlapped the program, the first call that saw a torn value (0: none), the program's
// critical sections meanwhile and its count of sections that found a torn value.
func tornRun(t *testing.T, op tornOp, maxOverlaps uint64, budget time.Duration) (calls, overlaps, tornAt, sections, bpfTorn uint64) {
	t.Helper()
	r := openTorn(t)
	if op.setup != nil {
		op.setup(t, r)
	}
	stop := r.hammer(t, op.prog)
	deadline := time.Now().Add(budget)
	var c tornBSS
	for overlaps < maxOverlaps && time.Now().Before(deadline) {
		calls++
		if err := r.bss.LookupInto(0, &c); err != nil {
			stop()
			t.Fatal(err)
		}
		before := c.Sections
		torn, err := op.op(r, calls)
		if err != nil {
			stop()
			t.Fatalf("%s, call %d: %v", op.name, calls, err)
		}
		if err := r.bss.LookupInto(0, &c); err != nil {
			stop()
			t.Fatal(err)
		}
		if c.Sections != before {
			overlaps++
		}
		if torn {
			tornAt = calls
			break
		}
		if c.TornSeen != 0 {
			break // the program found a torn write
		}
	}
	sections = stop()
	c = r.counters(t)
	// A torn write the program did not happen to see stays in the value: the last
	// locked read finds it.
	if tornAt == 0 && op.prog == "torn_array" {
		v := must[tornVal](t)(r.arr.LookupLocked(0))
		if v.A != v.B {
			tornAt = calls
		}
	}
	return calls, overlaps, tornAt, sections, c.TornSeen
}

// TestLockedOpsNeverTear: each *Locked operation, run against the program, never reads a
// torn value, and the program never finds one it wrote.
func TestLockedOpsNeverTear(t *testing.T) {
	for _, op := range lockedOps {
		t.Run(op.name, func(t *testing.T) {
			calls, overlaps, tornAt, sections, bpfTorn := tornRun(t, op, tornOverlaps, tornBudget)
			if tornAt != 0 {
				t.Errorf("%s: call %d of %d saw a torn value (a != b)", op.name, tornAt, calls)
			}
			if bpfTorn != 0 {
				t.Errorf("%s: the program found a != b in %d of its critical sections: a copy ran while it held the lock", op.name, bpfTorn)
			}
			if overlaps < tornMinOverlaps {
				t.Fatalf("%s: %d of %d calls overlapped the program (%d critical sections) in %v, want %d: the test proved too little",
					op.name, overlaps, calls, sections, tornBudget, tornMinOverlaps)
			}
			t.Logf("%s: %d calls, %d of them while the program ran (%d critical sections), none torn", op.name, calls, overlaps, sections)
		})
	}
}

// TestLockedOpsTogether runs every *Locked operation on the array at once: the program,
// two writers and two readers on the same value.
func TestLockedOpsTogether(t *testing.T) {
	r := openTorn(t)
	initArray(t, r)
	stop := r.hammer(t, "torn_array")
	var wg sync.WaitGroup
	var calls, torn atomic.Uint64
	deadline := time.Now().Add(2 * time.Second)
	ops := 0
	for _, op := range lockedOps {
		if op.prog != "torn_array" {
			continue
		}
		ops++
		wg.Go(func() {
			for i := uint64(1); time.Now().Before(deadline); i++ {
				bad, err := op.op(r, i)
				if err != nil {
					t.Errorf("%s: %v", op.name, err)
					return
				}
				calls.Add(1)
				if bad {
					torn.Add(1)
					t.Errorf("%s, call %d: torn value", op.name, i)
					return
				}
			}
		})
	}
	wg.Wait()
	sections := stop()
	if c := r.counters(t); c.TornSeen != 0 {
		t.Errorf("the program found a != b in %d critical sections", c.TornSeen)
	}
	if v := must[tornVal](t)(r.arr.LookupLocked(0)); v.A != v.B {
		t.Errorf("the value ended torn: a=%d b=%d", v.A, v.B)
	}
	if sections == 0 || calls.Load() < 100 {
		t.Fatalf("%d calls while the program ran %d critical sections: the test proved nothing", calls.Load(), sections)
	}
	t.Logf("%d calls of %d operations at once while the program ran %d critical sections", calls.Load(), ops, sections)
}

// TestUnlockedOpsTear is the control for TestLockedOpsNeverTear: the same operations
// without BPF_F_LOCK must be seen torn, by Go or by the program, within the same budget,
// which is what makes the locked test able to fail.
func TestUnlockedOpsTear(t *testing.T) {
	for _, op := range unlockedOps {
		t.Run(op.name, func(t *testing.T) {
			// until the first tear: on a loaded machine the program and the calls
			// rarely run at the same instant, and overlapping calls may be many
			calls, overlaps, tornAt, sections, bpfTorn := tornRun(t, op, math.MaxUint64, tornControlBudget)
			if tornAt == 0 && bpfTorn == 0 {
				t.Fatalf("%s: no torn value in %d calls, %d of them while the program ran (%d critical sections)", op.name, calls, overlaps, sections)
			}
			t.Logf("%s: torn after %d calls, %d of them while the program ran (the program saw %d torn sections)", op.name, calls, overlaps, bpfTorn)
		})
	}
}
