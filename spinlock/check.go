// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"bytes"
	elfpkg "debug/elf"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/objfile"
	"github.com/bpfkit/bpfkit/internal/sys"
)

// Options tune a check. A nil *Options means the defaults.
type Options struct {
	// Kernel is the kernel version whose rules apply; zero means the running kernel
	// (newest when it cannot be determined).
	Kernel Version
	// ProgramTypes gives the type of each program, by program (function) name, as
	// libbpf resolved it. Programs not listed are resolved from their section name
	// with libbpf's table. Sleepability always comes from the section name.
	ProgramTypes map[string]ebpf.ProgramType
	// Name is the object's name in messages ("minimal.bpf.o").
	Name string
}

// ErrUnreadable is wrapped by the error Check returns when the bytes are not a BPF ELF
// object it can read.
var ErrUnreadable = errors.New("unreadable BPF object")

// maxObjectSize bounds what CheckReader reads.
const maxObjectSize = 256 << 20

// Check applies the rules of the kernel version in opts to the BPF ELF object elf. The
// error is non-nil only when the object cannot be read (it then wraps ErrUnreadable);
// rule violations are findings in the Report (see Report.Err). It needs no privileges,
// never talks to the kernel, and is safe for concurrent use.
func Check(elf []byte, opts *Options) (*Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Kernel.IsZero() {
		v, err := RunningKernel()
		if err != nil {
			v = newest
		}
		o.Kernel = v
	}
	key := cacheKey(elf, o)
	if rep, ok := reports.get(key); ok {
		return rep, nil
	}
	rep, err := check(elf, o)
	if err == nil {
		reports.put(key, rep)
	}
	return rep, err
}

// check is Check on resolved options, without the cache.
func check(elf []byte, o Options) (*Report, error) {
	name := o.Name
	if name == "" {
		name = "object"
	}
	f, err := openELF(elf)
	if err == nil && f.Machine != elfpkg.EM_BPF {
		err = fmt.Errorf("not a BPF object: ELF machine %s", f.Machine)
	}
	if err == nil {
		err = objfile.CheckBTF(elf, f)
	}
	if err != nil {
		return nil, fmt.Errorf("check %s: %w: %w", name, ErrUnreadable, err)
	}
	rep := &Report{Object: o.Name, Kernel: o.Kernel, Findings: []Finding{}}
	defer func() {
		if w := uncheckedKernel(o.Kernel); w != nil {
			rep.Findings = append(w, rep.Findings...)
		}
	}()
	if err := objfile.BoundSections(f, len(elf)); err != nil {
		rep.Findings = append(rep.Findings, notAnalysed(name, err))
		return rep, nil
	}
	if !objfile.MentionsLocks(f) {
		return rep, nil
	}
	parsed, err := objfile.Parse(elf)
	if err != nil {
		rep.Findings = append(rep.Findings, notAnalysed(name, err))
		return rep, nil
	}
	c := newChecker(parsed.Spec, parsed.Renames, o)
	c.run()
	rep = c.report
	return rep, nil
}

// uncheckedKernel is the warning for a kernel version outside those the rules were
// checked against (see oldest, newest), or nothing.
func uncheckedKernel(v Version) []Finding {
	if v.AtLeast(oldest.Major, oldest.Minor) && !v.AtLeast(newest.Major, newest.Minor+1) {
		return nil
	}
	what := fmt.Sprintf("the check applies %s's rules, and what it knows of later kernels (P4 and P5 end with 6.19), unverified", newest)
	if v.Before(oldest.Major, oldest.Minor) {
		what = fmt.Sprintf("kernels before %s differ in ways the check does not know (bpf_spin_lock itself came with 5.1)", oldest)
	}
	return []Finding{{
		Severity: SeverityWarning,
		Message: fmt.Sprintf("kernel %s may be judged differently: the rules were checked against kernels %s to %s, and %s",
			v, oldest, newest, what),
		Fix: fmt.Sprintf("Check for a kernel between %s and %s, or test the load on a %s kernel.", oldest, newest, v),
	}}
}

