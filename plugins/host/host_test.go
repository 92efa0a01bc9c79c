package host_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/plugintest"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/templateprovider"
)

// logs records what reaches the gateway's logger.
type logs struct {
	mu      sync.Mutex
	records []string
	attrs   []slog.Attr
	notify  chan string
}

func newLogs() *logs { return &logs{notify: make(chan string, 1024)} }

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	for _, a := range l.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	select {
	case l.notify <- b.String():
	default:
	}
	return nil
}
func (l *logs) WithAttrs(as []slog.Attr) slog.Handler {
	return &logsView{l, append(append([]slog.Attr{}, l.attrs...), as...)}
}
func (l *logs) WithGroup(string) slog.Handler { return l }

type logsView struct {
	*logs
	attrs []slog.Attr
}

func (v *logsView) Handle(ctx context.Context, r slog.Record) error {
	r2 := r.Clone()
	r2.AddAttrs(v.attrs...)
	return v.logs.Handle(ctx, r2)
}
func (v *logsView) WithAttrs(as []slog.Attr) slog.Handler {
	return &logsView{v.logs, append(append([]slog.Attr{}, v.attrs...), as...)}
}

func (l *logs) find(substrs ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
outer:
	for _, r := range l.records {
		for _, s := range substrs {
			if !strings.Contains(r, s) {
				continue outer
			}
		}
		return r
	}
	return ""
}

// waitLog waits until a record contains every substring.
func (l *logs) waitLog(t *testing.T, substrs ...string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if r := l.find(substrs...); r != "" {
			return r
		}
		select {
		case <-l.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no log record with %q", substrs)
		}
	}
}

