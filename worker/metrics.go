package worker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/registry"
)

// Metrics counts what the activities do. Labels are bounded: model and
// algorithm come from the config, outcome and action from fixed sets.
type Metrics struct {
	trainings  *prometheus.CounterVec
	trainTime  *prometheus.HistogramVec
	promotions *prometheus.CounterVec
	retrains   *prometheus.CounterVec
	drifts     *prometheus.CounterVec
	probations *prometheus.CounterVec
}

// NewMetrics registers Kingmaker's activity metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		trainings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kingmaker_trainings_total",
			Help: "Candidate trainings finished, by model, algorithm and outcome (ok, invalid_data, error).",
		}, []string{"model", "algorithm", "outcome"}),
		trainTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kingmaker_training_duration_seconds",
			Help:    "Time to read a window and train one candidate on it.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2.5, 12),
		}, []string{"model", "algorithm"}),
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kingmaker_promotions_total",
			Help: "Attempts to move a champion pointer, by model, action (promote, manual, rollback) and outcome (won, lost, error).",
		}, []string{"model", "action", "outcome"}),
	}
	m.retrains = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kingmaker_retrains_total",
		Help: "Retrain runs recorded, by model and outcome (promote, keep, none, failed, rejected, approval_expired, lost_race).",
	}, []string{"model", "outcome"})
	m.drifts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kingmaker_drift_checks_total",
		Help: "Drift checks finished, by model and outcome (ok, drifted, insufficient_data, failed).",
	}, []string{"model", "outcome"})
	m.probations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kingmaker_probation_outcomes_total",
		Help: "Probations ended, by model and outcome (confirmed, rolled_back, inconclusive, superseded).",
	}, []string{"model", "outcome"})
	reg.MustRegister(m.trainings, m.trainTime, m.promotions, m.retrains, m.drifts, m.probations)
	return m
}

// Trained implements activities.Observer.
func (m *Metrics) Trained(model, algorithm string, seconds float64, err error) {
	outcome := "ok"
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		m.trainTime.WithLabelValues(model, algorithm).Observe(seconds)
	case errors.As(err, &app) && app.NonRetryable():
		outcome = "invalid_data"
	default:
		outcome = "error"
	}
	m.trainings.WithLabelValues(model, algorithm, outcome).Inc()
}

// Promoted implements activities.Observer.
func (m *Metrics) Promoted(model string, action registry.Action, err error) {
	outcome := "won"
	switch {
	case errors.Is(err, registry.ErrCASLost):
		outcome = "lost"
	case err != nil:
		outcome = "error"
	}
	m.promotions.WithLabelValues(model, string(action), outcome).Inc()
}

// retrainOutcomes are the outcomes a retrain run can record.
var retrainOutcomes = []string{"promote", "keep", "none", "failed", "rejected", "approval_expired", "lost_race"}

// Init creates every model's retrain series at zero, so rate() and
// increase() see the first run of each outcome.
func (m *Metrics) Init(models []string) {
	for _, model := range models {
		for _, o := range retrainOutcomes {
			m.retrains.WithLabelValues(model, o)
		}
		for _, o := range probationOutcomes {
			m.probations.WithLabelValues(model, o)
		}
	}
}

// probationOutcomes are the outcomes a probation can end with.
var probationOutcomes = []string{"confirmed", "rolled_back", "inconclusive", "superseded"}

// ProbationEnded implements activities.ProbationObserver.
func (m *Metrics) ProbationEnded(model, outcome string) {
	m.probations.WithLabelValues(model, outcome).Inc()
}

// Recorded implements activities.Observer.
func (m *Metrics) Recorded(model, outcome string) { m.retrains.WithLabelValues(model, outcome).Inc() }

// DriftChecked implements activities.Observer.
func (m *Metrics) DriftChecked(model, outcome string) { m.drifts.WithLabelValues(model, outcome).Inc() }
