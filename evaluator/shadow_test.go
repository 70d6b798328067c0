package evaluator

import (
	"strings"
	"testing"
)

// shadowRules are a typical policy.shadow: 100 live rows, 90% agreement,
// or, from 50 labelled rows, an accuracy at most 0.01 below the champion's.
var shadowRules = ShadowRules{MinRequests: 100, MinAgreement: 0.9, MinLabelledRows: 50, MaxAccuracyDrop: 0.01}

// agreeing is the evidence of n live rows, agreed of them given the
// champion's class by the shadow.
func agreeing(n, agreed int64) ShadowEvidence {
	ev := ShadowEvidence{Version: "01HSHADOW", Rows: n, Champions: 1}
	if n > 0 {
		r := float64(agreed) / float64(n)
		ev.Agreement = &r
	}
	return ev
}

// labelled adds both models' live accuracies on rows labelled rows.
func labelled(ev ShadowEvidence, rows int, champion, shadow float64) ShadowEvidence {
	ev.LabelledRows = rows
	ev.ChampionLive = &Metrics{Rows: rows, Classes: 2, Accuracy: champion}
	ev.ShadowLive = &Metrics{Rows: rows, Classes: 2, Accuracy: shadow}
	return ev
}

func TestJudgeShadowMatchesGoldenVerdicts(t *testing.T) {
	withChampions := func(ev ShadowEvidence, n int) ShadowEvidence { ev.Champions = n; return ev }
	withoutMetrics := func(ev ShadowEvidence) ShadowEvidence { ev.ChampionLive, ev.ShadowLive = nil, nil; return ev }
	noMinimum := shadowRules
	noMinimum.MinRequests = 0
	cases := []struct {
		name  string
		rules ShadowRules
		ev    ShadowEvidence
		pass  bool
		// want is the start of the deciding reason, the first.
		want string
	}{
		{"a shadow with no rows fails", shadowRules, agreeing(0, 0), false,
			"shadow 01HSHADOW scored 0 live rows, fewer than policy.shadow.min_requests 100"},
		{"too few rows fail even in full agreement", shadowRules, agreeing(99, 99), false,
			"shadow 01HSHADOW scored 99 live rows, fewer than policy.shadow.min_requests 100"},
		{"with no minimum of rows a shadow with no rows still fails for want of agreement", noMinimum, agreeing(0, 0), false,
			"shadow 01HSHADOW agreed with the champion on no rows of 0 live rows, below policy.shadow.min_agreement 0.9"},
		{"enough agreement passes without labels", shadowRules, agreeing(100, 90), true,
			"shadow 01HSHADOW agreed with the champion on 0.9000 of 100 live rows, at least policy.shadow.min_agreement 0.9"},
		{"too little agreement fails without labels", shadowRules, agreeing(1000, 850), false,
			"shadow 01HSHADOW agreed with the champion on 0.8500 of 1000 live rows, below policy.shadow.min_agreement 0.9"},
		{"too few labels leave it to agreement", shadowRules, labelled(agreeing(1000, 850), 49, 0.7, 0.9), false,
			"shadow 01HSHADOW agreed with the champion on 0.8500 of 1000 live rows, below policy.shadow.min_agreement 0.9 (49 labelled rows, fewer than policy.shadow.min_labelled_rows 50: agreement decides)"},
		{"labelled rows without live metrics leave it to agreement", shadowRules, withoutMetrics(labelled(agreeing(1000, 950), 80, 0.9, 0.5)), true,
			"shadow 01HSHADOW agreed with the champion on 0.9500 of 1000 live rows, at least policy.shadow.min_agreement 0.9"},
		{"labels pass a shadow that disagrees but is better", shadowRules, labelled(agreeing(1000, 700), 50, 0.80, 0.86), true,
			"shadow 01HSHADOW on 50 labelled live rows: accuracy 0.8600 vs champion 0.8000, within policy.shadow.max_accuracy_drop 0.01"},
		{"labels pass a drop of exactly the maximum despite floating-point noise", shadowRules, labelled(agreeing(1000, 700), 50, 0.80, 0.79), true,
			"shadow 01HSHADOW on 50 labelled live rows: accuracy 0.7900 vs champion 0.8000, within policy.shadow.max_accuracy_drop 0.01"},
		{"labels veto a look-alike that is worse", shadowRules, labelled(agreeing(1000, 990), 500, 0.80, 0.78), false,
			"shadow 01HSHADOW on 500 labelled live rows: accuracy 0.7800 vs champion 0.8000, 0.0200 lower, more than policy.shadow.max_accuracy_drop 0.01 (agreement 0.9900 on 1000 rows)"},
		{"a change of champion during the period is said after the deciding reason", shadowRules, withChampions(agreeing(200, 200), 2), true,
			"shadow 01HSHADOW agreed with the champion on 1.0000 of 200 live rows"},
		{"a change of champion is said even when evidence is too little", shadowRules, withChampions(agreeing(20, 20), 3), false,
			"shadow 01HSHADOW scored 20 live rows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := JudgeShadow(tc.rules, tc.ev)
			if v.Passed != tc.pass || len(v.Reasons) == 0 || !strings.HasPrefix(v.Reasons[0], tc.want) {
				t.Errorf("passed %v with %q; want %v with a first reason starting %q", v.Passed, v.Reasons, tc.pass, tc.want)
			}
			if changed := tc.ev.Champions > 1; changed != (len(v.Reasons) == 2) {
				t.Errorf("%d champions answered, reasons %q: want a second reason exactly when more than one did", tc.ev.Champions, v.Reasons)
			}
			checkGolden(t, "shadow", tc.name, v)
		})
	}
}
