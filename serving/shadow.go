package serving

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// Defaults of the shadow options.
const (
	DefaultShadowSample  = 0.1
	DefaultShadowQueue   = 1024
	DefaultShadowWorkers = 2
	// AgreementWindow is how many of the latest shadowed rows of a model
	// kingmaker_serving_shadow_agreement_ratio covers.
	AgreementWindow = 1000
	// shadowWriteTimeout bounds one write of a request's shadow rows.
	shadowWriteTimeout = 10 * time.Second
)

// ShadowSource is a Source that also gives each model's shadow pointer
// (RegistrySource does). With a plain Source nothing is shadowed.
type ShadowSource interface {
	Source
	// Shadow returns the model's shadow pointer, nil when it has none.
	Shadow(ctx context.Context, model string) (*registry.Shadow, error)
}

// ShadowSink records shadow predictions; *registry.Registry is one.
// Implementations must be safe for concurrent use.
type ShadowSink interface {
	RecordShadowPredictions(ctx context.Context, rows []registry.ShadowPrediction) error
}

func (s registrySource) Shadow(ctx context.Context, model string) (*registry.Shadow, error) {
	return s.reg.Shadow(ctx, model)
}

// shadowSnapshot is one shadow version in service, immutable like snapshot.
type shadowSnapshot struct {
	model      trainer.Model
	version    gocql.UUID
	versionStr string
	since      time.Time
	answers
	// canary is the share of keyed requests this version answers instead
	// of the champion: the model's canary while a probation set the
	// pointer, else 0.
	canary float64
}

// shadowJob is one sampled request waiting to be scored by the shadow: the
// rows as the champion saw them and what it answered.
type shadowJob struct {
	m        *model
	champion *snapshot
	shadow   *shadowSnapshot
	// canary is set when the shadow answered the request (champ holds
	// its answer): the champion is then the one to score.
	canary    bool
	x         [][]float64
	champ     *answer
	ids       []string
	requestID string
	at        time.Time
	// actor is the authenticated client that sent the request.
	actor string
	// bytes is what the job holds in memory (jobBytes).
	bytes int64
}

// jobBytes estimates the memory a queued job holds: its rows, their
// answers and ids, and what scoring will add per row.
func jobBytes(x [][]float64, ids []string) int64 {
	n := int64(len(x))
	if n == 0 {
		return 0
	}
	perRow := int64(len(x[0]))*8 + 24 + 16 + 8 + 256 // row, slice header, class, score, the record
	b := n * perRow
	for _, id := range ids {
		b += 16 + int64(len(id))
	}
	return b
}

// agreement is a sliding window over the latest AgreementWindow shadowed
// rows of a model: for a classifier, 1 when champion and shadow gave the
// same class and 0 otherwise (its mean is the agreement ratio); for a
// regression model, the absolute difference of their values (its mean is
// the mean absolute difference).
type agreement struct {
	mu     sync.Mutex
	shadow *shadowSnapshot // the shadow the window is about
	ring   [AgreementWindow]float64
	next   int
	n      int
	sum    float64
}

// add records rows of sh and returns the window's mean; ok is false when
// sh is no longer the shadow the window follows (its rows are not counted).
func (a *agreement) add(sh *shadowSnapshot, rows []float64) (mean float64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shadow != sh {
		return 0, false
	}
	for _, v := range rows {
		if a.n == len(a.ring) {
			a.sum -= a.ring[a.next]
		} else {
			a.n++
		}
		a.ring[a.next] = v
		a.sum += v
		a.next = (a.next + 1) % len(a.ring)
	}
	if a.n == len(a.ring) && a.next == 0 {
		// Once a window: a sum that only adds and subtracts drifts by rounding.
		a.sum = 0
		for _, v := range a.ring {
			a.sum += v
		}
	}
	return a.sum / float64(a.n), true
}

// reset empties the window for a new shadow (nil: none).
func (a *agreement) reset(sh *shadowSnapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.shadow, a.next, a.n, a.sum = sh, 0, 0, 0
}

// shadowEnabled reports whether the server scores shadows at all.
func (s *Server) shadowEnabled() bool { return s.shadowJobs != nil }

