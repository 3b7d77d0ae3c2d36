// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// objAttr is the bpf_attr of BPF_OBJ_PIN and BPF_OBJ_GET.
type objAttr struct {
	pathname  uint64
	bpfFD     uint32
	fileFlags uint32
	pathFD    int32
	_         uint32
}

// Kind is the kind of kernel object a descriptor or pin refers to.
type Kind string

// The kinds of pinned objects.
const (
	KindMap     Kind = "map"
	KindProgram Kind = "prog"
	KindLink    Kind = "link"
)

// ErrNotBPFFS is wrapped when a pin path does not lie on a BPF file system.
var ErrNotBPFFS = errors.New("not on a BPF file system (mount -t bpf bpf /sys/fs/bpf)")

// Pin pins the object behind fd at path (BPF_OBJ_PIN). The directories missing on the
// way are created, but only inside a BPF file system: a path elsewhere fails with
// ErrNotBPFFS before anything is created. When the pin fails, the directories it made
// are removed again, so a failed Pin leaves nothing behind.
func Pin(fd int, path string) error {
	if path == "" {
		return errors.New("empty pin path")
	}
	path = filepath.Clean(path)
	made, err := makeBPFFSDirs(filepath.Dir(path))
	if err != nil {
		return err
	}
	if err := objPin(fd, path); err != nil {
		for i := len(made) - 1; i >= 0; i-- {
			_ = os.Remove(made[i])
		}
		return err
	}
	return nil
}

func objPin(fd int, path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	attr := objAttr{pathname: uint64(uintptr(unsafe.Pointer(p))), bpfFD: uint32(fd)}
	_, e := bpf(unix.BPF_OBJ_PIN, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if e != 0 {
		return e
	}
	return nil
}

// makeBPFFSDirs creates dir and its missing parents after checking that the deepest
// existing one is on a BPF file system; it returns the directories it created.
func makeBPFFSDirs(dir string) ([]string, error) {
	var missing []string
	d := dir
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s is not a directory", d)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			return nil, err
		}
		d = parent
	}
	var st unix.Statfs_t
	if err := unix.Statfs(d, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", d, err)
	}
	if st.Type != unix.BPF_FS_MAGIC {
		return nil, fmt.Errorf("%s: %w", d, ErrNotBPFFS)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			for j := len(made) - 1; j >= 0; j-- {
				_ = os.Remove(made[j])
			}
			return nil, err
		}
		made = append(made, missing[i])
	}
	return made, nil
}

// ObjGet opens the object pinned at path (BPF_OBJ_GET); the caller owns the fd.
func ObjGet(path string) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	attr := objAttr{pathname: uint64(uintptr(unsafe.Pointer(p)))}
	r, e := bpf(unix.BPF_OBJ_GET, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// PinnedObject returns the kind and kernel ID of the object pinned at path, read from
// the fdinfo of a descriptor BPF_OBJ_GET opens on it.
func PinnedObject(path string) (Kind, uint32, error) {
	fd, err := ObjGet(path)
	if err != nil {
		return "", 0, err
	}
	defer unix.Close(fd)
	return fdKind(fd)
}

// FDKind returns the kind and kernel ID of the object behind fd.
func FDKind(fd int) (Kind, uint32, error) { return fdKind(fd) }

// fdKind reads /proc/self/fdinfo/fd: maps show map_id, programs prog_id, links link_id
// (and the prog_id of their program).
func fdKind(fd int) (Kind, uint32, error) {
	f, err := os.Open("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	ids := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
			ids[k] = uint32(n)
		}
	}
	for _, k := range []Kind{KindLink, KindMap, KindProgram} {
		if id, ok := ids[string(k)+"_id"]; ok {
			return k, id, nil
		}
	}
	return "", 0, fmt.Errorf("fd %d is not a BPF map, program or link", fd)
}

// Unpin removes the pin at path if it is the object of kind with kernel ID id: it never
// removes another object's pin, nor a file that is not a pin.
func Unpin(path string, kind Kind, id uint32) error {
	k, got, err := PinnedObject(path)
	if err != nil {
		return err
	}
	if k != kind || got != id {
		return fmt.Errorf("%s holds %s %d, not this %s (%d)", path, k, got, kind, id)
	}
	return os.Remove(path)
}
