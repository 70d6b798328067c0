//go:build unix

// Package temporalui_test checks, in a real headless Chromium, that the
// Temporal Web UI shows Kingmaker's runs the way docs/temporal-ui.md says:
// the workflow list filtered by the KingmakerModel search attribute, the
// Kingmaker search attributes as list columns and on the run's Search
// Attributes tab, and the run's history page.
//
// It needs the local stack (make stack-up) and Chromium (scripts/chromium.sh
// install); it skips only under go test -short.
//
// Environment:
//
//	CHROMIUM                  the browser binary (default: chromium or chromium-browser on PATH)
//	KINGMAKER_TEST_TEMPORAL   frontend (default 127.0.0.1:7233, see internal/testenv)
//	KINGMAKER_TEST_TEMPORAL_UI  Web UI (default http://127.0.0.1:8233)
//	KINGMAKER_UI_RUN          "" (a finished RetrainWorkflow if there is one, else a run of
//	                          the test's own), "own" or "existing"
//	KINGMAKER_UI_MODEL        with an existing run: only runs of this model
//	KINGMAKER_UI_QUERY        an extra visibility clause ANDed to the run search and the
//	                          list page's filter, e.g. TaskQueue="kingmaker"
//	KINGMAKER_UI_SCREENSHOTS  a directory to copy the screenshots to, as
//	                          temporal-ui-runs.png and temporal-ui-run.png (the README's)
package temporalui_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

const (
	namespace = "default"
	// budgetMS is Chromium's virtual time budget: the page's scripts, fetches
	// and timers run until this much virtual time passed, then the DOM is
	// dumped or the screenshot taken.
	budgetMS = 15000
	// chromiumTimeout bounds one Chromium run in real time.
	chromiumTimeout = 90 * time.Second

	ownWorkflowName = "KingmakerUITestWorkflow"
	ownActivityName = "KingmakerUITestActivity"
)

// Window sizes of the screenshots: the list, and the taller run page so the
// timeline of its history fits.
var (
	listWindow = [2]int{1440, 900}
	runWindow  = [2]int{1440, 1100}
)

// run is the workflow run the test looks at in the browser.
type run struct {
	ID, RunID, Type           string
	Model, Decision, Champion string
	Summary, ActivitySummary  string // shown on the history page when set
}

