// Package buildinfo names the build of the running kingmaker binary: the
// commit it was built from (as the Go toolchain stamps it, or, where it
// stamps none, as `make build` does) and its build tags. Workers put it in their Temporal identity, so that workers of
// different builds polling the same task queues can be noticed (see the
// worker package), and `kingmaker version` prints it.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info is what the binary knows of its own build.
type Info struct {
	// Version is the main module's version: "(devel)" for a build from a
	// checkout, a tag for `go install module@version`.
	Version string `json:"version"`
	// Revision is the commit the binary was built from ("" when the
	// toolchain stamped none, as in test binaries).
	Revision string `json:"revision,omitempty"`
	// Modified is true when the checkout had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Tags are the build tags (xgboost, onnx), comma-separated.
	Tags      string `json:"tags,omitempty"`
	GoVersion string `json:"go_version"`
	// ID names the build in a word: see FromBuildInfo.
	ID string `json:"id"`
}

// stamped is the commit the Makefile stamps with -ldflags -X (git
// rev-parse HEAD, "-dirty" appended when the checkout had changes), for
// builds the toolchain stamps no VCS information into (-buildvcs=false).
var stamped string

// Read returns the running binary's Info.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{Main: debug.Module{Version: "unknown"}}
	}
	return FromBuildInfo(bi, stamped)
}

// FromBuildInfo reads an Info from the toolchain's build information and
// the commit stamped by the Makefile (used when the toolchain stamped
// none). Its ID is the first 12 hex digits of the commit, "-dirty" when the
// checkout was modified, else the module version when it is a release,
// else "unknown"; then "+" and the build tags joined by "+", if any:
// "54ef80d1a2b3+xgboost".
func FromBuildInfo(bi *debug.BuildInfo, stamped string) Info {
	info := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "-tags":
			info.Tags = s.Value
		}
	}
	if info.Revision == "" && stamped != "" {
		info.Revision, info.Modified = strings.CutSuffix(stamped, "-dirty")
	}
	switch {
	case info.Revision != "":
		info.ID = info.Revision[:min(12, len(info.Revision))]
		if info.Modified {
			info.ID += "-dirty"
		}
	case info.Version != "" && info.Version != "(devel)":
		info.ID = info.Version
	default:
		info.ID = "unknown"
	}
	if info.Tags != "" {
		tags := strings.FieldsFunc(info.Tags, func(r rune) bool { return r == ',' || r == ' ' })
		if len(tags) > 0 {
			info.ID += "+" + strings.Join(tags, "+")
		}
	}
	return info
}
