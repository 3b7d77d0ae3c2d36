// SPDX-License-Identifier: Apache-2.0

package kerneltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/spinlock"
)

// corpusDir is the corpus, relative to this package.
var corpusDir = filepath.Join("..", "..", "bpf", "testdata", "spinlock")

// entry is one program of manifest.json: what the kernel said when it was loaded alone.
type entry struct {
	Object        string `json:"object"`
	Program       string `json:"program"`
	Rule          string `json:"rule"`              // the rule it breaks, "" for a twin
	TwinOf        string `json:"twin_of,omitempty"` // for a twin, the rule it is the near-twin of
	KernelRejects bool   `json:"kernel_rejects"`
	KernelErrno   int    `json:"kernel_errno,omitempty"`
	KernelMessage string `json:"kernel_message,omitempty"`
	Note          string `json:"note,omitempty"`
}

type manifest struct {
	Kernel   string  `json:"kernel"` // uname -r of the machine that measured it
	Programs []entry `json:"programs"`
}

// update rewrites the kernel's verdicts in manifest.json (kernel_rejects, kernel_errno,
// kernel_message and kernel) from the running kernel, keeping each entry's rule, twin_of
// and note: go test -run TestDifferential ./spinlock/kerneltest -args -update. Review the
// diff: an entry whose verdict flips becomes inconsistent with its rule until a person
// fixes the rule.
var update = flag.Bool("update", false, "rewrite manifest.json's kernel verdicts from the running kernel")

// words lists, per rule, the kernel's words for it on 6.18 (any one must appear in the
// log). Where the kernel reports a rule in another rule's words, that is said here.
var words = map[string][]string{
	"P1": {"socket filter progs cannot use bpf_spin_lock yet"},
	"P2": {"tracing progs cannot use bpf_spin_lock yet"},
	"P4": {"tracing progs cannot use bpf_timer yet"},
	"P5": {"tracing progs cannot use bpf_wq yet"},
	"P6": {"tracing progs cannot use bpf_{list_head,rb_root} yet"},
	"M1": {"has to have BTF in order to use bpf_spin_lock"},
	// M2, M3: map creation fails, libbpf retries the map without BTF, M1's words follow.
	"M2": {"has to have BTF in order to use bpf_spin_lock"},
	"M3": {"has to have BTF in order to use bpf_spin_lock"},
	// M5: an array of locks leaves the map without a lock; two locks in one struct make
	// 6.18 refuse the object's BTF (-E2BIG), and libbpf goes on without it: M1's words.
	"M5": {"has no valid bpf_spin_lock", "has to have BTF in order to use bpf_spin_lock"},
	// M6: the rules notes say "has no valid"; 6.18 refuses the BTF (-EFAULT): M1's words.
	"M6": {"has no valid bpf_spin_lock", "has to have BTF in order to use bpf_spin_lock"},
	"M7": {"has to have BTF in order to use bpf_timer", "has to have BTF in order to use bpf_wq"},
	"G3": {"has no valid bpf_spin_lock"},
	// G4: a const lock is not seen ("has no valid"); a non-const one in .rodata is M3.
	"G4":  {"has no valid bpf_spin_lock", "has to have BTF in order to use bpf_spin_lock"},
	"I1":  {"function calls are not allowed while holding a lock"},
	"I1a": {"global function calls are not allowed while holding a lock"},
	"I2":  {"function calls are not allowed while holding a lock"},
	// I3: a variable offset, a constant offset that is not the lock's, a value without a
	// lock, or no map value at all (a lock on the stack: "R1 type=fp expected=map_value").
	"I3": {"bpf_spin_lock has to be at the constant offset", "has no valid bpf_spin_lock",
		"doesn't point to 'struct bpf_spin_lock'", "expected=map_value"},
	// I4: also the failure path of an unchecked bpf_res_spin_lock, which holds nothing.
	"I4":  {"bpf_spin_unlock without taking a lock", "bpf_res_spin_unlock without taking a lock"},
	"I5":  {"bpf_spin_unlock of different lock"},
	"I6":  {"bpf_spin_unlock is missing"},
	"I6b": {"BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region"},
	"I7":  {"BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region"},
	"I8":  {"function calls are not allowed while holding a lock"},
	// I9: a map value's or a global's lock word; an allocated object's has its own words.
	"I9": {"bpf_spin_lock cannot be accessed directly by load/store", "direct access to bpf_spin_lock is disallowed"},
	// H: lists and rbtrees guarded by a lock. H2 prints its line, then H1's.
	"H1": {"must be held for bpf_list_head", "must be held for bpf_rb_root"},
	"H2": {"held lock and object are not in the same allocation"},
	"H3": {"can't spin_{lock,unlock} in rbtree cb"},
	// R: bpf_res_spin_lock. In tracing and socket-filter programs, in calls under it and
	// at exit with it held, the kernel uses the bpf_spin_lock words (P1, P2, I1, I6b).
	"R1": {"Acquiring the same lock again, AA deadlock detected"},
	"R2": {"bpf_res_spin_unlock of different lock"},
	"R3": {"bpf_res_spin_unlock cannot be out of order"},
	"R4": {"doesn't point to 'struct bpf_res_spin_lock'", "bpf_res_spin_lock has to be at the constant offset"},
	"R5": {"has no valid bpf_res_spin_lock"},
	"R6": {"doesn't point to map value or allocated object"},
	// M8 (6.1): libbpf's words when the kernel refuses a map of maps whose inner map's
	// value holds a lock (-ENOTSUPP, which libbpf prints as an unknown error).
	"M8": {"failed to create: unknown error (-524)"},
}

