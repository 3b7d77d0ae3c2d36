// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Programs built instruction by instruction cover the interpreter's paths exactly.

var (
	u32Type  = &btf.Int{Name: "unsigned int", Size: 4}
	lockType = &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32Type}}}
	// struct val { u32 cnt; struct bpf_spin_lock lock; }: the lock at offset 4.
	valType = &btf.Struct{Name: "val", Size: 8, Members: []btf.Member{
		{Name: "cnt", Type: u32Type},
		{Name: "lock", Type: lockType, Offset: 32},
	}}
)

// testSpec returns a collection with maps "m" and "m2" (HASH of struct val) and one
// program per entry of progs, in section sec.
func testSpec(sec string, progs map[string]asm.Instructions) *ebpf.CollectionSpec {
	spec := &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			"m":  {Name: "m", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Key: u32Type, Value: valType},
			"m2": {Name: "m2", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Key: u32Type, Value: valType},
		},
		Programs: map[string]*ebpf.ProgramSpec{},
	}
	for name, insns := range progs {
		spec.Programs[name] = &ebpf.ProgramSpec{Name: name, SectionName: sec, Instructions: link(insns)}
	}
	return spec
}

// link resolves symbolic jumps (asm.JEq.Imm(…, "label")) to raw offsets, as the
// compiler would have emitted them. Calls keep their symbol references.
func link(insns asm.Instructions) asm.Instructions {
	out := make(asm.Instructions, len(insns))
	copy(out, insns)
	raw := make([]int, len(out))
	labels := map[string]int{}
	off := 0
	for i := range out {
		raw[i] = off
		if s := out[i].Symbol(); s != "" {
			labels[s] = off
		}
		off += int(out[i].Width())
	}
	for i := range out {
		ins := &out[i]
		op := ins.OpCode.JumpOp()
		if !ins.OpCode.Class().IsJump() || op == asm.Call || op == asm.Exit || ins.Reference() == "" {
			continue
		}
		t, ok := labels[ins.Reference()]
		if !ok {
			panic("no label " + ins.Reference())
		}
		ins.Offset = int16(t - raw[i] - 1)
		*ins = ins.WithReference("")
	}
	return out
}

func checkSpec(t *testing.T, v Version, spec *ebpf.CollectionSpec) *Report {
	t.Helper()
	c := newChecker(spec, nil, Options{Kernel: v, Name: "test.bpf.o"})
	done := make(chan struct{})
	go func() {
		c.run()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("check did not finish in 20s")
	}
	return c.report
}

// lookup emits `dst = bpf_map_lookup_elem(&mapName, &(u32){0}); if (!dst) return 0;`.
func lookup(mapName string, dst asm.Register, exitLabel string) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapName),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, exitLabel),
		asm.Mov.Reg(dst, asm.R0),
	}
}

// lockVia emits `r1 = reg + off; call fn`.
func lockVia(fn asm.BuiltinFunc, reg asm.Register, off int32) asm.Instructions {
	return asm.Instructions{asm.Mov.Reg(asm.R1, reg), asm.Add.Imm(asm.R1, off), fn.Call()}
}

func exitBlock(label string) asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, 0).WithSymbol(label), asm.Return()}
}

