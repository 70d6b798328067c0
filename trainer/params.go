package trainer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// paramSpec describes one parameter of an algorithm.
type paramSpec struct {
	name     string
	def      float64
	min, max float64 // inclusive bounds
	integer  bool
	odd      bool   // only odd integers (the forest's tree count)
	oddWhy   string // why odd, for the error message
}

// paramSpecs is the parameter list of one algorithm, in documentation order.
type paramSpecs []paramSpec

func (s paramSpecs) defaults() Params {
	p := make(Params, len(s))
	for _, ps := range s {
		p[ps.name] = ps.def
	}
	return p
}

func (s paramSpecs) names() []string {
	n := make([]string, len(s))
	for i, ps := range s {
		n[i] = ps.name
	}
	return n
}

// validate returns one *ParamError per problem, joined, in a stable order (sorted by name).
func (s paramSpecs) validate(algorithm string, p Params) error {
	var errs []error
	problem := func(name, format string, args ...any) {
		errs = append(errs, &ParamError{Algorithm: algorithm, Param: name, Problem: fmt.Sprintf(format, args...)})
	}
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := p[name]
		i := slices.IndexFunc(s, func(ps paramSpec) bool { return ps.name == name })
		if i < 0 {
			if len(s) == 0 {
				problem(name, "unknown parameter (%s takes no parameters)", algorithm)
			} else {
				problem(name, "unknown parameter (known: %s)", strings.Join(s.names(), ", "))
			}
			continue
		}
		ps := s[i]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			problem(name, "must be a finite number, got %v", v)
		case ps.integer && v != math.Trunc(v):
			problem(name, "must be a whole number, got %s", fmtNum(v))
		case v < ps.min || v > ps.max:
			problem(name, "must be %s, got %s", ps.rangeText(), fmtNum(v))
		case ps.odd && math.Mod(v, 2) == 0:
			problem(name, "must be odd (%s), got %s", ps.oddWhy, fmtNum(v))
		}
	}
	return errors.Join(errs...)
}

func (ps paramSpec) rangeText() string {
	switch {
	case ps.integer && ps.min == 0 && ps.max == 1:
		return "0 or 1"
	case math.IsInf(ps.max, 1) && ps.min == math.SmallestNonzeroFloat64:
		return "greater than 0"
	case math.IsInf(ps.max, 1) || ps.max >= math.MaxInt32:
		return "at least " + fmtNum(ps.min)
	default:
		return "between " + fmtNum(ps.min) + " and " + fmtNum(ps.max)
	}
}

// resolve validates p and returns the defaults overlaid with p.
func (s paramSpecs) resolve(algorithm string, p Params) (Params, error) {
	if err := s.validate(algorithm, p); err != nil {
		return nil, err
	}
	eff := s.defaults()
	for k, v := range p {
		eff[k] = v
	}
	return eff, nil
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func copyParams(p Params) Params {
	c := make(Params, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}
