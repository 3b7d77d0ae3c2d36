// SPDX-License-Identifier: Apache-2.0

package tracepipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// Instances made by Open are named bpfkit-PID-START-N-LABEL: PID and START (the
// process's start time in clock ticks since boot, /proc/PID/stat) say whose it is, even
// after the PID is reused; N tells apart the Pipes of one process.
const instancePrefix = "bpfkit-"

var instanceSeq atomic.Uint64

// validLabel reports whether s may be put in an instance's name.
func validLabel(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// makeInstance removes the instances of dead processes, then creates this Pipe's own
// instance with bpf_trace_printk enabled, and returns its directory, and why some stale
// instances could not be removed (nil when all were).
func makeInstance(root, label string) (dir string, stale error, err error) {
	instances := filepath.Join(root, "instances")
	stale = cleanStale(instances)
	pid := os.Getpid()
	start, err := processStart(pid)
	if err != nil {
		return "", stale, fmt.Errorf("reading this process's start time: %w", err)
	}
	name := fmt.Sprintf("%s%d-%d-%d-%s", instancePrefix, pid, start, instanceSeq.Add(1), label)
	dir = filepath.Join(instances, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", stale, fmt.Errorf("creating tracefs instance %s: %w", name, err)
	}
	if err := os.WriteFile(enableFile(dir), []byte("1"), 0); err != nil {
		_ = removeInstance(dir)
		return "", stale, fmt.Errorf("enabling bpf_trace_printk in tracefs instance %s: %w", name, err)
	}
	return dir, stale, nil
}

func enableFile(dir string) string {
	return filepath.Join(dir, "events", "bpf_trace", "bpf_trace_printk", "enable")
}

// removeInstance disables the event and removes the instance (rmdir of an instance frees
// its buffers).
func removeInstance(dir string) error {
	_ = os.WriteFile(enableFile(dir), []byte("0"), 0)
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing tracefs instance %s: %w", filepath.Base(dir), err)
	}
	return nil
}

// cleanStale removes the instances of processes that no longer run. One that cannot be
// removed (a reader still holds it open) is left, and the error says which and why.
func cleanStale(instances string) error {
	ents, err := os.ReadDir(instances)
	if err != nil {
		return fmt.Errorf("listing tracefs instances for stale ones: %w", err)
	}
	var errs []error
	for _, e := range ents {
		pid, start, ok := parseInstanceName(e.Name())
		if !ok || processAlive(pid, start) {
			continue
		}
		if err := removeInstance(filepath.Join(instances, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("the instance of a process that has exited: %w", err))
		}
	}
	return errors.Join(errs...)
}

// parseInstanceName reads PID and START from an instance name Open made.
func parseInstanceName(name string) (pid int, start uint64, ok bool) {
	rest, ok := strings.CutPrefix(name, instancePrefix)
	if !ok {
		return 0, 0, false
	}
	parts := strings.SplitN(rest, "-", 4)
	if len(parts) != 4 || parts[3] == "" {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 10, 64)
	_, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 {
		return 0, 0, false
	}
	return pid, start, true
}

// processAlive reports whether process pid runs and started at start (so it is the
// process that made the instance, not another that reused its PID).
func processAlive(pid int, start uint64) bool {
	got, err := processStart(pid)
	return err == nil && got == start
}

// processStart returns field 22 of /proc/PID/stat: the start time in clock ticks.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command (field 2) is in parentheses and may hold spaces and parentheses
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const startField = 22 - 3 // fields after the command start at field 3
	if len(f) <= startField {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[startField], 10, 64)
}
