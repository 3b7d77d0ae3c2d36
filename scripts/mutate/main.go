// SPDX-License-Identifier: Apache-2.0

// Command mutate is bpfkit's mutation check (`make mutate`): it breaks the code on
// purpose, one small change at a time, in a copy of the tree, runs the tests of the
// packages that should notice, and fails unless every change makes at least one test
// fail. It prints a table: mutation, the first failing test of each package, the time.
//
//	go run ./scripts/mutate                  # every mutation (as root: the tests load programs)
//	go run ./scripts/mutate -run 'maps:'     # those whose name matches a regexp
//	go run ./scripts/mutate -list            # list them, and whether each still applies
//	go run ./scripts/mutate -all             # every failing test, not only each package's first
//
// The copy holds the files git knows (tracked and untracked, not ignored) as they are in
// the working tree, so uncommitted changes are tested too. Before the mutations, the
// same packages' tests must pass on the unchanged copy (else every mutation would look
// caught). Each mutation's edits must each match exactly once in their file: a mutation
// that no longer applies, or no longer builds, fails the check instead of passing it.
// The tests run with BPFKIT_REQUIRE_PRIVILEGED=1, so a privileged test cannot skip and
// let a mutation survive unseen.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// edit replaces old, which must occur exactly once in the file, by new.
type edit struct{ old, new string }

// mutation is one small change to the code and the packages whose tests must see it.
type mutation struct {
	name  string
	file  string
	edits []edit
	pkgs  []string
}

func one(old, new string) []edit { return []edit{{old, new}} }

