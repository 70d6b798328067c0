package drift

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
)

// tolerance is how close the Go statistics must be to scipy's.
const tolerance = 1e-9

// reference is drift/testdata/reference.json, written by make_reference.py.
type reference struct {
	Scipy string `json:"scipy"`
	KS    []struct {
		Name      string     `json:"name"`
		A         sampleSpec `json:"a"`
		B         sampleSpec `json:"b"`
		Method    string     `json:"method"`
		Statistic float64    `json:"statistic"`
		PValue    float64    `json:"pvalue"`
	} `json:"ks_2samp"`
	KSTwo []struct {
		N  int     `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"kstwo_sf"`
	Smirnov []struct {
		N  int     `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"smirnov"`
	PSI []struct {
		Name     string    `json:"name"`
		Expected []float64 `json:"expected"`
		Actual   []float64 `json:"actual"`
		Eps      float64   `json:"eps"`
		PSI      float64   `json:"psi"`
	} `json:"psi"`
	JS []struct {
		Name string    `json:"name"`
		P    []float64 `json:"p"`
		Q    []float64 `json:"q"`
		JS   float64   `json:"js"`
	} `json:"jensenshannon"`
	ChiSquare []struct {
		Name      string    `json:"name"`
		Observed  []float64 `json:"observed"`
		Expected  []float64 `json:"expected"`
		Statistic float64   `json:"statistic"`
		PValue    float64   `json:"pvalue"`
	} `json:"chisquare"`
	ChiSquareTwoSample []struct {
		Name      string    `json:"name"`
		A         []float64 `json:"a"`
		B         []float64 `json:"b"`
		Statistic float64   `json:"statistic"`
		DoF       int       `json:"dof"`
		PValue    float64   `json:"pvalue"`
	} `json:"chi2_contingency"`
	ExpectedPSI []struct {
		Name         string    `json:"name"`
		A            []float64 `json:"a"`
		B            []float64 `json:"b"`
		Eps          float64   `json:"eps"`
		ExpectedPSI  float64   `json:"expected_psi"`
		RelTolerance float64   `json:"rel_tolerance"`
	} `json:"expected_psi"`
	BH []struct {
		Name     string    `json:"name"`
		P        []float64 `json:"p"`
		Adjusted []float64 `json:"adjusted"`
	} `json:"benjamini_hochberg"`
	StreamNumeric struct {
		Reference        sampleSpec `json:"reference"`
		Window           sampleSpec `json:"window"`
		ReferenceMissing int        `json:"reference_missing"`
		WindowMissing    int        `json:"window_missing"`
		Edges            []float64  `json:"edges"`
		PSI              float64    `json:"psi"`
		JS               float64    `json:"js"`
		KSStatistic      float64    `json:"ks_statistic"`
		KSPValue         float64    `json:"ks_pvalue"`
	} `json:"stream_numeric"`
	StreamCategorical []struct {
		Name            string           `json:"name"`
		Reference       map[string]int64 `json:"reference"`
		Window          map[string]int64 `json:"window"`
		ChiSquare       float64          `json:"chi_square"`
		DoF             int              `json:"dof"`
		ChiSquarePValue float64          `json:"chi_square_pvalue"`
		Pooled          int              `json:"pooled"`
		PSI             float64          `json:"psi"`
		JS              float64          `json:"js"`
	} `json:"stream_categorical"`
}

// sampleSpec is a sample stored in reference.json: its values, or the
// generator that makes them (the same as make_reference.py's generate).
type sampleSpec struct {
	Values []jsonFloat `json:"values"`
	Kind   string      `json:"kind"`
	Seed   uint64      `json:"seed"`
	N      int         `json:"n"`
	Loc    float64     `json:"loc"`
	Scale  float64     `json:"scale"`
	Mod    uint64      `json:"mod"`
	Offset int64       `json:"offset"`
}

// jsonFloat is a float64 that may be written "Inf" or "-Inf" in JSON.
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := strconv.ParseFloat(s, 64)
		*f = jsonFloat(v)
		return err
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = jsonFloat(v)
	return err
}

func (s sampleSpec) values(t testing.TB) []float64 {
	t.Helper()
	switch s.Kind {
	case "":
		out := make([]float64, len(s.Values))
		for i, v := range s.Values {
			out[i] = float64(v)
		}
		return out
	case "normal":
		return genNormal(s.Seed, s.N, s.Loc, s.Scale)
	case "integers":
		return genIntegers(s.Seed, s.N, s.Mod, s.Offset)
	}
	t.Fatalf("sample kind %q is not one that make_reference.py writes", s.Kind)
	return nil
}

// splitmix64 returns the i-th (from 1) output of splitmix64 started at seed.
func splitmix64(seed, i uint64) uint64 {
	z := seed + i*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func uniform(seed, i uint64) float64 { return float64(splitmix64(seed, i)>>11) * 0x1p-53 }

// genNormal is make_reference.py's "normal" sample: an Irwin-Hall sum of
// four uniforms scaled to unit variance, bit for bit the same as numpy's.
func genNormal(seed uint64, n int, loc, scale float64) []float64 {
	out := make([]float64, n)
	sqrt3 := math.Sqrt(3)
	for i := range out {
		k := uint64(4 * i)
		z := uniform(seed, k+1) + uniform(seed, k+2) + uniform(seed, k+3) + uniform(seed, k+4) - 2
		out[i] = loc + scale*(z*sqrt3)
	}
	return out
}

// genIntegers is make_reference.py's "integers" sample.
func genIntegers(seed uint64, n int, mod uint64, offset int64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(offset + int64(splitmix64(seed, uint64(i+1))%mod))
	}
	return out
}

func loadReference(t testing.TB) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatalf("read reference values: %v (rerun drift/testdata/make_reference.py)", err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("decode testdata/reference.json: %v", err)
	}
	return ref
}

