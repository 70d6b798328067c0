// Package config owns Kingmaker's typed configuration: the YAML file, the
// KINGMAKER_* environment overrides for connection settings, defaults, and
// validation that reports every problem at once, each naming its field path.
//
// It does not open connections; worker and cmd turn a Config into sessions
// and clients.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kingmaker-ml/kingmaker/drift"
	"github.com/kingmaker-ml/kingmaker/evaluator"
)

// Config is the whole configuration of a Kingmaker deployment.
type Config struct {
	Cassandra Cassandra `yaml:"cassandra" json:"cassandra"`
	Temporal  Temporal  `yaml:"temporal" json:"temporal"`
	Metrics   Metrics   `yaml:"metrics" json:"metrics"`
	Models    []Model   `yaml:"models" json:"models"`
	// Serve configures `kingmaker serve` (serve.go).
	Serve Serve `yaml:"serve" json:"serve"`
}

// Cassandra says how to reach the Cassandra cluster that holds the source
// tables and the model registry.
type Cassandra struct {
	Hosts    []string `yaml:"hosts" json:"hosts"`
	Port     int      `yaml:"port" json:"port"`
	Keyspace string   `yaml:"keyspace" json:"keyspace"`
	// Replication is used only when `schema apply` creates the keyspace.
	Replication       Replication `yaml:"replication" json:"replication"`
	Consistency       string      `yaml:"consistency" json:"consistency"`
	SerialConsistency string      `yaml:"serial_consistency" json:"serial_consistency"`
	ConnectTimeout    Duration    `yaml:"connect_timeout" json:"connect_timeout"`
	Timeout           Duration    `yaml:"timeout" json:"timeout"`
	// LocalDC, when set, makes the driver prefer hosts of that data centre.
	LocalDC  string `yaml:"local_dc" json:"local_dc,omitempty"`
	Username string `yaml:"username" json:"username,omitempty"`
	Password Secret `yaml:"password" json:"password,omitempty"`
	TLS      TLS    `yaml:"tls" json:"tls"`
}

// Replication is the keyspace replication used at creation time.
type Replication struct {
	// Class is SimpleStrategy or NetworkTopologyStrategy.
	Class string `yaml:"class" json:"class"`
	// Factor is the replication factor of SimpleStrategy.
	Factor int `yaml:"factor" json:"factor,omitempty"`
	// DataCenters maps a data centre to its replication factor for
	// NetworkTopologyStrategy.
	DataCenters map[string]int `yaml:"data_centers" json:"data_centers,omitempty"`
}

// TLS names the PEM files of a TLS connection. An empty CAFile and CertFile
// mean plain TCP.
type TLS struct {
	Enabled            bool   `yaml:"enabled" json:"enabled"`
	CAFile             string `yaml:"ca_file" json:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file" json:"key_file,omitempty"`
	ServerName         string `yaml:"server_name" json:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" json:"insecure_skip_verify,omitempty"`
}

// Temporal says how to reach the Temporal cluster.
type Temporal struct {
	HostPort  string `yaml:"host_port" json:"host_port"`
	Namespace string `yaml:"namespace" json:"namespace"`
	// TaskQueue serves workflows and light activities.
	TaskQueue string `yaml:"task_queue" json:"task_queue"`
	// TrainingTaskQueue serves TrainCandidate and Evaluate, so training
	// workers can be scaled apart from the rest.
	TrainingTaskQueue string `yaml:"training_task_queue" json:"training_task_queue"`
	TLS               TLS    `yaml:"tls" json:"tls"`
	APIKey            Secret `yaml:"api_key" json:"api_key,omitempty"`
	// UIURL is the Temporal Web UI, for links the CLI prints.
	UIURL string `yaml:"ui_url" json:"ui_url"`
	// Identity, when set, is the identity the CLI gives Temporal, and who
	// it records as acting (promote, rollback, shadow, approve, reject)
	// unless a client certificate names someone; --by cannot override it.
	Identity string `yaml:"identity" json:"identity,omitempty"`
}

// Metrics configures the Prometheus endpoint of the worker.
type Metrics struct {
	Listen string `yaml:"listen" json:"listen"`
}