func TestTemporalUIShowsKingmakerRuns(t *testing.T) {
	testenv.Integration(t)
	chromium := findChromium(t)
	t.Logf("browser: %s", chromiumVersion(chromium))
	ui := uiBase(t)

	c := dialTemporal(t)
	r := pickRun(t, c)
	t.Logf("run: %s/%s (%s) model=%s decision=%s champion=%s", r.ID, r.RunID, r.Type, r.Model, r.Decision, r.Champion)

	filter := fmt.Sprintf("KingmakerModel=%q", r.Model)
	if extra := os.Getenv("KINGMAKER_UI_QUERY"); extra != "" {
		filter += " AND " + extra
	}
	listPath := "/namespaces/" + namespace + "/workflows?query=" + url.QueryEscape(filter)
	runPath := "/namespaces/" + namespace + "/workflows/" + url.PathEscape(r.ID) + "/" + url.PathEscape(r.RunID)
	shots := t.TempDir()

	t.Run("list filtered by KingmakerModel", func(t *testing.T) {
		dom := dumpDOM(t, chromium, ui+listPath)
		mustContain(t, "list page", dom, r.ID, r.Type, "KingmakerModel")
		// The filter chip: the UI parsed the query it was given.
		if !strings.Contains(dom, "dropdown-filter-chip-KingmakerModel") {
			t.Errorf("list page shows no KingmakerModel filter chip for %s", filter)
		}
	})

	// The same list with the Kingmaker search attributes as columns. The UI
	// keeps its column choice in the browser's localStorage; a reverse proxy
	// in front of the UI serves one extra page on the UI's origin that sets
	// it, then goes on to the list. Everything else is the UI's own.
	proxy := columnsProxy(t, ui)
	listWithColumns := proxy + "/__kingmaker/columns?next=" + url.QueryEscape(listPath)
	t.Run("list with Kingmaker columns", func(t *testing.T) {
		dom := dumpDOM(t, chromium, listWithColumns)
		mustContain(t, "list page (columns)", dom, "KingmakerDecision", "KingmakerChampion")
		row := tableRow(dom, r.ID)
		if row == "" {
			t.Fatalf("no table row with %s on the list page:\n%s", r.ID, excerpt(dom, "<table", 3000))
		}
		mustContain(t, "the run's row", text(row), r.ID, r.Type, r.Model, r.Decision, r.Champion)
		screenshot(t, chromium, listWithColumns, filepath.Join(shots, "temporal-ui-runs.png"), listWindow)
	})

	t.Run("run history", func(t *testing.T) {
		dom := dumpDOM(t, chromium, ui+runPath+"/history")
		want := []string{r.ID, r.RunID, r.Type}
		if r.Summary != "" {
			want = append(want, r.Summary)
		}
		if r.ActivitySummary != "" {
			want = append(want, r.ActivitySummary)
		}
		mustContain(t, "history page", text(dom), want...)
		screenshot(t, chromium, ui+runPath+"/history", filepath.Join(shots, "temporal-ui-run.png"), runWindow)
	})

	t.Run("run search attributes", func(t *testing.T) {
		// The tab shows the attributes as JSON in a code view.
		dom := text(dumpDOM(t, chromium, ui+runPath+"/search-attributes"))
		for _, kv := range [][2]string{
			{"KingmakerModel", r.Model}, {"KingmakerDecision", r.Decision}, {"KingmakerChampion", r.Champion},
		} {
			re := regexp.MustCompile(regexp.QuoteMeta(`"`+kv[0]+`"`) + `\s*:\s*` + regexp.QuoteMeta(`"`+kv[1]+`"`))
			if !re.MatchString(dom) {
				t.Errorf("search attributes tab does not show %q: %q\n(text: %s)", kv[0], kv[1], excerpt(dom, "Kingmaker", 600))
			}
		}
	})

	if dir := os.Getenv("KINGMAKER_UI_SCREENSHOTS"); dir != "" && !t.Failed() {
		for _, name := range []string{"temporal-ui-runs.png", "temporal-ui-run.png"} {
			b, err := os.ReadFile(filepath.Join(shots, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(b))
		}
	}
}

// --- the run -----------------------------------------------------------------

func dialTemporal(t *testing.T) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  testenv.TemporalAddr(),
		Namespace: namespace,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("Temporal at %s: %v\n(start the stack with `make stack-up`)", testenv.TemporalAddr(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// pickRun returns the newest finished RetrainWorkflow that carries all three
// Kingmaker search attributes or, when there is none (or KINGMAKER_UI_RUN=own),
// a run of the test's own that sets them.
func pickRun(t *testing.T, c client.Client) run {
	t.Helper()
	mode := os.Getenv("KINGMAKER_UI_RUN")
	switch mode {
	case "", "own", "existing":
	default:
		t.Fatalf("KINGMAKER_UI_RUN=%q: want own, existing or empty", mode)
	}
	if mode != "own" {
		if r, ok := existingRun(t, c); ok {
			return r
		}
		if mode == "existing" {
			t.Fatalf("KINGMAKER_UI_RUN=existing: no completed %s with all Kingmaker search attributes (run make demo)", workflows.RetrainWorkflowName)
		}
		t.Logf("no finished %s with all Kingmaker search attributes; starting a run of the test's own", workflows.RetrainWorkflowName)
	}
	return ownRun(t, c)
}

func existingRun(t *testing.T, c client.Client) (run, bool) {
	t.Helper()
	q := fmt.Sprintf("WorkflowType=%q AND ExecutionStatus=\"Completed\"", workflows.RetrainWorkflowName)
	if m := os.Getenv("KINGMAKER_UI_MODEL"); m != "" {
		q += fmt.Sprintf(" AND KingmakerModel=%q", m)
	}
	if extra := os.Getenv("KINGMAKER_UI_QUERY"); extra != "" {
		q += " AND " + extra
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: q, PageSize: 50})
	if err != nil {
		t.Fatalf("list workflows %q: %v", q, err)
	}
	dc := converter.GetDefaultDataConverter()
	for _, e := range resp.GetExecutions() {
		attr := func(name string) string {
			p := e.GetSearchAttributes().GetIndexedFields()[name]
			var s string
			if p == nil || dc.FromPayload(p, &s) != nil {
				return ""
			}
			return s
		}
		r := run{
			ID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Type: e.GetType().GetName(),
			Model: attr("KingmakerModel"), Decision: attr("KingmakerDecision"), Champion: attr("KingmakerChampion"),
		}
		if r.Model == "" || r.Decision == "" || r.Champion == "" {
			continue
		}
		desc, err := c.DescribeWorkflowExecution(ctx, r.ID, r.RunID)
		if err != nil {
			t.Fatalf("describe %s/%s: %v", r.ID, r.RunID, err)
		}
		if p := desc.GetExecutionConfig().GetUserMetadata().GetSummary(); p != nil {
			_ = dc.FromPayload(p, &r.Summary)
		}
		return r, true
	}
	return run{}, false
}

// uiTestWorkflow is the test's own run: it sets the Kingmaker search
// attributes as RetrainWorkflow does and runs one activity with a summary.
func uiTestWorkflow(ctx workflow.Context, model, champion string) (string, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, workflows.AttrModel.ValueSet(model)); err != nil {
		return "", err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		Summary:             "train " + model + " candidates",
	})
	var out string
	if err := workflow.ExecuteActivity(ctx, ownActivityName, model).Get(ctx, &out); err != nil {
		return "", err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		workflows.AttrDecision.ValueSet("promote"), workflows.AttrChampion.ValueSet(champion)); err != nil {
		return "", err
	}
	return out, nil
}

