package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// outputFlag adds -o/--output to a read command.
func outputFlag(fs *flag.FlagSet) *string {
	o := new(string)
	fs.StringVar(o, "o", "table", "output format: table or json")
	fs.StringVar(o, "output", "table", "output format: table or json")
	return o
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageError{fmt.Sprintf("-o %q: use table or json", o)}
	}
	return nil
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
func output[T any](w io.Writer, format string, v T, show func(io.Writer, T)) error {
	if format == "json" {
		return writeJSON(w, v)
	}
	show(w, v)
	return nil
}