// refreshShadow reads the model's shadow pointer and, when it moved, loads
// the version it names (checked like a champion) or stops shadowing. A
// failure keeps the current shadow and is retried at the next poll.
func (s *Server) refreshShadow(ctx context.Context, m *model) error {
	if !s.shadowEnabled() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := s.shadows.Shadow(ctx, m.name)
	if err != nil {
		s.logShadowOnce(m, slog.LevelWarn, "read shadow pointer failed; retrying at the next poll", "error", err)
		return err
	}
	cur := m.shadow.Load()
	if sh == nil {
		if cur != nil {
			s.stopShadow(m, cur, "shadow pointer cleared; shadow scoring stopped")
		}
		return nil
	}
	if cur != nil && cur.version == sh.Version && (cur.canary > 0) == (sh.Probation() && m.canary > 0) {
		return nil
	}
	var tm trainer.Model
	if champ := m.current.Load(); champ != nil && champ.version == sh.Version {
		tm = champ.model
	} else {
		tm, err = s.source.Load(ctx, m.name, sh.Version)
		if err == nil {
			if serr := tm.Schema().Mismatch(m.schema); serr != nil {
				err = fmt.Errorf("version %s does not fit the config of model %s: %v", sh.Version, m.name, serr)
			}
		}
		if err == nil {
			if _, aerr := answersOf(tm); aerr != nil {
				err = fmt.Errorf("version %s of model %s: %w", sh.Version, m.name, aerr)
			}
		}
		if err != nil {
			if cur != nil {
				s.stopShadow(m, cur, "shadow pointer moved to a version that cannot be loaded; shadow scoring stopped")
			}
			s.logShadowOnce(m, slog.LevelError, "load shadow failed; retrying at the next poll", "version", sh.Version.String(), "error", err)
			return err
		}
	}
	a, _ := answersOf(tm) // checked above, or the champion's
	next := &shadowSnapshot{model: tm, version: sh.Version, versionStr: sh.Version.String(), since: sh.Since, answers: a}
	if sh.Probation() {
		next.canary = m.canary
	}
	m.agreement.reset(next)
	m.shadow.Store(next)
	s.metrics.deleteAgreement(m.name) // no ratio until the new shadow has rows
	m.shadowLogged = ""
	attrs := []any{"model", m.name, "version", next.versionStr, "algorithm", tm.Algorithm(), "since", sh.Since, "started_by", sh.StartedBy, "sample", s.opts.ShadowSample}
	if cur != nil {
		attrs = append(attrs, "previous_version", cur.versionStr)
	}
	s.logger.Info("shadow in service", attrs...)
	return nil
}

func (s *Server) stopShadow(m *model, cur *shadowSnapshot, msg string) {
	m.shadow.Store(nil)
	m.agreement.reset(nil)
	s.metrics.deleteAgreement(m.name)
	m.shadowLogged = ""
	s.logger.Info(msg, "model", m.name, "version", cur.versionStr)
}

func (s *Server) logShadowOnce(m *model, level slog.Level, msg string, attrs ...any) {
	key := msg + fmt.Sprint(attrs...)
	if key == m.shadowLogged {
		return
	}
	m.shadowLogged = key
	s.logger.Log(context.Background(), level, msg, append([]any{"model", m.name}, attrs...)...)
}

// shadowAfter hands a request that was answered to the shadow workers when
// the model has a shadow and the request is sampled. It never blocks: when
// the queue is full, in jobs or in bytes, the rows are dropped and counted.
func (s *Server) shadowAfter(r *http.Request, m *model, champ, answered *snapshot, x [][]float64, ans *answer, ids []string, requestID string) {
	if !s.shadowEnabled() {
		return
	}
	sh := m.shadow.Load()
	if sh == nil || len(x) == 0 {
		return
	}
	if s.opts.ShadowSample < 1 && rand.Float64() >= s.opts.ShadowSample {
		return
	}
	if answered != champ && answered.version != sh.version {
		return // the canary of a shadow that has moved on since
	}
	job := shadowJob{m: m, champion: champ, shadow: sh, canary: answered != champ, x: x, champ: ans, ids: ids, requestID: requestID,
		at: time.Now().UTC(), actor: actorOf(r), bytes: jobBytes(x, ids)}
	if s.shadowBytes.Add(job.bytes) > s.opts.ShadowQueueBytes {
		s.shadowBytes.Add(-job.bytes)
		s.metrics.shadowRows.WithLabelValues(m.name, shadowDropped).Add(float64(len(x)))
		return
	}
	select {
	case s.shadowJobs <- job:
		s.metrics.shadowQueue.Set(float64(s.shadowBytes.Load()))
	default:
		s.shadowBytes.Add(-job.bytes)
		s.metrics.shadowRows.WithLabelValues(m.name, shadowDropped).Add(float64(len(x)))
	}
}

// done gives back the queue bytes of a job that was scored or dropped.
func (s *Server) done(j shadowJob) {
	s.metrics.shadowQueue.Set(float64(s.shadowBytes.Add(-j.bytes)))
}

// Outcomes of kingmaker_serving_shadow_rows_total.
const (
	shadowRecorded = "recorded"
	shadowDropped  = "dropped"
	shadowError    = "error"
)