// notAnalysed is the finding for an object the check could not read although it is a
// BPF object: a warning without a rule, naming what stopped it.
func notAnalysed(name string, err error) Finding {
	return Finding{
		Severity: SeverityWarning,
		Message: fmt.Sprintf("%s was not analysed: the check cannot read it (%v); the kernel may refuse it for a lock rule the check did not look for",
			name, err),
		Fix: "Report the construct to bpfkit; until then, rely on the kernel's verifier for this object.",
	}
}

// CheckReader is Check on an object read from r (at most 256 MiB).
func CheckReader(r io.ReaderAt, opts *Options) (*Report, error) {
	b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(r, 0, maxObjectSize+1), maxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("read object: %w", err)
	}
	if len(b) > maxObjectSize {
		return nil, fmt.Errorf("read object: %w: larger than %d bytes", ErrUnreadable, maxObjectSize)
	}
	return Check(b, opts)
}

// openELF reads the ELF headers of an object (the package's parameters are named elf).
func openELF(data []byte) (*elfpkg.File, error) { return elfpkg.NewFile(bytes.NewReader(data)) }

// checker holds one check's state.
type checker struct {
	kernel   Version
	opts     Options
	objName  string // libbpf's object name: the file name up to its first '.'
	maps     []*mapInfo
	mapSpecs []*ebpf.MapSpec // the parsed map, by map index
	mapIndex map[string]int  // by the name instructions reference
	// lockWorkMaps: per map, whether its value (or inner map's) holds what the walk
	// follows (mapHoldsLockWork)
	lockWorkMaps map[int]bool
	// noCuts (tests) walks every path to its end: lockFreeTail must change no finding.
	// cuts counts the paths it ended.
	noCuts bool
	cuts   int
	views  []*lockView
	types  *btf.Spec // the object's BTF (nil without)
	// homes are where locks live: the maps (home i is map i), then inner maps and
	// allocated object types as the walk meets them.
	homes      []*home
	innerHomes map[int]int32
	allocHomes map[*btf.Struct]int32
	progs      []*progInfo
	report     *Report
	seen       map[string]int // finding key → index in report.Findings
	// btfRefusal is set (M5 or M6) when the kernel would refuse the object's BTF as a
	// whole, libbpf then loading every map without it; btfRefusalWhy says why.
	btfRefusal, btfRefusalWhy string
	// reportedAtCall marks maps whose layout problem was reported where a program
	// locks them, so that no map-level warning repeats it.
	reportedAtCall map[string]bool
}

func newChecker(spec *ebpf.CollectionSpec, renames map[string]string, o Options) *checker {
	c := &checker{
		kernel:         o.Kernel,
		opts:           o,
		mapIndex:       make(map[string]int),
		report:         &Report{Object: o.Name, Kernel: o.Kernel, Findings: []Finding{}},
		seen:           make(map[string]int),
		reportedAtCall: make(map[string]bool),
	}
	base := filepath.Base(o.Name)
	c.objName, _, _ = strings.Cut(base, ".")

	names := make([]string, 0, len(spec.Maps))
	for n := range spec.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, ref := range names {
		ms := spec.Maps[ref]
		if ref == ".kconfig" || ref == ".ksyms" || ms.Type == ebpf.StructOpsMap {
			continue
		}
		m := &mapInfo{name: ref, ref: ref, typ: ms.Type, flags: ms.Flags, section: ".maps"}
		if orig, ok := renames[ref]; ok {
			m.name = orig
		}
		if sys.IsGlobalDataSection(m.name) {
			m.datasec, m.section = true, m.name
			m.varNames = make(map[uint32]string)
		}
		if ms.Value != nil {
			m.hasBTF = true
			m.fields = scanFields(ms.Value)
			if ds, ok := ms.Value.(*btf.Datasec); ok && m.datasec {
				for _, vsi := range ds.Vars {
					if v, ok := vsi.Type.(*btf.Var); ok {
						m.varNames[vsi.Offset] = v.Name
					}
				}
			}
		} else if !m.datasec {
			m.section = "maps"
		}
		c.mapIndex[ref] = len(c.maps)
		c.maps = append(c.maps, m)
		c.mapSpecs = append(c.mapSpecs, ms)
	}
	c.views = make([]*lockView, len(c.maps))
	c.types = spec.Types
	c.initHomes()
	if spec.Types != nil && o.Kernel.AtLeast(6, 2) {
		c.btfRefusal, c.btfRefusalWhy = btfRefusal(spec.Types)
	}

	pnames := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		pnames = append(pnames, n)
	}
	sort.Strings(pnames)
	for _, n := range pnames {
		c.progs = append(c.progs, newProgInfo(spec.Programs[n], o.ProgramTypes))
	}
	return c
}

