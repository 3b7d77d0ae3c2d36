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
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kernel := fs.String("kernel", "", "target kernel version `X.Y` (default: the running kernel)")
	format := fs.String("format", "text", "output format: text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bpfkit check [--kernel X.Y] [--format text|json] OBJECT.o...")
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
	var v spinlock.Version
	if *kernel != "" {
		var err error
		if v, err = spinlock.ParseVersion(*kernel); err != nil {
			fmt.Fprintf(stderr, "bpfkit check: %v\n", err)
			return exitUsage
		}
	} else {
		var err error
		if v, err = spinlock.RunningKernel(); err != nil {
			v = spinlock.Latest
		}
	}

	status := exitOK
	out := jsonOutput{Objects: []jsonObject{}}
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "bpfkit check: %v\n", err)
			status = exitUsage
			continue
		}
		rep, err := spinlock.Check(data, &spinlock.Options{Kernel: v, Name: path})
		if err != nil {
			fmt.Fprintf(stderr, "bpfkit check: %v\n", err)
			status = exitUsage
			continue
		}
		if rep.Err() != nil && status == exitOK {
			status = exitFindings
		}
		if *format == "json" {
			out.Objects = append(out.Objects, jsonObject{Path: path, Kernel: rep.Kernel.String(), Findings: rep.Findings})
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