// mutations: the check (spinlock), the accessors (maps) and the loader's promises about
// what Close releases. Names start with the package; each says what the change breaks.
var mutations = []mutation{
	// maps: BPF_F_LOCK dropped from each locked operation (f&0 keeps f used).
	{"maps: UpdateLocked drops BPF_F_LOCK", "maps/ops.go",
		one(`unsafe.Pointer(&value), uint64(flags)|f)`, `unsafe.Pointer(&value), uint64(flags)|f&0)`), []string{"./maps"}},
	{"maps: BatchLookupLocked drops BPF_F_LOCK", "maps/batch.go",
		one(`sliceData(values), len(values), f)`, `sliceData(values), len(values), f&0)`), []string{"./maps"}},
	{"maps: BatchUpdateLocked drops BPF_F_LOCK", "maps/batch.go",
		one(`"locked batch update", keys, values, f)`, `"locked batch update", keys, values, f&0)`), []string{"./maps"}},
	{"maps: LookupLockedInto drops BPF_F_LOCK", "maps/ops.go",
		one(`unsafe.Pointer(value), f)`, `unsafe.Pointer(value), f&0)`), []string{"./maps"}},
	{"maps: LookupAndDeleteLocked drops BPF_F_LOCK", "maps/ops.go",
		one(`unsafe.Pointer(&v), f)`, `unsafe.Pointer(&v), f&0)`), []string{"./maps"}},
	{"maps: a *Locked operation without a lock in the value reaches the kernel", "maps/handle.go",
		one(`if h.lockOff < 0 {`, `if h.lockOff < -1 {`), []string{"./maps"}},
	{"maps: Update ignores its flags (UpdateNoExist, UpdateExist)", "maps/ops.go",
		one(`"update", unsafe.Pointer(&key), unsafe.Pointer(&value), uint64(flags))`, `"update", unsafe.Pointer(&key), unsafe.Pointer(&value), uint64(flags)&0)`), []string{"./maps"}},
	{"maps: per-CPU values at their own size, not the kernel's 8-byte stride", "maps/percpu.go",
		one(`return (size + 7) &^ 7`, `return size`), []string{"./maps"}},
	{"maps: a per-CPU lookup takes more values than there are CPUs", "maps/percpu.go",
		one("key *K, values []V) error {\n\tif len(values) != c.ncpu {", "key *K, values []V) error {\n\tif len(values) < c.ncpu {"), []string{"./maps"}},
	{"maps: a batch walk does not advance its cursor", "maps/batch.go",
		one(`copy(c.in, c.out)`, `copy(c.in, c.in)`), []string{"./maps"}},

	// Not here: a map operation that does not hold its descriptor. TestCloseWhileInUse
	// catches it only when an operation lands between the closed-check and its syscall
	// as Close runs, about once in a hundred rounds: too seldom for a check that must
	// fail every time. The loader's test-run mutation below, which the same rule guards,
	// is caught every time.

	// spinlock: the check.
	{"spinlock: I9 narrowed to the lock's first byte", "spinlock/locks.go",
		one(`width := int64(4)`, `width := int64(1)`), []string{"./spinlock"}},
	{"spinlock: I9 also on an access that starts right after the lock", "spinlock/locks.go",
		one(`if start >= lo+width || lo >= start+int64(size) {`, `if start > lo+width || lo >= start+int64(size) {`), []string{"./spinlock"}},
	{"spinlock: I6b keyed from 6.14 instead of 6.13", "spinlock/calls.go",
		one(`if w.c.kernel.AtLeast(6, 13) {`, `if w.c.kernel.AtLeast(6, 14) {`), []string{"./spinlock"}},
	{"spinlock: I1a (global calls) keyed from 6.10 instead of 6.9", "spinlock/calls.go",
		one(`if global && w.c.kernel.AtLeast(6, 9) {`, `if global && w.c.kernel.AtLeast(6, 10) {`), []string{"./spinlock"}},
	{"spinlock: an unlock does not check which lock it releases (I5)", "spinlock/locks.go",
		one(`l.kind == kind && l.class == t.class && l.id == t.id && (l.home < 0`, `l.kind == kind && l.class == t.class && (l.home < 0`), []string{"./spinlock"}},
	{"spinlock: pruning ignores the locks a path holds", "spinlock/walk.go", []edit{
		{"for _, l := range st.locks {\n\t\tb = append(b, byte(l.kind))", "for _, l := range st.locks[:0] {\n\t\tb = append(b, byte(l.kind))"},
		{`if len(old.frames) != len(st.frames) || len(old.locks) != len(st.locks) {`, `if len(old.frames) != len(st.frames) {`},
		{`for i := range old.locks {`, `for i := range old.locks[:min(len(old.locks), len(st.locks))] {`},
	}, []string{"./spinlock"}},
	{"spinlock: helper calls allowed under the lock (I1)", "spinlock/calls.go",
		one(`if st.locked() && fn != fnSpinUnlock {`, `if st.locked() && fn != fnSpinUnlock && fn == fnSpinLock {`), []string{"./spinlock"}},
	{"spinlock: perf_event programs not counted as tracing (P2)", "spinlock/progtype.go",
		one(`case ebpf.Kprobe, ebpf.TracePoint, ebpf.PerfEvent, ebpf.RawTracepoint, ebpf.RawTracepointWritable:`, `case ebpf.Kprobe, ebpf.TracePoint, ebpf.RawTracepoint, ebpf.RawTracepointWritable:`), []string{"./spinlock"}},

	{"spinlock: may_goto loops not widened (walked until the budget runs out)", "spinlock/insn.go",
		one("\tif prev != nil {\n\t\tw.widen(idx, prev, st)", "\tif prev != nil && false {\n\t\tw.widen(idx, prev, st)"), []string{"./spinlock/kerneltest"}},
	{"spinlock: lockWork ignores maps whose values hold a lock (I9 without a lock call missed)", "spinlock/tail.go",
		one("\t	return ok && w.c.mapHoldsLockWork(mi)\n", "\t	return ok && false && w.c.mapHoldsLockWork(mi)\n"), []string{"./spinlock"}},
	{"spinlock: a path's lock-free tail is walked on (a heap sifted after the unlock gives up)", "spinlock/walk.go",
		one("(w.lockFreeTail(idx, st) || w.visited(idx, st))", "(false && w.lockFreeTail(idx, st) || w.visited(idx, st))"), []string{"./spinlock/kerneltest"}},
	{"spinlock: a lock-free tail ignores the map values the path still points to (I9 after the unlock missed)", "spinlock/tail.go",
		one("\t	return h.kind != homeMap || w.c.mapHoldsLockWork(h.m)\n", "\t	return false && (h.kind != homeMap || w.c.mapHoldsLockWork(h.m))\n"), []string{"./spinlock"}},
	{"spinlock: a lock-free tail ignores the work its callers resume to", "spinlock/tail.go",
		one("if cs < 0 || ret >= len(ahead) || ahead[ret] {", "if cs < 0 || ret >= len(ahead) {"), []string{"./spinlock"}},
	{"spinlock: a root whose walk stops ends the walk of the program", "spinlock/walk.go",
		one("func (w *walker) root(start, kind int, held ...heldLock) {\n", "func (w *walker) root(start, kind int, held ...heldLock) {\n\tif len(w.unfinished) > 0 {\n\t\treturn\n\t}\n"), []string{"./spinlock/kerneltest"}},
	{"objfile: code between functions of a linked object left uncovered (false I1a)", "internal/objfile/prepare.go",
		one("\tif coverCodeGaps(&p, f, syms) {", "\tif false && coverCodeGaps(&p, f, syms) {"), []string{"./spinlock/kerneltest"}},

	// loader: what Load runs and what Close releases.
	{"loader: a linked object's weak/strong variable set at its DATASEC offset, not its symbol's", "loader/object.go",
		one("bytes.NewReader(objfile.AlignedBTF(o.elf, f))", "bytes.NewReader(o.elf)"), []string{"./loader"}},
	{"loader: Load skips the spin-lock check", "loader/object.go",
		one(`if err := o.preflight(); err != nil {`, `if err := o.preflight(); err != nil && false {`), []string{"./loader"}},
	{"loader: Close leaves the links attached", "loader/object.go",
		one(`if err := l.destroy(); err != nil {`, `if err := func() error { _ = l; return nil }(); err != nil {`), []string{"./loader"}},
	{"loader: Close leaves the global-data sections mapped", "loader/sectionmem.go",
		one(`err := m.mem.detach()`, `err := error(nil)`), []string{"./loader"}},
	{"loader: a test run does not hold its program's descriptor (the lifetime rule)", "loader/testrun.go", []edit{
		{"fd, ok := f.Acquire()", "fd, ok := f.Raw(), !f.Closed()"},
		{"err := sys.ProgTestRun(fd, &attr, o.Data, out, o.Context)\n\tf.Release()", "err := sys.ProgTestRun(fd, &attr, o.Data, out, o.Context)"},
	}, []string{"./loader"}},
	{"loader/tracepipe: Close does not remove its instance", "loader/tracepipe/tracepipe.go",
		one(`if r.instance != "" {`, `if false && r.instance != "" {`), []string{"./loader/tracepipe"}},
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

func main() {
	only := flag.String("run", "", "only the mutations whose name matches this regexp")
	list := flag.Bool("list", false, "list the mutations and exit")
	keep := flag.Bool("keep", false, "keep the copy of the tree (its path is printed)")
	all := flag.Bool("all", false, "run every test of the packages, not -failfast: list every test that catches a mutation")
	// A package's tests take ~30 s here: a mutation that makes one hang (a loop that
	// never ends) is caught by the timeout, which should not cost much more.
	timeout := flag.Duration("timeout", 4*time.Minute, "go test -timeout for each run")
	flag.Parse()

	var todo []mutation
	for _, m := range mutations {
		if *only == "" || regexp.MustCompile(*only).MatchString(m.name) {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		fatalf("no mutation matches %q", *only)
	}
	root, err := gitRoot()
	if err != nil {
		fatalf("%v", err)
	}
	if *list {
		stale := 0
		for _, m := range todo {
			state := "applies"
			b, err := os.ReadFile(filepath.Join(root, m.file))
			if err == nil {
				_, err = apply(b, m.edits)
			}
			if err != nil {
				state, stale = "STALE: "+err.Error(), stale+1
			}
			fmt.Printf("%-84s %-30s %s\n", m.name, m.file, state)
		}
		if stale > 0 {
			os.Exit(1)
		}
		return
	}

	tmp, err := os.MkdirTemp("", "bpfkit-mutate-")
	if err != nil {
		fatalf("%v", err)
	}
	if *keep {
		fmt.Println("copy of the tree:", tmp)
	} else {
		defer os.RemoveAll(tmp)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sig
			os.RemoveAll(tmp)
			os.Exit(130)
		}()
	}
	if err := copyTree(root, tmp); err != nil {
		fatalf("copying the tree: %v", err)
	}

	// Every mutation must apply before anything runs: a stale list fails at once.
	for _, m := range todo {
		b, err := os.ReadFile(filepath.Join(tmp, m.file))
		if err != nil {
			fatalf("mutation %q: %v", m.name, err)
		}
		if _, err := apply(b, m.edits); err != nil {
			fatalf("mutation %q in %s: %v (update scripts/mutate/main.go)", m.name, m.file, err)
		}
	}

	var pkgs []string
	for _, m := range todo {
		for _, p := range m.pkgs {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	start := time.Now()
	fmt.Printf("baseline: go test %s (unchanged copy) ... ", strings.Join(pkgs, " "))
	out, d, err := goTest(tmp, pkgs, *timeout, *all)
	if err != nil {
		fmt.Printf("FAILED (%v)\n%s\n", d.Round(time.Second), out)
		fatalf("the tests fail without any mutation: fix them first")
	}
	fmt.Printf("pass (%v)\n\n", d.Round(time.Second))

	type result struct {
		m      mutation
		status string
		tests  []string
		d      time.Duration
	}
	var results []result
	bad := 0
	for i, m := range todo {
		fmt.Printf("[%d/%d] %s ... ", i+1, len(todo), m.name)
		path := filepath.Join(tmp, m.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			fatalf("%v", err)
		}
		mutated, _ := apply(orig, m.edits)
		if err := os.WriteFile(path, mutated, 0o644); err != nil {
			fatalf("%v", err)
		}
		out, d, err := goTest(tmp, m.pkgs, *timeout, *all)
		if werr := os.WriteFile(path, orig, 0o644); werr != nil {
			fatalf("restoring %s: %v", m.file, werr)
		}
		r := result{m: m, d: d}
		switch {
		case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
			r.status = "DOES NOT BUILD"
		case err == nil:
			r.status = "SURVIVED"
		default:
			r.status = "caught"
			r.tests = failedTests(out)
			if bytes.Contains(out, []byte("panic: test timed out")) {
				r.tests = append(r.tests, "(timeout)")
			} else if len(r.tests) == 0 && bytes.Contains(out, []byte("panic:")) {
				r.tests = append(r.tests, "(panic)")
			} else if len(r.tests) == 0 {
				r.tests = append(r.tests, "(the package failed outside a test: TestMain or a leak check)")
			}
		}
		if r.status != "caught" {
			bad++
			if r.status == "DOES NOT BUILD" {
				fmt.Printf("%s\n%s\n", r.status, out)
			}
		}
		fmt.Printf("%s (%v)\n", r.status, d.Round(time.Second))
		results = append(results, r)
	}

	which := "failing tests (the first of each package: -failfast)"
	if *all {
		which = "failing tests"
	}
	fmt.Printf("\n%-88s  %-8s  %-5s  %s\n", "mutation", "result", "time", which)
	for _, r := range results {
		fmt.Printf("%-88s  %-8s  %4ds  %s\n", r.m.name, r.status, int(r.d.Seconds()), strings.Join(r.tests, ", "))
	}
	fmt.Printf("\n%d mutations, %d caught, %d not; %v in all\n", len(results), len(results)-bad, bad, time.Since(start).Round(time.Second))
	if bad > 0 {
		os.Exit(1)
	}
}

// failedTests returns the tests go test reports failed, leaving out a parent whose
// subtest is listed.
func failedTests(out []byte) []string {
	var names []string
	for _, f := range failLine.FindAllSubmatch(out, -1) {
		names = append(names, string(f[1]))
	}
	var tests []string
	for _, n := range names {
		if !slices.ContainsFunc(names, func(o string) bool { return strings.HasPrefix(o, n+"/") }) && !slices.Contains(tests, n) {
			tests = append(tests, n)
		}
	}
	return tests
}

// apply makes the edits, each of whose old text must occur exactly once.
func apply(b []byte, edits []edit) ([]byte, error) {
	for _, e := range edits {
		if n := bytes.Count(b, []byte(e.old)); n != 1 {
			return nil, fmt.Errorf("%q occurs %d times, want once", e.old, n)
		}
		b = bytes.Replace(b, []byte(e.old), []byte(e.new), 1)
	}
	return b, nil
}

// goTest runs the packages' tests in dir: the whole packages, stopping each at its first
// failing test unless all, privileged tests required.
func goTest(dir string, pkgs []string, timeout time.Duration, all bool) ([]byte, time.Duration, error) {
	args := []string{"test", "-count=1", "-timeout", timeout.String()}
	if !all {
		args = append(args, "-failfast")
	}
	args = append(args, pkgs...)
	cmd := exec.Command(goCommand(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BPFKIT_REQUIRE_PRIVILEGED=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	return out, time.Since(start), err
}

// goCommand is the go command make passes in GO (a pinned toolchain), else go from PATH.
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func gitRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("finding the repository (run from inside it): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTree copies the files git knows, tracked or untracked but not ignored, as they
// are in the working tree (a tracked file deleted there is left out).
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return err
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mutate: "+format+"\n", args...)
	os.Exit(2)
}