// Model declares one prediction task.
type Model struct {
	Name string `yaml:"name" json:"name"`
	// Task is what the model predicts: binary (one of two classes),
	// multiclass (one of three or more) or regression (a number). Empty
	// means binary for two label.classes and multiclass for more.
	Task       string      `yaml:"task" json:"task,omitempty"`
	Source     Source      `yaml:"source" json:"source"`
	Features   []Feature   `yaml:"features" json:"features"`
	Label      Label       `yaml:"label" json:"label"`
	Window     Window      `yaml:"window" json:"window"`
	Candidates []Candidate `yaml:"candidates" json:"candidates"`
	// ParallelTrainings is how many of the candidates a run trains at once;
	// 0 (the default) starts them all together. Set it to the training
	// slots of the workers (the sum of their --max-trainings) so that no
	// training waits in the task queue behind a busy slot.
	ParallelTrainings int      `yaml:"parallel_trainings" json:"parallel_trainings,omitempty"`
	Policy            Policy   `yaml:"policy" json:"policy"`
	Schedule          Schedule `yaml:"schedule" json:"schedule"`
	Drift             Drift    `yaml:"drift" json:"drift"`
}

// Source names the table a model's rows live in. The table is partitioned by
// (partition column, day bucket) and clustered by time then row key, like the
// demo `events` table.
type Source struct {
	// Keyspace holds the table; empty means cassandra.keyspace, the
	// registry's. Kingmaker only reads it (and `seed` writes demo rows).
	Keyspace string `yaml:"keyspace" json:"keyspace,omitempty"`
	Table    string `yaml:"table" json:"table"`
	// PartitionColumn and PartitionValue select the model's rows when the
	// table holds several datasets; both empty when the day is the whole key.
	PartitionColumn string `yaml:"partition_column" json:"partition_column,omitempty"`
	PartitionValue  string `yaml:"partition_value" json:"partition_value,omitempty"`
	DayColumn       string `yaml:"day_column" json:"day_column"`
	TimeColumn      string `yaml:"time_column" json:"time_column"`
	KeyColumn       string `yaml:"key_column" json:"key_column"`
}

// Feature is one input column of a model.
type Feature struct {
	Name string `yaml:"name" json:"name"`
	// Column defaults to Name.
	Column string `yaml:"column" json:"column,omitempty"`
	// Type is numeric or categorical.
	Type string `yaml:"type" json:"type"`
	// Categories fixes the known values of a categorical feature, in order;
	// a value outside them is "unknown" at training and scoring time.
	Categories []string `yaml:"categories" json:"categories,omitempty"`
}

// Label is the column a model predicts and its class values. The last class
// is the positive class of binary metrics such as ROC AUC. A regression
// model's label is a number column and lists no classes.
type Label struct {
	Column  string   `yaml:"column" json:"column"`
	Classes []string `yaml:"classes" json:"classes"`
	// Source is where a row's label is read: "row" (the default; the
	// label column of the source row) or "table" (Table, keyed by the row
	// key, with the time each label became known).
	Source string `yaml:"source" json:"source,omitempty"`
	// Table is the label table when Source is "table".
	Table LabelTable `yaml:"table" json:"table,omitzero"`
	// Delay is the label maturity: a run's training and holdout window
	// ends this long before the run's as-of time, so every row in it had
	// that long to be labelled.
	Delay Duration `yaml:"delay" json:"delay,omitempty"`
}

// Label sources.
const (
	LabelFromRow   = "row"
	LabelFromTable = "table"
)

// FromTable reports whether labels come from a label table. A spec
// recorded before label sources existed reads its labels from the row.
func (l Label) FromTable() bool { return l.Source == LabelFromTable }

// LabelTable is a table of labels that arrive apart from their rows: one
// row per (key, known_at), so a label corrected later keeps its history and
// a run reads the label as it was known at its as-of time. Its partition key
// is the key column, or (partition column, key column) when the source
// table holds several datasets.
type LabelTable struct {
	// Keyspace holds the table; empty means the source table's keyspace.
	Keyspace string `yaml:"keyspace" json:"keyspace,omitempty"`
	Name     string `yaml:"name" json:"name"`
	// PartitionColumn, when set, is matched with source.partition_value.
	PartitionColumn string `yaml:"partition_column" json:"partition_column,omitempty"`
	// KeyColumn holds the row key; defaults to source.key_column.
	KeyColumn string `yaml:"key_column" json:"key_column"`
	// LabelColumn holds the label; defaults to label.column.
	LabelColumn string `yaml:"label_column" json:"label_column"`
	// KnownAtColumn is the timestamp at which the label became known;
	// defaults to known_at.
	KnownAtColumn string `yaml:"known_at_column" json:"known_at_column"`
}

