package trainer

import (
	"fmt"
	"math"
	"slices"
)

// validate checks that a schema can be trained on and encoded: at least one feature, unique
// feature names, known kinds, categories only on categorical features, a known task and classes
// that fit it (validateTask).
func (s Schema) validate() error {
	if len(s.Features) == 0 {
		return fmt.Errorf("%w: schema has no features", ErrInvalidData)
	}
	seen := make(map[string]bool, len(s.Features))
	for j, f := range s.Features {
		if f.Name == "" {
			return fmt.Errorf("%w: schema feature %d has no name", ErrInvalidData, j)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: schema feature %q appears twice", ErrInvalidData, f.Name)
		}
		seen[f.Name] = true
		switch f.Kind {
		case Numeric:
			if len(f.Categories) > 0 {
				return fmt.Errorf("%w: schema feature %q is numeric but lists categories", ErrInvalidData, f.Name)
			}
		case Categorical:
			if len(f.Categories) == 0 {
				return fmt.Errorf("%w: schema feature %q is categorical but lists no categories", ErrInvalidData, f.Name)
			}
			if dup := firstDuplicate(f.Categories); dup != "" {
				return fmt.Errorf("%w: schema feature %q lists category %q twice", ErrInvalidData, f.Name, dup)
			}
		default:
			return fmt.Errorf("%w: schema feature %q has kind %q (want %q or %q)", ErrInvalidData, f.Name, f.Kind, Numeric, Categorical)
		}
	}
	if err := s.validateTask(); err != nil {
		return err
	}
	if dup := firstDuplicate(s.Classes); dup != "" {
		return fmt.Errorf("%w: schema lists class %q twice", ErrInvalidData, dup)
	}
	return nil
}

func firstDuplicate(values []string) string {
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

// clone returns a deep copy with the task set (the default when s names none), so a model never
// shares slices with its caller and always knows its task.
func (s Schema) clone() Schema {
	c := Schema{Classes: slices.Clone(s.Classes), Features: make([]Feature, len(s.Features)), Task: s.task()}
	for j, f := range s.Features {
		c.Features[j] = Feature{Name: f.Name, Kind: f.Kind, Categories: slices.Clone(f.Categories)}
	}
	return c
}

// checkRows verifies that every row fits the schema: the right width, finite values, and for
// categorical features a whole category index in [-1, len(categories)).
func (s Schema) checkRows(x [][]float64) error {
	for i, row := range x {
		if len(row) != len(s.Features) {
			return fmt.Errorf("%w: row %d has %d values, the schema has %d features", ErrInvalidData, i, len(row), len(s.Features))
		}
		for j, v := range row {
			f := &s.Features[j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: feature %q (column %d), row %d: %v is not a finite number", ErrInvalidData, f.Name, j, i, v)
			}
			if f.Kind == Categorical && (v != math.Trunc(v) || v < -1 || v >= float64(len(f.Categories))) {
				return fmt.Errorf("%w: feature %q (column %d), row %d: %v is not a category index (want a whole number from -1 to %d)",
					ErrInvalidData, f.Name, j, i, v, len(f.Categories)-1)
			}
		}
	}
	return nil
}

// checkTraining verifies a training grid: a valid schema, at least one row, valid rows and, for a
// classification task, a class for every row and at least two classes present (then it returns
// the number of rows of each class), for regression a target for every row (checkTargets).
func (d *Data) checkTraining() ([]int, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: %w: data is nil", ErrInvalidData, ErrNoRows)
	}
	if err := d.Schema.validate(); err != nil {
		return nil, err
	}
	if len(d.X) == 0 {
		return nil, fmt.Errorf("%w: %w: the training grid is empty", ErrInvalidData, ErrNoRows)
	}
	if d.Schema.task() == Regression {
		return nil, d.checkTargets()
	}
	if d.Target != nil {
		return nil, fmt.Errorf("%w: data of task %s has numeric targets (want class ids in Y)", ErrInvalidData, d.Schema.task())
	}
	if len(d.Y) != len(d.X) {
		return nil, fmt.Errorf("%w: %d rows but %d class labels", ErrInvalidData, len(d.X), len(d.Y))
	}
	counts := make([]int, len(d.Schema.Classes))
	for i, y := range d.Y {
		if y < 0 || y >= len(counts) {
			return nil, fmt.Errorf("%w: row %d has class id %d (want 0 to %d)", ErrInvalidData, i, y, len(counts)-1)
		}
		counts[y]++
	}
	if err := d.Schema.checkRows(d.X); err != nil {
		return nil, err
	}
	present := 0
	for _, c := range counts {
		if c > 0 {
			present++
		}
	}
	if present < 2 {
		return nil, fmt.Errorf("%w: %w: all %d rows have class %q (need at least two classes)",
			ErrInvalidData, ErrOneClass, len(d.Y), d.Schema.Classes[d.Y[0]])
	}
	return counts, nil
}

// checkTargets verifies the rest of a regression training grid: a finite target for every row, no
// class ids, valid rows.
func (d *Data) checkTargets() error {
	if d.Y != nil {
		return fmt.Errorf("%w: data of task %s has class ids (want numeric targets in Target)", ErrInvalidData, Regression)
	}
	if len(d.Target) != len(d.X) {
		return fmt.Errorf("%w: %d rows but %d targets", ErrInvalidData, len(d.X), len(d.Target))
	}
	for i, v := range d.Target {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: row %d: target %v is not a finite number", ErrInvalidData, i, v)
		}
	}
	return d.Schema.checkRows(d.X)
}

// majority returns the index of the largest count; ties go to the lowest index, so every
// algorithm breaks ties the same, documented way.
func majority[T int | float64](counts []T) int {
	best := 0
	for k, c := range counts {
		if c > counts[best] {
			best = k
		}
	}
	return best
}