func seq(parts ...asm.Instructions) asm.Instructions {
	var out asm.Instructions
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(ins ...asm.Instruction) asm.Instructions { return ins }

var (
	v6_1  = Version{6, 1}
	v6_6  = Version{6, 6}
	v6_12 = Version{6, 12}
	v6_18 = Version{6, 18}
)

func TestInstructionRules(t *testing.T) {
	lockM := seq(lookup("m", asm.R6, "out"), lockVia(asm.FnSpinLock, asm.R6, 4))
	unlockM := lockVia(asm.FnSpinUnlock, asm.R6, 4)
	staticFn := seq(one(asm.Mov.Imm(asm.R0, 0).WithSymbol("helper_static")), one(asm.Return()))
	globalFn := asm.Instructions{
		btf.WithFuncMetadata(asm.Mov.Imm(asm.R0, 0).WithSymbol("helper_global"),
			&btf.Func{Name: "helper_global", Linkage: btf.GlobalFunc, Type: &btf.FuncProto{Return: u32Type}}),
		asm.Return(),
	}
	// A subprogram that locks its argument and returns with the lock held.
	lockingFn := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1).WithSymbol("lock_arg"),
		asm.Add.Imm(asm.R1, 4),
		asm.FnSpinLock.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}

	tests := []struct {
		name    string
		sec     string
		v       Version
		insns   asm.Instructions
		want    []string // error rules, in order
		warn    []string // warning rules
		wordsIn string   // a fragment the first error's message must hold
	}{
		{name: "lock update unlock", v: v6_18, insns: seq(lockM, unlockM, exitBlock("out"))},
		{name: "helper under lock", v: v6_18, insns: seq(lockM, one(asm.FnKtimeGetNs.Call()), unlockM, exitBlock("out")),
			want: []string{"I1"}, wordsIn: "function calls are not allowed while holding a lock"},
		{name: "helper before lock", v: v6_18, insns: seq(one(asm.FnKtimeGetNs.Call()), lockM, unlockM, exitBlock("out"))},
		{name: "second lock", v: v6_18, insns: seq(lockM, lockVia(asm.FnSpinLock, asm.R6, 4), exitBlock("out")),
			want: []string{"I2"}},
		{name: "tail call under lock", v: v6_18, insns: seq(lockM, one(asm.FnTailCall.Call()), unlockM, exitBlock("out")),
			want: []string{"I8"}},
		{name: "unlock without lock", v: v6_18, insns: seq(lookup("m", asm.R6, "out"), unlockM, exitBlock("out")),
			want: []string{"I4"}, wordsIn: "bpf_spin_unlock without taking a lock"},
		{name: "unlock other lookup of same map", v: v6_18,
			insns: seq(lookup("m", asm.R6, "out"), lookup("m", asm.R7, "out"), lockVia(asm.FnSpinLock, asm.R6, 4),
				lockVia(asm.FnSpinUnlock, asm.R7, 4), exitBlock("out")),
			want: []string{"I5"}, wordsIn: "another lookup of the same map"},
		{name: "unlock other map", v: v6_18,
			insns: seq(lookup("m", asm.R6, "out"), lookup("m2", asm.R7, "out"), lockVia(asm.FnSpinLock, asm.R6, 4),
				lockVia(asm.FnSpinUnlock, asm.R7, 4), exitBlock("out")),
			want: []string{"I5"}},
		{name: "unlock through a copy", v: v6_18,
			insns: seq(lockM, one(asm.Mov.Reg(asm.R8, asm.R6)), lockVia(asm.FnSpinUnlock, asm.R8, 4), exitBlock("out"))},
		{name: "unlock through a stack spill", v: v6_18,
			insns: seq(lockM, one(asm.StoreMem(asm.RFP, -16, asm.R6, asm.DWord), asm.Mov.Imm(asm.R6, 0),
				asm.LoadMem(asm.R8, asm.RFP, -16, asm.DWord)), lockVia(asm.FnSpinUnlock, asm.R8, 4), exitBlock("out"))},
		{name: "exit with lock 6.18", v: v6_18, insns: seq(lockM, exitBlock("out")),
			want: []string{"I6b"}, wordsIn: "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region"},
		{name: "exit with lock 6.12", v: v6_12, insns: seq(lockM, exitBlock("out")),
			want: []string{"I6"}, wordsIn: "bpf_spin_unlock is missing"},
		{name: "unlock on one branch", v: v6_18,
			insns: seq(one(asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0)), lockM,
				one(asm.JEq.Imm(asm.R9, 0, "out")), unlockM, exitBlock("out")),
			want: []string{"I6b"}},
		// B (no lock) reaches join first and is kept there; A (locked) must not be
		// pruned against it: lock work follows, so B's path does not end at join.
		{name: "a locked path is not pruned by an unlocked one", v: v6_18,
			insns: seq(one(asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0)),
				lookup("m", asm.R6, "out"),
				one(asm.JSet.Imm(asm.R9, 1, "locked"), asm.Ja.Label("join")),
				one(asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("locked"), asm.Add.Imm(asm.R1, 4), asm.FnSpinLock.Call()),
				one(asm.FnKtimeGetNs.Call().WithSymbol("join")),
				lookup("m2", asm.R7, "out"), lockVia(asm.FnSpinLock, asm.R7, 4), lockVia(asm.FnSpinUnlock, asm.R7, 4),
				exitBlock("out")),
			want: []string{"I1"}},
		{name: "correlated branches warn, never fail", v: v6_18,
			insns: seq(one(asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0)),
				lookup("m", asm.R6, "out"),
				one(asm.JEq.Imm(asm.R9, 0, "skip_lock")), lockVia(asm.FnSpinLock, asm.R6, 4),
				one(asm.JEq.Imm(asm.R9, 0, "out").WithSymbol("skip_lock")), unlockM, exitBlock("out")),
			warn: []string{"I6b"}},
		{name: "a value in [0,1] correlates exactly", v: v6_18,
			insns: seq(one(asm.Mov.Reg(asm.R7, asm.R1)), lookup("m", asm.R6, "out"),
				one(asm.LoadMem(asm.R7, asm.R7, 0, asm.Word), asm.And.Imm(asm.R7, 1), asm.JEq.Imm(asm.R7, 0, "skip_lock")),
				lockVia(asm.FnSpinLock, asm.R6, 4),
				one(asm.LSh.Imm(asm.R7, 32).WithSymbol("skip_lock"), asm.RSh.Imm(asm.R7, 32), asm.JEq.Imm(asm.R7, 0, "out")),
				unlockM, exitBlock("out"))},
		{name: "lock on the stack", v: v6_18,
			insns: seq(one(asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8), asm.FnSpinLock.Call()), exitBlock("out")),
			want:  []string{"I3"}, wordsIn: "R1 type=fp expected=map_value, ptr_"},
		{name: "ranges from earlier branches correlate", v: v6_18,
			insns: seq(one(asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0)),
				lookup("m", asm.R6, "out"),
				one(asm.JLE.Imm(asm.R9, 5, "skip_lock")), lockVia(asm.FnSpinLock, asm.R6, 4),
				one(asm.JLT.Imm(asm.R9, 6, "out").WithSymbol("skip_lock")), unlockM, exitBlock("out")),
			warn: []string{"I6b", "I4"}},
		{name: "ranges that leave a real path", v: v6_18,
			insns: seq(one(asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0)),
				lookup("m", asm.R6, "out"),
				one(asm.JLE.Imm(asm.R9, 5, "skip_lock")), lockVia(asm.FnSpinLock, asm.R6, 4),
				one(asm.JLE.Imm(asm.R9, 3, "out").WithSymbol("skip_lock")), unlockM, exitBlock("out")),
			want: []string{"I4"}, warn: []string{"I6b"}},
		{name: "signed ranges are left to the kernel", v: v6_18,
			insns: seq(one(asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0)),
				lookup("m", asm.R6, "out"),
				one(asm.JSLE.Imm(asm.R9, 5, "skip_lock")), lockVia(asm.FnSpinLock, asm.R6, 4),
				one(asm.JSLT.Imm(asm.R9, 6, "out").WithSymbol("skip_lock")), unlockM, exitBlock("out")),
			warn: []string{"I6b", "I4"}},
		{name: "constant branch is exact", v: v6_18,
			insns: seq(one(asm.Mov.Imm(asm.R9, 1)), lockM, one(asm.JEq.Imm(asm.R9, 0, "out")), unlockM, exitBlock("out"))},
		{name: "ld_abs under lock", sec: "tc", v: v6_18,
			insns: seq(one(asm.Mov.Reg(asm.R6, asm.R1)), lookup("m", asm.R7, "out"), lockVia(asm.FnSpinLock, asm.R7, 4),
				one(asm.LoadAbs(0, asm.Byte)), lockVia(asm.FnSpinUnlock, asm.R7, 4), exitBlock("out")),
			want: []string{"I7"}},
		{name: "load of the lock word", v: v6_18, insns: seq(lookup("m", asm.R6, "out"),
			one(asm.LoadMem(asm.R1, asm.R6, 4, asm.Word)), exitBlock("out")), want: []string{"I9"}},
		{name: "store over the lock word", v: v6_18, insns: seq(lookup("m", asm.R6, "out"),
			one(asm.StoreImm(asm.R6, 4, 0, asm.Word)), exitBlock("out")), want: []string{"I9"}},
		{name: "load next to the lock word", v: v6_18, insns: seq(lookup("m", asm.R6, "out"),
			one(asm.LoadMem(asm.R1, asm.R6, 0, asm.Word)), exitBlock("out"))},
		{name: "lock at wrong offset", v: v6_18, insns: seq(lookup("m", asm.R6, "out"), lockVia(asm.FnSpinLock, asm.R6, 0), exitBlock("out")),
			want: []string{"I3"}, wordsIn: "off 0 doesn't point to 'struct bpf_spin_lock' that is at 4"},
		{name: "global call under lock 6.18", v: v6_18,
			insns: seq(lockM, one(asm.Call.Label("helper_global")), unlockM, exitBlock("out"), globalFn),
			want:  []string{"I1a"}, wordsIn: "global function calls are not allowed while holding a lock"},
		{name: "global call under lock 6.6", v: v6_6,
			insns: seq(lockM, one(asm.Call.Label("helper_global")), unlockM, exitBlock("out"), globalFn),
			want:  []string{"I1"}, wordsIn: `says "function calls are not allowed while holding a lock"`},
		{name: "static call under lock 6.18", v: v6_18,
			insns: seq(lockM, one(asm.Call.Label("helper_static")), unlockM, exitBlock("out"), staticFn)},
		{name: "static call under lock 6.6", v: v6_6,
			insns: seq(lockM, one(asm.Call.Label("helper_static")), unlockM, exitBlock("out"), staticFn),
			want:  []string{"I1"}},
		{name: "subprogram returns holding the lock 6.18", v: v6_18,
			insns: seq(lookup("m", asm.R6, "out"), one(asm.Mov.Reg(asm.R1, asm.R6), asm.Call.Label("lock_arg")),
				unlockM, exitBlock("out"), lockingFn)},
		{name: "subprogram returns holding the lock 6.1", v: v6_1,
			insns: seq(lookup("m", asm.R6, "out"), one(asm.Mov.Reg(asm.R1, asm.R6), asm.Call.Label("lock_arg")),
				unlockM, exitBlock("out"), lockingFn),
			want: []string{"I6"}},
		{name: "allowed kfunc under lock", v: v6_18,
			insns: seq(lockM, one(asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: -1}.WithReference("bpf_rbtree_first")),
				unlockM, exitBlock("out"))},
		{name: "other kfunc under lock", v: v6_18,
			insns: seq(lockM, one(asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: -1}.WithReference("bpf_rcu_read_lock")),
				unlockM, exitBlock("out")),
			want: []string{"I1"}},
		{name: "tracepoint referencing the map", sec: "tp/syscalls/sys_enter_write", v: v6_18,
			insns: seq(lookup("m", asm.R6, "out"), exitBlock("out")), want: []string{"P2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := tt.sec
			if sec == "" {
				sec = "tc"
			}
			rep := checkSpec(t, tt.v, testSpec(sec, map[string]asm.Instructions{"prog": tt.insns}))
			var errs, warns []string
			var first *Finding
			for i, f := range rep.Findings {
				if f.Severity == SeverityError {
					errs = append(errs, f.Rule)
					if first == nil {
						first = &rep.Findings[i]
					}
				} else {
					warns = append(warns, f.Rule)
				}
			}
			if strings.Join(errs, ",") != strings.Join(tt.want, ",") {
				t.Errorf("errors %v, want %v; findings: %v", errs, tt.want, rep.Findings)
			}
			if strings.Join(warns, ",") != strings.Join(tt.warn, ",") {
				t.Errorf("warnings %v, want %v; findings: %v", warns, tt.warn, rep.Findings)
			}
			if tt.wordsIn != "" && (first == nil || !strings.Contains(first.Message, tt.wordsIn)) {
				t.Errorf("first error %v lacks %q", first, tt.wordsIn)
			}
			for _, f := range rep.Findings {
				if f.Severity == SeverityWarning && !strings.Contains(f.Message, "may") {
					t.Errorf("warning %q does not say \"may\"", f.Message)
				}
			}
			if (len(tt.want) == 0) != (rep.Err() == nil) {
				t.Errorf("Err() = %v with error findings %v", rep.Err(), tt.want)
			}
		})
	}
}