// olderWords lists what older kernels print for a rule where it differs from words, as
// seen in Debian's 6.1 kernel under make test-kernels. An entry applies to kernels up to
// and including its version (the last version the rule or its wording has, by
// docs/SPINLOCK.md). The test uses them only on a kernel other than the manifest's, to
// learn which rules the kernel's log names.
var olderWords = map[string][]struct {
	until spinlock.Version
	words []string
}{
	// 6.1 says a map's value has no usable lock with "doesn't have", "has more than one"
	// or "mangled"; 6.2's btf_record rewrite made these "has no valid bpf_spin_lock".
	"M4": {{v(6, 1), []string{"doesn't have 'struct bpf_spin_lock'"}}},
	"M5": {{v(6, 1), []string{"doesn't have 'struct bpf_spin_lock'", "has more than one 'struct bpf_spin_lock'"}}},
	"M6": {{v(6, 1), []string{"is not a struct type or bpf_spin_lock is mangled"}}},
	"G3": {{v(6, 1), []string{"has more than one 'struct bpf_spin_lock'"}}},
	"G4": {{v(6, 1), []string{"doesn't have 'struct bpf_spin_lock'"}}},
	// I3 for a value without a lock: 6.1's words are the same "doesn't have".
	"I3": {{v(6, 1), []string{"doesn't have 'struct bpf_spin_lock'"}}},
	// G1: 6.1 gives each load of a global's address a fresh identity.
	"G1": {{v(6, 1), []string{"bpf_spin_unlock of different lock"}}},
	"P3": {{v(6, 5), []string{"sleepable progs cannot use bpf_spin_lock yet"}}},
}

func v(major, minor int) spinlock.Version { return spinlock.Version{Major: major, Minor: minor} }

// rulesSaid returns the rules whose words, as kernel k prints them, appear in log.
func rulesSaid(log string, k spinlock.Version) []string {
	var said []string
	has := func(ws []string) bool {
		return slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(log, w) })
	}
	for rule, ws := range words {
		if has(ws) {
			said = append(said, rule)
		}
	}
	for rule, older := range olderWords {
		for _, o := range older {
			if !k.AtLeast(o.until.Major, o.until.Minor+1) && has(o.words) && !slices.Contains(said, rule) {
				said = append(said, rule)
			}
		}
	}
	sort.Strings(said)
	return said
}

