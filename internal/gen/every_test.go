// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/caps"
	"github.com/bpfkit/bpfkit/internal/testutil"
)

// everyObject says how TestEveryObject treats one object beyond the default (generate,
// open, load, close): the -type flags of its skeleton, the programs the kernel refuses
// by design (not loaded), Go code that prepares it before Load as its real loader would,
// and what this machine cannot load, with why.
type everyObject struct {
	flags   []string
	disable []string
	// prepare is a Go function literal `func(o *loader.Object) string` (see the
	// program's prepare type); ROOT in it stands for the repository's directory.
	prepare string
	// cannot is a regexp of the load error this machine gives (see
	// docs/ARCHITECTURE.md, "Other kernels") and why; the load is then skipped with the
	// reason.
	cannot, why string
}

var everyObjects = map[string]everyObject{
	"bpf/testdata/realworld/events.bpf.o": {flags: []string{"-type", "events=event", "-type", "perf_events=event"}},
	// bcc's stack-trace maps give only their key size: the tool sets the rest.
	"bpf/testdata/realworld/stacks.bpf.o": {prepare: `func(o *loader.Object) string {
		m, err := o.Map("stackmap")
		if err == nil {
			err = m.SetValueSize(127 * 8)
		}
		if err == nil {
			err = m.SetMaxEntries(1024)
		}
		if err != nil {
			return "err:" + err.Error()
		}
		return ""
	}`},
	// a load balancer's own section names: its loader types the programs.
	"bpf/testdata/realworld/customsec.bpf.o": {prepare: `func(o *loader.Object) string {
		for _, p := range []struct{ name string; typ ebpf.ProgramType }{{"xdp_packet_func", ebpf.XDP}, {"tc_packet_func", ebpf.SchedCLS}} {
			prog, err := o.Program(p.name)
			if err == nil {
				err = prog.SetType(p.typ)
			}
			if err != nil {
				return "err:" + err.Error()
			}
		}
		return ""
	}`},
	"bpf/testdata/realworld/ksyms.bpf.o": {
		cannot: `failed to find the address for kernel symbol`,
		why:    "typed __ksym variables of kernel data need CONFIG_KALLSYMS_ALL, which this kernel lacks (make vm-test runs them in 6.12)",
	},
	"bpf/testdata/loader/fentry.bpf.o": {
		cannot: `operation not permitted`,
		why:    "fentry/fexit programs: this VM refuses trampolines (EPERM); make vm-test runs them in 6.12",
	},
	// objects made to be refused: by the verifier, by the spin-lock check (P2)
	"bpf/testdata/loader/verifier.bpf.o": {disable: []string{"null_deref"}},
	"bpf/preflight/preflight_bad.bpf.o":  {disable: []string{"count_writes"}},

	// The loader's own test objects: xdpbad is made to be refused; ksyms' typed program
	// needs CONFIG_KALLSYMS_ALL (see realworld/ksyms above); lockhook's program needs its
	// type; realshape needs every setter, its outer map an inner map from another object.
	"bpf/testdata/loader/xdpbad.bpf.o": {disable: []string{"xdp_bad"}},
	"bpf/testdata/loader/ksyms.bpf.o":  {disable: []string{"typed"}},
	"bpf/testdata/loader/lockhook.bpf.o": {prepare: `func(o *loader.Object) string {
		prog, err := o.Program("lock_hook")
		if err == nil {
			err = prog.SetType(ebpf.XDP)
		}
		if err != nil {
			return "err:" + err.Error()
		}
		return ""
	}`},
	"bpf/testdata/loader/realshape.bpf.o": {prepare: `func(o *loader.Object) string {
		// the inner map's template: maps.bpf.o's array a_plain (u32 → u64), kept
		// open until main ends
		tmpl, err := loader.Open(ROOT+"/bpf/testdata/maps/maps.bpf.o", nil)
		if err != nil {
			return "err:" + err.Error()
		}
		held = append(held, tmpl)
		if err := tmpl.Load(); err != nil {
			return "err:" + err.Error()
		}
		inner, err := tmpl.Map("a_plain")
		if err != nil {
			return "err:" + err.Error()
		}
		m := func(name string) *loader.Map { x, _ := o.Map(name); return x }
		p := func(name string) *loader.Program { x, _ := o.Program(name); return x }
		for i, step := range []func() error{
			func() error { return m("stacks").SetValueSize(127 * 8) },
			func() error { return m("stacks").SetMaxEntries(64) },
			func() error { return m("outer").SetInnerMap(inner) },
			func() error { return p("hook_tc").SetType(ebpf.SchedCLS) },
			func() error { return p("hook_cg").SetType(ebpf.CGroupSKB) },
			func() error { return p("hook_cg").SetExpectedAttachType(ebpf.AttachCGroupInetEgress) },
			func() error { return p("btf_tp").SetAttachTarget("sys_enter", nil) },
		} {
			if err := step(); err != nil {
				return fmt.Sprintf("err:setting %d: %v", i, err)
			}
		}
		return ""
	}`},
}