// Window says which rows a run reads and how it splits them.
type Window struct {
	// Length is how far back from the run's end the window reaches.
	Length Duration `yaml:"length" json:"length"`
	// HoldoutFraction of rows, chosen by a stable hash of the row key, is
	// kept out of training and used to score every candidate and the champion.
	HoldoutFraction float64 `yaml:"holdout_fraction" json:"holdout_fraction"`
	// OutOfTime, when set, also holds out the newest slice of the window.
	OutOfTime Duration `yaml:"out_of_time" json:"out_of_time,omitempty"`
	// MinRows is the fewest rows a window may hold; fewer fails the run.
	MinRows int `yaml:"min_rows" json:"min_rows"`
	// MinClassRows is the fewest rows each class must have.
	MinClassRows int `yaml:"min_class_rows" json:"min_class_rows"`
	// MaxTrainRows caps the rows one candidate trains on (stratified sample).
	MaxTrainRows int `yaml:"max_train_rows" json:"max_train_rows"`
	// MaxHoldoutRows caps the holdout rows every model of a run is scored
	// and compared on (a run-seeded sample by key hash of the holdout, so
	// the evaluation's cost stops growing with the window).
	MaxHoldoutRows int `yaml:"max_holdout_rows" json:"max_holdout_rows,omitempty"`
	// Parallelism bounds concurrent partition reads.
	Parallelism int `yaml:"parallelism" json:"parallelism"`
	// InvalidRows is "fail" (default) or "skip": what to do with a row whose
	// feature is NaN, infinite or missing.
	InvalidRows string `yaml:"invalid_rows" json:"invalid_rows"`
}

// Candidate is one algorithm with its parameters, trained at every run.
type Candidate struct {
	// Name is unique within the model; defaults to the algorithm.
	Name      string             `yaml:"name" json:"name"`
	Algorithm string             `yaml:"algorithm" json:"algorithm"`
	Params    map[string]float64 `yaml:"params" json:"params,omitempty"`
	// External, when set, makes a worker outside Kingmaker (any Temporal
	// SDK language) train this candidate: its algorithm is "external".
	External *External `yaml:"external" json:"external,omitempty"`
}

// AlgorithmExternal is the algorithm of a candidate an external trainer makes.
const AlgorithmExternal = "external"

// External names the activity an external trainer serves and the format of
// the model file it returns (see README "External trainers").
type External struct {
	// TaskQueue is the Temporal task queue the external worker polls.
	TaskQueue string `yaml:"task_queue" json:"task_queue"`
	// Activity is the activity type name it registered.
	Activity string `yaml:"activity" json:"activity"`
	// Format is the model file it returns: onnx or xgboost.
	Format string `yaml:"format" json:"format"`
}

// Policy is the promotion policy: the decision rules as package evaluator
// applies them (their fields sit inline in the YAML), and how a run carries
// them out. The rules are stated in full in package evaluator (Decide).
type Policy struct {
	evaluator.Policy   `yaml:",inline"`
	ApprovalTimeout    Duration `yaml:"approval_timeout" json:"approval_timeout"`
	BootstrapResamples int      `yaml:"bootstrap_resamples" json:"bootstrap_resamples"`
	// Shadow, when its period is set, makes a run shadow its winner on live
	// traffic before promoting it.
	Shadow Shadow `yaml:"shadow" json:"shadow,omitzero"`
	// Probation, when its period is set, watches every promotion against
	// the champion it replaced and rolls it back when it does worse.
	Probation Probation `yaml:"probation" json:"probation,omitzero"`
}

