// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"strings"
	"testing"
)

// TestVersionBoundaries checks every version-keyed rule on both sides of the version
// where it changes (docs/SPINLOCK.md): the last kernel before and the
// first one with the change. TestVersionKeying samples 6.1, 6.6, 6.12 and 6.18, which a
// key off by one minor version (6.9 read as 6.10) would still pass.
func TestVersionBoundaries(t *testing.T) {
	tests := []struct {
		object, program string
		at              Version // the first kernel with the change
		before, after   string  // comma-separated error rules on at's predecessor and on at
		why             string
	}{
		{"g_global.bpf.o", "g2_global_lock", Version{6, 2}, "G1", "", "G1 on 6.1, a global lock works from 6.2 (G2)"},
		{"m_two_locks.bpf.o", "bystander_lock", Version{6, 2}, "", "M5", "6.2 refuses the BTF of an object with a two-lock struct"},
		{"n_inner.bpf.o", "inner_array_lock", Version{6, 2}, "M8,M8", "", "M8: no lock in an inner map's value on 6.1"},
		{"h_list.bpf.o", "push_front_locked", Version{6, 2}, "M8,I1", "", "list kfuncs allowed under the lock from 6.2 (I1b)"},
		{"h_rbtree.bpf.o", "add_locked", Version{6, 3}, "I1", "", "rbtree kfuncs allowed under the lock from 6.3 (I1b)"},
		{"p_special.bpf.o", "tp_list", Version{6, 3}, "P2", "P6", "P6 from 6.3"},
		{"p_progtype.bpf.o", "syscall_lock", Version{6, 6}, "P3", "", "P3 to 6.5"},
		{"i_paths.bpf.o", "correlated_same_reg", Version{6, 8}, "I6", "", "a != outcome narrows a range from 6.8"},
		{"i_insn.bpf.o", "static_call_locked", Version{6, 9}, "I1", "", "static calls under the lock from 6.9"},
		{"i_insn.bpf.o", "global_call_locked", Version{6, 9}, "I1", "I1a", "I1a's words from 6.9"},
		{"i_insn.bpf.o", "subprog_lock_caller_unlock", Version{6, 9}, "I6", "", "a static subprogram may return holding the lock from 6.9"},
		{"m_maps.bpf.o", "nested_lock", Version{6, 10}, "M4", "", "a lock in a nested struct is found from 6.10 (M4b)"},
		{"p_special.bpf.o", "tp_wq", Version{6, 10}, "", "P5", "P5 from 6.10"},
		{"i_insn.bpf.o", "exit_locked", Version{6, 13}, "I6", "I6b", "I6 to 6.12, I6b from 6.13"},
		{"i_insn.bpf.o", "iter_num_locked", Version{6, 14}, "I1", "", "bpf_iter_num_* under the lock from 6.14 (I1b)"},
		{"r_res.bpf.o", "res_lock", Version{6, 15}, "R5", "", "bpf_res_spin_lock from 6.15"},
		{"p_special.bpf.o", "tp_timer", Version{7, 0}, "P4", "", "P4 6.1–6.19"},
		{"p_special.bpf.o", "tp_wq", Version{7, 0}, "P5", "", "P5 6.10–6.19"},
	}
	prev := func(v Version) Version {
		if v.Minor == 0 {
			return Version{v.Major - 1, 19}
		}
		return Version{v.Major, v.Minor - 1}
	}
	for _, tt := range tests {
		for _, side := range []struct {
			v    Version
			want string
		}{{prev(tt.at), tt.before}, {tt.at, tt.after}} {
			rep, err := Check(readCorpusObject(t, tt.object), &Options{Kernel: side.v, Name: tt.object})
			if err != nil {
				t.Fatalf("Check(%s, %s): %v", tt.object, side.v, err)
			}
			var errs []string
			for _, f := range rep.Findings {
				if f.Program == tt.program && f.Severity == SeverityError {
					errs = append(errs, f.Rule)
				}
			}
			if got := strings.Join(errs, ","); got != side.want {
				t.Errorf("%s/%s under %s: errors %q, want %q (%s)", tt.object, tt.program, side.v, got, side.want, tt.why)
			}
		}
	}
}

// TestUncheckedVersionWarns: a kernel outside 6.1–6.18 gets one warning saying the rules
// were not checked against it (docs/SPINLOCK.md), and the ends of the range get none.
func TestUncheckedVersionWarns(t *testing.T) {
	elf := readCorpusObject(t, "m_storage.bpf.o") // breaks no rule
	for _, tt := range []struct {
		v    Version
		warn bool
	}{{Version{5, 15}, true}, {Version{6, 0}, true}, {v6_1, false}, {v6_18, false}, {Version{6, 19}, true}, {Version{7, 0}, true}} {
		rep, err := Check(elf, &Options{Kernel: tt.v, Name: "m_storage.bpf.o"})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if tt.warn {
			want = 1
		}
		if len(rep.Findings) != want {
			t.Errorf("kernel %s: %d findings, want %d: %v", tt.v, len(rep.Findings), want, rep.Findings)
			continue
		}
		if !tt.warn {
			continue
		}
		f := rep.Findings[0]
		words := "kernel " + tt.v.String() + " may be judged differently: the rules were checked against kernels 6.1 to 6.18"
		if f.Severity != SeverityWarning || f.Rule != "" || !strings.Contains(f.Message, words) || rep.Err() != nil {
			t.Errorf("kernel %s: %+v, want a warning without a rule saying %q", tt.v, f, words)
		}
	}
}

// TestExitFindingLines: an I6/I6b finding points at the last statement its path ran
// before the exit (docs/SPINLOCK.md), on 6.12 (I6) and 6.18 (I6b) alike: here the
// statement before the function's shared return, and the branch that skipped the unlock.
func TestExitFindingLines(t *testing.T) {
	for _, tt := range []struct{ object, program, stmt string }{
		{"i_insn.bpf.o", "exit_locked", "v->val++;"},
		{"i_insn.bpf.o", "unlock_one_branch", "if (skb->len & 1)"},
		{"i_paths.bpf.o", "correlated_reload", "if (*(volatile __u32 *)&skb->len & 1)"},
	} {
		for _, v := range []Version{v6_12, v6_18} {
			rep, err := Check(readCorpusObject(t, tt.object), &Options{Kernel: v, Name: tt.object})
			if err != nil {
				t.Fatal(err)
			}
			var exit *Finding
			for i, f := range rep.Findings {
				if f.Program == tt.program && (f.Rule == RuleI6 || f.Rule == RuleI6b) {
					exit = &rep.Findings[i]
				}
			}
			if exit == nil {
				t.Errorf("%s/%s under %s: no I6/I6b finding: %v", tt.object, tt.program, v, rep.Findings)
				continue
			}
			if l := sourceLine(t, exit.File, exit.Line); strings.TrimSpace(l) != tt.stmt {
				t.Errorf("%s/%s under %s: %s points at %s:%d %q, want the line %q", tt.object, tt.program, v, exit.Rule, exit.File, exit.Line, l, tt.stmt)
			}
		}
	}
}
