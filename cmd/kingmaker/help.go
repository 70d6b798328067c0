package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Help is made from the flag sets the commands parse, so that it names
// every flag a command takes and nothing it does not.

// flagsOf returns the flag set c parses. It runs c with --help and nothing
// else: every command makes its flag set with newFlags and parses it
// before it reads a config or connects anywhere, and --help stops it there.
func flagsOf(c command) *flag.FlagSet {
	var fs *flag.FlagSet
	e := &env{stdout: io.Discard, stderr: io.Discard, configPath: "kingmaker.yaml", flagsMade: func(f *flag.FlagSet) { fs = f }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // should a command ever get past parsing, it does nothing
	_ = c.run(ctx, e, []string{"--help"})
	return fs
}

// helpFlag is one flag as help shows it, with its aliases (flags that set
// the same value, such as -o and --output).
type helpFlag struct {
	names    []string // the first is the one the synopsis shows
	value    string   // the value's name; empty for a boolean flag
	usage    string
	def      string // the default, when it says something
	required bool
}

// requiredUsage marks a flag that a command always needs: its usage says
// "(required)" or "(required, ...)" or "..., required)". A flag required
// only with another ("required with --set") is not.
var requiredUsage = regexp.MustCompile(`\brequired[,)]`)

// valueNames name the values of string flags whose names say what they
// hold; other flags are named by their type.
var valueNames = map[string]string{
	"reason": "TEXT", "by": "WHO", "as-of": "TIME", "from": "TIME", "to": "TIME", "start": "DATE",
	"version": "VERSION", "set": "VERSION", "listen": "ADDR", "queues": "LIST", "kind": "KIND",
	"dataset": "NAME", "config": "FILE", "max-body": "SIZE",
	"file": "FILE", "expect": "FILE", "format": "xgboost|onnx", "candidate": "NAME",
}

// valueName is what help calls f's value. Unlike flag.UnquoteUsage it
// never reads a name out of the usage text, so a usage may quote commands
// in backquotes.
func valueName(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	if n, ok := f.Value.(interface{ ValueName() string }); ok {
		return n.ValueName()
	}
	if n, ok := valueNames[f.Name]; ok {
		return n
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case int, int64, uint, uint64:
			return "N"
		case float64:
			return "NUMBER"
		case time.Duration:
			return "DURATION"
		}
	}
	return "VALUE"
}

// helpFlags lists the flags of fs in help's order: required ones first,
// then by name (one-letter names last), aliases folded into the flag
// they alias.
func helpFlags(fs *flag.FlagSet) []helpFlag {
	var out []helpFlag
	byValue := map[flag.Value]int{}
	fs.VisitAll(func(f *flag.Flag) {
		if isPointer(f.Value) {
			if i, ok := byValue[f.Value]; ok {
				out[i].names = append(out[i].names, f.Name)
				return
			}
			byValue[f.Value] = len(out)
		}
		h := helpFlag{names: []string{f.Name}, value: valueName(f), usage: f.Usage, required: requiredUsage.MatchString(f.Usage)}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
			h.def = f.DefValue
		}
		out = append(out, h)
	})
	for i := range out { // the short name first: -o, --output
		slices.SortStableFunc(out[i].names, func(a, b string) int { return len(a) - len(b) })
	}
	slices.SortStableFunc(out, func(a, b helpFlag) int {
		if a.required != b.required {
			if a.required {
				return -1
			}
			return 1
		}
		if (len(a.names[0]) == 1) != (len(b.names[0]) == 1) { // -o after the long names
			return len(b.names[0]) - len(a.names[0])
		}
		return strings.Compare(a.names[0], b.names[0])
	})
	return out
}

// isPointer reports whether v can be compared as an alias: flags made with
// fs.Var on one pointer share it; values of other kinds never alias.
func isPointer(v flag.Value) bool {
	return strings.HasPrefix(fmt.Sprintf("%T", v), "*")
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// synopsis is a command's usage line: its name, arguments and every flag
// but the global --config.
func synopsis(c command) string {
	parts := []string{"kingmaker", c.name}
	if c.args != "" {
		parts = append(parts, c.args)
	}
	if fs := flagsOf(c); fs != nil {
		for _, h := range helpFlags(fs) {
			if h.names[0] == "config" {
				continue
			}
			p := dashed(h.names[0])
			if h.value != "" {
				p += " " + h.value
			}
			if !h.required {
				p = "[" + p + "]"
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// commandHelp is `kingmaker help COMMAND` and `kingmaker COMMAND --help`:
// the synopsis, the summary and every flag with its usage and default.
func commandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", synopsis(c), c.summary)
	fs := flagsOf(c)
	if fs == nil {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	tw := table(w)
	for _, h := range helpFlags(fs) {
		names := make([]string, len(h.names))
		for i, n := range h.names {
			names[i] = dashed(n)
		}
		head := strings.Join(names, ", ")
		if h.value != "" {
			head += " " + h.value
		}
		usage := h.usage
		if h.def != "" {
			usage += fmt.Sprintf(" (default %s)", h.def)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", head, usage)
	}
	tw.Flush()
}

// usage is `kingmaker help`: every command with its synopsis.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kingmaker [--config FILE] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n      %s\n", synopsis(c), c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`kingmaker help COMMAND` or `kingmaker COMMAND --help` explains each flag of a command.")
	fmt.Fprintln(w, "The config file defaults to kingmaker.yaml (or $KINGMAKER_CONFIG).")
}
