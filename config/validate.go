package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// FieldError is one validation problem: the field path and what is wrong.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Consistency levels the driver understands, by their CQL names.
var (
	consistencies       = []string{"ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"}
	serialConsistencies = []string{"SERIAL", "LOCAL_SERIAL"}
	replicationClasses  = []string{"NetworkTopologyStrategy", "SimpleStrategy"}
	featureTypes        = []string{"categorical", "numeric"}
	invalidRowPolicies  = []string{"fail", "skip"}
	labelSources        = []string{LabelFromRow, LabelFromTable}
	alignments          = []string{AlignNone, AlignHour, AlignDay}
	versionID           = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	identifier          = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,47}$`)
	modelName           = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,47}$`)
	dataCenter          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// Validate checks the whole config and returns every problem found, joined;
// each names its field path and what is allowed.
func (c *Config) Validate() error {
	v := &validator{}
	v.cassandra(&c.Cassandra)
	v.temporal(&c.Temporal)
	v.hostPort("metrics.listen", c.Metrics.Listen)
	v.serve(&c.Serve)
	if len(c.Models) == 0 {
		v.add("models", "at least one model is required")
	}
	seen := map[string]int{}
	for i := range c.Models {
		m := &c.Models[i]
		path := fmt.Sprintf("models[%d]", i)
		if j, dup := seen[m.Name]; dup && m.Name != "" {
			v.add(path+".name", "duplicate %q (also models[%d])", m.Name, j)
		}
		seen[m.Name] = i
		v.model(path, m)
	}
	return v.err()
}

type validator struct{ errs []error }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.add(path, "unknown %q (known: %s)", value, strings.Join(allowed, ", "))
	}
}

func (v *validator) ident(path, value string) {
	if !identifier.MatchString(value) {
		v.add(path, "%q is not a CQL identifier (a letter, then letters, digits or _; at most 48)", value)
	}
}

func (v *validator) hostPort(path, value string) {
	host, port, err := net.SplitHostPort(value)
	if err != nil {
		v.add(path, "%q is not host:port", value)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "port %q is not a number from 0 to 65535", port)
	}
	_ = host
}

func (v *validator) tls(path string, t TLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add(path, "cert_file and key_file go together (client certificate and its key)")
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		v.add(path+".enabled", "TLS files or options are set but enabled is false")
	}
}

