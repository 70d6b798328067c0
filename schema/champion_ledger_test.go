package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gocql/gocql"
)

func TestRepairLedgerRebuildsTheRowsATwoWritePromotionLost(t *testing.T) {
	v := func(n byte) gocql.UUID { return gocql.UUID{n} }
	row := func(gen int64, ver, prev byte) legacyRow {
		r := legacyRow{generation: gen, version: v(ver), action: "promote", by: "run"}
		if prev != 0 {
			r.previous = v(prev)
		}
		return r
	}
	ptr := func(gen int64, ver byte) *legacyPointer {
		return &legacyPointer{generation: gen, version: v(ver), by: "alice", reason: "better"}
	}
	// describe writes the repaired ledger as "gen:version<-previous action", oldest first.
	describe := func(rows []legacyRow) string {
		var parts []string
		for _, r := range rows {
			parts = append(parts, fmt.Sprintf("%d:%d<-%d %s", r.generation, r.version[0], r.previous[0], r.action))
		}
		return strings.Join(parts, ", ")
	}
	cases := []struct {
		name   string
		ptr    *legacyPointer
		rows   []legacyRow
		want   string
		reason string // in the rebuilt row of the pointer's generation
	}{
		{"a complete ledger is copied as it is", ptr(2, 2), []legacyRow{row(2, 2, 1), row(1, 1, 0)},
			"1:1<-0 promote, 2:2<-1 promote", ""},
		{"a pointer whose row was never written gets one from the pointer", ptr(3, 3), []legacyRow{row(2, 2, 1), row(1, 1, 0)},
			"1:1<-0 promote, 2:2<-1 promote, 3:3<-2 recovered", "better (ledger row rebuilt from the champion pointer"},
		{"a gap left by a later promotion is filled from the next row's previous version", ptr(3, 3), []legacyRow{row(3, 3, 2), row(1, 1, 0)},
			"1:1<-0 promote, 2:2<-1 recovered, 3:3<-2 promote", ""},
		{"a first champion without any row gets one", ptr(1, 1), nil,
			"1:1<-0 recovered", "better (ledger row rebuilt"},
		{"two lost rows in a row are rebuilt while the next row names its predecessor", ptr(4, 4), []legacyRow{row(1, 1, 0)},
			"1:1<-0 promote, 4:4<-0 recovered", "better"},
		{"a model with no pointer and no ledger copies nothing", nil, nil, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := repairLedger(tc.ptr, tc.rows)
			if d := describe(got); d != tc.want {
				t.Fatalf("repaired ledger %q, want %q", d, tc.want)
			}
			if tc.reason != "" && tc.ptr != nil {
				last := got[len(got)-1]
				if !strings.Contains(last.reason, tc.reason) || last.by != "alice" {
					t.Errorf("the rebuilt row of the pointer's generation says %q by %q, want %q by alice", last.reason, last.by, tc.reason)
				}
			}
		})
	}
}
