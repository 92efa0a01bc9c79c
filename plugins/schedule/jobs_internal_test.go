package schedule

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/host"
	"github.com/invitegate/gateway/plugins/roomadapter"
)

// declared is a Plugins that declares plugins and hands out one client for
// all of them, without processes.
type declared struct {
	cfgs   []host.Config
	client plugins.Plugin
}

func (d declared) Configs() []host.Config                { return d.cfgs }
func (d declared) StatusOf(string) (host.Status, bool)   { return host.Status{}, false }
func (d declared) Client(string) (plugins.Plugin, error) { return d.client, nil }

// The scheduler runs exactly the jobs the table of kinds gives: every job
// named there has a runner, every runner is some kind's job, and a plugin
// gets a job, and the run record's name for it, from its kind's entry.
func TestJobsAreTheTables(t *testing.T) {
	table := host.Kinds()
	known := runners()
	jobs := map[string]bool{}
	var cfgs []host.Config
	for _, k := range table {
		c := host.Config{Name: string(k.Kind), Kind: string(k.Kind)}
		if k.Job != "" {
			jobs[k.Job] = true
			c.Schedule = "@hourly"
			if _, ok := known[k.Job]; !ok {
				t.Errorf("%s run the job %q, which has no runner", k.Plural, k.Job)
			}
		}
		cfgs = append(cfgs, c)
	}
	for name := range known {
		if !jobs[name] {
			t.Errorf("runner %q is no kind's job", name)
		}
	}
	s, err := New(Options{DB: &store.DB{}, Host: declared{cfgs: cfgs}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, k := range table {
		j, ok := s.jobs[string(k.Kind)]
		if ok != (k.Job != "") || ok && j.name != k.Job {
			t.Errorf("%s: scheduled job %+v, want %q", k.Kind, j, k.Job)
		}
		if o := Declared(cfgs[i], now); o.Job != k.Job || (k.Job != "") != !o.NextRun.IsZero() {
			t.Errorf("%s: overview %+v, want job %q", k.Kind, o, k.Job)
		}
	}
	if _, err := s.RunNow(context.Background(), string(roomadapter.Kind)); !errors.Is(err, host.ErrUnknownPlugin) ||
		!strings.Contains(err.Error(), "has no scheduled job") {
		t.Fatalf("RunNow of a room adapter = %v", err)
	}
}

// A declaration of a kind the table lacks stops the scheduler with the
// reason; a client of another kind cannot run a job.
func TestSchedulerRefusesWhatTheTableLacks(t *testing.T) {
	_, err := New(Options{DB: &store.DB{}, Host: declared{cfgs: []host.Config{{Name: "p", Kind: "printer", Schedule: "@hourly"}}}})
	if !errors.Is(err, host.ErrUnknownKind) || !strings.Contains(err.Error(), `plugin "p": unknown plugin kind "printer"`) {
		t.Fatalf("New = %v", err)
	}
	run := runners()[host.JobGroupSync]
	_, err = run(nil, context.Background(), host.Config{Name: "campus", Kind: "groupsource"}, &roomadapter.Mock{}, &scheduled.Run{})
	if err == nil || !strings.Contains(err.Error(), "its client is not a groupsource.GroupSource") {
		t.Fatalf("group sync with a room adapter's client = %v", err)
	}
}