// Shadow is the shadow period a winner must pass before its promotion: the
// serving endpoint scores it beside the champion on sampled live requests
// for Period, and then the run judges the evidence by the shadow rules,
// stated in full in package evaluator (JudgeShadow).
type Shadow struct {
	// Period is how long the winner is shadowed; 0 (the default) promotes
	// at once, as without shadowing.
	Period Duration `yaml:"period" json:"period,omitempty"`
	// MinRequests is the fewest live rows both models must have scored.
	MinRequests int `yaml:"min_requests" json:"min_requests,omitempty"`
	// MinAgreement is the least share of rows on which the shadow predicts
	// the champion's class, when too few rows have labels to judge by.
	MinAgreement float64 `yaml:"min_agreement" json:"min_agreement,omitempty"`
	// MinLabelledRows is how many shadowed rows need a label before live
	// accuracy decides instead of agreement.
	MinLabelledRows int `yaml:"min_labelled_rows" json:"min_labelled_rows,omitempty"`
	// MaxAccuracyDrop is how much lower than the champion's the shadow's
	// live accuracy may be on those rows.
	MaxAccuracyDrop float64 `yaml:"max_accuracy_drop" json:"max_accuracy_drop,omitempty"`
}

// Enabled reports whether runs shadow their winner before promoting it.
func (s Shadow) Enabled() bool { return s.Period > 0 }

// Schedule holds the Temporal Schedules of a model.
type Schedule struct {
	Retrain Trigger `yaml:"retrain" json:"retrain"`
	Drift   Trigger `yaml:"drift" json:"drift"`
	// Score runs batch scoring of a recent window with the champion.
	Score ScoreTrigger `yaml:"score" json:"score"`
}

// Alignments of a scheduled scoring window's end.
const (
	AlignNone = "none"
	AlignHour = "hour"
	AlignDay  = "day"
)

// ScoreTrigger is a batch scoring schedule: when to run (the Trigger) and
// which rows each run scores, relative to the run's scheduled time T (not
// its actual start, so jitter and a late catch-up run score the same rows):
// the window ends at T - Lag truncated to a whole Align (UTC) and reaches
// Window back. With cron "0 2 * * *", window 1d and align day, every run
// scores the whole previous day.
type ScoreTrigger struct {
	Trigger `yaml:",inline"`
	// Window is how far back from its end the scored window reaches.
	Window Duration `yaml:"window" json:"window"`
	// Lag moves the window's end back from the run's time, for rows that
	// arrive late.
	Lag Duration `yaml:"lag" json:"lag,omitempty"`
	// Align is none, hour or day: the window's end is truncated to a whole
	// hour or day (UTC), so a run scores whole partitions.
	Align string `yaml:"align" json:"align"`
	// Version scores with this version; empty means the champion at the
	// run's start.
	Version string `yaml:"version" json:"version,omitempty"`
}

// Trigger is one schedule: an interval or a cron expression. An empty
// trigger means no schedule.
type Trigger struct {
	Every         Duration `yaml:"every" json:"every,omitempty"`
	Cron          string   `yaml:"cron" json:"cron,omitempty"`
	Jitter        Duration `yaml:"jitter" json:"jitter,omitempty"`
	CatchupWindow Duration `yaml:"catchup_window" json:"catchup_window,omitempty"`
	Paused        bool     `yaml:"paused" json:"paused,omitempty"`
}

// Enabled reports whether the trigger schedules anything.
func (t Trigger) Enabled() bool { return t.Every > 0 || t.Cron != "" }