// TestEveryObject generates the skeleton of every object of the repository (under bpf/
// and examples/) inside a new module that requires bpfkit, the way a user would
// (//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen), builds them all into
// one program and runs it. Each skeleton is opened (which checks every generated map
// type and section struct against the object's BTF), then, with BPF privileges, loaded
// into the kernel and closed: every program but those the kernel refuses by design (the
// spin-lock corpus's manifest lists them), after the object's own preparation (setters a
// real loader calls). What this machine cannot load is skipped with the reason.
func TestEveryObject(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of ~40 generated packages; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	objects := repositoryObjects(t, root)
	if len(objects) < 30 {
		t.Fatalf("found only %d objects under bpf/ and examples/", len(objects))
	}
	refused := refusedPrograms(t, root)
	load := len(caps.MissingForBPF()) == 0

	mod := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(readFile(t, filepath.Join(root, "go.mod")))
	write("go.mod", fmt.Sprintf("module example.com/user\n\ngo %s\n\nrequire github.com/bpfkit/bpfkit v0.0.0\n\nreplace github.com/bpfkit/bpfkit => %s\n", goVersion[1], root))
	write("go.sum", string(readFile(t, filepath.Join(root, "go.sum"))))
	var imports, calls strings.Builder
	for i, obj := range objects {
		pkg := fmt.Sprintf("p%d", i)
		e := everyObjects[obj]
		args := append([]string{"-package", pkg, "-output", "skel.go"}, e.flags...)
		write(pkg+"/gen.go", fmt.Sprintf("package %s\n\n//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen %s %s\n", pkg, strings.Join(args, " "), filepath.Join(root, obj)))
		fmt.Fprintf(&imports, "\t%q\n", "example.com/user/"+pkg)
		prepare := strings.ReplaceAll(e.prepare, "ROOT", strconv.Quote(root))
		if prepare == "" {
			prepare = "nil"
		}
		disable := slices.Concat(e.disable, refused[filepath.Base(obj)])
		fmt.Fprintf(&calls, "\tcheck(%q, func() (skeleton, error) { return %s.Open(opts) }, %#v, %s)\n", obj, pkg, disable, prepare)
	}
	write("main.go", `package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpfkit/bpfkit/loader"

`+imports.String()+`)

var _ ebpf.ProgramType // the prepare functions may use it

// held are objects a prepare function opened for another object (an inner map's
// template); main closes them last.
var held []*loader.Object

// opts pins maps declared LIBBPF_PIN_BY_NAME under the directory the test made for
// them (the program's second argument), never under /sys/fs/bpf itself.
var opts = &loader.Options{}

type skeleton interface {
	Load() error
	Close() error
}

// fields counts the skeleton's maps (typed accessors, readers, loader maps) and its
// section structs, and names a map field that is nil when it should not be: readers
// are made by Load, everything else by Open.
func fields(s skeleton, loaded bool) (typed, readers, raw, sections int, bad string) {
	v := reflect.ValueOf(s).Elem()
	m := v.FieldByName("Maps")
	for i := range m.NumField() {
		f := m.Field(i)
		reader := strings.HasPrefix(f.Type().String(), "*maps.RingBuf[") || strings.HasPrefix(f.Type().String(), "*maps.PerfBuf[")
		switch {
		case reader && f.IsNil() != !loaded:
			bad = fmt.Sprintf("reader %s is nil=%v with the object loaded=%v", m.Type().Field(i).Name, f.IsNil(), loaded)
		case !reader && f.IsNil():
			bad = fmt.Sprintf("map field %s is nil", m.Type().Field(i).Name)
		case reader:
			readers++
		case strings.HasPrefix(f.Type().String(), "*maps."):
			typed++
		default:
			raw++
		}
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() && v.Type().Field(i).Name != "Object" {
			sections++
		}
	}
	return
}

// check opens a skeleton, counts its fields, and, when asked, turns off the programs
// the kernel refuses by design, prepares the object and loads it. It prints one line:
// RESULT object open=… typed=… readers=… raw=… sections=… load=ok|skip:…|err:…
func check(object string, open func() (skeleton, error), disable []string, prepare func(*loader.Object) string) {
	s, err := open()
	if err != nil {
		fmt.Printf("RESULT %s open=err:%q\n", object, err.Error())
		return
	}
	defer s.Close()
	typed, readers, raw, sections, bad := fields(s, false)
	if bad != "" {
		fmt.Printf("RESULT %s open=err:%q\n", object, bad)
		return
	}
	fmt.Printf("RESULT %s open=ok typed=%d readers=%d raw=%d sections=%d load=%s\n", object, typed, readers, raw, sections, load(s, disable, prepare))
}

func load(s skeleton, disable []string, prepare func(*loader.Object) string) string {
	if len(os.Args) < 3 || os.Args[1] != "-load" {
		return "skip:no BPF privileges"
	}
	obj := reflect.ValueOf(s).Elem().FieldByName("Object").Interface().(*loader.Object)
	for _, name := range disable {
		p, err := obj.Program(name)
		if err == nil {
			err = p.SetAutoload(false)
		}
		if err != nil {
			return fmt.Sprintf("err:%q", err.Error())
		}
	}
	if prepare != nil {
		if r := prepare(obj); r != "" {
			return fmt.Sprintf("%q", r)
		}
	}
	if bad := setters(s, false); bad != "" {
		return fmt.Sprintf("err:%q", bad)
	}
	if err := s.Load(); err != nil {
		return fmt.Sprintf("err:%q", err.Error())
	}
	if _, _, _, _, bad := fields(s, true); bad != "" {
		return fmt.Sprintf("err:%q", bad)
	}
	if bad := setters(s, true); bad != "" {
		return fmt.Sprintf("err:%q", bad)
	}
	if err := s.Close(); err != nil {
		return fmt.Sprintf("err:%q", "Close: "+err.Error())
	}
	return "ok"
}

// setters calls each section setter (SetRodata …) with what its getter returns: before
// Load it must succeed; after Load a frozen section's (.rodata…) must fail; either way
// the getter's values stay. (A section holding a kernel object, such as a lock, is
// written after Load where the kernel lets it be mapped, which depends on the kernel.)
func setters(s skeleton, loaded bool) string {
	v := reflect.ValueOf(s)
	for i := range v.NumMethod() {
		name := v.Type().Method(i).Name
		get := v.MethodByName(strings.TrimPrefix(name, "Set"))
		if !strings.HasPrefix(name, "Set") || !get.IsValid() {
			continue
		}
		before := get.Call(nil)[0].Interface()
		res := v.Method(i).Call([]reflect.Value{reflect.ValueOf(before)})[0]
		switch {
		case !loaded && !res.IsNil():
			return fmt.Sprintf("%s before Load: %v", name, res.Interface())
		case loaded && res.IsNil() && strings.HasPrefix(name, "SetRodata"):
			return name + " after Load returned no error"
		case !reflect.DeepEqual(get.Call(nil)[0].Interface(), before):
			return name + " changed what " + get.Type().String() + " returns"
		}
	}
	return ""
}

func main() {
	if len(os.Args) == 3 {
		opts.PinRoot = os.Args[2]
	}
`+calls.String()+`	for _, o := range held {
		if err := o.Close(); err != nil {
			fmt.Println("RESULT held close:", err)
		}
	}
}
`)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("generate", "./...")
	run("vet", "./...")
	runArgs := []string{"run", "."}
	if load {
		// A directory of its own on the BPF file system for the pinned maps of the
		// objects that declare some (loader's pinned_a, pinned_b): nothing is left
		// behind in /sys/fs/bpf.
		pinRoot, err := os.MkdirTemp("/sys/fs/bpf", "bpfkit-every-")
		if err != nil {
			t.Fatalf("a pin directory on bpffs: %v", err)
		}
		t.Cleanup(func() {
			if err := os.RemoveAll(pinRoot); err != nil {
				t.Errorf("removing %s: %v", pinRoot, err)
			}
		})
		runArgs = append(runArgs, "-load", pinRoot)
	}
	out := run(runArgs...)

	results := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
			obj, fields, _ := strings.Cut(rest, " ")
			results[obj] = fields
		}
	}
	totalTyped, loaded := 0, 0
	for i, obj := range objects {
		t.Run(obj, func(t *testing.T) {
			line, ok := results[obj]
			if !ok {
				t.Fatalf("no result line:\n%s", out)
			}
			e := everyObject{}
			if x, ok := everyObjects[obj]; ok {
				e = x
			}
			var typed, readers, raw, sections int
			counts, loadResult, _ := strings.Cut(line, " load=")
			if _, err := fmt.Sscanf(counts, "open=ok typed=%d readers=%d raw=%d sections=%d", &typed, &readers, &raw, &sections); err != nil {
				t.Fatalf("%s", line)
			}
			if q, err := strconv.Unquote(strings.TrimPrefix(loadResult, "err:")); err == nil {
				loadResult = strings.TrimSuffix(loadResult, loadResult[strings.Index(loadResult, `"`):]) + q
			}
			// as many typed accessors as the generated file constructs
			src := readFile(t, filepath.Join(mod, fmt.Sprintf("p%d", i), "skel.go"))
			if want := strings.Count(string(src), "= maps.New") - readers; typed != want {
				t.Errorf("%d typed maps opened, the skeleton constructs %d", typed, want)
			}
			totalTyped += typed
			t.Run("load", func(t *testing.T) {
				testutil.RequirePrivileged(t)
				switch {
				case loadResult == "ok":
					loaded++
				case e.cannot != "" && regexp.MustCompile(e.cannot).MatchString(loadResult):
					t.Skipf("cannot load here: %s (%s)", e.why, loadResult)
				default:
					t.Errorf("load: %s", loadResult)
				}
			})
		})
	}
	if totalTyped < 30 {
		t.Errorf("only %d typed map accessors checked over %d objects", totalTyped, len(objects))
	}
	t.Logf("%d objects, %d typed map accessors layout-checked, %d loaded and closed", len(objects), totalTyped, loaded)
}