// unresolvedKfunc is what libbpf writes into the verifier log for a call to a __weak
// kfunc the kernel lacks.
var unresolvedKfunc = regexp.MustCompile(`kfunc '([^']+)' is referenced but wasn't resolved`)

// mapCreateFailed is libbpf's warning when the kernel refuses to create a map.
var mapCreateFailed = regexp.MustCompile(`map '[^']*': failed to create[^;]*`)

// missingKfunc is libbpf's warning when the kernel lacks a kfunc the object declares:
// libbpf resolves externs for the whole object, so none of its programs can load.
var missingKfunc = regexp.MustCompile(`extern \(func ksym\) '([^']+)': not found in kernel`)

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(m.Programs) == 0 {
		t.Fatal("manifest.json lists no programs")
	}
	return m
}

// kernelVerdict is what the kernel said about one program loaded alone.
type kernelVerdict struct {
	rejects bool
	errno   int
	message string // VerifierError.Message
	log     string // VerifierError.Log
	lacks   string // a kfunc the object declares and the kernel lacks: nothing could load
	err     error
}

// warnings returns the messages of libbpf's warnings in a slog text log, one per line.
func warnings(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if _, m, ok := strings.Cut(l, " msg="); ok {
			out = append(out, strings.TrimSuffix(m, " source=libbpf"))
		}
	}
	return strings.Join(out, "; ")
}