// assertClose fails the test unless got is within tolerance of want, both
// absolutely and relatively (tiny p-values must keep their digits); values
// below 1e-300 count as zero, where scipy and Go may underflow differently.
func assertClose(t testing.TB, what string, got, want float64) {
	t.Helper()
	if got == want || (math.IsNaN(got) && math.IsNaN(want)) {
		return
	}
	diff := math.Abs(got - want)
	if diff <= tolerance && (diff <= tolerance*math.Abs(want) || diff < 1e-300) {
		return
	}
	t.Errorf("%s = %.17g, scipy gives %.17g (difference %.3g)", what, got, want, diff)
}

// requireCases fails the test when reference.json holds no cases of a
// kind: a test over no cases would pass while checking nothing.
func requireCases(t testing.TB, kind string, n int) {
	t.Helper()
	if n == 0 {
		t.Fatalf("testdata/reference.json has no %s cases (rerun drift/testdata/make_reference.py)", kind)
	}
}

func TestKS2SampMatchesScipy(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "ks_2samp", len(ref.KS))
	for _, c := range ref.KS {
		t.Run(c.Name, func(t *testing.T) {
			a, b := c.A.values(t), c.B.values(t)
			if len(a) == 0 || len(b) == 0 {
				t.Fatalf("samples of %d and %d values: a reference case needs both", len(a), len(b))
			}
			stat, p := KS2Samp(a, b)
			assertClose(t, "statistic", stat, c.Statistic)
			assertClose(t, fmt.Sprintf("%s p-value", c.Method), p, c.PValue)
		})
	}
}

func TestKolmogorovDistributionMatchesScipyKstwo(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "kstwo_sf", len(ref.KSTwo))
	for _, c := range ref.KSTwo {
		assertClose(t, fmt.Sprintf("kstwo.sf(%v, %d)", c.X, c.N), kstwoSF(c.X, c.N), c.SF)
	}
}

func TestSmirnovMatchesScipy(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "smirnov", len(ref.Smirnov))
	for _, c := range ref.Smirnov {
		assertClose(t, fmt.Sprintf("smirnov(%d, %v)", c.N, c.X), smirnovSF(c.N, c.X), c.SF)
	}
}

func TestPSIMatchesNumpy(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "psi", len(ref.PSI))
	for _, c := range ref.PSI {
		t.Run(c.Name, func(t *testing.T) {
			got, err := PSI(c.Expected, c.Actual, c.Eps)
			if err != nil {
				t.Fatalf("PSI: %v", err)
			}
			assertClose(t, "PSI", got, c.PSI)
		})
	}
}

func TestJensenShannonMatchesScipy(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "jensenshannon", len(ref.JS))
	for _, c := range ref.JS {
		t.Run(c.Name, func(t *testing.T) {
			got, err := JensenShannon(c.P, c.Q)
			if err != nil {
				t.Fatalf("JensenShannon: %v", err)
			}
			assertClose(t, "Jensen-Shannon distance", got, c.JS)
		})
	}
}

func TestChiSquareMatchesScipy(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "chisquare", len(ref.ChiSquare))
	for _, c := range ref.ChiSquare {
		t.Run(c.Name, func(t *testing.T) {
			stat, p, err := ChiSquare(c.Observed, c.Expected)
			if err != nil {
				t.Fatalf("ChiSquare: %v", err)
			}
			assertClose(t, "statistic", stat, c.Statistic)
			assertClose(t, "p-value", p, c.PValue)
		})
	}
}

func TestChiSquareTwoSampleMatchesScipyContingency(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.ChiSquareTwoSample {
		t.Run(c.Name, func(t *testing.T) {
			stat, dof, p, err := ChiSquareTwoSample(c.A, c.B)
			if err != nil {
				t.Fatalf("ChiSquareTwoSample: %v", err)
			}
			if dof != c.DoF {
				t.Errorf("dof %d, scipy has %d", dof, c.DoF)
			}
			assertClose(t, "statistic", stat, c.Statistic)
			assertClose(t, "p-value", p, c.PValue)
		})
	}
}

func TestExpectedPSIMatchesTheExactDoubleSum(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.ExpectedPSI {
		t.Run(c.Name, func(t *testing.T) {
			got, err := ExpectedPSI(c.A, c.B, c.Eps)
			if err != nil {
				t.Fatalf("ExpectedPSI: %v", err)
			}
			if rel := math.Abs(got-c.ExpectedPSI) / c.ExpectedPSI; !(rel <= c.RelTolerance) {
				t.Errorf("expected PSI %.17g, the exact double sum gives %.17g: relative error %.3g, want at most %g", got, c.ExpectedPSI, rel, c.RelTolerance)
			}
		})
	}
}

func TestBenjaminiHochbergMatchesScipy(t *testing.T) {
	ref := loadReference(t)
	requireCases(t, "benjamini_hochberg", len(ref.BH))
	for _, c := range ref.BH {
		t.Run(c.Name, func(t *testing.T) {
			got := BenjaminiHochberg(c.P)
			if len(c.P) == 0 || len(got) != len(c.Adjusted) {
				t.Fatalf("got %d adjusted p-values for %d p-values", len(got), len(c.P))
			}
			for i := range got {
				assertClose(t, fmt.Sprintf("adjusted p[%d]", i), got[i], c.Adjusted[i])
			}
		})
	}
}
