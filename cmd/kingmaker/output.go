package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"text/tabwriter"
)

// outputFormat is the value of -o/--output: table (the default) or json.
// Any other value is refused while the flags are parsed.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }

func (o *outputFormat) Set(s string) error {
	if s != "table" && s != "json" {
		return errors.New("use table or json")
	}
	*o = outputFormat(s)
	return nil
}

// ValueName is how help names the value: the values it takes.
func (o *outputFormat) ValueName() string { return "table|json" }

// outputFlag adds -o/--output to a read command.
func outputFlag(fs *flag.FlagSet) *outputFormat {
	o := new(outputFormat)
	*o = "table"
	fs.Var(o, "o", "output format: table or json")
	fs.Var(o, "output", "output format: table or json")
	return o
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns; call flush when done.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// isTerminal reports whether f is a character device (a terminal), where
// progress bars make sense.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// output prints v as JSON or, for a table, with show.
func output[T any](w io.Writer, format outputFormat, v T, show func(io.Writer, T)) error {
	if format == "json" {
		return writeJSON(w, v)
	}
	show(w, v)
	return nil
}