// TestWalkBounded feeds the interpreter programs whose paths explode or never end: each
// must finish within its budget without stopping (the walk reaches every exit, so no
// warning), and a walk given too small a budget must stop, and say where: a warning at
// the instruction it had reached, inside the loop it was walking, and no error.
func TestWalkBounded(t *testing.T) {
	// 40 independent if/else diamonds: 2^40 paths, which state merging keeps linear.
	// Each program looks up a value of "m", which holds a lock: a program that cannot
	// reach a lock ends at its first instruction (lockFreeTail).
	diamonds := lookup("m", asm.R7, "end")
	diamonds = append(diamonds, asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R9, asm.R0))
	for i := range 40 {
		l := "d" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		diamonds = append(diamonds,
			asm.JEq.Imm(asm.R9, int32(i), l),
			asm.Mov.Imm(asm.R8, 1),
			asm.Mov.Imm(asm.R8, 2).WithSymbol(l),
		)
	}
	diamonds = append(diamonds, exitBlock("end")...)

	// A loop counting to 10000 with the lock taken and released in its body.
	loop := seq(one(asm.Mov.Imm(asm.R9, 0)), lookup("m", asm.R6, "out"),
		one(asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("top"), asm.Add.Imm(asm.R1, 4), asm.FnSpinLock.Call()),
		lockVia(asm.FnSpinUnlock, asm.R6, 4),
		one(asm.Add.Imm(asm.R9, 1), asm.JLT.Imm(asm.R9, 10000, "top")),
		exitBlock("out"))
	// The loop's body, as raw instruction offsets: from "top" to the backward jump,
	// which is right before "out".
	var loopTop, loopEnd int
	for i, raw := 0, 0; i < len(loop); i++ {
		switch loop[i].Symbol() {
		case "top":
			loopTop = raw
		case "out":
			loopEnd = raw - 1
		}
		raw += int(loop[i].Width())
	}

	// An endless loop: widening makes its states converge.
	endless := seq(lookup("m", asm.R7, "never"), one(asm.Mov.Imm(asm.R9, 0), asm.Add.Imm(asm.R9, 1).WithSymbol("spin"), asm.Ja.Label("spin")), exitBlock("never"))

	walk := func(t *testing.T, insns asm.Instructions, budget int) (*Report, *walker, time.Duration) {
		t.Helper()
		c := newChecker(testSpec("tc", map[string]asm.Instructions{"prog": link(insns)}), nil, Options{Kernel: v6_18, Name: "test.bpf.o"})
		w := newWalker(c, c.progs[0])
		if budget > 0 {
			w.budget = budget
		}
		start := time.Now()
		w.run()
		return c.report, w, time.Since(start)
	}

	for _, tt := range []struct {
		name     string
		insns    asm.Instructions
		maxSteps int // the walk is linear, or bounded by widening: far below the budget
	}{
		{"diamonds", diamonds, 2000},
		{"loop", loop, 100000}, // every iteration: r9 decides the exit, as in the verifier
		{"endless", endless, 2000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, w, d := walk(t, tt.insns, 0)
			if len(w.unfinished) > 0 {
				t.Fatalf("the walk stopped at instruction %d after %d steps and %d compares", w.unfinished[0], w.steps, w.compares)
			}
			if len(rep.Findings) != 0 {
				t.Errorf("findings on a program that breaks no rule: %v", rep.Findings)
			}
			if w.steps == 0 || w.steps > tt.maxSteps {
				t.Errorf("%d steps, want 1..%d", w.steps, tt.maxSteps)
			}
			if d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			t.Logf("%d steps, %d compares, %v", w.steps, w.compares, d)
		})
	}

	// The loop with room for few states, the diamonds with few waiting paths: the walk
	// stops as at its budget, and says which limit it reached.
	for _, lim := range []struct {
		name            string
		insns           asm.Instructions
		stored, pending int
		says            string
	}{
		{"states kept", loop, 20, pendingCap, "limit of 20 states kept"},
		{"paths waiting", diamonds, storedCap, 3, "limit of 3 paths waiting"},
	} {
		t.Run("past a limit of "+lim.name, func(t *testing.T) {
			c := newChecker(testSpec("tc", map[string]asm.Instructions{"prog": link(lim.insns)}), nil, Options{Kernel: v6_18, Name: "test.bpf.o"})
			w := newWalker(c, c.progs[0])
			w.maxStored, w.maxPending = lim.stored, lim.pending
			w.run()
			if len(w.unfinished) != 1 || len(c.report.Findings) != 1 || !strings.Contains(c.report.Findings[0].Message, "the walk reached its "+lim.says) {
				t.Fatalf("stopped at %v, findings %v; want one warning saying %q", w.unfinished, c.report.Findings, lim.says)
			}
			if w.stored > lim.stored || len(w.work) > lim.pending+1 {
				t.Errorf("%d states kept, %d paths waiting: past the limits %d, %d", w.stored, len(w.work), lim.stored, lim.pending)
			}
		})
	}

	t.Run("loop past a small budget", func(t *testing.T) {
		const budget = 500
		rep, w, _ := walk(t, loop, budget)
		if len(w.unfinished) != 1 {
			t.Fatalf("a walk with a budget of %d stopped at %v (%d steps, %d compares), want once", budget, w.unfinished, w.steps, w.compares)
		}
		at := w.p.raw[w.unfinished[0]]
		if at < loopTop || at > loopEnd {
			t.Errorf("the walk stopped at instruction %d, outside the loop (%d..%d) it was walking", at, loopTop, loopEnd)
		}
		if work := w.steps + w.compares; work <= budget || work > 2*budget {
			t.Errorf("stopped after %d steps and %d compares, want just past the budget %d", w.steps, w.compares, budget)
		}
		if len(rep.Findings) != 1 {
			t.Fatalf("findings %v, want one warning", rep.Findings)
		}
		f := rep.Findings[0]
		want := fmt.Sprintf("was not analysed past instruction %d: the walk reached its budget (%d instructions simulated", at, w.steps)
		if f.Severity != SeverityWarning || f.Rule != "" || f.Insn != at || f.Program != "prog" || !strings.Contains(f.Message, want) {
			t.Errorf("finding %+v, want a warning without a rule at instruction %d saying %q", f, at, want)
		}
		if rep.Err() != nil {
			t.Errorf("an incomplete walk is an error: %v", rep.Err())
		}
		t.Logf("stopped at instruction %d of the loop %d..%d: %s", at, loopTop, loopEnd, f.Message)
	})
}