// loadAlone opens obj, turns autoload off for every program but prog and loads it with
// the check off. Everything it opens is closed before it returns.
//
// On a kernel other than the manifest's (sameKernel false), an object that declares a kfunc
// the kernel lacks cannot load at all: the verdict's lacks names the kfunc.
func loadAlone(t *testing.T, name string, elf []byte, prog string, sameKernel bool) (kernelVerdict, map[string]ebpf.ProgramType) {
	t.Helper()
	var libbpfLog bytes.Buffer
	// Debug: a libbpf warning that becomes Load's error is logged at debug level only.
	logger := slog.New(slog.NewTextHandler(&libbpfLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o, err := loader.OpenBytes(name, elf, &loader.Options{Preflight: spinlock.Preflight{Mode: spinlock.Off}, Logger: logger})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer func() {
		if err := o.Close(); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	}()
	types := map[string]ebpf.ProgramType{}
	found := false
	for _, p := range o.Programs() {
		types[p.Name()] = p.Type()
		on := p.Name() == prog
		found = found || on
		if err := p.SetAutoload(on); err != nil {
			t.Fatalf("%s: SetAutoload(%s, %v): %v", name, p.Name(), on, err)
		}
	}
	if !found {
		t.Fatalf("%s has no program %q", name, prog)
	}
	err = o.Load()
	if err == nil {
		return kernelVerdict{}, types
	}
	var ve *loader.VerifierError
	if !errors.As(err, &ve) {
		// libbpf's diagnosis: the message Load's error carries first, then its log.
		diagnosis := warnings(libbpfLog.String())
		if le := (*loader.LoadError)(nil); errors.As(err, &le) {
			diagnosis = le.Libbpf + "; " + diagnosis
		}
		if m := missingKfunc.FindStringSubmatch(diagnosis); m != nil && !sameKernel {
			// Not a lock rule: this older kernel lacks a kfunc the object declares.
			return kernelVerdict{lacks: m[1], err: err}, types
		}
		if w := diagnosis; mapCreateFailed.MatchString(w) && !sameKernel {
			// A map the kernel refuses to create (M8 on 6.1: a lock in an inner map's
			// value): libbpf fails the whole object, this program with it. The words
			// are libbpf's, from its log.
			var errno syscall.Errno
			errors.As(err, &errno)
			return kernelVerdict{rejects: true, errno: int(errno), message: mapCreateFailed.FindString(w), log: w, err: err}, types
		}
		// Not the verifier's refusal (privileges, a map the kernel refuses outright…): the
		// corpus has none on the manifest's kernel, so this is a failure of the test's
		// premises; on another kernel, a refusal the check does not know.
		t.Fatalf("load %s/%s: not a verifier error: %v; libbpf: %s", name, prog, err, diagnosis)
	}
	if ve.Program != prog {
		t.Errorf("load %s/%s: VerifierError names program %q", name, prog, ve.Program)
	}
	if m := unresolvedKfunc.FindStringSubmatch(ve.Log); m != nil && !sameKernel {
		// The corpus declares its kfuncs __weak: on a kernel that lacks one, libbpf
		// poisons the calls to it, and only the programs that make them fail.
		return kernelVerdict{lacks: m[1], err: err}, types
	}
	return kernelVerdict{rejects: true, errno: int(ve.Errno), message: ve.Message, log: ve.Log, err: err}, types
}

// quiet keeps libbpf's warnings (every refused program logs several) out of the test's
// output: the kernel's log reaches the test through the VerifierError.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// kernelMessage picks the line of a refused program's log that names the cause: the last
// line holding one of the rule's words (with its continuation line), else the loader's
// message (the log's last line).
func kernelMessage(kv kernelVerdict, rule string) string {
	lines := strings.Split(kv.log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		for _, w := range words[rule] {
			if !strings.Contains(lines[i], w) {
				continue
			}
			msg := strings.TrimSpace(lines[i])
			// "global function calls are not allowed while holding a lock,\nuse static
			// function instead": a message the kernel continues on the next line.
			if strings.HasSuffix(msg, ",") && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				msg += "\n" + strings.TrimSpace(lines[i+1])
			}
			return msg
		}
	}
	return kv.message
}

func writeManifest(t *testing.T, m manifest) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpusDir, "manifest.json"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mapNames normalises the map names the kernel prints ("map 'g_two_in.bss'"): libbpf
// derives global-data map names from the object name the caller chooses.
var mapNames = regexp.MustCompile(`map '[^']*'`)

func normalise(s string) string { return mapNames.ReplaceAllString(s, "map '*'") }

// checkVerdict runs the spin-lock check on the object's bytes and returns the rules of
// its error findings for prog, and every finding for prog (for messages).
func checkVerdict(t *testing.T, rep *spinlock.Report, prog string) (rules []string, all []spinlock.Finding) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Program == prog {
			all = append(all, f)
		}
	}
	if err := rep.Err(); err != nil {
		var se *spinlock.Error
		if !errors.As(err, &se) {
			t.Fatalf("Report.Err() is %T, not *spinlock.Error: %v", err, err)
		}
		for _, f := range se.Findings {
			if f.Program == prog && !slices.Contains(rules, f.Rule) {
				rules = append(rules, f.Rule)
			}
		}
	}
	sort.Strings(rules)
	return rules, all
}

func describe(fs []spinlock.Finding) string {
	if len(fs) == 0 {
		return "no findings"
	}
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %v %q", f.Rule, f.Severity, f.Message)
	}
	return b.String()
}