// Drift configures drift monitoring of a model.
type Drift struct {
	// Window is how much recent data is compared with the champion's profile.
	Window  Duration `yaml:"window" json:"window"`
	MinRows int      `yaml:"min_rows" json:"min_rows"`
	// PSIModerate and PSIMajor are the bands of a feature's PSI above its
	// no-change level at the sizes of the reference and the window: they
	// grade a drift (severity moderate or major) in reports and metrics,
	// they do not decide it.
	PSIModerate float64 `yaml:"psi_moderate" json:"psi_moderate"`
	PSIMajor    float64 `yaml:"psi_major" json:"psi_major"`
	// MinPSIExcess is the effect-size floor of a feature's alarm: a feature
	// drifts only when its PSI above the no-change level is at least this
	// much (and its test is significant). An explicit 0 means no floor.
	// Nil in a spec recorded before the setting existed means the default.
	MinPSIExcess *float64 `yaml:"min_psi_excess" json:"min_psi_excess,omitempty"`
	// FalseAlarmRate is the Benjamini-Hochberg level of the features'
	// two-sample tests: a feature drifts only when its adjusted p-value is
	// at or below it, so an unchanged window raises an alarm with at most
	// this probability. 0 in a recorded spec means the default.
	FalseAlarmRate float64 `yaml:"false_alarm_rate" json:"false_alarm_rate"`
	// MaxDriftedFeatures is how many features may drift before the model
	// counts as drifted.
	MaxDriftedFeatures int `yaml:"max_drifted_features" json:"max_drifted_features"`
	// RetrainOnDrift starts a retrain (reason drift) when the model drifts.
	RetrainOnDrift bool `yaml:"retrain_on_drift" json:"retrain_on_drift"`
	// ApproveRetrains makes drift-triggered retrains wait for a person's
	// approval before promoting (kingmaker approve/reject).
	ApproveRetrains bool `yaml:"approve_retrains" json:"approve_retrains"`
	// Cooldown is the least time between two drift-triggered retrains.
	Cooldown Duration `yaml:"cooldown" json:"cooldown"`
	// QualityDrop is the largest drop of the champion's primary metric on
	// recently labelled rows, against its holdout value, before it alerts.
	QualityDrop float64 `yaml:"quality_drop" json:"quality_drop"`
}

// Tasks a model may name.
const (
	TaskBinary     = "binary"
	TaskMulticlass = "multiclass"
	TaskRegression = "regression"
)

// Tasks lists the tasks a model may name, in documentation order.
var Tasks = []string{TaskBinary, TaskMulticlass, TaskRegression}

// TaskName is the model's task: task as written, or the default of its
// classes (binary for two, multiclass for more; "" for fewer, which
// validation refuses).
func (m *Model) TaskName() string {
	if m.Task != "" {
		return m.Task
	}
	switch n := len(m.Label.Classes); {
	case n == 2:
		return TaskBinary
	case n > 2:
		return TaskMulticlass
	}
	return ""
}

// SourceKeyspace is the keyspace of the model's source table:
// source.keyspace, or the registry's when that is empty.
func (c *Config) SourceKeyspace(m *Model) string {
	if m.Source.Keyspace != "" {
		return m.Source.Keyspace
	}
	return c.Cassandra.Keyspace
}

// LabelKeyspace is the keyspace of the model's label table:
// label.table.keyspace, or the source table's when that is empty.
func (c *Config) LabelKeyspace(m *Model) string {
	if m.Label.Table.Keyspace != "" {
		return m.Label.Table.Keyspace
	}
	return c.SourceKeyspace(m)
}

// Model returns the model called name.
func (c *Config) Model(name string) (*Model, error) {
	for i := range c.Models {
		if c.Models[i].Name == name {
			return &c.Models[i], nil
		}
	}
	names := make([]string, len(c.Models))
	for i, m := range c.Models {
		names[i] = m.Name
	}
	return nil, fmt.Errorf("model %q is not in the config (configured: %s)", name, strings.Join(names, ", "))
}

// Load reads the YAML file at path, applies defaults and KINGMAKER_*
// environment overrides, and validates the result. Every validation problem
// is reported, joined in one error.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s not found: pass --config FILE or copy kingmaker.example.yaml to %s", path, path)
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s is invalid:\n%w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML strictly (unknown fields are errors) and applies
// defaults to the fields the YAML leaves out: a field written with a zero
// value ("max_accuracy_drop: 0", "cooldown: 0s") keeps it. It does not
// validate.
func Parse(b []byte) (*Config, error) {
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	cfg.setDefaults(written(&doc, cfg))
	return cfg, nil
}