func (c *checker) view(m int) lockView {
	if c.views[m] == nil {
		v := c.maps[m].view(c.kernel)
		if c.btfRefusal != "" && c.maps[m].hasBTF {
			v = lockView{btfDropped: true, dropRule: c.btfRefusal, lockFound: v.lockFound}
		}
		c.views[m] = &v
	}
	return *c.views[m]
}

func (c *checker) run() {
	c.innerLockRefusal()
	for _, p := range c.progs {
		if p.typ == ebpf.UnspecifiedProgram {
			c.note(fmt.Sprintf("program %q: section %q names no program type libbpf knows; the program-type rules (P) were not applied", p.name, p.section))
		}
		c.programRules(p)
		newWalker(c, p).run()
	}
	c.mapRules()
	// Map-level findings first, then programs in name order, each in the order found.
	sort.SliceStable(c.report.Findings, func(i, j int) bool {
		a, b := c.report.Findings[i], c.report.Findings[j]
		if (a.Program == "") != (b.Program == "") {
			return a.Program == ""
		}
		return a.Program < b.Program
	})
}

func (c *checker) add(f Finding) {
	key := f.Rule + "\x00" + f.Program + "\x00" + f.Map + "\x00" + fmt.Sprint(f.Insn)
	if i, ok := c.seen[key]; ok {
		if c.report.Findings[i].Severity == SeverityWarning && f.Severity == SeverityError {
			c.report.Findings[i] = f
		}
		return
	}
	c.seen[key] = len(c.report.Findings)
	c.report.Findings = append(c.report.Findings, f)
}

func (c *checker) note(s string) { c.report.Notes = append(c.report.Notes, s) }

// kernelMapName is the name the kernel prints for a map: libbpf names global-data maps
// after the object ("minimal.bss" cut to 15 characters) and truncates the others.
func (c *checker) kernelMapName(m *mapInfo) string {
	const objNameLen = 16
	if m.datasec {
		if c.objName == "" {
			return m.name
		}
		sfx := len(m.name)
		if sfx < 7 {
			sfx = 7
		}
		pfx := min(objNameLen-sfx-1, len(c.objName))
		if pfx < 0 {
			pfx = 0
		}
		n := c.objName[:pfx] + m.name
		if len(n) > objNameLen-1 {
			n = n[:objNameLen-1]
		}
		return n
	}
	if len(m.name) > objNameLen-1 {
		return m.name[:objNameLen-1]
	}
	return m.name
}

// innerLockRefusal applies M8: before 6.2 the kernel cannot make a map of maps whose
// inner map's value holds a bpf_spin_lock (bpf_map_meta_alloc: -ENOTSUPP), and libbpf
// then fails the whole object, every program with it (seen on Debian's 6.1).
func (c *checker) innerLockRefusal() {
	if c.kernel.AtLeast(6, 2) {
		return
	}
	for i, m := range c.maps {
		if !isMapOfMaps(m.typ) {
			continue
		}
		h, ok := c.innerHome(i)
		if !ok || c.hview(h).lock == nil {
			continue
		}
		for _, p := range c.progs {
			c.add(Finding{
				Rule: RuleM8, Severity: SeverityError, Program: p.name, Section: p.section, Map: m.name,
				Message: fmt.Sprintf("%s: %s is a map of maps whose inner map's value holds a bpf_spin_lock (%s): the %s kernel cannot create such a map (bpf_map_meta_alloc refuses it with -ENOTSUPP), so libbpf fails to load the whole object, this program with it; it says %q",
					p.label(), m.describe(), c.hview(h).lock.path, c.kernel, fmt.Sprintf(wordsM8, c.kernelMapName(m))),
				Fix: "Target kernel 6.2+, where inner maps may hold a lock, or keep the locked value in a map that is not inside a map of maps.",
			})
		}
	}
}