func (v *validator) cassandra(c *Cassandra) {
	if len(c.Hosts) == 0 {
		v.add("cassandra.hosts", "at least one host is required")
	}
	for i, h := range c.Hosts {
		if strings.TrimSpace(h) == "" {
			v.add(fmt.Sprintf("cassandra.hosts[%d]", i), "empty host")
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		v.add("cassandra.port", "%d is not a port (1-65535)", c.Port)
	}
	v.ident("cassandra.keyspace", c.Keyspace)
	v.oneOf("cassandra.replication.class", c.Replication.Class, replicationClasses)
	switch c.Replication.Class {
	case "SimpleStrategy":
		if c.Replication.Factor < 1 {
			v.add("cassandra.replication.factor", "must be at least 1")
		}
		if len(c.Replication.DataCenters) > 0 {
			v.add("cassandra.replication.data_centers", "only for NetworkTopologyStrategy")
		}
	case "NetworkTopologyStrategy":
		if len(c.Replication.DataCenters) == 0 {
			v.add("cassandra.replication.data_centers", "NetworkTopologyStrategy needs at least one data centre: factor")
		}
		for _, dc := range sortedKeys(c.Replication.DataCenters) {
			if !dataCenter.MatchString(dc) {
				v.add("cassandra.replication.data_centers", "%q is not a data-centre name (letters, digits, _, - or .; at most 64)", dc)
				continue
			}
			if c.Replication.DataCenters[dc] < 1 {
				v.add("cassandra.replication.data_centers."+dc, "factor must be at least 1")
			}
		}
	}
	v.oneOf("cassandra.consistency", strings.ToUpper(c.Consistency), consistencies)
	v.oneOf("cassandra.serial_consistency", strings.ToUpper(c.SerialConsistency), serialConsistencies)
	if c.ConnectTimeout <= 0 {
		v.add("cassandra.connect_timeout", "must be positive")
	}
	if c.Timeout <= 0 {
		v.add("cassandra.timeout", "must be positive")
	}
	if c.Password != "" && c.Username == "" {
		v.add("cassandra.username", "a password is set but no username")
	}
	v.tls("cassandra.tls", c.TLS)
}

func (v *validator) temporal(t *Temporal) {
	v.hostPort("temporal.host_port", t.HostPort)
	if t.Namespace == "" {
		v.add("temporal.namespace", "required")
	}
	if t.TaskQueue == "" {
		v.add("temporal.task_queue", "required")
	}
	if t.TrainingTaskQueue == "" {
		v.add("temporal.training_task_queue", "required")
	}
	v.tls("temporal.tls", t.TLS)
	if len(t.Identity) > 128 || strings.ContainsFunc(t.Identity, unicode.IsControl) {
		v.add("temporal.identity", "at most 128 printable characters")
	}
}

func (v *validator) model(path string, m *Model) {
	if !modelName.MatchString(m.Name) {
		v.add(path+".name", "%q is not a model name (lowercase letter, then lowercase letters, digits, _ or -; at most 48)", m.Name)
	}
	if m.Source.Keyspace != "" {
		v.ident(path+".source.keyspace", m.Source.Keyspace)
	}
	v.ident(path+".source.table", m.Source.Table)
	if (m.Source.PartitionColumn == "") != (m.Source.PartitionValue == "") {
		v.add(path+".source", "partition_column and partition_value go together")
	}
	if m.Source.PartitionColumn != "" {
		v.ident(path+".source.partition_column", m.Source.PartitionColumn)
	}
	v.ident(path+".source.day_column", m.Source.DayColumn)
	v.ident(path+".source.time_column", m.Source.TimeColumn)
	v.ident(path+".source.key_column", m.Source.KeyColumn)

	if len(m.Features) == 0 {
		v.add(path+".features", "at least one feature is required")
	}
	names := map[string]int{}
	for i, f := range m.Features {
		fp := fmt.Sprintf("%s.features[%d]", path, i)
		if f.Name == "" {
			v.add(fp+".name", "required")
		} else if j, dup := names[f.Name]; dup {
			v.add(fp+".name", "duplicate %q (also features[%d])", f.Name, j)
		}
		names[f.Name] = i
		v.ident(fp+".column", f.Column)
		v.oneOf(fp+".type", f.Type, featureTypes)
		switch f.Type {
		case "categorical":
			if len(f.Categories) == 0 {
				v.add(fp+".categories", "a categorical feature needs its categories listed")
			}
			if d := firstDuplicate(f.Categories); d != "" {
				v.add(fp+".categories", "duplicate %q", d)
			}
		case "numeric":
			if len(f.Categories) > 0 {
				v.add(fp+".categories", "only for categorical features")
			}
		}
	}
	v.ident(path+".label.column", m.Label.Column)
	task := m.TaskName()
	n := len(m.Label.Classes)
	switch {
	case m.Task != "" && !slices.Contains(Tasks, m.Task):
		v.add(path+".task", "unknown %q (known: %s)", m.Task, strings.Join(Tasks, ", "))
		task = ""
	case task == TaskRegression && n > 0:
		v.add(path+".label.classes", "a regression model predicts a number and has no classes: remove label.classes (or set task: binary or multiclass)")
	case task == TaskBinary && n != 2:
		v.add(path+".label.classes", "task binary needs exactly two classes, %d are listed (three or more are task multiclass)", n)
	case task == TaskMulticlass && n < 3:
		v.add(path+".label.classes", "task multiclass needs at least three classes, %d are listed (two are task binary)", n)
	case task == "":
		v.add(path+".label.classes", "at least two classes are required (or set task: regression for a numeric label)")
	}
	if d := firstDuplicate(m.Label.Classes); d != "" {
		v.add(path+".label.classes", "duplicate %q", d)
	}
	if _, clash := names[m.Label.Column]; clash {
		v.add(path+".label.column", "%q is also a feature", m.Label.Column)
	}
	v.labelSource(path+".label", m)

	w := m.Window
	if w.Length <= 0 {
		v.add(path+".window.length", "must be positive")
	}
	if w.HoldoutFraction <= 0 || w.HoldoutFraction >= 1 {
		v.add(path+".window.holdout_fraction", "%g is not between 0 and 1 (exclusive)", w.HoldoutFraction)
	}
	if w.OutOfTime < 0 || (w.OutOfTime > 0 && w.OutOfTime >= w.Length) {
		v.add(path+".window.out_of_time", "must be shorter than window.length")
	}
	if w.MinRows < 1 {
		v.add(path+".window.min_rows", "must be at least 1")
	}
	if w.MinClassRows < 1 {
		v.add(path+".window.min_class_rows", "must be at least 1")
	}
	if w.MaxTrainRows < 1 {
		v.add(path+".window.max_train_rows", "must be at least 1")
	}
	if w.MaxHoldoutRows < 1 {
		v.add(path+".window.max_holdout_rows", "must be at least 1")
	} else if w.MaxHoldoutRows < m.Policy.MinHoldoutRows {
		v.add(path+".window.max_holdout_rows", "%d is below policy.min_holdout_rows (%d): no run could pass", w.MaxHoldoutRows, m.Policy.MinHoldoutRows)
	}
	if w.Parallelism < 1 || w.Parallelism > 256 {
		v.add(path+".window.parallelism", "%d is not between 1 and 256", w.Parallelism)
	}
	v.oneOf(path+".window.invalid_rows", w.InvalidRows, invalidRowPolicies)

	if m.ParallelTrainings < 0 {
		v.add(path+".parallel_trainings", "%d is negative: 0 trains every candidate at once", m.ParallelTrainings)
	}
	if len(m.Candidates) == 0 {
		v.add(path+".candidates", "at least one candidate is required")
	}
	cands := map[string]int{}
	for i, c := range m.Candidates {
		cp := fmt.Sprintf("%s.candidates[%d]", path, i)
		if j, dup := cands[c.Name]; dup {
			v.add(cp+".name", "duplicate %q (also candidates[%d]); give each candidate a name", c.Name, j)
		}
		cands[c.Name] = i
		if c.External != nil || c.Algorithm == AlgorithmExternal {
			v.external(cp, c)
			continue
		}
		t, err := trainer.Lookup(c.Algorithm)
		if errors.Is(err, trainer.ErrXGBoostNotBuilt) {
			v.add(cp+".algorithm", "%v", err)
			continue
		}
		if err != nil {
			v.add(cp+".algorithm", "unknown %q (known: %s)", c.Algorithm, strings.Join(trainer.Algorithms(), ", "))
			continue
		}
		if task != "" {
			if err := trainer.Supports(c.Algorithm, trainer.Task(task)); err != nil {
				v.add(cp+".algorithm", "%v", err)
				continue
			}
		}
		v.params(cp+".params", t.Validate(trainer.Params(c.Params)))
	}
	v.policy(path+".policy", m.Policy, task)
	if task == TaskRegression && m.Policy.Shadow.Enabled() {
		v.add(path+".policy.shadow.period", "a shadow period judges a winner by the class it predicts (agreement, live accuracy): task regression has no classes; remove policy.shadow")
	}
	v.trigger(path+".schedule.retrain", m.Schedule.Retrain)
	v.trigger(path+".schedule.drift", m.Schedule.Drift)
	v.score(path+".schedule.score", m.Schedule.Score)
	v.drift(path+".drift", m.Drift)
}

// externalFormats are the model files an external trainer may return, with
// the algorithm whose build loads them.
var externalFormats = map[string]string{"onnx": "onnx", "xgboost": "xgboost"}

// external checks a candidate an external trainer makes (candidates[].external).
func (v *validator) external(cp string, c Candidate) {
	e := c.External
	if e == nil {
		v.add(cp+".external", "is required for algorithm external: set external.task_queue, external.activity and external.format")
		return
	}
	if c.Algorithm != AlgorithmExternal {
		v.add(cp+".algorithm", "must be empty or external for a candidate with external set, got %q", c.Algorithm)
	}
	if strings.TrimSpace(e.TaskQueue) == "" {
		v.add(cp+".external.task_queue", "is required: the Temporal task queue the external trainer's worker polls")
	}
	if strings.TrimSpace(e.Activity) == "" {
		v.add(cp+".external.activity", "is required: the activity type name the external trainer registered")
	}
	alg, ok := externalFormats[e.Format]
	if !ok {
		v.add(cp+".external.format", "must be onnx or xgboost (the model file the trainer returns), got %q", e.Format)
		return
	}
	if _, err := trainer.Lookup(alg); errors.Is(err, trainer.ErrXGBoostNotBuilt) || errors.Is(err, trainer.ErrONNXNotBuilt) {
		v.add(cp+".external.format", "%s files cannot be loaded by this build: %v", e.Format, err)
	}
}

// labelSource checks where labels come from and their maturity.
func (v *validator) labelSource(path string, m *Model) {
	l := m.Label
	if l.Source != "" { // empty: the row, as in a spec recorded before label sources
		v.oneOf(path+".source", l.Source, labelSources)
	}
	if l.Delay < 0 {
		v.add(path+".delay", "must not be negative (how long a row waits for its label, e.g. 30d)")
	}
	t := l.Table
	if !l.FromTable() {
		if t != (LabelTable{}) {
			v.add(path+".table", "is set but label.source is not table: set label.source: table to read labels from it")
		}
		return
	}
	if m.TaskName() == TaskRegression {
		v.add(path+".source", "table is not yet supported for task regression (labels from a label table are read as classes): keep the label in the row (label.source: row)")
	}
	tp := path + ".table"
	if t.Keyspace != "" {
		v.ident(tp+".keyspace", t.Keyspace)
	}
	if t.Name == "" {
		v.add(tp+".name", "required when label.source is table (the table of labels keyed by the row key)")
	} else {
		v.ident(tp+".name", t.Name)
		if t.Name == m.Source.Table && (t.Keyspace == "" || t.Keyspace == m.Source.Keyspace) {
			v.add(tp+".name", "%q is the source table: use label.source: row for labels in the feature row", t.Name)
		}
	}
	if t.PartitionColumn != "" {
		v.ident(tp+".partition_column", t.PartitionColumn)
		if m.Source.PartitionValue == "" {
			v.add(tp+".partition_column", "needs source.partition_value, the value it is matched with")
		}
	}
	v.ident(tp+".key_column", t.KeyColumn)
	v.ident(tp+".label_column", t.LabelColumn)
	v.ident(tp+".known_at_column", t.KnownAtColumn)
	if t.KnownAtColumn != "" && (t.KnownAtColumn == t.KeyColumn || t.KnownAtColumn == t.LabelColumn) {
		v.add(tp+".known_at_column", "%q is also the key or label column: name the timestamp column at which each label became known", t.KnownAtColumn)
	}
}

// params adds each problem of a candidate's parameters on its own line,
// at the path of the parameter it names: a trainer reports several at once,
// joined.
func (v *validator) params(path string, err error) {
	if err == nil {
		return
	}
	problems := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		problems = j.Unwrap()
	}
	for _, p := range problems {
		var pe *trainer.ParamError
		if errors.As(p, &pe) {
			v.add(paramPath(path, pe.Param), "%s", oneLine(pe.Problem))
			continue
		}
		v.add(path, "%s", oneLine(p.Error()))
	}
}