func newHost(t *testing.T, lg *logs, cfgs ...host.Config) *host.Host {
	t.Helper()
	h, err := host.New(cfgs, host.Options{
		Logger:         slog.New(lg),
		HealthInterval: 200 * time.Millisecond,
		// Long enough that a loaded test machine does not pass for a hang.
		HealthTimeout: 2 * time.Second,
		MinBackoff:    100 * time.Millisecond,
		MaxBackoff:    time.Second,
		StartTimeout:  20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return h
}

func waitState(t *testing.T, h *host.Host, name string, ok func(host.Status) bool) host.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := h.StatusOf(name)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s never reached the expected state; last: %+v", name, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The three reference plugins, built from cmd/, started, called, stopped.
func TestReferencePlugins(t *testing.T) {
	rooms, roomsSum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	groups, groupsSum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	tmpls, tmplsSum := plugintest.Build(t, "./cmd/gateway-plugin-template-dir")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "groups.json"), `{"groups": [
	  {"id": "staff", "name": "Staff", "members": [{"id": "u1", "email": "ann@example.org", "name": "Ann"}, {"id": "u2", "email": "bob@example.org", "name": "Bob"}]},
	  {"id": "empty", "name": "Nobody"}]}`)
	writeFile(t, filepath.Join(dir, "tmpl/invitation/en/subject.txt"), "You are invited to {{.Resource}}\n")
	writeFile(t, filepath.Join(dir, "tmpl/invitation/en/body.html"), "<p>Hello {{.Name}}</p>")
	writeFile(t, filepath.Join(dir, "tmpl/invitation/fr/subject.txt"), "Invitation à {{.Resource}}")
	writeFile(t, filepath.Join(dir, "tmpl/invitation/fr/body.txt"), "Bonjour {{.Name}}")

	lg := newLogs()
	h := newHost(t, lg,
		host.Config{Name: "rooms", Kind: "roomadapter", Path: rooms, SHA256: roomsSum, Config: map[string]any{
			"join_url": "https://video.example.org/join/{resource}?role={role}&u={user}",
			"rooms": []any{map[string]any{
				"id": "bio-101", "type": "room", "title": "Biology 101", "starts_at": "2030-01-02T15:00:00Z",
				"lti_contexts":  []any{"ctx-bio"},
				"collaborators": map[string]any{"cara@example.org": "co-publisher"},
				"roster":        []any{map[string]any{"id": "s1", "email": "sam@example.org", "name": "Sam Ortiz"}, map[string]any{"id": "s2", "email": "ola@example.org", "name": "Ola Sam"}},
			}},
		}},
		host.Config{Name: "campus", Kind: "groupsource", Path: groups, SHA256: groupsSum, Schedule: "@hourly", Account: "acct",
			Config: map[string]any{"path": filepath.Join(dir, "groups.json")}},
		host.Config{Name: "mails", Kind: "templateprovider", Path: tmpls, SHA256: tmplsSum, Schedule: "@hourly",
			Config: map[string]any{"dir": filepath.Join(dir, "tmpl")}},
	)
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range h.Status() {
		if st.State != host.StateRunning || st.PID == 0 || st.Version != "1.0.0" || st.APIVersion != 1 {
			t.Fatalf("status = %+v, want running v1.0.0 at API 1 with a pid", st)
		}
	}

	ra, err := host.ClientOf[roomadapter.RoomAdapter](h, "rooms")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ra.ResolveLaunch(ctx, roomadapter.Launch{Source: "lti", ContextID: "ctx-bio", UserEmail: "Cara@example.org"})
	if err != nil || res.Resource.ID != "bio-101" || res.CollaboratorRole != roomadapter.RoleCoPublisher ||
		!res.Resource.StartsAt.Equal(time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("ResolveLaunch = %+v, %v", res, err)
	}
	res, err = ra.ResolveLaunch(ctx, roomadapter.Launch{Source: "lti", ContextID: "ctx-bio", Roles: []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"}})
	if err != nil || res.CollaboratorRole != roomadapter.RoleOwner {
		t.Fatalf("instructor launch = %+v, %v", res, err)
	}
	_, err = ra.ResolveLaunch(ctx, roomadapter.Launch{Source: "lti", ContextID: "unknown"})
	var pe *problem.Error
	if !errors.Is(err, plugins.ErrNotFound) || !errors.As(err, &pe) || pe.Kind != problem.NotFound {
		t.Fatalf("unknown context: err = %v, want plugins.ErrNotFound mapped to problem.NotFound", err)
	}
	u, err := ra.JoinURL(ctx, "bio-101", roomadapter.Person{ID: "u 1"}, "moderator")
	if err != nil || u != "https://video.example.org/join/bio-101?role=moderator&u=u+1" {
		t.Fatalf("JoinURL = %q, %v", u, err)
	}
	st, err := ra.ResourceStatus(ctx, "gone")
	if err != nil || st.Exists {
		t.Fatalf("ResourceStatus(gone) = %+v, %v", st, err)
	}
	people, err := ra.SearchRoster(ctx, roomadapter.RosterQuery{ResourceID: "bio-101", Query: "sam"})
	if err != nil || len(people) != 2 || people[0].Email != "ola@example.org" {
		t.Fatalf("SearchRoster = %+v, %v", people, err)
	}
	if err := ra.RoleUpgraded(ctx, roomadapter.RoleUpgrade{ResourceID: "bio-101", User: roomadapter.Person{ID: "s1"}, OldRole: "viewer", NewRole: "moderator"}); err != nil {
		t.Fatal(err)
	}
	// The plugin's own log record reaches the gateway's log with its name.
	lg.waitLog(t, "role upgraded", "plugin=rooms", "new_role=moderator")

	gs, err := host.ClientOf[groupsource.GroupSource](h, "campus")
	if err != nil {
		t.Fatal(err)
	}
	list, err := gs.ListGroups(ctx)
	if err != nil || len(list) != 2 || list[0] != (groupsource.Group{ID: "staff", Name: "Staff"}) {
		t.Fatalf("ListGroups = %+v, %v", list, err)
	}
	var members []groupsource.Member
	err = gs.ListMembers(ctx, nil, func(m groupsource.Member) error { members = append(members, m); return nil })
	if err != nil || len(members) != 2 || members[1].Email != "bob@example.org" {
		t.Fatalf("ListMembers = %+v, %v", members, err)
	}
	// A stream is in flight until it ends, also when the receiver gives up
	// after the first member.
	enough := errors.New("enough")
	if err := gs.ListMembers(ctx, nil, func(groupsource.Member) error { return enough }); !errors.Is(err, enough) {
		t.Fatalf("ListMembers with a receiver that stops = %v", err)
	}
	waitState(t, h, "campus", func(s host.Status) bool { return s.InFlight == 0 })

	tp, err := host.ClientOf[templateprovider.TemplateProvider](h, "mails")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tp.ListTemplates(ctx)
	if err != nil || len(ts) != 2 || ts[0].Locale != "en" || ts[0].Subject != "You are invited to {{.Resource}}" || ts[1].Text != "Bonjour {{.Name}}" || len(ts[0].Version) != 16 {
		t.Fatalf("ListTemplates = %+v, %v", ts, err)
	}

	if _, err := host.ClientOf[groupsource.GroupSource](h, "rooms"); !errors.Is(err, host.ErrUnknownPlugin) {
		t.Fatalf("GroupSource(rooms) err = %v, want ErrUnknownPlugin (it is a room adapter)", err)
	}

	var pids []int
	for _, st := range h.Status() {
		pids = append(pids, st.PID)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := h.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	for i, st := range h.Status() {
		if st.State != host.StateStopped {
			t.Fatalf("after Stop: %+v", st)
		}
		if processAlive(pids[i]) {
			t.Fatalf("plugin %s (pid %d) still running after Stop", st.Name, pids[i])
		}
	}
	if _, err := ra.JoinURL(ctx, "bio-101", roomadapter.Person{}, "viewer"); !errors.Is(err, plugins.ErrUnavailable) {
		t.Fatalf("call after Stop: %v, want ErrUnavailable", err)
	}
}

func TestChecksumMismatchIsRefused(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	wrong := strings.Repeat("0", 64)
	lg := newLogs()
	h := newHost(t, lg, host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: wrong})
	err := h.Start(context.Background())
	if !errors.Is(err, host.ErrChecksumMismatch) {
		t.Fatalf("Start err = %v, want ErrChecksumMismatch", err)
	}
	for _, want := range []string{`plugin "rooms"`, bin, "has sha256 " + sum, "config expects " + wrong, "refusing to start it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Start has returned: the status already says why, whatever the
	// supervisor does next (it retries every MaxBackoff).
	st, _ := h.StatusOf("rooms")
	if st.State != host.StateFailed || st.PID != 0 || !strings.Contains(st.LastError, "checksum mismatch") ||
		st.LastErrorAt.IsZero() || st.NextStart.IsZero() {
		t.Fatalf("status = %+v, want failed with the mismatch, when, and the next attempt", st)
	}
	ra, _ := host.ClientOf[roomadapter.RoomAdapter](h, "rooms")
	_, err = ra.JoinURL(context.Background(), "x", roomadapter.Person{}, "viewer")
	var pe *problem.Error
	if !errors.Is(err, plugins.ErrUnavailable) || !errors.As(err, &pe) || pe.Kind != problem.Unavailable || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("call to refused plugin: %v", err)
	}
}

func TestConfigProblemsAreReportedAtOnce(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-static-rooms")
	h := newHost(t, newLogs(), host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum, Config: map[string]any{
		"join_url": "ftp://nope", "rooms": []any{map[string]any{"id": "a", "type": "boat"}},
	}})
	err := h.Start(context.Background())
	var ce plugins.ConfigErrors
	if !errors.As(err, &ce) || len(ce) != 3 {
		t.Fatalf("Start err = %v, want 3 config problems (join_url, rooms[0].type, rooms[0].title)", err)
	}
	st, _ := h.StatusOf("rooms")
	if st.State != host.StateFailed || !strings.Contains(st.LastError, "rejected its config") || st.NextStart.IsZero() {
		t.Fatalf("status = %+v, want failed with the rejection and the next attempt", st)
	}
}

// A failed plugin is tried again every MaxBackoff; it shows failed with its
// last error throughout, attempts included (each launches the process, so
// the polling sees them), and fixing the file its config points at heals it
// without a restart of the gateway.
func TestFailedPluginIsRetriedAndHeals(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	groups := filepath.Join(t.TempDir(), "groups.json")
	h := newHost(t, newLogs(), host.Config{Name: "campus", Kind: "groupsource", Path: bin, SHA256: sum, Schedule: "@hourly", Account: "acct",
		Config: map[string]any{"path": groups}})
	var ce plugins.ConfigErrors
	if err := h.Start(context.Background()); !errors.As(err, &ce) {
		t.Fatalf("Start err = %v, want the missing file as a config problem", err)
	}
	// Watch until two attempts after the first have run (MaxBackoff is 1s).
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := h.StatusOf("campus")
		if st.State != host.StateFailed || !strings.Contains(st.LastError, "rejected its config") || st.NextStart.IsZero() {
			t.Fatalf("status while retrying = %+v, want failed with the rejection and the next attempt", st)
		}
		if st.Restarts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry of the failed plugin: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	gs, _ := host.ClientOf[groupsource.GroupSource](h, "campus")
	if _, err := gs.ListGroups(context.Background()); !errors.Is(err, plugins.ErrUnavailable) || !strings.Contains(err.Error(), "rejected its config") {
		t.Fatalf("call to the failed plugin: %v, want ErrUnavailable with the reason", err)
	}

	// The operator puts the file in place: the next attempt starts it.
	writeFile(t, groups, `{"groups": [{"id": "staff", "name": "Staff"}]}`)
	st := waitState(t, h, "campus", func(s host.Status) bool { return s.State == host.StateRunning })
	if st.PID == 0 || !strings.Contains(st.LastError, "rejected its config") {
		t.Fatalf("status after healing = %+v, want running, the rejection kept as last error", st)
	}
	if list, err := gs.ListGroups(context.Background()); err != nil || len(list) != 1 {
		t.Fatalf("call after healing: %+v, %v", list, err)
	}
}

// kill -9 during a call made by a request: the request gets a clear error,
// the host restarts the plugin, the next request works.
func TestKillDuringUnaryCall(t *testing.T) {
	bin, sum := plugintest.Build(t, "./plugins/host/testdata/testplugin")
	lg := newLogs()
	h := newHost(t, lg, host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum})
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ra, _ := host.ClientOf[roomadapter.RoomAdapter](h, "rooms")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		people, err := ra.SearchRoster(r.Context(), roomadapter.RosterQuery{ResourceID: "r", Query: r.URL.Query().Get("q")})
		var pe *problem.Error
		if errors.As(err, &pe) {
			http.Error(w, pe.Message, map[problem.Kind]int{problem.Unavailable: 503, problem.NotFound: 404}[pe.Kind])
			return
		}
		if err != nil {
			http.Error(w, "unexpected: "+err.Error(), 500)
			return
		}
		fmt.Fprint(w, people[0].Email)
	}))
	defer srv.Close()

	before, _ := h.StatusOf("rooms")
	type answer struct {
		code int
		body string
	}
	got := make(chan answer, 1)
	go func() {
		res, err := http.Get(srv.URL + "/?q=block")
		if err != nil {
			got <- answer{0, err.Error()}
			return
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(res))
		got <- answer{res.StatusCode, b.String()}
	}()
	lg.waitLog(t, "search blocking", "plugin=rooms")
	plugintest.Kill9(t, before.PID)

	var a answer
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not end after the plugin was killed")
	}
	if a.code != 503 || !strings.Contains(a.body, `plugin "rooms" stopped during SearchRoster`) || !strings.Contains(a.body, "restarting it") {
		t.Fatalf("request answer = %d %q, want 503 saying the plugin stopped and is restarting", a.code, a.body)
	}
	after := waitState(t, h, "rooms", func(s host.Status) bool { return s.State == host.StateRunning && s.PID != before.PID })
	if after.Restarts != 1 || !strings.Contains(after.LastError, "exited unexpectedly") {
		t.Fatalf("status after restart = %+v", after)
	}
	res, err := http.Get(srv.URL + "/?q=ann")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(res); res.StatusCode != 200 || body != "ann@example.org" {
		t.Fatalf("request after restart = %d %q", res.StatusCode, body)
	}
}