// programRules applies P1–P6: a program that references a map whose value holds a lock
// (or a timer, wq, list or rbtree root) fails as soon as the kernel resolves the map
// reference, whatever the program does with it.
func (c *checker) programRules(p *progInfo) {
	if p.typ == ebpf.Extension {
		// freplace programs are judged as their target's type, which the object does
		// not say (it is set at load time): the P rules cannot be applied to them.
		return
	}
	done := make(map[int]bool)
	for idx := range p.insns {
		ins := &p.insns[idx]
		if !ins.IsLoadFromMap() {
			continue
		}
		mi, ok := c.mapIndex[ins.Reference()]
		if !ok || done[mi] {
			continue
		}
		done[mi] = true
		m := c.maps[mi]
		lv := c.view(mi)
		f := Finding{Severity: SeverityError, Program: p.name, Section: p.section, Map: m.name, Insn: p.raw[idx]}
		f.File, f.Line = p.lineOf(idx)
		what := ""
		switch {
		case lv.graph && isTracing(p.typ) && c.kernel.AtLeast(6, 3):
			f.Rule, what = RuleP6, "a bpf_list_head or bpf_rb_root"
			f.Fix = "Use the list or rbtree from a TRACING (fentry, tp_btf), LSM or networking program instead."
		case lv.anyLock() != nil && p.typ == ebpf.SocketFilter:
			f.Rule, what = RuleP1, "a bpf_spin_lock"
			f.Fix = "Use a cgroup_skb or tc program instead of a socket filter, or drop the lock and update the value with atomics (__sync_fetch_and_add)."
		case lv.anyLock() != nil && isTracing(p.typ):
			f.Rule, what = RuleP2, "a bpf_spin_lock"
			f.Fix = "Attach with SEC(\"tp_btf/…\") or fentry (TRACING programs may use the lock), or drop the lock and update the value with atomics (__sync_fetch_and_add)."
		case lv.anyLock() != nil && p.sleepable && c.kernel.Before(6, 6):
			f.Rule, what = RuleP3, "a bpf_spin_lock"
			f.Fix = "Use a non-sleepable section (without \".s\") or target kernel 6.6+, where sleepable programs may use the lock."
		case lv.timer && isTracing(p.typ) && c.kernel.Before(7, 0):
			f.Rule, what = RuleP4, "a bpf_timer"
			f.Fix = "Use the timer from a TRACING (fentry, tp_btf) or networking program, or keep it in a map no tracing program references."
		case lv.wq && isTracing(p.typ) && c.kernel.AtLeast(6, 10) && c.kernel.Before(7, 0):
			f.Rule, what = RuleP5, "a bpf_wq"
			f.Fix = "Use the work queue from a TRACING (fentry, tp_btf) or networking program, or keep it in a map no tracing program references."
		case lv.lock != nil && p.typ == ebpf.Tracing && futureTracing(p.kind):
			f.Rule, f.Severity, what = RuleP2, SeverityWarning, "a bpf_spin_lock"
			f.Message = fmt.Sprintf("%s uses %s, whose value holds a bpf_spin_lock (%s): the %s kernel allows this, but upstream work (2026) prepares to add %s to the kernel's list of tracing programs, which then fail with %q; a bpf_res_spin_lock is the lock such programs move to",
				p.label(), m.describe(), lv.lock.path, c.kernel, p.kind, wordsP2)
			f.Fix = "Prefer tp_btf, or atomics instead of the lock, if the program must keep loading on future kernels."
			c.add(f)
			continue
		default:
			continue
		}
		detail := ""
		if l := lv.anyLock(); l != nil && what == "a bpf_spin_lock" {
			if l.kind == kindResLock {
				what = "a bpf_res_spin_lock"
			}
			detail = " (" + l.path + ")"
		}
		f.Message = fmt.Sprintf("%s uses %s, whose value holds %s%s: the kernel refuses such a program as soon as it references the map, even if it never locks it; the %s kernel says %q",
			p.label(), m.describe(), what, detail, c.kernel, kernelWords(f.Rule, c.kernel, ""))
		c.add(f)
	}
}