// paramPath names a parameter as path.name, or path["name"] when the name
// is not a plain word (the YAML key may hold anything).
func paramPath(path, name string) string {
	if identifier.MatchString(name) {
		return path + "." + name
	}
	return path + "[" + strconv.Quote(name) + "]"
}

// oneLine keeps a message on the line of its field path.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// metric checks that name is a metric of the model's task (of any task
// when the task is unknown).
func (v *validator) metric(path, name, task string) {
	if task == "" || !slices.Contains(evaluator.KnownMetrics(), name) {
		v.oneOf(path, name, evaluator.KnownMetrics())
		return
	}
	if err := evaluator.CheckMetricTask(name, task); err != nil {
		v.add(path, "%v", err)
	}
}

func (v *validator) policy(path string, p Policy, task string) {
	v.metric(path+".primary_metric", p.PrimaryMetric, task)
	if p.MinAbsoluteImprovement < 0 {
		v.add(path+".min_absolute_improvement", "must not be negative")
	}
	if p.MinRelativeImprovement < 0 {
		v.add(path+".min_relative_improvement", "must not be negative")
	}
	if p.SignificanceLevel < 0 || p.SignificanceLevel >= 1 {
		v.add(path+".significance_level", "%g is not in [0, 1) (0 turns the test off)", p.SignificanceLevel)
	}
	for i, g := range p.Guardrails {
		gp := fmt.Sprintf("%s.guardrails[%d]", path, i)
		v.metric(gp+".metric", g.Metric, task)
		if g.MaxDrop < 0 {
			v.add(gp+".max_drop", "must not be negative")
		}
	}
	for i, b := range p.MinimumValues {
		v.metric(fmt.Sprintf("%s.minimum_values[%d].metric", path, i), b.Metric, task)
	}
	if p.MinHoldoutRows < 1 {
		v.add(path+".min_holdout_rows", "must be at least 1")
	}
	if p.ApprovalTimeout <= 0 {
		v.add(path+".approval_timeout", "must be positive")
	}
	if p.BootstrapResamples < 100 || p.BootstrapResamples > 100_000 {
		v.add(path+".bootstrap_resamples", "%d is not between 100 and 100000", p.BootstrapResamples)
	}
	v.shadow(path+".shadow", p.Shadow)
	v.probation(path+".probation", p.Probation, task)
}