// ApplyEnv overrides connection settings from KINGMAKER_* variables, read
// through lookup (os.LookupEnv in production).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := func(key string, dst *string) {
		if v, ok := lookup(key); ok {
			*dst = v
		}
	}
	var errs []error
	if v, ok := lookup("KINGMAKER_CASSANDRA_HOSTS"); ok {
		c.Cassandra.Hosts = splitList(v)
	}
	if v, ok := lookup("KINGMAKER_CASSANDRA_PORT"); ok {
		p, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("KINGMAKER_CASSANDRA_PORT: %q is not a port number", v))
		}
		c.Cassandra.Port = p
	}
	str("KINGMAKER_CASSANDRA_KEYSPACE", &c.Cassandra.Keyspace)
	str("KINGMAKER_CASSANDRA_CONSISTENCY", &c.Cassandra.Consistency)
	str("KINGMAKER_CASSANDRA_LOCAL_DC", &c.Cassandra.LocalDC)
	str("KINGMAKER_CASSANDRA_USERNAME", &c.Cassandra.Username)
	str("KINGMAKER_CASSANDRA_PASSWORD", (*string)(&c.Cassandra.Password))
	str("KINGMAKER_TEMPORAL_HOST_PORT", &c.Temporal.HostPort)
	str("KINGMAKER_TEMPORAL_NAMESPACE", &c.Temporal.Namespace)
	str("KINGMAKER_TEMPORAL_TASK_QUEUE", &c.Temporal.TaskQueue)
	str("KINGMAKER_TEMPORAL_TRAINING_TASK_QUEUE", &c.Temporal.TrainingTaskQueue)
	str("KINGMAKER_TEMPORAL_API_KEY", (*string)(&c.Temporal.APIKey))
	str("KINGMAKER_TEMPORAL_UI_URL", &c.Temporal.UIURL)
	str("KINGMAKER_TEMPORAL_IDENTITY", &c.Temporal.Identity)
	str("KINGMAKER_METRICS_LISTEN", &c.Metrics.Listen)
	return errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// SetDefaults fills every field that has a default and holds its zero
// value, for a Config built in Go. Parse applies the same defaults only to
// the fields its YAML leaves out, so that an explicit zero stays zero.
func (c *Config) SetDefaults() { c.setDefaults(nil) }