// repositoryObjects lists the .bpf.o files under bpf/ and examples/ (relative to root),
// each content once: a skeleton's copy of an object is the object.
func repositoryObjects(t *testing.T, root string) []string {
	t.Helper()
	var objects []string
	seen := map[[32]byte]bool{}
	for _, dir := range []string{"bpf", "examples"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(path, ".bpf.o") {
				return err
			}
			sum := sha256.Sum256(readFile(t, path))
			if !seen[sum] {
				seen[sum] = true
				rel, err := filepath.Rel(root, path)
				objects = append(objects, rel)
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return objects
}

// refusedPrograms lists, per object of the spin-lock corpus, the programs its manifest
// says the kernel refuses.
func refusedPrograms(t *testing.T, root string) map[string][]string {
	t.Helper()
	var manifest struct {
		Programs []struct {
			Object, Program string
			KernelRejects   bool `json:"kernel_rejects"`
		}
	}
	dec := json.NewDecoder(bytes.NewReader(readFile(t, filepath.Join(root, "bpf/testdata/spinlock/manifest.json"))))
	if err := dec.Decode(&manifest); err != nil {
		t.Fatal(err)
	}
	refused := map[string][]string{}
	for _, p := range manifest.Programs {
		if p.KernelRejects {
			refused[p.Object] = append(refused[p.Object], p.Program)
		}
	}
	return refused
}
