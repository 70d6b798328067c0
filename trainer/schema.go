package trainer

import (
	"fmt"
	"slices"
)

// Mismatch says how s, the schema a model was trained on, differs from want,
// the schema its deployment declares: the first feature (by position), the
// classes or the task that differ (a schema naming no task has the default
// task of its classes). It returns nil when they are the same, so the model
// reads its inputs where the deployment puts them.
func (s Schema) Mismatch(want Schema) error {
	if len(s.Features) != len(want.Features) {
		return fmt.Errorf("it has %d features, the config declares %d", len(s.Features), len(want.Features))
	}
	for j, g := range s.Features {
		w := want.Features[j]
		if g.Name != w.Name || g.Kind != w.Kind || !slices.Equal(g.Categories, w.Categories) {
			return fmt.Errorf("feature %d is %s in the version, %s in the config", j, g.describe(), w.describe())
		}
	}
	if !slices.Equal(s.Classes, want.Classes) {
		return fmt.Errorf("classes are %v in the version, %v in the config", s.Classes, want.Classes)
	}
	if s.task() != want.task() {
		return fmt.Errorf("task is %s in the version, %s in the config", s.task(), want.task())
	}
	return nil
}

func (f Feature) describe() string {
	if f.Kind == Categorical {
		return fmt.Sprintf("%s (categorical %v)", f.Name, f.Categories)
	}
	return fmt.Sprintf("%s (%s)", f.Name, f.Kind)
}
