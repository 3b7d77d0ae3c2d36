// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"strings"
)

// Rule IDs used in findings; docs/SPINLOCK.md lists each rule, its kernels and words.
const (
	RuleP1  = "P1"  // socket filter and a lock
	RuleP2  = "P2"  // tracing program and a lock
	RuleP3  = "P3"  // sleepable program and a lock (6.1–6.5)
	RuleP4  = "P4"  // tracing program and a bpf_timer (6.1–6.19)
	RuleP5  = "P5"  // tracing program and a bpf_wq (6.10–6.19)
	RuleP6  = "P6"  // tracing program and bpf_list_head/bpf_rb_root (6.3+)
	RuleM1  = "M1"  // map without BTF for its value
	RuleM2  = "M2"  // lock in a map type that may not hold one
	RuleM3  = "M3"  // lock in a read-only map
	RuleM4  = "M4"  // lock in a nested struct, not seen before 6.10
	RuleM5  = "M5"  // more than one lock, or an array of locks
	RuleM6  = "M6"  // misaligned lock
	RuleM7  = "M7"  // bpf_timer/bpf_wq outside HASH, LRU_HASH, ARRAY
	RuleM8  = "M8"  // 6.1: a lock in an inner map's value; the map of maps cannot be created
	RuleG1  = "G1"  // 6.1: global lock gets a fresh id at each load
	RuleG3  = "G3"  // more than one lock in one DATASEC
	RuleG4  = "G4"  // lock in .rodata
	RuleI1  = "I1"  // call while holding a lock
	RuleI1a = "I1a" // global function call while holding a lock (6.9+ words)
	RuleI2  = "I2"  // second bpf_spin_lock while holding one
	RuleI3  = "I3"  // lock argument not at a constant offset of a valid lock
	RuleI4  = "I4"  // unlock without lock
	RuleI5  = "I5"  // unlock of another lock
	RuleI6  = "I6"  // exit with a lock held (to 6.12)
	RuleI6b = "I6b" // exit of the main program with a lock held (6.13+)
	RuleI7  = "I7"  // LD_ABS/LD_IND while locked
	RuleI8  = "I8"  // tail call while locked
	RuleI9  = "I9"  // load/store overlapping the lock word
	RuleH1  = "H1"  // list/rbtree kfunc without the guarding lock held (6.2+)
	RuleH2  = "H2"  // list/rbtree kfunc while holding another lock than the guarding one
	RuleH3  = "H3"  // bpf_spin_unlock inside an rbtree less() callback (6.3+)
	RuleR1  = "R1"  // res lock taken again while held: AA deadlock (6.15+)
	RuleR2  = "R2"  // res unlock of a lock not held (or irqsave/irqrestore mismatch)
	RuleR3  = "R3"  // nested locks unlocked out of order
	RuleR4  = "R4"  // res lock argument not at the lock's constant offset
	RuleR5  = "R5"  // the map or object holds no usable bpf_res_spin_lock
	RuleR6  = "R6"  // res lock argument not a map value or allocated object
)

// Kernel messages (verbatim, "%s" for the map's name where the kernel prints it).
const (
	wordsP1         = "socket filter progs cannot use bpf_spin_lock yet"
	wordsP2         = "tracing progs cannot use bpf_spin_lock yet"
	wordsP3         = "sleepable progs cannot use bpf_spin_lock yet"
	wordsP4         = "tracing progs cannot use bpf_timer yet"
	wordsP5         = "tracing progs cannot use bpf_wq yet"
	wordsP6         = "tracing progs cannot use bpf_{list_head,rb_root} yet"
	wordsNoBTF      = "map '%s' has to have BTF in order to use bpf_spin_lock"
	wordsNoValid    = "map '%s' has no valid bpf_spin_lock"
	wordsNoLock61   = "map '%s' doesn't have 'struct bpf_spin_lock'"
	wordsMany61     = "map '%s' has more than one 'struct bpf_spin_lock'"
	wordsMangled61  = "map '%s' is not a struct type or bpf_spin_lock is mangled"
	wordsTimerBTF   = "map '%s' has to have BTF in order to use bpf_timer"
	wordsWqBTF      = "map '%s' has to have BTF in order to use bpf_wq"
	wordsI1         = "function calls are not allowed while holding a lock"
	wordsI1a        = "global function calls are not allowed while holding a lock, use static function instead"
	wordsI3Var      = "R1 doesn't have constant offset. bpf_spin_lock has to be at the constant offset"
	wordsI3Off      = "off %d doesn't point to 'struct bpf_spin_lock' that is at %d"
	wordsI4         = "bpf_spin_unlock without taking a lock"
	wordsI5         = "bpf_spin_unlock of different lock"
	wordsI6         = "bpf_spin_unlock is missing"
	wordsI6b        = "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region"
	wordsI7         = "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region"
	wordsI9         = "bpf_spin_lock cannot be accessed directly by load/store"
	wordsI9Kind     = "%s cannot be accessed directly by load/store"
	wordsI9Obj      = "direct access to %s is disallowed"
	wordsVarOff     = "R1 doesn't have constant offset. bpf_%s has to be at the constant offset"
	wordsNoBTFKind  = "map '%s' has to have BTF in order to use bpf_%s"
	wordsOffKind    = "off %d doesn't point to 'struct %s' that is at %d"
	wordsI4Res      = "bpf_res_spin_unlock without taking a lock"
	wordsH1         = "bpf_spin_lock at off=%d must be held for %s"
	wordsH2         = "held lock and object are not in the same allocation"
	wordsH3         = "can't spin_{lock,unlock} in rbtree cb"
	wordsR1         = "Acquiring the same lock again, AA deadlock detected"
	wordsR2         = "bpf_res_spin_unlock of different lock"
	wordsOutOfOrder = "%s_unlock cannot be out of order"
	wordsR5         = "has no valid bpf_res_spin_lock"
	wordsR6         = "arg#0 doesn't point to map value or allocated object"
	wordsM8         = "map '%s': failed to create: unknown error (-524)"
)