// RunShadow scores queued requests with their model's shadow and records
// both predictions until ctx is done; rows still queued then are counted
// as dropped. Serve runs it; callers that drive the Handler themselves run
// it too (it returns at once when shadow scoring is off).
func (s *Server) RunShadow(ctx context.Context) {
	if !s.shadowEnabled() {
		return
	}
	var wg sync.WaitGroup
	for range s.opts.ShadowWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.shadowJobs:
					s.scoreShadow(ctx, j)
					s.done(j)
				}
			}
		})
	}
	wg.Wait()
	for {
		select {
		case j := <-s.shadowJobs:
			s.metrics.shadowRows.WithLabelValues(j.m.name, shadowDropped).Add(float64(len(j.x)))
			s.done(j)
		default:
			return
		}
	}
}

// scoreShadow scores one request's rows with the shadow, updates the
// agreement window and writes the rows. For a regression model the rows
// carry no class and the two values in champion_score and shadow_score.
func (s *Server) scoreShadow(ctx context.Context, j shadowJob) {
	m, n := j.m, len(j.x)
	other := &snapshot{model: j.shadow.model, answers: j.shadow.answers}
	if j.canary {
		other = j.champion
	}
	got, e := score(m, other, j.x, false)
	var err error
	switch {
	case e != nil:
		err = e
	case got.values == nil && len(got.classes) != n || got.values != nil && len(got.values) != n:
		err = fmt.Errorf("%d predictions for %d rows", max(len(got.classes), len(got.values)), n)
	}
	if err != nil {
		s.metrics.shadowRows.WithLabelValues(m.name, shadowError).Add(float64(n))
		s.warnShadow(m, "shadow scoring failed", "version", j.shadow.versionStr, "error", err)
		return
	}
	regression := got.values != nil
	rows := make([]registry.ShadowPrediction, n)
	window := make([]float64, n)
	for i := range n {
		p := registry.ShadowPrediction{
			Model: m.name, ShadowVersion: j.shadow.version, At: j.at, RequestID: j.requestID, Row: i,
			ChampionVersion: j.champion.version, Generation: j.champion.generation,
			Features: m.featuresJSON(j.x[i]), Actor: j.actor,
		}
		if regression {
			p.ChampionScore, p.ShadowScore = &j.champ.values[i], &got.values[i]
			window[i] = math.Abs(got.values[i] - j.champ.values[i])
		} else {
			p.ChampionClass, p.ShadowClass = j.champ.classes[i], got.classes[i]
			if p.ChampionClass == p.ShadowClass {
				window[i] = 1
			}
			if j.champ.positive != nil {
				p.ChampionScore = &j.champ.positive[i]
			}
			if got.positive != nil {
				p.ShadowScore = &got.positive[i]
			}
		}
		if j.canary { // the shadow answered: the other prediction is the champion's
			p.ChampionClass, p.ShadowClass = p.ShadowClass, p.ChampionClass
			p.ChampionScore, p.ShadowScore = p.ShadowScore, p.ChampionScore
		}
		if j.ids != nil {
			p.RowID = j.ids[i]
		}
		rows[i] = p
	}
	if mean, ok := m.agreement.add(j.shadow, window); ok {
		if regression {
			s.metrics.meanAbsDifference.WithLabelValues(m.name).Set(mean)
		} else {
			s.metrics.agreement.WithLabelValues(m.name).Set(mean)
		}
	}
	// A write in flight finishes even when the server is stopping.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shadowWriteTimeout)
	defer cancel()
	if err := s.opts.ShadowSink.RecordShadowPredictions(wctx, rows); err != nil {
		s.metrics.shadowRows.WithLabelValues(m.name, shadowError).Add(float64(n))
		s.warnShadow(m, "recording shadow predictions failed", "version", j.shadow.versionStr, "rows", n, "error", err)
		return
	}
	s.metrics.shadowRows.WithLabelValues(m.name, shadowRecorded).Add(float64(n))
}

// shadowWarnEvery is the least time between two warnings about failed
// shadow rows of a model: a Cassandra outage fails every request's rows,
// and kingmaker_serving_shadow_rows_total counts them all anyway.
const shadowWarnEvery = 10 * time.Second

func (s *Server) warnShadow(m *model, msg string, attrs ...any) {
	now := time.Now().UnixNano()
	last := m.shadowWarned.Load()
	if now-last < int64(shadowWarnEvery) || !m.shadowWarned.CompareAndSwap(last, now) {
		return
	}
	s.logger.Warn(msg, append([]any{"model", m.name}, attrs...)...)
}

// featuresJSON renders a row as the model read it: {"feature": value},
// numbers for numeric features, the category for categorical ones (null
// for an unknown category).
func (m *model) featuresJSON(x []float64) json.RawMessage {
	b := make([]byte, 0, 32*len(x))
	b = append(b, '{')
	for j, f := range m.features {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		switch k := int(x[j]); {
		case f.numeric:
			b = strconv.AppendFloat(b, x[j], 'g', -1, 64)
		case k >= 0 && k < len(f.list):
			b = appendJSONString(b, f.list[k])
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
