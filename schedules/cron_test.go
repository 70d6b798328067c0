package schedules

import (
	"reflect"
	"testing"

	"go.temporal.io/sdk/client"
)

func rng(start, end, step int) client.ScheduleRange {
	return client.ScheduleRange{Start: start, End: end, Step: step}
}

func one(v int) []client.ScheduleRange { return []client.ScheduleRange{rng(v, v, 1)} }

func TestParseCronReadsEveryFieldForm(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		check func(t *testing.T, cals []client.ScheduleCalendarSpec)
	}{
		{"a step over the whole minute range keeps its step", "*/15 * * * *", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "minute", c[0].Minute, []client.ScheduleRange{rng(0, 59, 15)})
		}},
		{"N/S runs from N to the end of the field", "5/20 * * * *", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "minute", c[0].Minute, []client.ScheduleRange{rng(5, 59, 20)})
		}},
		{"lists become one range per item", "0 1,13 * * *", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "hour", c[0].Hour, []client.ScheduleRange{rng(1, 1, 1), rng(13, 13, 1)})
		}},
		{"weekday names read like numbers, in any case", "0 9 * * mon-FRI", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "day-of-week", c[0].DayOfWeek, []client.ScheduleRange{rng(1, 5, 1)})
		}},
		{"month names read like numbers", "0 0 1 JAN,jul *", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "month", c[0].Month, []client.ScheduleRange{rng(1, 1, 1), rng(7, 7, 1)})
		}},
		{"seven is Sunday", "0 0 * * 7", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "day-of-week", c[0].DayOfWeek, one(0))
		}},
		{"a range ending on seven includes Sunday as zero", "0 0 * * 5-7", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "day-of-week", c[0].DayOfWeek, []client.ScheduleRange{rng(5, 6, 1), rng(0, 0, 1)})
		}},
		{"a stepped weekday range reaching seven includes Sunday", "0 0 * * 1-7/2", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "day-of-week", c[0].DayOfWeek, []client.ScheduleRange{rng(1, 5, 2), rng(0, 0, 1)})
		}},
		{"a stepped weekday range missing seven leaves Sunday out", "0 0 * * 2-7/2", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			want(t, "day-of-week", c[0].DayOfWeek, []client.ScheduleRange{rng(2, 6, 2)})
		}},
		{"a restricted day of month with any weekday is one calendar", "0 0 1 * *", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			if len(c) != 1 {
				t.Fatalf("got %d calendars, want 1", len(c))
			}
			want(t, "day-of-month", c[0].DayOfMonth, one(1))
		}},
		{"both day fields restricted match either, as two calendars", "30 2 1,15 * MON", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			if len(c) != 2 {
				t.Fatalf("got %d calendars, want 2 (day-of-month OR day-of-week)", len(c))
			}
			want(t, "first calendar's day-of-month", c[0].DayOfMonth, []client.ScheduleRange{rng(1, 1, 1), rng(15, 15, 1)})
			want(t, "first calendar's day-of-week", c[0].DayOfWeek, []client.ScheduleRange{rng(0, 6, 1)})
			want(t, "second calendar's day-of-month", c[1].DayOfMonth, []client.ScheduleRange{rng(1, 31, 1)})
			want(t, "second calendar's day-of-week", c[1].DayOfWeek, one(1))
			want(t, "second calendar's minute", c[1].Minute, one(30))
		}},
		{"a starred step on the day of month still means and", "0 0 */2 * MON", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			if len(c) != 1 {
				t.Fatalf("got %d calendars, want 1", len(c))
			}
		}},
		{"the comment keeps the expression for people", "0  3 * * *", func(t *testing.T, c []client.ScheduleCalendarSpec) {
			if c[0].Comment != "cron 0 3 * * *" {
				t.Errorf("comment %q, want %q", c[0].Comment, "cron 0 3 * * *")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cals, err := ParseCron(tc.expr)
			if err != nil {
				t.Fatalf("ParseCron(%q): %v", tc.expr, err)
			}
			tc.check(t, cals)
		})
	}
}

func want(t *testing.T, field string, got, want []client.ScheduleRange) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", field, got, want)
	}
}
