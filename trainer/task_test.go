package trainer

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestEveryAlgorithmSaysWhichTasksItSupports(t *testing.T) {
	for _, alg := range Algorithms() {
		tasks, err := Tasks(alg)
		if err != nil || len(tasks) == 0 {
			t.Errorf("Tasks(%q) = %v, %v; want at least one task", alg, tasks, err)
		}
		for _, task := range allTasks {
			if got, want := Supports(alg, task) == nil, slices.Contains(tasks, task); got != want {
				t.Errorf("Supports(%q, %q) is nil: %v, Tasks lists it: %v", alg, task, got, want)
			}
		}
	}
	if tasks, _ := Tasks("linear"); !slices.Equal(tasks, []Task{Regression}) {
		t.Errorf("Tasks(linear) = %v, want [regression]", tasks)
	}
	if _, err := Tasks("svm"); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("Tasks(svm) = %v, want ErrUnknownAlgorithm", err)
	}
}

func TestSupportsNamesTheAlgorithmAndTheTask(t *testing.T) {
	for _, tc := range []struct {
		name      string
		algorithm string
		task      Task
		want      string // "" for supported
		is        error
	}{
		{"logistic trains binary models", "logistic", Binary, "", nil},
		{"knn trains multiclass models", "knn", Multiclass, "", nil},
		{"linear trains regression models", "linear", Regression, "", nil},
		{"naive_bayes does not do regression", "naive_bayes", Regression, "algorithm naive_bayes does not support task regression; use one of: " + strings.Join(AlgorithmsFor(Regression), ", "), ErrUnsupportedTask},
		{"linear does not classify", "linear", Multiclass, "algorithm linear does not support task multiclass; use one of: " + strings.Join(classifiers(), ", "), ErrUnsupportedTask},
		{"an unknown task", "logistic", "ranking", `unknown task "ranking" (known: binary, multiclass, regression)`, ErrUnsupportedTask},
		{"an unknown algorithm", "svm", Binary, `unknown algorithm "svm"`, ErrUnknownAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Supports(tc.algorithm, tc.task)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Supports = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Supports = %v, want errors.Is %v reading %q", err, tc.is, tc.want)
			}
		})
	}
}

func TestASchemaTaskMustFitItsClasses(t *testing.T) {
	features := []Feature{{Name: "x", Kind: Numeric}}
	for _, tc := range []struct {
		name    string
		classes []string
		task    Task
		want    string // "" for valid
	}{
		{"two classes default to binary", []string{"a", "b"}, "", ""},
		{"three classes default to multiclass", []string{"a", "b", "c"}, "", ""},
		{"binary with two classes", []string{"a", "b"}, Binary, ""},
		{"regression without classes", nil, Regression, ""},
		{"no classes and no task", nil, "", "schema has 0 classes (need at least two)"},
		{"binary with three classes", []string{"a", "b", "c"}, Binary, "schema of task binary has 3 classes (want exactly two)"},
		{"multiclass with two classes", []string{"a", "b"}, Multiclass, "schema of task multiclass has 2 classes (want three or more; two classes are task binary)"},
		{"regression with classes", []string{"a", "b"}, Regression, "schema of task regression lists 2 classes (want none)"},
		{"an unknown task", []string{"a", "b"}, "ranking", `schema task "ranking" is unknown (want binary, multiclass, regression)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Schema{Features: features, Classes: tc.classes, Task: tc.task}.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate = %v, want ErrInvalidData containing %q", err, tc.want)
			}
		})
	}
}

// Artifacts written before tasks existed have no task in their header: they read with the
// default task of their classes, and a classification schema still encodes without one, so such
// artifacts (and every classification artifact written today) keep their bytes.
func TestArtifactsWithoutATaskReadWithTheDefaultTask(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Task
	}{
		{"testdata/fuzz/FuzzDecode/logistic", Binary},
		{"testdata/fuzz/FuzzDecode/forest", Binary},
		{"testdata/fuzz/FuzzDecode/knn", Binary},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := fuzzCorpusBytes(t, tc.path)
			hdr, _ := split(b)
			if strings.Contains(string(hdr), `"task"`) {
				t.Fatalf("header %s already names a task", hdr)
			}
			m, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Schema().Task != tc.want {
				t.Errorf("Schema().Task = %q, want %q", m.Schema().Task, tc.want)
			}
			if again, err := m.MarshalBinary(); err != nil || !slices.Equal(again, b) {
				t.Errorf("re-encoding gives other bytes (err %v)", err)
			}
		})
	}
	m := mustTrain(t, "logistic", train3, nil)
	if m.Schema().Task != Multiclass {
		t.Errorf("a three-class model has task %q, want %q", m.Schema().Task, Multiclass)
	}
	b, _ := m.MarshalBinary()
	if hdr, _ := split(b); strings.Contains(string(hdr), `"task"`) {
		t.Errorf("a multiclass header %s names its (default) task", hdr)
	}
	explicit, err := json.Marshal(Schema{Features: train2.Schema.Features, Classes: train2.Schema.Classes, Task: Binary})
	if err != nil || strings.Contains(string(explicit), "task") {
		t.Errorf("a binary schema encodes as %s (err %v), want no task", explicit, err)
	}
}

// fuzzCorpusBytes reads the []byte of a checked-in FuzzDecode seed file.
func fuzzCorpusBytes(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s is not a fuzz seed file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b = []byte(s)
	return b
}

func TestMismatchNamesADifferentTask(t *testing.T) {
	reg := Schema{Features: train2.Schema.Features, Task: Regression}
	if err := reg.Mismatch(train2.Schema); err == nil || err.Error() != "classes are [] in the version, [stay churn] in the config" {
		t.Errorf("Mismatch = %v", err)
	}
	three := Schema{Features: train3.Schema.Features, Classes: train3.Schema.Classes}
	if err := three.Mismatch(Schema{Features: three.Features, Classes: three.Classes, Task: Multiclass}); err != nil {
		t.Errorf("a schema without a task and one naming its default task differ: %v", err)
	}
	if err := three.Mismatch(Schema{Features: three.Features, Classes: three.Classes, Task: Binary}); err == nil || err.Error() != "task is multiclass in the version, binary in the config" {
		t.Errorf("Mismatch = %v, want the tasks named", err)
	}
}
