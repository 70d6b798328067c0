package worker

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkMetrics exports the Temporal SDK's own metrics (task latencies, poll
// and request counts, activity and workflow outcomes) to Prometheus. The
// SDK names its metrics and tags them per call; Prometheus wants one label
// set per metric name, so the first label set seen for a name fixes it
// (missing labels read as "", extra ones are dropped). Counters get the
// _total suffix, timers become histograms in seconds.
type sdkMetrics struct {
	reg prometheus.Registerer
	mu  sync.Mutex
	// vecs by metric name
	counters map[string]*labelled[*prometheus.CounterVec]
	gauges   map[string]*labelled[*prometheus.GaugeVec]
	timers   map[string]*labelled[*prometheus.HistogramVec]
}

type labelled[V any] struct {
	keys []string
	vec  V
}

type sdkHandler struct {
	m    *sdkMetrics
	tags map[string]string
}

// newSDKMetrics returns a client.MetricsHandler registering on reg.
func newSDKMetrics(reg prometheus.Registerer) client.MetricsHandler {
	m := &sdkMetrics{reg: reg, counters: map[string]*labelled[*prometheus.CounterVec]{},
		gauges: map[string]*labelled[*prometheus.GaugeVec]{}, timers: map[string]*labelled[*prometheus.HistogramVec]{}}
	return sdkHandler{m: m, tags: map[string]string{}}
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	maps.Copy(merged, tags)
	return sdkHandler{m: h.m, tags: merged}
}

func promName(name string) string {
	name = strings.NewReplacer(".", "_", "-", "_").Replace(name)
	if !strings.HasPrefix(name, "temporal_") {
		name = "temporal_" + name
	}
	return name
}

// values returns the label values for keys from tags.
func values(keys []string, tags map[string]string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = tags[k]
	}
	return out
}

func sortedTagKeys(tags map[string]string) []string {
	keys := slices.Collect(maps.Keys(tags))
	slices.Sort(keys)
	return keys
}

// register registers c, or returns the collector already registered under
// the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	c := child(h, h.m.counters, name, func(keys []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(name) + "_total", Help: "Temporal SDK counter " + name + "."}, keys)
	})
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	g := child(h, h.m.gauges, name, func(keys []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: promName(name), Help: "Temporal SDK gauge " + name + "."}, keys)
	})
	return gaugeFunc(g.Set)
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	o := child(h, h.m.timers, name, func(keys []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: promName(name) + "_seconds", Help: "Temporal SDK timer " + name + ".",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, keys)
	})
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

// child returns the series of h's tags of the metric called name: vecs
// holds the metric's vec, made by newVec on the tag keys of its first use
// and registered then.
func child[V interface {
	prometheus.Collector
	WithLabelValues(...string) M
}, M any](h sdkHandler, vecs map[string]*labelled[V], name string, newVec func(keys []string) V) M {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	l, ok := vecs[name]
	if !ok {
		keys := sortedTagKeys(h.tags)
		l = &labelled[V]{keys: keys, vec: register(h.m.reg, newVec(keys))}
		vecs[name] = l
	}
	return l.vec.WithLabelValues(values(l.keys, h.tags)...)
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