// TestDifferential loads every program of the corpus alone into the running kernel, runs
// the spin-lock check on the same bytes, and asserts that they agree program by program.
func TestDifferential(t *testing.T) {
	testutil.RequirePrivileged(t)
	m := readManifest(t)
	fdsBefore := testutil.OpenFDs(t)

	kernel, err := spinlock.RunningKernel()
	if err != nil {
		t.Fatalf("running kernel: %v", err)
	}
	measured, err := spinlock.ParseVersion(m.Kernel)
	if err != nil {
		t.Fatalf("manifest kernel %q: %v", m.Kernel, err)
	}
	sameKernel := measured == kernel
	if *update {
		u, err := unameRelease()
		if err != nil {
			t.Fatal(err)
		}
		m.Kernel, sameKernel = u, true
	}
	if !sameKernel {
		t.Logf("manifest measured on %s, running %s: the manifest's kernel verdicts are not compared, check-vs-kernel still is", measured, kernel)
	}

	// Every program of every object is in the manifest, once.
	objs, err := filepath.Glob(filepath.Join(corpusDir, "*.bpf.o"))
	if err != nil || len(objs) == 0 {
		t.Fatalf("no objects in %s (%v)", corpusDir, err)
	}
	listed := map[string]bool{}
	for _, e := range m.Programs {
		k := e.Object + "/" + e.Program
		if listed[k] {
			t.Errorf("manifest lists %s twice", k)
		}
		listed[k] = true
	}

	elves := map[string][]byte{}
	reports := map[string]*spinlock.Report{}
	for _, path := range objs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		elves[filepath.Base(path)] = b
	}

	var agree, total int
	var disagreements []string
	lacking := map[string]int{} // kfunc the kernel lacks → programs that could not load
	otherRefusals := 0          // refused by another kernel for no lock rule, the check silent
	for i := range m.Programs {
		e := &m.Programs[i]
		name := e.Object + "/" + e.Program
		ran, lacks, otherReason := false, "", false
		ok := t.Run(name, func(t *testing.T) {
			ran = true
			elf, found := elves[e.Object]
			if !found {
				t.Fatalf("manifest names %s, which is not in %s", e.Object, corpusDir)
			}
			if e.Rule != "" && words[e.Rule] == nil {
				t.Fatalf("manifest rule %q has no kernel words in this test", e.Rule)
			}

			kv, types := loadAlone(t, e.Object, elf, e.Program, sameKernel)
			if kv.lacks != "" {
				lacks = kv.lacks
				t.Skipf("kernel %s lacks kfunc %s, which %s declares: no program of it can load here (%v)", kernel, kv.lacks, e.Object, kv.err)
			}
			if *update {
				e.KernelRejects, e.KernelErrno, e.KernelMessage = kv.rejects, kv.errno, ""
				if kv.rejects {
					e.KernelMessage = kernelMessage(kv, e.Rule)
				}
			}
			if e.Rule == "" && e.KernelRejects || e.Rule != "" && !e.KernelRejects {
				t.Fatalf("manifest entry is inconsistent: rule %q, kernel_rejects %v", e.Rule, e.KernelRejects)
			}

			// 1. The kernel still says what the manifest recorded.
			if sameKernel {
				if kv.rejects != e.KernelRejects {
					t.Errorf("manifest drift: kernel rejects=%v (%v), manifest says %v", kv.rejects, kv.err, e.KernelRejects)
				}
				if kv.rejects && e.KernelRejects {
					if kv.errno != e.KernelErrno {
						t.Errorf("manifest drift: errno %d, manifest says %d", kv.errno, e.KernelErrno)
					}
					if !strings.Contains(normalise(kv.log), normalise(e.KernelMessage)) {
						t.Errorf("manifest drift: kernel log lacks %q; message %q", e.KernelMessage, kv.message)
					}
				}
			}
			// 2. The kernel's words are the rule's (the manifest's rule is the manifest's
			// kernel's; another kernel may refuse the program for another rule, or not at all).
			if sameKernel && kv.rejects && e.Rule != "" {
				if !slices.ContainsFunc(words[e.Rule], func(w string) bool { return strings.Contains(kv.log, w) }) {
					t.Errorf("kernel's message %q does not contain the words of %s (%q)", kv.message, e.Rule, words[e.Rule])
				}
			}

			// 3. The check agrees with the kernel.
			rep := reports[e.Object]
			if rep == nil {
				var err error
				rep, err = spinlock.Check(elf, &spinlock.Options{Kernel: kernel, ProgramTypes: types, Name: e.Object})
				if err != nil {
					t.Fatalf("spinlock.Check(%s): %v", e.Object, err)
				}
				reports[e.Object] = rep
			}
			rules, all := checkVerdict(t, rep, e.Program)
			checkRejects := len(rules) > 0
			if kv.rejects && !sameKernel && len(rulesSaid(kv.log, kernel)) == 0 {
				// Another kernel refuses it for a reason that is no lock rule (a kptr
				// to a program's type on 6.1 …): the check must say nothing of it.
				otherReason = true
				if checkRejects {
					t.Errorf("kernel %s refuses it for a reason that is no lock rule (%q), but the check reports %v (%s)",
						kernel, kv.message, rules, describe(all))
				}
				return
			}
			switch {
			case checkRejects != kv.rejects:
				t.Errorf("verdicts differ: kernel rejects=%v (%q), check rejects=%v (%s)",
					kv.rejects, kv.message, checkRejects, describe(all))
			case kv.rejects && sameKernel && !slices.Contains(rules, e.Rule):
				t.Errorf("rules differ: kernel %q is rule %s, check reports %v (%s)",
					kv.message, e.Rule, rules, describe(all))
			case kv.rejects && !sameKernel:
				// Another kernel: its words say which rules it applied (words, olderWords).
				said := rulesSaid(kv.log, kernel)
				if len(said) == 0 {
					t.Errorf("kernel %s refuses it in words of no lock rule (%q); check reports %v (%s)",
						kernel, kv.message, rules, describe(all))
				} else if !slices.ContainsFunc(rules, func(r string) bool { return slices.Contains(said, r) }) {
					t.Errorf("rules differ: kernel %s's %q is rule %v, check reports %v (%s)",
						kernel, kernelMessage(kv, said[0]), said, rules, describe(all))
				}
			}
		})
		switch {
		case !ran: // not selected by -run
		case lacks != "":
			lacking[lacks]++
		case otherReason && ok:
			total++
			agree++
			otherRefusals++
		case ok:
			total++
			agree++
		default:
			total++
			disagreements = append(disagreements, name)
		}
	}
	for _, path := range objs {
		base := filepath.Base(path)
		b := elves[base]
		// Programs of the corpus that the manifest forgot.
		o, err := loader.OpenBytes(base, b, &loader.Options{Preflight: spinlock.Preflight{Mode: spinlock.Off}, Logger: quiet})
		if err != nil {
			t.Fatalf("open %s: %v", base, err)
		}
		for _, p := range o.Programs() {
			if !listed[base+"/"+p.Name()] {
				t.Errorf("%s/%s is not in manifest.json", base, p.Name())
			}
		}
		if err := o.Close(); err != nil {
			t.Errorf("close %s: %v", base, err)
		}
	}
	if *update {
		writeManifest(t, m)
		t.Logf("rewrote manifest.json from kernel %s", m.Kernel)
	}
	if after := testutil.OpenFDs(t); after > fdsBefore {
		t.Errorf("file descriptors leaked: %d open before, %d after", fdsBefore, after)
	}
	summary := fmt.Sprintf("check vs kernel %s: %d/%d programs agree", kernel, agree, total)
	if otherRefusals > 0 {
		summary += fmt.Sprintf(" (%d of them refused by this kernel for no lock rule, the check silent)", otherRefusals)
	}
	if len(lacking) > 0 {
		var n int
		var ks []string
		for k, c := range lacking {
			n += c
			ks = append(ks, fmt.Sprintf("%s (%d)", k, c))
		}
		sort.Strings(ks)
		summary += fmt.Sprintf("; %d could not load: the kernel lacks kfuncs their objects declare: %s", n, strings.Join(ks, ", "))
	}
	t.Log(summary)
	if len(disagreements) > 0 {
		t.Logf("disagreements: %s", strings.Join(disagreements, ", "))
	}
}

// unameRelease returns uname -r.
func unameRelease() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b)), err
}
