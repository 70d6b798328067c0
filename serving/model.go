package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// snapshot is one champion in service. It never changes once published:
// a request that loaded it uses this model, version and generation only.
type snapshot struct {
	model      trainer.Model
	version    gocql.UUID
	versionStr string
	genStr     string
	generation int64
	algorithm  string
	answers
}

// answers is what a served version can answer, from the task of its
// schema: the positive class's probability (binary), one probability per
// class (multiclass, when the model gives them), or a value (regression).
type answers struct {
	task trainer.Task
	// scores is whether the model gives a probability (binary models).
	scores bool
	// prober gives one probability per class; nil but for multiclass
	// models that implement trainer.Prober.
	prober trainer.Prober
	// regressor predicts values; set for regression models, nil otherwise.
	regressor trainer.Regressor
}

// answersOf reads what m can answer. A regression model that cannot
// predict values (an artifact of another build) is refused with errSchema.
func answersOf(m trainer.Model) (answers, error) {
	a := answers{task: m.Schema().EffectiveTask()}
	switch a.task {
	case trainer.Binary:
		a.scores = true
	case trainer.Multiclass:
		a.prober, _ = m.(trainer.Prober)
	case trainer.Regression:
		r, ok := m.(trainer.Regressor)
		if !ok {
			return a, fmt.Errorf("%w: algorithm %s of this build cannot predict values for a regression model", errSchema, m.Algorithm())
		}
		a.regressor = r
	}
	return a, nil
}

func newSnapshot(m trainer.Model, c *registry.Champion, a answers) *snapshot {
	return &snapshot{
		model: m, version: c.Version, versionStr: c.Version.String(), generation: c.Generation,
		genStr: strconv.FormatInt(c.Generation, 10), algorithm: m.Algorithm(), answers: a,
	}
}

// pointerState is what the last look at the champion pointer found; with
// the snapshot it explains a 503 and decides readiness.
type pointerState struct {
	// checked is true once the pointer was read successfully.
	checked bool
	// champion is the pointer as last read; nil when the model has none.
	champion *registry.Champion
	// err is the last failure to read the pointer or load its version; nil
	// once the version the pointer names is in service.
	err error
}

// feature is one input of a served model, as the config declares it.
type feature struct {
	name       string
	numeric    bool
	categories map[string]int
	list       []string
}

// model is one configured model and the champion it serves.
type model struct {
	name     string
	schema   trainer.Schema // as the config declares it
	features []feature
	index    map[string]int // feature name -> position
	classes  []string
	// canary is the share of keyed requests the previous champion answers
	// while a probation shadows it (policy.probation.canary_fraction).
	canary float64

	current atomic.Pointer[snapshot]
	state   atomic.Pointer[pointerState]

	// shadow is the shadow version in service, nil when none (shadow.go).
	shadow    atomic.Pointer[shadowSnapshot]
	agreement agreement
	// shadowWarned is when a failed shadow row was last logged (unix ns).
	shadowWarned atomic.Int64

	// mu serialises refreshes of this model; requests never take it.
	mu sync.Mutex
	// lastLogged and shadowLogged avoid logging the same failure at every poll.
	lastLogged   string
	shadowLogged string
}

func newModel(m *config.Model) *model {
	sm := &model{
		name:    m.Name,
		schema:  (&dataset.Source{Model: m}).Schema(),
		index:   make(map[string]int, len(m.Features)),
		classes: slices.Clone(m.Label.Classes),
	}
	if p := m.Policy.Probation; p.Enabled() {
		sm.canary = p.CanaryFraction
	}
	if sm.schema.Task == "" && len(sm.classes) == 0 {
		// A label without classes is a number: the model is a regression.
		sm.schema.Task = trainer.Regression
	}
	for j, f := range sm.schema.Features {
		ft := feature{name: f.Name, numeric: f.Kind == trainer.Numeric, list: f.Categories}
		if !ft.numeric {
			ft.categories = make(map[string]int, len(f.Categories))
			for i, c := range f.Categories {
				ft.categories[c] = i
			}
		}
		sm.features = append(sm.features, ft)
		sm.index[f.Name] = j
	}
	sm.state.Store(&pointerState{})
	return sm
}

