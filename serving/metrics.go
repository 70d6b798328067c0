package serving

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kingmaker-ml/kingmaker/config"
)

// unknownModel is the model label of requests naming a model that is not
// served, so a client's typo cannot grow the label set.
const unknownModel = "_unknown"

// metrics are the serving metrics. Label sets stay bounded: model takes the
// configured names (and unknownModel), endpoint two values, code a handful,
// and version only versions that were in service in this process: one per
// promotion it followed, so a long-lived server accrues a few series per
// promotion, not per request.
type metrics struct {
	duration   *prometheus.HistogramVec
	requests   *prometheus.CounterVec
	swaps      *prometheus.CounterVec
	loadErrors *prometheus.CounterVec
	generation *prometheus.GaugeVec
	shadowRows *prometheus.CounterVec
	agreement  *prometheus.GaugeVec
	// meanAbsDifference is the regression counterpart of agreement.
	meanAbsDifference *prometheus.GaugeVec

	ready        *prometheus.GaugeVec
	inFlight     prometheus.Gauge
	busy         *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	shadowQueue  prometheus.Gauge
	threshold    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, models []*model) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kingmaker_serving_request_duration_seconds",
			Help: "Time to answer a prediction request (v2 infer or v1 predict), from the request's arrival to the response written, by model and endpoint.",
			// Predictions take from tens of microseconds (logistic, one row)
			// to tens of milliseconds (knn, large batches).
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"model", "endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kingmaker_serving_requests_total",
			Help: "Prediction requests answered, by model, champion version used (empty when none was) and HTTP status code.",
		}, []string{"model", "version", "code"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kingmaker_serving_swaps_total",
			Help: "Champions taken into service after the pointer's generation changed, the first load included.",
		}, []string{"model"}),
		loadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kingmaker_serving_load_errors_total",
			Help: "Failed reads of the champion pointer and failed loads of the version it names (the old champion keeps serving).",
		}, []string{"model"}),
		generation: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kingmaker_serving_generation",
			Help: "Generation of the champion in service; 0 while none is.",
		}, []string{"model"}),
	}
	m.shadowRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kingmaker_serving_shadow_rows_total",
		Help: "Rows of sampled requests meant for the model's shadow version, by outcome: recorded (scored and written to shadow_predictions), dropped (the shadow queue was full) or error (scoring or writing failed).",
	}, []string{"model", "outcome"})
	m.agreement = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kingmaker_serving_shadow_agreement_ratio",
		Help: "Share of the latest shadowed rows (up to 1000) on which the shadow version predicted the champion's class; absent while the model has no shadow or no shadowed rows yet.",
	}, []string{"model"})
	m.meanAbsDifference = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kingmaker_serving_shadow_mean_abs_difference",
		Help: "Regression models: mean absolute difference between the shadow version's and the champion's predicted values over the latest shadowed rows (up to 1000), in the label's unit; absent while the model has no shadow or no shadowed rows yet.",
	}, []string{"model"})
	m.ready = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kingmaker_serving_model_ready",
		Help: "1 when the model does not hold readiness back (its champion is in service, or its pointer was read and names none), else 0; as /v2/health/ready says, model by model.",
	}, []string{"model"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kingmaker_serving_requests_in_flight",
		Help: "Prediction requests being read or answered now; at most serve.limits.max_concurrent.",
	})
	m.busy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kingmaker_serving_busy_total",
		Help: "Prediction requests refused with 503 because serve.limits.max_concurrent requests were in flight for longer than serve.limits.queue_wait.",
	}, []string{"model"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kingmaker_serving_auth_failures_total",
		Help: "Requests refused with 401, by reason: missing (no credentials), bad_token (a token the server does not accept), no_certificate.",
	}, []string{"reason"})
	m.shadowQueue = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kingmaker_serving_shadow_queue_bytes",
		Help: "Estimated memory of the sampled requests waiting for the shadow workers; at most serve.limits.shadow_queue_bytes.",
	})
	m.threshold = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kingmaker_threshold",
		Help: "A threshold of a model's config, for alert rules to compare with: metric names what it bounds (shadow_agreement, shadow_accuracy_drop, psi, quality_drop, drifted_features, or a policy metric), kind how (min, max, moderate, major, guardrail_max_drop, minimum_value: a floor, or a ceiling for a loss).",
	}, []string{"model", "metric", "kind"})
	reg.MustRegister(m.duration, m.requests, m.swaps, m.loadErrors, m.generation, m.shadowRows, m.agreement,
		m.meanAbsDifference, m.ready, m.inFlight, m.busy, m.authFailures, m.shadowQueue, m.threshold)
	for _, sm := range models { // series exist from the start, so rate() and absent() work
		m.swaps.WithLabelValues(sm.name)
		m.loadErrors.WithLabelValues(sm.name)
		m.generation.WithLabelValues(sm.name).Set(0)
		m.busy.WithLabelValues(sm.name)
		m.ready.WithLabelValues(sm.name).Set(0)
		for _, o := range []string{shadowRecorded, shadowDropped, shadowError} {
			m.shadowRows.WithLabelValues(sm.name, o)
		}
	}
	for _, r := range []string{authMissing, authBadToken, authNoCertificate} {
		m.authFailures.WithLabelValues(r)
	}
	return m
}

// deleteAgreement removes a model's shadow comparison gauges (a new shadow,
// or none).
func (m *metrics) deleteAgreement(model string) {
	m.agreement.DeleteLabelValues(model)
	m.meanAbsDifference.DeleteLabelValues(model)
}

// thresholds exports the thresholds of each model's config, so that alert
// rules compare with the config in force instead of numbers of their own.
func (m *metrics) thresholds(models []config.Model) {
	for i := range models {
		c := &models[i]
		set := func(metric, kind string, v float64) { m.threshold.WithLabelValues(c.Name, metric, kind).Set(v) }
		d := c.Drift
		set("psi", "moderate", d.PSIModerate)
		set("psi", "major", d.PSIMajor)
		set("psi_excess", "min", d.EffectFloor())
		set("drifted_features", "max", float64(d.MaxDriftedFeatures))
		set("quality_drop", "max", d.QualityDrop)
		if sh := c.Policy.Shadow; sh.Enabled() {
			set("shadow_agreement", "min", sh.MinAgreement)
			set("shadow_accuracy_drop", "max", sh.MaxAccuracyDrop)
		}
		for _, g := range c.Policy.Guardrails {
			set(g.Metric, "guardrail_max_drop", g.MaxDrop)
		}
		for _, b := range c.Policy.MinimumValues {
			set(b.Metric, "minimum_value", b.Value)
		}
	}
}

func (m *metrics) observe(model, endpoint, version string, code int, began time.Time) {
	m.duration.WithLabelValues(model, endpoint).Observe(time.Since(began).Seconds())
	m.requests.WithLabelValues(model, version, strconv.Itoa(code)).Inc()
}
