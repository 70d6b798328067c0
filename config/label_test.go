package config

import (
	"strings"
	"testing"
	"time"
)

// labelConfig is minimalConfig with the label line replaced by label.
func labelConfig(label string) string {
	return strings.Replace(minimalConfig, "    label: {column: y}\n", label, 1)
}

func TestALabelTableTakesItsColumnsFromTheSourceAndTheLabel(t *testing.T) {
	cfg, err := Parse([]byte(labelConfig("    label: {column: y, source: table, table: {name: y_labels}, delay: 30d}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the config should be valid: %v", err)
	}
	l := cfg.Models[0].Label
	want := LabelTable{Name: "y_labels", KeyColumn: "id", LabelColumn: "y", KnownAtColumn: "known_at"}
	if !l.FromTable() || l.Table != want || l.Delay.D() != 30*Day {
		t.Errorf("got %+v, want a table source %+v with delay 30d", l, want)
	}
	if got := cfg.LabelKeyspace(&cfg.Models[0]); got != "kingmaker" {
		t.Errorf("label keyspace %q, want the source's, kingmaker", got)
	}
}

func TestWithoutASourceLabelsAreReadFromTheRow(t *testing.T) {
	cfg, err := Parse([]byte(minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Models[0].Label; l.Source != LabelFromRow || l.FromTable() || l.Table != (LabelTable{}) || l.Delay != 0 {
		t.Errorf("got %+v, want labels from the row, no table, no delay", l)
	}
	if (Label{}).FromTable() {
		t.Error("a spec recorded before label sources must read labels from the row")
	}
}

func TestLabelSourceProblemsNameTheirField(t *testing.T) {
	cases := []struct{ name, label, want string }{
		{"an unknown source", "{column: y, source: stream}", `models[0].label.source: unknown "stream" (known: row, table)`},
		{"a table source without a table name", "{column: y, source: table}", "models[0].label.table.name: required when label.source is table (the table of labels keyed by the row key)"},
		{"a table named but the source is the row", "{column: y, table: {name: y_labels}}", "models[0].label.table: is set but label.source is not table: set label.source: table to read labels from it"},
		{"a negative delay", "{column: y, delay: -1h}", "models[0].label.delay: must not be negative (how long a row waits for its label, e.g. 30d)"},
		{"a label table that is not an identifier", "{column: y, source: table, table: {name: 'y-labels'}}", `models[0].label.table.name: "y-labels" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
		{"the source table as label table", "{column: y, source: table, table: {name: t}}", `models[0].label.table.name: "t" is the source table: use label.source: row for labels in the feature row`},
		{"a bad key column", "{column: y, source: table, table: {name: l, key_column: '1id'}}", `models[0].label.table.key_column: "1id" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
		{"a bad label column", "{column: y, source: table, table: {name: l, label_column: 'a b'}}", `models[0].label.table.label_column: "a b" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
		{"a known_at column that is the key", "{column: y, source: table, table: {name: l, known_at_column: id}}", `models[0].label.table.known_at_column: "id" is also the key or label column: name the timestamp column at which each label became known`},
		{"a partition column without a source partition value", "{column: y, source: table, table: {name: l, partition_column: dataset}}", "models[0].label.table.partition_column: needs source.partition_value, the value it is matched with"},
		{"a bad keyspace", "{column: y, source: table, table: {name: l, keyspace: 'k-s'}}", `models[0].label.table.keyspace: "k-s" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(labelConfig("    label: " + c.label + "\n")))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want the one problem %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the problem takes more than one line: %q", err)
			}
		})
	}
}

func TestALabelDelayReadsInDays(t *testing.T) {
	cfg, err := Parse([]byte(labelConfig("    label: {column: y, delay: 2d}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Models[0].Label.Delay.D(); got != 48*time.Hour {
		t.Errorf("delay %v, want 48h", got)
	}
}