func uiTestActivity(_ context.Context, model string) (string, error) {
	return "trained " + model, nil
}

func ownRun(t *testing.T, c client.Client) run {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	model := "uitest-" + suffix
	queue := "kingmaker-uitest-" + suffix
	champion := "uitest-champion-" + suffix

	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(uiTestWorkflow, workflow.RegisterOptions{Name: ownWorkflowName})
	w.RegisterActivityWithOptions(uiTestActivity, activity.RegisterOptions{Name: ownActivityName})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker on %s: %v", queue, err)
	}
	t.Cleanup(w.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := run{
		ID:              workflows.RetrainWorkflowID(model, time.Now()),
		Type:            ownWorkflowName,
		Model:           model,
		Decision:        "promote",
		Champion:        champion,
		Summary:         "UI test run of " + model,
		ActivitySummary: "train " + model + " candidates",
	}
	wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       r.ID,
		TaskQueue:                queue,
		WorkflowExecutionTimeout: time.Minute,
		StaticSummary:            r.Summary,
	}, ownWorkflowName, model, champion)
	if err != nil {
		t.Fatalf("start %s: %v", ownWorkflowName, err)
	}
	r.RunID = wr.GetRunID()
	if err := wr.Get(ctx, nil); err != nil {
		t.Fatalf("%s %s: %v", ownWorkflowName, r.ID, err)
	}
	// Visibility trails the run: wait until the list query finds it with
	// its final search attributes, as the UI will ask.
	q := fmt.Sprintf("KingmakerModel=%q AND KingmakerDecision=\"promote\" AND KingmakerChampion=%q", model, champion)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: q})
		if err == nil && len(resp.GetExecutions()) == 1 {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("visibility never listed %s for %q (last error %v)", r.ID, q, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// --- the browser ---------------------------------------------------------------

func findChromium(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "chromium-browser"}
	if v := os.Getenv("CHROMIUM"); v != "" {
		names = []string{v}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatalf("no Chromium (looked for %s): run `scripts/chromium.sh install`, or set CHROMIUM", strings.Join(names, ", "))
	return ""
}

func chromiumVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return bin + " (version unknown: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func uiBase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("KINGMAKER_TEST_TEMPORAL_UI")
	if base == "" {
		base = "http://127.0.0.1:8233"
	}
	base = strings.TrimRight(base, "/")
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/api/v1/settings")
	if err != nil {
		t.Fatalf("Temporal Web UI at %s: %v\n(start the stack with `make stack-up`)", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var s struct{ Version string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &s) != nil || s.Version == "" {
		t.Fatalf("Temporal Web UI at %s: /api/v1/settings answered %s %q\n(start the stack with `make stack-up`)", base, resp.Status, body)
	}
	t.Logf("Temporal Web UI %s at %s", s.Version, base)
	return base
}

// columnsProxy serves the UI on a loopback port of its own, plus one page,
// /__kingmaker/columns?next=PATH, that sets the UI's workflow-table columns
// (Status, Workflow ID, Type, KingmakerDecision, KingmakerChampion,
// KingmakerModel, Start, End) and
// closes the saved-views panel in localStorage, then loads PATH.
func columnsProxy(t *testing.T, base string) string {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = target.Host
	}}
	type col struct {
		Label string `json:"label"`
	}
	cols := map[string][]col{namespace: {
		{"Status"}, {"Workflow ID"}, {"Type"},
		{"KingmakerDecision"}, {"KingmakerChampion"}, {"KingmakerModel"},
		{"Start"}, {"End"},
	}}
	colsJSON, _ := json.Marshal(cols)
	mux := http.NewServeMux()
	mux.HandleFunc("/__kingmaker/columns", func(w http.ResponseWriter, r *http.Request) {
		next := r.URL.Query().Get("next")
		if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
			http.Error(w, "next must be a path", http.StatusBadRequest)
			return
		}
		nextJSON, _ := json.Marshal(next)
		keyJSON, _ := json.Marshal(string(colsJSON))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Kingmaker columns</title><script>
localStorage.setItem("namespace-workflow-table-columns", %s);
localStorage.setItem("savedQueryNavOpen", "false");
location.replace(%s);
</script>`, keyJSON, nextJSON)
	})
	mux.Handle("/", rp)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// chromiumRun runs headless Chromium with a fresh profile on url plus args,
// bounded by chromiumTimeout, and returns its stdout.
func chromiumRun(t *testing.T, bin, target string, args ...string) []byte {
	t.Helper()
	profile, err := os.MkdirTemp("", "kingmaker-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	full := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir=" + profile,
		fmt.Sprintf("--virtual-time-budget=%d", budgetMS),
	}, args...)
	full = append(full, target)
	cmd := exec.CommandContext(ctx, bin, full...)
	// Chromium forks helpers (zygote, renderer, GPU); on timeout end the
	// whole process group, not just the browser.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium on %s: no result within %s\n%s", target, chromiumTimeout, tail(stderr.String(), 2000))
	}
	if err != nil {
		t.Fatalf("chromium on %s: %v\n%s", target, err, tail(stderr.String(), 2000))
	}
	t.Logf("chromium %s %s: %s", args[len(args)-1], target, time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}

func dumpDOM(t *testing.T, bin, target string) string {
	t.Helper()
	dom := string(chromiumRun(t, bin, target, "--dump-dom"))
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("chromium --dump-dom %s: no document (%d bytes)", target, len(dom))
	}
	return dom
}

// screenshot saves a PNG of target and checks it is one: the window's size,
// and not a blank page.
func screenshot(t *testing.T, bin, target, out string, size [2]int) {
	t.Helper()
	chromiumRun(t, bin, target, fmt.Sprintf("--window-size=%d,%d", size[0], size[1]), "--screenshot="+out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("screenshot of %s: %v", target, err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a PNG (%d bytes)", out, len(b))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s: %v", out, err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: size[0], Y: size[1]}) {
		t.Errorf("screenshot %s is %v, want %dx%d", out, got, size[0], size[1])
	}
	if n := colours(img, 64); n < 16 {
		t.Errorf("screenshot %s has only %d colours: a blank page?", out, n)
	}
	t.Logf("screenshot %s: %d bytes", out, len(b))
}

// colours counts the distinct colours on a grid of step-pixel spacing.
func colours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// --- the DOM -------------------------------------------------------------------

var (
	scriptOrStyle = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>`)
	tag           = regexp.MustCompile(`<[^>]*>`)
	spaces        = regexp.MustCompile(`\s+`)
	rowStart      = regexp.MustCompile(`<tr\b`)
)

// text is the visible text of an HTML fragment, entities decoded for the
// characters Kingmaker's values and the UI's JSON use, whitespace collapsed.
func text(html string) string {
	s := scriptOrStyle.ReplaceAllString(html, " ")
	s = tag.ReplaceAllString(s, " ")
	s = strings.NewReplacer("&quot;", `"`, "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&nbsp;", " ", "&amp;", "&").Replace(s)
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// tableRow returns the <tr>…</tr> of the workflows table whose link is the
// run's workflow id.
func tableRow(dom, id string) string {
	link := "/workflows/" + url.PathEscape(id) + "/"
	starts := rowStart.FindAllStringIndex(dom, -1)
	for i, st := range starts {
		end := len(dom)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		row := dom[st[0]:end]
		if j := strings.Index(row, "</tr>"); j >= 0 {
			row = row[:j]
		}
		if strings.Contains(row, link) {
			return row
		}
	}
	return ""
}

func mustContain(t *testing.T, what, s string, want ...string) {
	t.Helper()
	var missing []string
	for _, w := range want {
		if !strings.Contains(s, w) {
			missing = append(missing, fmt.Sprintf("%q", w))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s does not show %s\n(%d bytes of text: %s)", what, strings.Join(missing, ", "), len(s), head(text(s), 1500))
	}
}

func excerpt(s, at string, n int) string {
	i := strings.Index(s, at)
	if i < 0 {
		i = 0
	}
	return s[i:min(len(s), i+n)]
}

func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