// MaxShadowPeriod is the longest policy.shadow.period: shadow predictions
// are kept 90 days, and a period of months is more likely a typo.
const MaxShadowPeriod = 30 * Day

func (v *validator) shadow(path string, s Shadow) {
	if s.Period < 0 || s.Period.D() > MaxShadowPeriod {
		v.add(path+".period", "%s is not between 0 (no shadowing) and %s", s.Period, Duration(MaxShadowPeriod))
	}
	if s.MinRequests < 1 {
		v.add(path+".min_requests", "must be at least 1")
	}
	if s.MinAgreement <= 0 || s.MinAgreement > 1 {
		v.add(path+".min_agreement", "%g is not a share in (0, 1]", s.MinAgreement)
	}
	if s.MinLabelledRows < 1 {
		v.add(path+".min_labelled_rows", "must be at least 1")
	}
	if s.MaxAccuracyDrop < 0 || s.MaxAccuracyDrop > 1 {
		v.add(path+".max_accuracy_drop", "%g is not between 0 and 1", s.MaxAccuracyDrop)
	}
}

func (v *validator) trigger(path string, t Trigger) {
	if t.Every > 0 && t.Cron != "" {
		v.add(path, "set every or cron, not both")
	}
	if t.Every < 0 {
		v.add(path+".every", "must be positive")
	}
	if t.Cron != "" && len(strings.Fields(t.Cron)) != 5 {
		v.add(path+".cron", "%q is not a 5-field cron expression (minute hour day-of-month month day-of-week)", t.Cron)
	}
	if t.Jitter < 0 {
		v.add(path+".jitter", "must not be negative")
	}
	if t.CatchupWindow < 0 {
		v.add(path+".catchup_window", "must not be negative")
	}
}

