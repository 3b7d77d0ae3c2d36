// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bpfkit/bpfkit/spinlock"
)

// jsonOutput is the document `bpfkit check --format json` prints.
type jsonOutput struct {
	Objects []jsonObject `json:"objects"`
}

type jsonObject struct {
	Path     string             `json:"path"`
	Kernel   string             `json:"kernel"`
	Findings []spinlock.Finding `json:"findings"`
	Notes    []string           `json:"notes"` // where the analysis was partial
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kernel := fs.String("kernel", "", "target kernel version `X.Y` (default: the running kernel)")
	format := fs.String("format", "text", "output format: text or json")
	strict := fs.Bool("strict", false, "fail (exit 1) also where the analysis is incomplete: an object or program not analysed, an unchecked kernel version")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bpfkit check [--kernel X.Y] [--format text|json] [--strict] OBJECT.o...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "bpfkit check: unknown format %q (want text or json)\n", *format)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	var v spinlock.Version // zero: the running kernel, as Check resolves it
	if *kernel != "" {
		var err error
		if v, err = spinlock.ParseVersion(*kernel); err != nil {
			fmt.Fprintf(stderr, "bpfkit check: %v\n", err)
			return exitUsage
		}
	}

	status := exitOK
	out := jsonOutput{Objects: []jsonObject{}}
	for _, path := range fs.Args() {
		rep, err := checkFile(path, v)
		if err != nil {
			fmt.Fprintf(stderr, "bpfkit check: %v\n", err)
			status = exitUsage
			continue
		}
		if (rep.Err() != nil || *strict && len(rep.Incomplete()) > 0) && status == exitOK {
			status = exitFindings
		}
		if *format == "json" {
			notes := rep.Notes
			if notes == nil {
				notes = []string{}
			}
			out.Objects = append(out.Objects, jsonObject{Path: path, Kernel: rep.Kernel.String(), Findings: rep.Findings, Notes: notes})
			continue
		}
		printText(stdout, path, rep)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "bpfkit check: %v\n", err)
			return exitUsage
		}
	}
	return status
}

// checkFile checks the object at path, reading at most what spinlock.CheckReader reads
// (a device or a pipe that never ends is refused, not read until memory runs out).
func checkFile(path string, v spinlock.Version) (*spinlock.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	return spinlock.CheckReader(f, &spinlock.Options{Kernel: v, Name: path})
}

// printText prints findings like a compiler, each followed by its fix, then a summary.
func printText(w io.Writer, path string, rep *spinlock.Report) {
	errs, warns := 0, 0
	for _, f := range rep.Findings {
		if f.File == "" {
			f.File = path
		}
		fmt.Fprintln(w, f.String())
		if f.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", f.Fix)
		}
		if f.Severity == spinlock.SeverityError {
			errs++
		} else {
			warns++
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "%s: note: %s\n", path, n)
	}
	fmt.Fprintf(w, "%s: %d error(s), %d warning(s) for kernel %s\n", path, errs, warns, rep.Kernel)
}