func (m *model) featureNames() string {
	names := make([]string, len(m.features))
	for i, f := range m.features {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// ready reports whether the model does not hold the server back: its
// champion is in service, or the pointer was read and names none.
func (m *model) ready() (bool, string) {
	if m.current.Load() != nil {
		return true, ""
	}
	st := m.state.Load()
	if st.checked && st.champion == nil && st.err == nil {
		return true, ""
	}
	return false, m.unavailable(st)
}

// unavailable says why the model has no champion in service. It goes to
// clients, so it names the failure but not its details (driver errors
// name hosts and queries): those are in the server's log.
func (m *model) unavailable(st *pointerState) string {
	switch {
	case st.err != nil && st.champion != nil:
		return fmt.Sprintf("model %s: its champion, version %s (generation %d), could not be loaded (%s; the server's log has the details); it is retried at every poll",
			m.name, st.champion.Version, st.champion.Generation, failureKind(st.err))
	case st.err != nil:
		return fmt.Sprintf("model %s: its champion pointer could not be read (the server's log has the details); it is retried at every poll", m.name)
	case !st.checked:
		return fmt.Sprintf("model %s is still loading its champion: retry shortly", m.name)
	default:
		return fmt.Sprintf("model %s has no champion yet: run `kingmaker retrain %s` (or `kingmaker promote %s VERSION`)", m.name, m.name, m.name)
	}
}

// failureKind names a load failure for clients without its details.
func failureKind(err error) string {
	switch {
	case errors.Is(err, registry.ErrCorruptArtifact):
		return "its artifact is corrupt"
	case errors.Is(err, errSchema):
		return "it does not fit the config of the model"
	}
	return "the registry could not be read or the artifact not decoded"
}

// errSchema marks a version that does not fit the config.
var errSchema = errors.New("does not fit the config")

// refresh reads the model's champion pointer and, when it moved, loads the
// version it names and swaps it in. It returns the failure it recorded.
func (s *Server) refresh(ctx context.Context, m *model) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := s.source.Champion(ctx, m.name)
	if err != nil {
		s.failed(m, &pointerState{checked: m.state.Load().checked, err: err}, "read champion pointer")
		return err
	}
	cur := m.current.Load()
	if c == nil {
		if cur != nil {
			// The pointer is the source of truth, but it never goes back to
			// none in normal operation: keep answering rather than go dark.
			s.logOnce(m, slog.LevelWarn, "champion pointer is gone; still serving the last champion", "version", cur.versionStr, "generation", cur.generation)
		}
		m.state.Store(&pointerState{checked: true})
		return nil
	}
	if cur != nil && cur.version == c.Version && cur.generation == c.Generation {
		m.state.Store(&pointerState{checked: true, champion: c})
		return nil
	}
	var next *snapshot
	began := time.Now()
	if cur != nil && cur.version == c.Version {
		// Same version under a new generation (promoted again): nothing to load.
		next = newSnapshot(cur.model, c, cur.answers)
	} else {
		tm, err := s.source.Load(ctx, m.name, c.Version)
		var a answers
		if err == nil {
			if serr := tm.Schema().Mismatch(m.schema); serr != nil {
				err = fmt.Errorf("version %s %w of model %s: %v: serve it with the config it was trained with, or retrain", c.Version, errSchema, m.name, serr)
			} else if a, err = answersOf(tm); err != nil {
				err = fmt.Errorf("version %s of model %s: %w", c.Version, m.name, err)
			}
		}
		if err != nil {
			s.failed(m, &pointerState{checked: true, champion: c, err: err}, "load champion")
			return err
		}
		next = newSnapshot(tm, c, a)
	}
	m.current.Store(next)
	m.state.Store(&pointerState{checked: true, champion: c})
	m.lastLogged = ""
	s.metrics.swaps.WithLabelValues(m.name).Inc()
	s.metrics.generation.WithLabelValues(m.name).Set(float64(c.Generation))
	attrs := []any{"model", m.name, "version", next.versionStr, "generation", next.generation, "algorithm", next.algorithm,
		"load_seconds", time.Since(began).Seconds()}
	if cur != nil {
		attrs = append(attrs, "previous_version", cur.versionStr, "previous_generation", cur.generation)
	}
	s.logger.Info("champion in service", attrs...)
	return nil
}

// failed records a failed refresh: counted every time, logged when the
// failure differs from the last one logged.
func (s *Server) failed(m *model, st *pointerState, what string) {
	m.state.Store(st)
	s.metrics.loadErrors.WithLabelValues(m.name).Inc()
	attrs := []any{"error", st.err}
	if st.champion != nil {
		attrs = append(attrs, "version", st.champion.Version.String(), "generation", st.champion.Generation)
	}
	if cur := m.current.Load(); cur != nil {
		attrs = append(attrs, "serving_version", cur.versionStr, "serving_generation", cur.generation)
	}
	s.logOnce(m, slog.LevelError, what+" failed; retrying at the next poll", attrs...)
}

func (s *Server) logOnce(m *model, level slog.Level, msg string, attrs ...any) {
	key := msg + fmt.Sprint(attrs...)
	if key == m.lastLogged {
		return
	}
	m.lastLogged = key
	s.logger.Log(context.Background(), level, msg, append([]any{"model", m.name}, attrs...)...)
}