// logPatterns maps fragments of verifier messages (every version's wording) to rules.
// When a log holds several, the one printed last (the error) wins.
var logPatterns = []struct{ frag, rule string }{
	{"socket filter progs cannot use bpf_spin_lock yet", RuleP1},
	{"tracing progs cannot use bpf_spin_lock yet", RuleP2},
	{"sleepable progs cannot use bpf_spin_lock yet", RuleP3},
	{"tracing progs cannot use bpf_timer yet", RuleP4},
	{"tracing progs cannot use bpf_wq yet", RuleP5},
	{"tracing progs cannot use bpf_{list_head,rb_root} yet", RuleP6},
	{"has to have BTF in order to use bpf_spin_lock", RuleM1},
	{"has to have BTF in order to use bpf_timer", RuleM7},
	{"has to have BTF in order to use bpf_wq", RuleM7},
	{"doesn't have 'struct bpf_spin_lock'", RuleM4},
	{"has more than one 'struct bpf_spin_lock'", RuleM5},
	{"bpf_spin_lock is mangled", RuleM6},
	{"has no valid bpf_spin_lock", RuleM5},
	{"global function calls are not allowed while holding a lock", RuleI1a},
	{"function calls are not allowed while holding a lock", RuleI1},
	{"tail_call cannot be used inside bpf_spin_lock-ed region", RuleI8},
	{"bpf_spin_lock has to be at the constant offset", RuleI3},
	{"doesn't point to 'struct bpf_spin_lock'", RuleI3},
	{"expected=map_value, ptr_", RuleI3},
	{"bpf_spin_unlock without taking a lock", RuleI4},
	{"bpf_spin_unlock of different lock", RuleI5},
	{"bpf_spin_unlock is missing", RuleI6},
	{"BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region", RuleI6b},
	{"BPF_EXIT instruction cannot be used inside bpf_spin_lock-ed region", RuleI6b},
	{"BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region", RuleI7},
	{"bpf_spin_lock cannot be accessed directly by load/store", RuleI9},
	{"direct access to bpf_spin_lock is disallowed", RuleI9},
	{"bpf_res_spin_lock cannot be accessed directly by load/store", RuleI9},
	{"bpf_res_spin_unlock without taking a lock", RuleI4},
	{"must be held for bpf_list_head", RuleH1},
	{"must be held for bpf_rb_root", RuleH1},
	{"held lock and object are not in the same allocation", RuleH2},
	{"can't spin_{lock,unlock} in rbtree cb", RuleH3},
	{"AA deadlock detected", RuleR1},
	{"bpf_res_spin_unlock of different lock", RuleR2},
	{"unlock cannot be out of order", RuleR3},
	{"bpf_res_spin_lock has to be at the constant offset", RuleR4},
	{"doesn't point to 'struct bpf_res_spin_lock'", RuleR4},
	{"has no valid bpf_res_spin_lock", RuleR5},
	{"doesn't point to map value or allocated object", RuleR6},
	{"failed to create: unknown error (-524)", RuleM8},
}