func (v *validator) score(path string, s ScoreTrigger) {
	v.trigger(path, s.Trigger)
	if s.Window <= 0 {
		v.add(path+".window", "must be positive (how far back from the run's time the scored rows reach, e.g. 1d)")
	}
	if s.Lag < 0 {
		v.add(path+".lag", "must not be negative")
	}
	v.oneOf(path+".align", s.Align, alignments)
	if s.Version != "" && !versionID.MatchString(s.Version) {
		v.add(path+".version", "%q is not a version id (a UUID as `kingmaker models list` shows it); leave it empty to score with the champion", s.Version)
	}
	if !s.Enabled() && (s.Lag != 0 || s.Version != "" || s.Align != AlignNone) {
		v.add(path, "lag, align or version is set but neither every nor cron, so nothing is scheduled")
	}
}

func (v *validator) drift(path string, d Drift) {
	if d.Window <= 0 {
		v.add(path+".window", "must be positive")
	}
	if d.MinRows < 1 {
		v.add(path+".min_rows", "must be at least 1")
	}
	if d.PSIModerate <= 0 || d.PSIMajor <= d.PSIModerate {
		v.add(path+".psi_major", "must be greater than psi_moderate (%g), which must be positive", d.PSIModerate)
	}
	if f := d.MinPSIExcess; f != nil && (!(*f >= 0) || math.IsInf(*f, 0)) {
		v.add(path+".min_psi_excess", "must be 0 (no floor) or a positive number, is %g", *f)
	}
	if !(d.FalseAlarmRate > 0 && d.FalseAlarmRate <= 0.5) {
		v.add(path+".false_alarm_rate", "must be in (0, 0.5], is %g", d.FalseAlarmRate)
	}
	if d.MaxDriftedFeatures < 0 {
		v.add(path+".max_drifted_features", "must not be negative")
	}
	if d.Cooldown < 0 {
		v.add(path+".cooldown", "must not be negative")
	}
	if d.QualityDrop < 0 {
		v.add(path+".quality_drop", "must not be negative")
	}
}

func firstDuplicate(values []string) string {
	seen := map[string]bool{}
	for _, s := range values {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
