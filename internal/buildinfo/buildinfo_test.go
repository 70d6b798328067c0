package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestTheIDNamesTheCommitItsStateAndTheTags(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		version  string
		settings []debug.BuildSetting
		stamped  string
		want     string
	}{
		{"(devel)", setting("vcs.revision", "54ef80d1a2b3c4d5e6f708192a3b4c5d6e7f8091", "vcs.modified", "false"), "", "54ef80d1a2b3"},
		{"(devel)", setting("vcs.revision", "54ef80d1a2b3c4d5e6f708192a3b4c5d6e7f8091", "vcs.modified", "true", "-tags", "xgboost"), "", "54ef80d1a2b3-dirty+xgboost"},
		{"(devel)", setting("-tags", "xgboost,onnx"), "", "unknown+xgboost+onnx"},
		{"v1.4.0", setting("-tags", "xgboost"), "", "v1.4.0+xgboost"},
		{"(devel)", nil, "", "unknown"},
		{"", setting("vcs.revision", "abc"), "", "abc"},
		// -buildvcs=false: the commit the Makefile stamped.
		{"(devel)", setting("-tags", "xgboost"), "54ef80d1a2b3c4d5e6f708192a3b4c5d6e7f8091-dirty", "54ef80d1a2b3-dirty+xgboost"},
		{"(devel)", nil, "54ef80d1a2b3c4d5e6f708192a3b4c5d6e7f8091", "54ef80d1a2b3"},
		// The toolchain's stamp wins over the Makefile's.
		{"(devel)", setting("vcs.revision", "aaaaaaaaaaaabbbb"), "54ef80d1a2b3c4d5", "aaaaaaaaaaaa"},
	} {
		got := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26", Main: debug.Module{Version: c.version}, Settings: c.settings}, c.stamped)
		if got.ID != c.want || got.GoVersion != "go1.26" {
			t.Errorf("version %q settings %v stamped %q: id %q (%+v), want %q", c.version, c.settings, c.stamped, got.ID, got, c.want)
		}
	}
}