// sameWords lists, for a rule RuleForVerifierLog returns, the other rules whose failures
// the kernel reports in the same words.
var sameWords = map[string][]string{
	// M5/M6: 6.2+ refuses the whole object's BTF for a struct with two (or only
	// misaligned) locks; libbpf goes on without BTF and M1's words follow.
	RuleM1: {RuleM1, RuleM2, RuleM3, RuleG4, RuleM5, RuleM6},
	// A const lock in .rodata (G4) and a map without a lock (I3) read the same.
	RuleM5: {RuleM5, RuleM4, RuleM6, RuleG3, RuleG4, RuleI3},
	RuleM4: {RuleM4},
	RuleM6: {RuleM6},
	RuleI1: {RuleI1, RuleI1a, RuleI2, RuleI8},
	RuleI5: {RuleI5, RuleG1},
	RuleI6: {RuleI6, RuleI6b},
	// H2 prints "held lock and object are not in the same allocation", then H1's line.
	RuleH1: {RuleH1, RuleH2},
}

// RuleForVerifierLog returns the ID of the rule whose kernel words appear in a verifier
// log, or "" if none does. Where the log holds several, the last one (the error) counts.
// Some rules share their words (a lock in a per-CPU map, M2, ends in M1's message):
// the answer is then the one docs/SPINLOCK.md lists first for those words.
func RuleForVerifierLog(log string) string {
	best, bestEnd, bestLen := "", -1, 0
	for _, p := range logPatterns {
		at := strings.LastIndex(log, p.frag)
		if at < 0 {
			continue
		}
		// The message ending last is the error; of two ending at the same place the
		// longer is the more specific ("global function calls …" ⊃ "function calls …").
		end := at + len(p.frag)
		if end > bestEnd || (end == bestEnd && len(p.frag) > bestLen) {
			best, bestEnd, bestLen = p.rule, end, len(p.frag)
		}
	}
	return best
}

// rulesForVerifierLog returns every rule whose failure the kernel reports in the words
// found in log (RuleForVerifierLog's answer first), or nil.
func rulesForVerifierLog(log string) []string {
	r := RuleForVerifierLog(log)
	if r == "" {
		return nil
	}
	if s, ok := sameWords[r]; ok {
		return append([]string(nil), s...)
	}
	return []string{r}
}

// kernelWords returns the words a kernel of version v prints when rule is broken, with
// mapName filled in where the kernel names the map ("" when the rule has no words of its
// own or is not a rule of v).
func kernelWords(rule string, v Version, mapName string) string {
	f := func(format string) string {
		if strings.Contains(format, "%s") {
			return fmt.Sprintf(format, mapName)
		}
		return format
	}
	switch rule {
	case RuleP1:
		return wordsP1
	case RuleP2:
		return wordsP2
	case RuleP3:
		return wordsP3
	case RuleP4:
		return wordsP4
	case RuleP5:
		return wordsP5
	case RuleP6:
		return wordsP6
	case RuleM1, RuleM2, RuleM3, RuleG4:
		return f(wordsNoBTF)
	case RuleM4:
		if v.Before(6, 2) {
			return f(wordsNoLock61)
		}
		return f(wordsNoValid)
	case RuleM5, RuleG3:
		if v.Before(6, 2) {
			return f(wordsMany61)
		}
		return f(wordsNoValid)
	case RuleM6:
		if v.Before(6, 2) {
			return f(wordsMangled61)
		}
		return f(wordsNoValid)
	case RuleM7:
		return f(wordsTimerBTF)
	case RuleI1, RuleI2, RuleI8:
		return wordsI1
	case RuleI1a:
		if v.Before(6, 9) {
			return wordsI1
		}
		return wordsI1a
	case RuleI3:
		return wordsI3Var
	case RuleI4:
		return wordsI4
	case RuleI5, RuleG1:
		return wordsI5
	case RuleI6:
		return wordsI6
	case RuleI6b:
		if v.Before(6, 13) {
			return wordsI6
		}
		return wordsI6b
	case RuleI7:
		return wordsI7
	case RuleI9:
		return wordsI9
	case RuleH1:
		return "bpf_spin_lock at off=N must be held for bpf_list_head"
	case RuleH2:
		return wordsH2
	case RuleH3:
		return wordsH3
	case RuleR1:
		return wordsR1
	case RuleR2:
		return wordsR2
	case RuleR3:
		return "bpf_res_spin_unlock cannot be out of order"
	case RuleR4:
		return fmt.Sprintf(wordsVarOff, "res_spin_lock")
	case RuleR5:
		return "map '" + mapName + "' " + wordsR5
	case RuleR6:
		return wordsR6
	case RuleM8:
		return f(wordsM8)
	}
	return ""
}