// mapRules reports, once per map, the layout problems (M2–M7, G1, G3, G4) that no
// program turned into an error at a lock call: the map loads, but its lock (or timer)
// is not usable as written.
func (c *checker) mapRules() {
	for i, m := range c.maps {
		if c.reportedAtCall[m.name] || !m.hasBTF {
			continue
		}
		lv := c.view(i)
		if c.btfRefusal != "" && !m.hasKind(kindLock) && !m.hasKind(kindTimer) && !m.hasKind(kindWq) {
			continue
		}
		f := Finding{Severity: SeverityWarning, Section: m.section, Map: m.name}
		switch {
		case lv.btfDropped:
			f.Rule = lv.dropRule
			f.Message = c.droppedMessage("", m, lv)
			f.Fix = c.droppedFix(m, lv)
		case lv.lock == nil && lv.lockRule != "":
			f.Rule = lv.lockRule
			f.Message = c.invalidMessage("", m, lv)
			f.Fix = c.invalidFix(lv)
		case lv.lock != nil && m.datasec && c.kernel.Before(6, 2):
			f.Rule = RuleG1
			f.Message = fmt.Sprintf("%s holds a bpf_spin_lock (%s): kernel 6.1 gives each load of its address a fresh identity, so a lock and an unlock that load &lock separately fail with %q",
				m.describe(), lv.lock.path, wordsI5)
			f.Fix = "Keep the lock in a map value (a one-entry ARRAY) for 6.1, or target kernel 6.2+, where global locks are supported."
		default:
			continue
		}
		c.add(f)
	}
}

func (c *checker) droppedMessage(prefix string, m *mapInfo, lv lockView) string {
	name := c.kernelMapName(m)
	var cause string
	switch lv.dropRule {
	case RuleM2:
		cause = fmt.Sprintf("its type %s may not hold a bpf_spin_lock (only HASH, ARRAY, CGROUP_STORAGE and the SK/INODE/TASK/CGRP local storages may)", mapTypeName(m.typ))
	case RuleM3:
		cause = "it is read-only to programs (BPF_F_RDONLY_PROG), and a read-only map may not hold a bpf_spin_lock"
	case RuleG4:
		cause = "it is read-only data (.rodata), and a read-only map may not hold a bpf_spin_lock"
	case RuleM5, RuleM6:
		cause = "the kernel refuses the object's BTF as a whole (" + c.btfRefusalWhy + "), so libbpf loads the object without BTF and no map keeps a usable lock, even a correct one"
	case RuleM7:
		cause = fmt.Sprintf("its type %s may not hold a bpf_timer or bpf_wq (only HASH, LRU_HASH and ARRAY may)", mapTypeName(m.typ))
	}
	words := kernelWords(lv.dropRule, c.kernel, name)
	if lv.dropRule == RuleM7 && m.hasKind(kindWq) && !m.hasKind(kindTimer) {
		words = fmt.Sprintf(wordsWqBTF, name)
	}
	head := m.describe()
	if prefix != "" {
		head = prefix + " " + m.describe()
	}
	if lv.dropRule == RuleM5 || lv.dropRule == RuleM6 {
		return fmt.Sprintf("%s: %s. The real cause surfaces later as the misleading %q (the %s kernel's words)",
			head, cause, fmt.Sprintf(wordsNoBTF, name), c.kernel)
	}
	return fmt.Sprintf("%s: %s. Creating the map fails, libbpf retries it without BTF, and the real cause surfaces later as the misleading %q (the %s kernel's words)",
		head, cause, words, c.kernel)
}

func (c *checker) droppedFix(m *mapInfo, lv lockView) string {
	switch lv.dropRule {
	case RuleM2:
		return "Use BPF_MAP_TYPE_HASH or BPF_MAP_TYPE_ARRAY for a value with a lock (per-CPU maps need no lock at all: drop it)."
	case RuleM3, RuleG4:
		return "Move the lock out of read-only data: put it in .bss/.data (kernel 6.2+) or in a writable map value."
	case RuleM7:
		return "Keep bpf_timer/bpf_wq values in a HASH, LRU_HASH or ARRAY map."
	case RuleM5:
		return "Keep exactly one struct bpf_spin_lock per struct type anywhere in the object; split a value that needs several locks into several maps."
	case RuleM6:
		return "Do not pack structs that hold a struct bpf_spin_lock: let the compiler align it to 4 bytes."
	}
	return ""
}

