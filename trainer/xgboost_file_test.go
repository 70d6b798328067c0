package trainer

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// byomSchema is the demo model churn of kingmaker.example.yaml, which the fixtures of
// testdata/byom (make_byom.py) were trained for.
func byomSchema() Schema {
	return Schema{Features: []Feature{
		{Name: "tenure_months", Kind: Numeric}, {Name: "monthly_charges", Kind: Numeric}, {Name: "support_calls", Kind: Numeric},
		{Name: "logins_30d", Kind: Numeric}, {Name: "avg_session_minutes", Kind: Numeric}, {Name: "payment_delays", Kind: Numeric},
		{Name: "plan", Kind: Categorical, Categories: []string{"basic", "standard", "premium"}},
		{Name: "region", Kind: Categorical, Categories: []string{"north", "south", "east", "west"}},
		{Name: "device", Kind: Categorical, Categories: []string{"ios", "android", "web"}},
	}, Classes: []string{"false", "true"}}
}

func byomFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/byom/" + name)
	if err != nil {
		t.Fatalf("%v (testdata/byom/make_byom.py writes it)", err)
	}
	return b
}

func byomExpected(t *testing.T, name string) *Expected {
	t.Helper()
	f, err := os.Open("testdata/byom/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := ReadExpected(f, byomSchema())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestReadXGBoostFileTellsFormatProducerAndColumns(t *testing.T) {
	for _, tc := range []struct{ file, format, version string }{
		{"churn_good.json", FormatXGBoostJSON, "1.7.6"},
		{"churn_good.ubj", FormatXGBoostUBJ, "1.7.6"},
		{"churn_good_xgb21.ubj", FormatXGBoostUBJ, "2.1.4"},
		{"churn_good_xgb32.json", FormatXGBoostJSON, "3.2.0"},
		{"churn_good_xgb32.ubj", FormatXGBoostUBJ, "3.2.0"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			info, err := ReadXGBoostFile(byomFile(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.format || info.Producer != "xgboost" || info.ProducerVersion != tc.version {
				t.Fatalf("format %s, producer %s %s; want %s, xgboost %s", info.Format, info.Producer, info.ProducerVersion, tc.format, tc.version)
			}
			if info.Objective != "binary:logistic" || info.NumFeature != 16 || info.Rounds != 40 || strings.Join(info.FeatureNames, ",") != strings.Join(XGBoostColumns(byomSchema()), ",") {
				t.Fatalf("got %+v, want binary:logistic, 16 named columns, 40 rounds", info)
			}
			if err := info.Check(byomSchema()); err != nil {
				t.Fatalf("the file fits the model: %v", err)
			}
		})
	}
}

func TestModelFilesThatDoNotFitAreRefusedNamingWhy(t *testing.T) {
	good := byomFile(t, "churn_good.json")
	ubj := byomFile(t, "churn_good.ubj")
	regression := byomSchema()
	regression.Classes, regression.Task = nil, Regression
	for _, tc := range []struct {
		name   string
		raw    []byte
		schema Schema
		want   string
	}{
		{"a truncated JSON file", good[:len(good)/2], byomSchema(), "not a complete XGBoost JSON model"},
		{"a truncated UBJ file", ubj[:len(ubj)-100], byomSchema(), "not a complete XGBoost UBJ model"},
		{"a file of another format (ONNX is protobuf)", []byte("\x08\x07\x12\x07skl2onnx"), byomSchema(), "not an XGBoost model"},
		{"a file for another feature set", byomFile(t, "churn_other_features.json"), byomSchema(), `the file has no input "device=ios"`},
		{"a file with a different number of classes", byomFile(t, "churn_multiclass.json"), byomSchema(), "objective multi:softprob does not fit task binary"},
		{"a binary file for a regression model", good, regression, "objective binary:logistic does not fit task regression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ImportXGBoost(tc.schema, tc.raw)
			if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line matching ErrModelFile with %q", err, tc.want)
			}
		})
	}
	t.Run("a multiclass file with another number of classes", func(t *testing.T) {
		s := byomSchema()
		s.Classes = []string{"a", "b", "c", "d"}
		info, err := ReadXGBoostFile(byomFile(t, "churn_multiclass.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := info.Check(s); err == nil || !strings.Contains(err.Error(), "the file predicts 3 classes, the model has 4") {
			t.Fatalf("got %v, want the class counts named", err)
		}
	})
	t.Run("a file with renamed inputs names the first", func(t *testing.T) {
		s := byomSchema()
		s.Features[1].Name = "charges"
		_, _, err := ImportXGBoost(s, good)
		if err == nil || !strings.Contains(err.Error(), `input 1 is "monthly_charges", the model's feature 1 is "charges"`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestDecodeUBJSONNeverPanicsOnCutFiles(t *testing.T) {
	ubj := byomFile(t, "churn_good.ubj")
	for n := 0; n < len(ubj); n += 97 {
		if _, err := decodeUBJSON(ubj[:n]); err == nil {
			t.Fatalf("%d of %d bytes decoded without error", n, len(ubj))
		}
	}
	if _, err := decodeUBJSON(ubj); err != nil {
		t.Fatal(err)
	}
}
