// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// lockedVal is struct locked of maps.bpf.c: a and b are 504 bytes apart.
type lockedVal struct {
	Lock maps.SpinLock
	ID   uint32
	A    uint64
	Gap  [62]uint64
	B    uint64
}

// smallLock is struct small_lock: the lock is not the first member.
type smallLock struct {
	X    uint32
	Lock maps.SpinLock
	Y    uint64
}

func TestLockedOperations(t *testing.T) {
	o := testObject(t)
	h := must[*maps.Hash[uint32, lockedVal]](t)(maps.NewHash[uint32, lockedVal](testMap(t, o, "h_lock")))
	if !h.HasLock() {
		t.Fatal("h_lock: HasLock is false")
	}
	v := lockedVal{ID: 7, A: 1, B: 2}
	v.Gap[61] = 99
	if err := h.UpdateLocked(1, v, maps.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	wantErr(t, h.UpdateLocked(1, v, maps.UpdateNoExist), maps.ErrKeyExist)
	if got := must[lockedVal](t)(h.LookupLocked(1)); got != v {
		t.Fatalf("LookupLocked = %+v", got)
	}
	var into lockedVal
	if err := h.LookupLockedInto(1, &into); err != nil || into != v {
		t.Fatalf("LookupLockedInto = %+v, %v", into, err)
	}
	_, err := h.LookupLocked(2)
	wantErr(t, err, maps.ErrKeyNotExist)

	// The batch operations with BPF_F_LOCK.
	keys := []uint32{2, 3, 4}
	vals := []lockedVal{{ID: 2}, {ID: 3}, {ID: 4}}
	if n, err := h.BatchUpdateLocked(keys, vals); err != nil || n != 3 {
		t.Fatalf("BatchUpdateLocked = %d, %v", n, err)
	}
	var cur maps.Cursor
	kb, vb := make([]uint32, 16), make([]lockedVal, 16)
	seen := map[uint32]uint32{}
	for walked := 0; !cur.Done(); walked++ {
		if walked > 1000 {
			t.Fatal("the batch walk does not end")
		}
		n, err := h.BatchLookupLocked(&cur, kb, vb)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			seen[kb[i]] = vb[i].ID
		}
	}
	if len(seen) != 4 || seen[1] != 7 || seen[4] != 4 {
		t.Fatalf("BatchLookupLocked saw %v", seen)
	}
	if got := must[lockedVal](t)(h.LookupAndDeleteLocked(1)); got != v {
		t.Fatalf("LookupAndDeleteLocked = %+v", got)
	}

	a := must[*maps.Array[smallLock]](t)(maps.NewArray[smallLock](testMap(t, o, "a_lock")))
	if !a.HasLock() {
		t.Fatal("a_lock: HasLock is false")
	}
	if err := a.UpdateLocked(3, smallLock{X: 5, Y: 6}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if got := must[smallLock](t)(a.LookupLocked(3)); got.X != 5 || got.Y != 6 {
		t.Fatalf("Array.LookupLocked = %+v", got)
	}
	var s smallLock
	if err := a.LookupLockedInto(3, &s); err != nil || s.X != 5 {
		t.Fatalf("Array.LookupLockedInto = %+v, %v", s, err)
	}
	_, err = a.LookupLocked(4)
	wantErr(t, err, maps.ErrKeyNotExist)
	if n, err := a.BatchUpdateLocked([]uint32{0, 1}, []smallLock{{X: 10}, {X: 11}}); err != nil || n != 2 {
		t.Fatalf("Array.BatchUpdateLocked = %d, %v", n, err)
	}
	cur = maps.Cursor{}
	ak, av := make([]uint32, 4), make([]smallLock, 4)
	n, err := a.BatchLookupLocked(&cur, ak, av)
	if err != nil || n != 4 || av[0].X != 10 || av[1].X != 11 || av[3].X != 5 {
		t.Fatalf("Array.BatchLookupLocked = %d %+v, %v", n, av, err)
	}
}

// TestSpinLockSemantics runs a BPF program that, under the value's bpf_spin_lock, adds 1
// to a and then to b of one value, from several goroutines at once (BPF_PROG_TEST_RUN
// with Repeat), while Go reads the value with LookupLocked in a loop. Every snapshot must
// have a == b, and at the end both must equal the exact number of runs.
func TestSpinLockSemantics(t *testing.T) {
	o := testObject(t)
	h := must[*maps.Hash[uint32, lockedVal]](t)(maps.NewHash[uint32, lockedVal](testMap(t, o, "h_lock")))
	if err := h.Update(0, lockedVal{}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	const writers, calls, repeat = 4, 20, 5000
	snapshots, moving := hammer(t, o, h, writers, calls, repeat, func(v *lockedVal) error {
		if err := h.LookupLockedInto(0, v); err != nil {
			return err
		}
		if v.A != v.B {
			t.Errorf("LookupLocked saw a torn value: a=%d b=%d", v.A, v.B)
		}
		return nil
	})
	got := must[lockedVal](t)(h.LookupLocked(0))
	runs := lockRuns(t, o)
	const requested = writers * calls * repeat
	if got.A != requested || got.B != requested || runs != requested {
		t.Fatalf("after %d runs requested the program counted %d: a=%d b=%d", requested, runs, got.A, got.B)
	}
	if moving == 0 {
		t.Fatalf("none of %d snapshots was taken while the program ran: the test proved nothing", snapshots)
	}
	t.Logf("%d runs, %d locked snapshots, %d of them mid-run, none torn", runs, snapshots, moving)
}

// TestPlainLookupTears is the control for TestSpinLockSemantics: the same program, read
// with plain Lookup (no BPF_F_LOCK), must be seen torn (a != b) at least once, which is
// what the lock buys. Measured on the 2-CPU VM: a few percent of the snapshots taken while
// the program runs are torn.
func TestPlainLookupTears(t *testing.T) {
	o := testObject(t)
	h := must[*maps.Hash[uint32, lockedVal]](t)(maps.NewHash[uint32, lockedVal](testMap(t, o, "h_lock")))
	if err := h.Update(0, lockedVal{}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	var torn atomic.Int64
	deadline := time.Now().Add(20 * time.Second)
	var snapshots, moving int64
	for torn.Load() == 0 && time.Now().Before(deadline) {
		s, m := hammer(t, o, h, 2, 10, 5000, func(v *lockedVal) error {
			if err := h.LookupInto(0, v); err != nil {
				return err
			}
			if v.A != v.B {
				torn.Add(1)
			}
			return nil
		})
		snapshots, moving = snapshots+s, moving+m
	}
	if torn.Load() == 0 {
		t.Fatalf("plain Lookup never saw a torn value in %d snapshots (%d mid-run)", snapshots, moving)
	}
	t.Logf("plain Lookup: %d torn of %d snapshots (%d mid-run)", torn.Load(), snapshots, moving)
}

// hammer runs lock_inc writers×calls×repeat times from writer goroutines while read is
// called in a loop; it returns how many snapshots were read and how many of them were
// taken mid-run (start < a < start+requested runs). The program also counts its runs
// itself, in lock_runs.
func hammer(t *testing.T, obj *loader.Object, h *maps.Hash[uint32, lockedVal], writers, calls int, repeat uint32, read func(*lockedVal) error) (snapshots, moving int64) {
	t.Helper()
	start := must[lockedVal](t)(h.LookupLocked(0))
	total := start.A + uint64(writers*calls)*uint64(repeat)
	prog := must[*loader.Program](t)(obj.Program("lock_inc"))
	var wg sync.WaitGroup
	var done atomic.Bool
	for range writers {
		wg.Go(func() {
			for range calls {
				if _, err := prog.Test(&loader.TestOptions{Data: make([]byte, 64), Repeat: repeat}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); done.Store(true); close(finished) }()
	var v lockedVal
	for !done.Load() {
		if err := read(&v); err != nil {
			t.Error(err)
			break
		}
		snapshots++
		if v.A > start.A && v.A < total {
			moving++
		}
	}
	<-finished
	return snapshots, moving
}

// lockRuns reads lock_runs, alone in its section .bss.runs.
func lockRuns(t *testing.T, obj *loader.Object) uint64 {
	t.Helper()
	a := must[*maps.Array[uint64]](t)(maps.NewArray[uint64](testMap(t, obj, ".bss.runs")))
	return must[uint64](t)(a.Lookup(0))
}