func (m *mapInfo) hasKind(k fieldKind) bool {
	for _, f := range m.fields {
		if f.kind == k {
			return true
		}
	}
	return false
}

func (c *checker) invalidMessage(prefix string, m *mapInfo, lv lockView) string {
	name := c.kernelMapName(m)
	var cause string
	switch lv.lockRule {
	case RuleG4:
		cause = fmt.Sprintf("its bpf_spin_lock is declared const (%s), and the kernel does not see a const struct bpf_spin_lock as a lock (a lock in .rodata could not be used anyway)", m.lockPaths())
	case RuleM4:
		if m.wrappedLock() {
			cause = fmt.Sprintf("its bpf_spin_lock is declared through a typedef or qualifier (%s), which the kernel does not look through", m.lockPaths())
			break
		}
		cause = fmt.Sprintf("its bpf_spin_lock sits inside a nested struct member (%s), which the %s kernel does not look into (kernels before 6.10 only see locks that are direct members of the value)", m.lockPaths(), c.kernel)
	case RuleM5:
		cause = fmt.Sprintf("its value holds more than one bpf_spin_lock, or an array of them (%s); the kernel then keeps none", m.lockPaths())
	case RuleG3:
		cause = fmt.Sprintf("the section holds more than one bpf_spin_lock (%s); the kernel allows one per global-data section and then keeps none", m.lockPaths())
	case RuleM6:
		cause = fmt.Sprintf("its bpf_spin_lock (%s) is not at an offset divisible by 4, and the kernel skips it", m.lockPaths())
	}
	head := m.describe()
	if prefix != "" {
		head = prefix + " " + m.describe()
	}
	words := kernelWords(lv.lockRule, c.kernel, name)
	if lv.lockRule == RuleG4 || lv.lockRule == RuleM4 {
		words = kernelWords(RuleM4, c.kernel, name)
	}
	return fmt.Sprintf("%s: %s. The map is created silently without a usable lock, and locking it fails later with the misleading %q (the %s kernel's words)",
		head, cause, words, c.kernel)
}

func (m *mapInfo) wrappedLock() bool {
	for _, f := range m.fields {
		if f.kind == kindLock && f.wrapped {
			return true
		}
	}
	return false
}

func (c *checker) invalidFix(lv lockView) string {
	switch lv.lockRule {
	case RuleG4:
		return "Declare the lock without const, in .bss or .data (kernel 6.2+), not in .rodata."
	case RuleM4:
		return "Make the struct bpf_spin_lock a direct member of the map's value type (or target kernel 6.10+)."
	case RuleM5:
		return "Keep exactly one struct bpf_spin_lock per map value; split the value into several maps if you need several locks."
	case RuleG3:
		return "Give each global lock its own section, e.g. SEC(\".data.A\") struct bpf_spin_lock lock_a;."
	case RuleM6:
		return "Do not pack the value: let the compiler align the struct bpf_spin_lock to 4 bytes."
	}
	return ""
}

func (m *mapInfo) lockPaths() string {
	var ps []string
	for _, f := range m.fields {
		if f.kind == kindLock {
			ps = append(ps, fmt.Sprintf("%s at offset %d", f.path, f.off))
		}
	}
	return strings.Join(ps, ", ")
}

// progInfo is one program, flattened with its subprograms as libbpf loads it.
type progInfo struct {
	name, section string
	typ           ebpf.ProgramType
	kind          string
	sleepable     bool
	insns         asm.Instructions
	raw           []int   // raw instruction offset of each instruction
	rawToIdx      []int32 // and back (-1: the second half of an ld_imm64)
	prune         []bool  // prune points: jump targets, function entries, branches
	funcStart     map[string]int
	funcName      map[int]string // function entry → name
	global        map[int]bool   // function entry → global linkage
	globalRoots   []int
	callbackRoots []int
	funcs         []funcRange // the functions, once split (functions)
	files         []string
	lines         []int
	lineKey       []int32     // the same key for instructions of the same file:line
	lastLine      map[int]int // function entry → its last source line (the closing brace)
}

