package schedules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
)

// cronComment prefixes the comment of calendars made from a cron
// expression, so a described schedule can be summarised as the config wrote it.
const cronComment = "cron "

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is the value min+i
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	// 7 is Sunday too, as in most crons; it becomes 0.
	{name: "day-of-week", min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}},
}

// ParseCron turns a 5-field cron expression (minute hour day-of-month month
// day-of-week) into Temporal calendar specs matching the same times, at
// second 0, in UTC. Fields take *, N, N-M, */S, N-M/S, N/S and comma lists;
// months and weekdays also take names (JAN, MON). As in cron, when both
// day-of-month and day-of-week are restricted (neither starts with *), a day
// matching either one matches; that is two calendars, whose union Temporal
// takes.
func ParseCron(expr string) ([]client.ScheduleCalendarSpec, error) {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return nil, fmt.Errorf("%q is not a 5-field cron expression (minute hour day-of-month month day-of-week)", expr)
	}
	var ranges [5][]client.ScheduleRange
	for i, f := range fields {
		r, err := parseCronField(cronFields[i], f)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", expr, err)
		}
		ranges[i] = r
	}
	cal := client.ScheduleCalendarSpec{
		Second:     []client.ScheduleRange{{Start: 0, End: 0, Step: 1}},
		Minute:     ranges[0],
		Hour:       ranges[1],
		DayOfMonth: ranges[2],
		Month:      ranges[3],
		DayOfWeek:  ranges[4],
		Comment:    cronComment + strings.Join(fields, " "),
	}
	if strings.HasPrefix(fields[2], "*") || strings.HasPrefix(fields[4], "*") {
		return []client.ScheduleCalendarSpec{cal}, nil
	}
	byDay, byWeekday := cal, cal
	byDay.DayOfWeek = []client.ScheduleRange{{Start: 0, End: 6, Step: 1}}
	byWeekday.DayOfMonth = []client.ScheduleRange{{Start: 1, End: 31, Step: 1}}
	return []client.ScheduleCalendarSpec{byDay, byWeekday}, nil
}

func parseCronField(f cronField, s string) ([]client.ScheduleRange, error) {
	var out []client.ScheduleRange
	for _, term := range strings.Split(s, ",") {
		r, err := parseCronTerm(f, term)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", f.name, term, err)
		}
		out = append(out, r...)
	}
	return out, nil
}

func parseCronTerm(f cronField, term string) ([]client.ScheduleRange, error) {
	if term == "" {
		return nil, errors.New("empty list item")
	}
	base, stepText, hasStep := strings.Cut(term, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("step %q is not a positive number", stepText)
		}
		step = n
	}
	var lo, hi int
	switch {
	case base == "*":
		lo, hi = f.min, f.max
		if f.name == "day-of-week" {
			hi = 6
		}
	case strings.Contains(base, "-"):
		a, b, _ := strings.Cut(base, "-")
		var err error
		if lo, err = cronValue(f, a); err != nil {
			return nil, err
		}
		if hi, err = cronValue(f, b); err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("range runs backwards (%s-%s)", a, b)
		}
	default:
		var err error
		if lo, err = cronValue(f, base); err != nil {
			return nil, err
		}
		hi = lo
		if hasStep { // N/S means N to the end, every S
			hi = f.max
		}
	}
	if f.name == "day-of-week" && hi == 7 {
		// Sunday written as 7: match it as 0, the rest as written.
		var out []client.ScheduleRange
		if lo <= 6 {
			last := lo + (6-lo)/step*step
			out = append(out, client.ScheduleRange{Start: lo, End: last, Step: step})
		}
		if (7-lo)%step == 0 {
			out = append(out, client.ScheduleRange{Start: 0, End: 0, Step: 1})
		}
		return out, nil
	}
	return []client.ScheduleRange{{Start: lo, End: hi, Step: step}}, nil
}

func cronValue(f cronField, s string) (int, error) {
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%d is outside %d-%d", n, f.min, f.max)
	}
	return n, nil
}
