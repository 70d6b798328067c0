// Command kingmaker is Kingmaker's one binary: the CLI that drives retrains,
// promotions and drift checks, and the worker that runs them.
//
//	kingmaker [--config FILE] COMMAND [flags] [args]
//
// Exit status is 0 on success; otherwise the reason is one line on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
)

// command is one CLI subcommand. Its help is made from the flag set it
// parses (see flagsOf): args names only its positional arguments.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets: where to print and which config to load.
type env struct {
	stdout, stderr io.Writer
	configPath     string
	// flagsMade, when not nil, is given the command's flag set (for help).
	flagsMade func(*flag.FlagSet)
}

// usageError marks errors that should be followed by the command's usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func commands() []command {
	return []command{
		{"schema apply", "", "create the keyspace and tables, applying new migrations", runSchemaApply},
		{"schema version", "", "print the keyspace's schema version", runSchemaVersion},
		{"seed", "", "write the labelled demo dataset into events", runSeed},
		{"status", "[MODEL]", "models, champions, recent decisions and source data", runStatus},
		{"worker", "", "run the Temporal workers and the metrics endpoint", runWorker},
		{"retrain", "MODEL", "start a retrain run (and follow it)", runRetrain},
		{"models list", "MODEL", "a model's versions, newest first", runModelsList},
		{"models show", "MODEL VERSION", "one version: window, rows, artifact, metrics", runModelsShow},
		{"models register", "MODEL", "register a model file trained elsewhere as a version (it must win a challenge to serve)", runModelsRegister},
		{"challenge", "MODEL VERSION", "judge one version against the champion on a fresh window, by the policy (and follow it)", runChallenge},
		{"promote", "MODEL VERSION", "make a version champion (compare-and-set)", runPromote},
		{"rollback", "MODEL", "make the previous champion current again", runRollback},
		{"drift", "MODEL", "the latest drift report (or run a drift check now)", runDrift},
		{"score", "MODEL", "score a window with the champion into predictions", runScore},
		{"schedule sync", "", "create, update and delete the models' Temporal Schedules to match the config", runScheduleSync},
		{"schedule list", "", "the models' schedules: spec, state, next and last run", runScheduleList},
		{"schedule pause", "MODEL|SCHEDULE_ID [retrain|drift|score]", "pause a schedule (sync keeps the pause)", runSchedulePause},
		{"schedule resume", "MODEL|SCHEDULE_ID [retrain|drift|score]", "resume a paused schedule", runScheduleResume},
		{"schedule trigger", "MODEL|SCHEDULE_ID [retrain|drift|score]", "start a schedule's run now (not beside a running one)", runScheduleTrigger},
		{"approve", "RUN", "approve the winner of a run awaiting approval", runApproval(true)},
		{"reject", "RUN", "reject the winner of a run awaiting approval", runApproval(false)},
		{"shadow", "MODEL", "the shadow version and its live evidence (or set or clear it)", runShadow},
		{"probation", "MODEL", "the champion's probation: state, labelled live rows, current estimate", runProbation},
		{"serve", "", "answer predictions with each model's champion, following promotions", runServe},
		{"version", "", "this binary's build: commit and build tags (workers name it in Temporal)", runVersion},
	}
}

func main() {
	execWithPassiveOpenMP()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, configPath: "kingmaker.yaml"}
	if v, ok := os.LookupEnv("KINGMAKER_CONFIG"); ok {
		e.configPath = v
	}
	global := flag.NewFlagSet("kingmaker", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&e.configPath, "config", e.configPath, "config file")
	if err := global.Parse(args); errors.Is(err, flag.ErrHelp) {
		usage(stdout) // kingmaker -h, --help
		return 0
	} else if err != nil {
		fmt.Fprintf(stderr, "kingmaker: %v\n", err)
		usage(stderr)
		return 2
	}
	args = global.Args()
	if len(args) == 0 {
		fmt.Fprintln(stderr, "kingmaker: no command given")
		usage(stderr)
		return 2
	}
	if args[0] == "help" {
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		cmd, rest, ok := lookup(args[1:])
		if !ok || len(rest) > 0 {
			fmt.Fprintf(stderr, "kingmaker help: unknown command %q (run `kingmaker help`)\n", strings.Join(args[1:], " "))
			return 2
		}
		commandHelp(stdout, cmd)
		return 0
	}
	cmd, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(stderr, "kingmaker: unknown command %q (run `kingmaker help`)\n", strings.Join(args, " "))
		return 2
	}
	if err := cmd.run(ctx, e, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandHelp(stdout, cmd)
			return 0
		}
		fmt.Fprintf(stderr, "kingmaker %s: %s\n", cmd.name, oneLine(err))
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "usage: %s\n", synopsis(cmd))
			return 2
		}
		return 1
	}
	return 0
}

// lookup finds the longest command name that prefixes args.
func lookup(args []string) (command, []string, bool) {
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return len(cmds[i].name) > len(cmds[j].name) })
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):], true
		}
	}
	return command{}, nil, false
}

// oneLine keeps a multi-line error (such as a list of config problems)
// readable: the first line stays first, the rest are indented below it.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n  ")
}

// newFlags makes a command's flag set. It prints nothing itself: its
// errors go to the command's caller, and --help is made from it by run.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&e.configPath, "config", e.configPath, "config file")
	if e.flagsMade != nil {
		e.flagsMade(fs)
	}
	return fs
}

// parse parses flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseN parses flags and wants exactly n positional arguments; want says
// which, for the usage error.
func parseN(fs *flag.FlagSet, args []string, n int, want string) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		return nil, usageError{want}
	}
	return pos, nil
}

// loadConfig loads the config the command was given (--config).
func loadConfig(e *env) (*config.Config, error) { return config.Load(e.configPath) }

// loadConfigFor is loadConfig for a command on one model: the config must
// name it.
func loadConfigFor(e *env, model string) (*config.Config, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, err
	}
	if _, err := cfg.Model(model); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseTime reads a time flag: RFC 3339 or a UTC date.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, errors.New("use RFC 3339 (2026-11-20T00:00:00Z) or YYYY-MM-DD")
	}
	return t, nil
}