func newProgInfo(ps *ebpf.ProgramSpec, types map[string]ebpf.ProgramType) *progInfo {
	sec := parseSection(ps.SectionName)
	n := len(ps.Instructions)
	p := &progInfo{
		name:      ps.Name,
		section:   ps.SectionName,
		typ:       sec.typ,
		kind:      sec.kind,
		sleepable: sec.sleepable,
		insns:     ps.Instructions,
		raw:       make([]int, n),
		prune:     make([]bool, n),
		funcStart: make(map[string]int),
		funcName:  make(map[int]string),
		global:    make(map[int]bool),
		files:     make([]string, n),
		lines:     make([]int, n),
		lineKey:   make([]int32, n),
		lastLine:  make(map[int]int),
	}
	if t, ok := types[ps.Name]; ok {
		p.typ = t
	}
	raw := 0
	file, line := "", 0
	fn := 0
	type fl struct {
		file string
		line int
	}
	keys := make(map[fl]int32)
	for i := range p.insns {
		ins := &p.insns[i]
		p.raw[i] = raw
		raw += int(ins.Width())
		if sym := ins.Symbol(); sym != "" {
			p.funcStart[sym] = i
			p.funcName[i] = sym
			p.prune[i] = true
			fn = i
			file, line = "", 0
			if fm := btf.FuncMetadata(ins); fm != nil && fm.Linkage == btf.GlobalFunc && i != 0 {
				p.global[i] = true
				p.globalRoots = append(p.globalRoots, i)
			}
		}
		if l, ok := ins.Source().(*btf.Line); ok && l != nil {
			file, line = l.FileName(), int(l.LineNumber())
		}
		p.files[i], p.lines[i] = file, line
		k, ok := keys[fl{file, line}]
		if !ok {
			k = int32(len(keys))
			keys[fl{file, line}] = k
		}
		p.lineKey[i] = k
		if line > p.lastLine[fn] {
			p.lastLine[fn] = line
		}
	}
	p.rawToIdx = make([]int32, raw+1)
	for i := range p.rawToIdx {
		p.rawToIdx[i] = -1
	}
	for i, r := range p.raw {
		p.rawToIdx[r] = int32(i)
	}
	for i := range p.insns {
		ins := &p.insns[i]
		if ins.IsLoadOfFunctionPointer() {
			if t, ok := p.funcStart[ins.Reference()]; ok && !p.global[t] {
				p.callbackRoots = append(p.callbackRoots, t)
			}
		}
		if op := ins.OpCode.JumpOp(); ins.OpCode.Class().IsJump() && op != asm.Call && op != asm.Exit {
			if t, ok := p.jumpTarget(i); ok {
				p.prune[t] = true
			}
			if op != asm.Ja {
				p.prune[i] = true
			}
		}
	}
	slices.Sort(p.callbackRoots)
	p.callbackRoots = slices.Compact(p.callbackRoots)
	return p
}

// jumpTarget is where jump instruction idx goes when taken: its offset, or for a 32-bit
// unconditional jump (gotol) its constant.
func (p *progInfo) jumpTarget(idx int) (int, bool) {
	ins := &p.insns[idx]
	off := int64(ins.Offset)
	if ins.OpCode.JumpOp() == asm.Ja && ins.OpCode.Class() == asm.Jump32Class {
		off = ins.Constant
	}
	return p.target(idx, off)
}

func (p *progInfo) target(idx int, off int64) (int, bool) {
	r := int64(p.raw[idx]) + 1 + off
	if r < 0 || r >= int64(len(p.rawToIdx)) || p.rawToIdx[r] < 0 {
		return 0, false
	}
	return int(p.rawToIdx[r]), true
}

func (p *progInfo) lineOf(idx int) (string, int) {
	if idx < 0 || idx >= len(p.lines) {
		return "", 0
	}
	return p.files[idx], p.lines[idx]
}

// label names the program for messages: `program "handle_tp" (tracepoint)`.
func (p *progInfo) label() string {
	t := progTypeName(p.typ)
	if p.typ == ebpf.Tracing && p.kind != "" {
		t = p.kind
	}
	if p.sleepable && p.typ != ebpf.Syscall {
		t += ", sleepable"
	}
	return fmt.Sprintf("program %q (%s)", p.name, t)
}