func readAll(res *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return strings.TrimSpace(b.String())
		}
	}
}

// A plugin that stops answering (SIGSTOP: alive but frozen) is found by its
// health check, killed and restarted.
func TestHungPluginIsRestarted(t *testing.T) {
	bin, sum := plugintest.Build(t, "./plugins/host/testdata/testplugin")
	h := newHost(t, newLogs(), host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum})
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := h.StatusOf("rooms")
	if err := syscall.Kill(before.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	after := waitState(t, h, "rooms", func(s host.Status) bool { return s.State == host.StateRunning && s.PID != before.PID })
	if !strings.Contains(after.LastError, "did not answer its health check") {
		t.Fatalf("status = %+v, want the hang as last error", after)
	}
	if processAlive(before.PID) {
		t.Fatalf("the hung process %d is still there", before.PID)
	}
	ra, _ := host.ClientOf[roomadapter.RoomAdapter](h, "rooms")
	if _, err := ra.JoinURL(context.Background(), "r", roomadapter.Person{}, "viewer"); err != nil {
		t.Fatal(err)
	}
}

// A call without a deadline gets the host's CallTimeout; a caller's
// deadline reaches the plugin.
func TestCallsCarryDeadlines(t *testing.T) {
	bin, sum := plugintest.Build(t, "./plugins/host/testdata/testplugin")
	h, err := host.New([]host.Config{{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum}},
		host.Options{CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ra, _ := host.ClientOf[roomadapter.RoomAdapter](h, "rooms")
	// Lower bounds only: a busy machine may make a call end late, never
	// early. The blocking search ends when its context does.
	start := time.Now()
	_, err = ra.SearchRoster(context.Background(), roomadapter.RosterQuery{Query: "block"})
	if d := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || d < 300*time.Millisecond || d > 10*time.Second {
		t.Fatalf("no-deadline call: %v after %s, want DeadlineExceeded after ~300ms", err, d)
	}
	// A caller's deadline longer than CallTimeout is the one that counts.
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = ra.SearchRoster(ctx, roomadapter.RosterQuery{Query: "block"})
	if d := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || d < 1200*time.Millisecond {
		t.Fatalf("caller deadline: %v after %s, want DeadlineExceeded after the caller's 1.2s, not CallTimeout's 300ms", err, d)
	}
	st, _ := h.StatusOf("rooms")
	if st.Restarts != 0 || st.State != host.StateRunning {
		t.Fatalf("a slow call must not restart the plugin: %+v", st)
	}
}

func TestProtocolAndAPIVersions(t *testing.T) {
	bin, sum := plugintest.Build(t, "./plugins/host/testdata/testplugin")
	cfg := host.Config{Name: "rooms", Kind: "roomadapter", Path: bin, SHA256: sum}

	t.Run("older protocol is refused", func(t *testing.T) {
		t.Setenv("TESTPLUGIN_PROTOCOL", "0")
		h := newHost(t, newLogs(), cfg)
		err := h.Start(context.Background())
		if !errors.Is(err, plugins.ErrIncompatible) || !strings.Contains(err.Error(), "speaks a plugin protocol this gateway does not") ||
			!strings.Contains(err.Error(), "Plugin version: 0") {
			t.Fatalf("Start err = %v", err)
		}
		if st, _ := h.StatusOf("rooms"); st.State != host.StateFailed {
			t.Fatalf("status = %+v", st)
		}
	})
	t.Run("served by the version both know", func(t *testing.T) {
		t.Setenv("TESTPLUGIN_API_VERSIONS", "1,2,3")
		h := newHost(t, newLogs(), cfg)
		if err := h.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st, _ := h.StatusOf("rooms"); st.State != host.StateRunning || st.APIVersion != 2 {
			t.Fatalf("status = %+v, want running at API 2", st)
		}
	})
	t.Run("no common API version is refused", func(t *testing.T) {
		t.Setenv("TESTPLUGIN_API_VERSIONS", "7,8")
		h := newHost(t, newLogs(), cfg)
		err := h.Start(context.Background())
		if !errors.Is(err, plugins.ErrIncompatible) || !strings.Contains(err.Error(), "speaks API versions [7 8], this gateway speaks [1 2]") {
			t.Fatalf("Start err = %v", err)
		}
	})
}

func TestCheck(t *testing.T) {
	bin, sum := plugintest.Build(t, "./cmd/gateway-plugin-file-groups")
	rep, err := host.Check(context.Background(), bin, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SHA256 != sum || rep.Info.Kind != groupsource.Kind || rep.Info.Name != "file-groups" || rep.APIVersion != 1 ||
		!strings.Contains(string(rep.Info.ConfigSchema), `"required": ["path"]`) {
		t.Fatalf("report = %+v", rep)
	}
	rep, err = host.Check(context.Background(), bin, []byte(`{"path": "/nonexistent.json"}`), nil, 0)
	if err != nil || len(rep.ConfigProblems) != 1 || rep.ConfigProblems[0].Field != "path" {
		t.Fatalf("config problems = %+v, %v", rep, err)
	}
	_, err = host.Check(context.Background(), "/bin/true", nil, nil, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "handshake failed") {
		t.Fatalf("check of a non-plugin: %v", err)
	}
}