// setDefaults is the one place defaults live. A field in explicit (see
// written) keeps its value even when it is zero.
func (c *Config) setDefaults(explicit fieldSet) {
	setStr, setInt, setFloat, setDur := explicit.setStr, explicit.setInt, explicit.setFloat, explicit.setDur
	cs := &c.Cassandra
	if len(cs.Hosts) == 0 && !explicit[&cs.Hosts] {
		cs.Hosts = []string{"127.0.0.1"}
	}
	setInt(&cs.Port, 9042)
	setStr(&cs.Keyspace, "kingmaker")
	setStr(&cs.Replication.Class, "SimpleStrategy")
	if cs.Replication.Class == "SimpleStrategy" {
		setInt(&cs.Replication.Factor, 1)
	}
	setStr(&cs.Consistency, "LOCAL_QUORUM")
	setStr(&cs.SerialConsistency, "SERIAL")
	setDur(&cs.ConnectTimeout, 5*time.Second)
	setDur(&cs.Timeout, 10*time.Second)

	t := &c.Temporal
	setStr(&t.HostPort, "127.0.0.1:7233")
	setStr(&t.Namespace, "default")
	setStr(&t.TaskQueue, "kingmaker")
	setStr(&t.TrainingTaskQueue, "kingmaker-training")
	setStr(&t.UIURL, "http://127.0.0.1:8233")
	setStr(&c.Metrics.Listen, "127.0.0.1:9464")
	c.Serve.setDefaults(explicit)

	for i := range c.Models {
		m := &c.Models[i]
		setStr(&m.Source.DayColumn, "day")
		setStr(&m.Source.TimeColumn, "ts")
		setStr(&m.Source.KeyColumn, "id")
		for j := range m.Features {
			setStr(&m.Features[j].Column, m.Features[j].Name)
		}
		if len(m.Label.Classes) == 0 && !explicit[&m.Label.Classes] && m.Task != TaskRegression {
			m.Label.Classes = []string{"false", "true"}
		}
		setStr(&m.Label.Source, LabelFromRow)
		if m.Label.FromTable() {
			lt := &m.Label.Table
			setStr(&lt.KeyColumn, m.Source.KeyColumn)
			setStr(&lt.LabelColumn, m.Label.Column)
			setStr(&lt.KnownAtColumn, "known_at")
		}
		w := &m.Window
		setDur(&w.Length, 14*Day)
		setFloat(&w.HoldoutFraction, 0.2)
		setInt(&w.MinRows, 1000)
		setInt(&w.MinClassRows, 50)
		setInt(&w.MaxTrainRows, 1_000_000)
		setInt(&w.MaxHoldoutRows, 1_000_000)
		setInt(&w.Parallelism, 8)
		setStr(&w.InvalidRows, "fail")
		for j := range m.Candidates {
			c := &m.Candidates[j]
			if c.External != nil {
				setStr(&c.Algorithm, AlgorithmExternal)
			}
			setStr(&c.Name, c.Algorithm)
		}
		p := &m.Policy
		switch m.TaskName() {
		case TaskRegression:
			setStr(&p.PrimaryMetric, evaluator.MetricRMSE)
		case TaskMulticlass:
			setStr(&p.PrimaryMetric, evaluator.MetricLogLoss)
		default:
			setStr(&p.PrimaryMetric, evaluator.MetricROCAUC)
		}
		setFloat(&p.SignificanceLevel, evaluator.DefaultSignificanceLevel) // an explicit 0 turns the test off
		setInt(&p.MinHoldoutRows, 200)
		setDur(&p.ApprovalTimeout, 24*time.Hour)
		setInt(&p.BootstrapResamples, 1000)
		setInt(&p.Shadow.MinRequests, 100)
		setFloat(&p.Shadow.MinAgreement, 0.9)
		setInt(&p.Shadow.MinLabelledRows, 100)
		setFloat(&p.Shadow.MaxAccuracyDrop, 0.01)
		p.Probation.setDefaults(explicit)
		sc := &m.Schedule.Score
		setDur(&sc.Window, Day)
		setStr(&sc.Align, AlignNone)
		d := &m.Drift
		setDur(&d.Window, Day)
		setInt(&d.MinRows, 500)
		setFloat(&d.PSIModerate, 0.10)
		setFloat(&d.PSIMajor, 0.25)
		if d.MinPSIExcess == nil { // a pointer: an explicit 0 (no floor) is kept
			floor := drift.DefaultMinPSIExcess
			d.MinPSIExcess = &floor
		}
		setFloat(&d.FalseAlarmRate, 0.01)
		setInt(&d.MaxDriftedFeatures, 0)
		setDur(&d.Cooldown, 6*time.Hour)
		setFloat(&d.QualityDrop, 0.05)
	}
}

func (f fieldSet) setStr(p *string, v string) {
	if *p == "" && !f[p] {
		*p = v
	}
}

func (f fieldSet) setInt(p *int, v int) {
	if *p == 0 && !f[p] {
		*p = v
	}
}

func (f fieldSet) setFloat(p *float64, v float64) {
	if *p == 0 && !f[p] {
		*p = v
	}
}

func (f fieldSet) setDur(p *Duration, v time.Duration) {
	if *p == 0 && !f[p] {
		*p = Duration(v)
	}
}

// Day is 24 hours, the unit of the `d` duration suffix.
const Day = 24 * time.Hour

// Duration is a time.Duration that reads from YAML as a Go duration string
// ("90s", "6h") or a whole number of days ("14d").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d, in days when it is a whole number of them.
func (d Duration) String() string {
	if d > 0 && time.Duration(d)%Day == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/Day), 10) + "d"
	}
	return time.Duration(d).String()
}

// ParseDuration parses a Go duration or a whole number of days ("14d").
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 14d, 6h, 90s)", s)
		}
		if maxDays := int(math.MaxInt64 / int64(Day)); days > maxDays { // more would wrap around
			return 0, fmt.Errorf("invalid duration %q (at most %dd)", s, maxDays)
		}
		return Duration(time.Duration(days) * Day), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 14d, 6h, 90s)", s)
	}
	return Duration(v), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText implements encoding.TextMarshaler, for JSON output.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Secret is a string that never prints: logs, JSON output and workflow
// history see "[redacted]" (or nothing when it is empty).
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// MarshalText implements encoding.TextMarshaler so JSON never carries it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// GoString implements fmt.GoStringer so %#v does not leak it either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }
