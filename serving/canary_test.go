package serving_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
)

// canaryFixture serves churn with policy.probation.canary_fraction 0.5 and
// version b as the shadow, set by a probation when byProbation.
func canaryFixture(t *testing.T, byProbation bool) *shadowFixture {
	t.Helper()
	sf := newShadowFixture(t, func(o *serving.Options) {
		o.Models[0].Policy.Probation = config.Probation{Period: config.Duration(24 * time.Hour), CanaryFraction: 0.5}
	})
	if byProbation {
		sf.shadows.mu.Lock()
		sf.shadows.shadows["churn"] = &registry.Shadow{Model: "churn", Version: sf.b, Since: time.Now().UTC(), StartedBy: registry.ProbationPrefix + "churn-g2"}
		sf.shadows.mu.Unlock()
		sf.mustRefresh()
	}
	return sf
}

func canaryRequest(id string) string {
	return fmt.Sprintf(`{"instances": [{"id": %q, "tenure": 3, "charges": 80.5, "plan": "premium"}]}`, id)
}

func TestTheCanaryShareIsAnsweredByThePreviousChampionByKeyHash(t *testing.T) {
	sf := canaryFixture(t, true)
	sf.runShadow()
	const requests = 200
	canaries := 0
	for i := range requests {
		key := fmt.Sprint("row-", i)
		r := sf.do("POST", "/v1/models/churn:predict", canaryRequest(key))
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		var resp serving.PredictResponse
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatal(err)
		}
		want, canary := sf.a, serving.InCanary(key, 0.5)
		if canary {
			want = sf.b
			canaries++
		}
		champion(t, r, want, 1)
		if resp.ModelVersion != want.String() || (r.header.Get(serving.HeaderCanary) == "true") != canary {
			t.Fatalf("request %s answered by %s (canary header %q), want %s", key, resp.ModelVersion, r.header.Get(serving.HeaderCanary), want)
		}
		if again := sf.do("POST", "/v1/models/churn:predict", canaryRequest(key)); again.header.Get(serving.HeaderVersion) != want.String() {
			t.Fatalf("the same key %s went to %s the second time, %s the first", key, again.header.Get(serving.HeaderVersion), want)
		}
	}
	if canaries < requests*35/100 || canaries > requests*65/100 {
		t.Fatalf("%d of %d keys in a canary of one half", canaries, requests)
	}
	if got := metric(t, sf.srv.Handler(), fmt.Sprintf(`kingmaker_serving_requests_total{code="200",model="churn",version="%s"}`, sf.b)); got != fmt.Sprint(2*canaries) {
		t.Errorf("requests counted under the previous champion: %s, want the %d canary answers", got, 2*canaries)
	}

	// Every answer is paired: the new champion's prediction as the
	// champion's, the previous one's as the shadow's, whoever answered.
	waitFor(t, 5*time.Second, "the shadow rows", func() bool { return len(sf.sink.written()) == 2*requests })
	x := [][]float64{{3, 80.5, 1}}
	na, pa, _ := sf.churnA.Predict(x)
	nb, pb, _ := sf.churnB.Predict(x)
	for _, p := range sf.sink.written() {
		if p.ChampionVersion != sf.a || p.ShadowVersion != sf.b || p.ChampionClass != []string{"false", "true"}[na[0]] || p.ShadowClass != []string{"false", "true"}[nb[0]] ||
			p.ChampionScore == nil || *p.ChampionScore != pa[0] || p.ShadowScore == nil || *p.ShadowScore != pb[0] {
			t.Fatalf("shadow row %+v, want a's prediction as the champion's and b's as the shadow's", p)
		}
	}
}

func TestAShadowSetByHandHasNoCanary(t *testing.T) {
	sf := canaryFixture(t, false) // the fixture's shadow b, set by "test"
	for i := range 50 {
		r := sf.do("POST", "/v1/models/churn:predict", canaryRequest(fmt.Sprint("row-", i)))
		champion(t, r, sf.a, 1)
		if r.header.Get(serving.HeaderCanary) != "" {
			t.Fatalf("a hand-set shadow answered as a canary: %v", r.header)
		}
	}
}

func TestARequestWithoutAKeyIsTheChampions(t *testing.T) {
	sf := canaryFixture(t, true)
	for range 50 {
		champion(t, sf.do("POST", "/v2/models/churn/infer", churnInputs()), sf.a, 1)
	}
}
