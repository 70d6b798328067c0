package main

import (
	"flag"
	"strings"
	"testing"
)

func TestHelpNamesEveryFlagOfEveryCommand(t *testing.T) {
	overview := kingmaker(t, "help")
	if overview.code != 0 {
		t.Fatalf("kingmaker help: exit %d: %s", overview.code, overview.stderr)
	}
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			fs := flagsOf(c)
			if fs == nil {
				t.Fatalf("%s made no flag set with newFlags before doing anything", c.name)
			}
			line := synopsis(c)
			if !strings.Contains(overview.stdout, "  "+line+"\n") {
				t.Errorf("kingmaker help lacks the synopsis %q", line)
			}
			words := strings.Fields(c.name)
			for _, args := range [][]string{append([]string{"help"}, words...), append(words, "--help")} {
				got := kingmaker(t, args...)
				if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, "usage: "+line+"\n") {
					t.Fatalf("kingmaker %s: exit %d, stderr %q, stdout %q; want 0 and the help on stdout", strings.Join(args, " "), got.code, got.stderr, got.stdout)
				}
				fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(got.stdout, dashed(f.Name)) || !strings.Contains(got.stdout, f.Usage) {
						t.Errorf("kingmaker %s does not explain %s (%q):\n%s", strings.Join(args, " "), dashed(f.Name), f.Usage, got.stdout)
					}
					if f.Name != "config" && f.Name != "output" && !strings.Contains(line, dashed(f.Name)) {
						t.Errorf("the synopsis %q lacks %s", line, dashed(f.Name))
					}
				})
			}
		})
	}
}

func TestHelpKeepsBackquotesOfAUsage(t *testing.T) {
	got := kingmaker(t, "shadow", "--help")
	for _, want := range []string{"--set VERSION", "scored beside the champion by `kingmaker serve`", "-o, --output table|json"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("shadow --help lacks %q:\n%s", want, got.stdout)
		}
	}
}

func TestHelpMarksOnlyAlwaysRequiredFlagsAsRequired(t *testing.T) {
	cases := []struct {
		command string
		want    string
	}{
		{"promote", "kingmaker promote MODEL VERSION --reason TEXT [--by WHO] [--force]"},
		{"score", "kingmaker score MODEL --from TIME --to TIME [--version VERSION] [--wait] [-o table|json]"},
		{"shadow", "kingmaker shadow MODEL [--by WHO] [--clear] [--reason TEXT] [--set VERSION] [-o table|json]"},
		{"retrain", "kingmaker retrain MODEL [--as-of TIME] [--reason TEXT] [--wait] [-o table|json]"},
	}
	for _, tc := range cases {
		t.Run(tc.command, func(t *testing.T) {
			c, _, ok := lookup([]string{tc.command})
			if !ok {
				t.Fatalf("no command %s", tc.command)
			}
			if got := synopsis(c); got != tc.want {
				t.Errorf("synopsis\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestABadOutputFormatIsRefusedWhileParsing(t *testing.T) {
	for _, c := range commands() {
		fs := flagsOf(c)
		if fs == nil || fs.Lookup("o") == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			// No config exists there: a command that got past parsing would
			// exit 1 naming it.
			args := append([]string{"--config", "/nonexistent/kingmaker.yaml"}, strings.Fields(c.name)...)
			got := kingmaker(t, append(args, "-o", "yaml")...)
			if got.code != 2 || !strings.Contains(got.stderr, `invalid value "yaml" for flag -o: use table or json`) || len(lines(got.stderr)) != 2 {
				t.Errorf("exit %d, stderr %q; want 2 naming table and json, then the usage", got.code, got.stderr)
			}
		})
	}
}
