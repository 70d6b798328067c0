package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kingmaker-ml/kingmaker/internal/buildinfo"
)

// runVersion prints the binary's build: the name its workers give
// themselves in Temporal (pid@host@kingmaker/BUILD), the commit and the
// build tags. It needs no config.
func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version")
	out := outputFlag(fs)
	if _, err := parseN(fs, args, 0, "version takes no arguments"); err != nil {
		return err
	}
	return output(e.stdout, *out, buildinfo.Read(), func(w io.Writer, i buildinfo.Info) {
		fmt.Fprintf(w, "kingmaker %s\n", i.ID)
		fmt.Fprintf(w, "  module version  %s\n", i.Version)
		if i.Revision != "" {
			state := "clean"
			if i.Modified {
				state = "modified"
			}
			fmt.Fprintf(w, "  commit          %s (%s checkout)\n", i.Revision, state)
		}
		tags := i.Tags
		if tags == "" {
			tags = "none (pure Go: no xgboost, no onnx)"
		}
		fmt.Fprintf(w, "  build tags      %s\n", tags)
		fmt.Fprintf(w, "  go              %s\n", i.GoVersion)
	})
}
