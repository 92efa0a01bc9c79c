package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/templateprovider/remote"
)

func configure(t *testing.T, p *remote.Provider, cfg map[string]any) error {
	t.Helper()
	b, _ := json.Marshal(cfg)
	return p.Configure(context.Background(), 1, b)
}

func TestListTemplates(t *testing.T) {
	var hits, notModified atomic.Int32
	body := `{"templates":[{"name":"invitation","locale":"en","subject":" Hi {{.Invitee.Name}} ","html":"<p>{{.Link}}</p>"},
	  {"name":"invitation","locale":"fr","subject":"Salut","text":"{{.Link}}","version":"fr-3"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	ctx := context.Background()
	p := remote.New()
	if err := configure(t, p, map[string]any{"url": srv.URL, "headers": map[string]string{"Authorization": "Bearer t0ken"}}); err != nil {
		t.Fatal(err)
	}
	ts, err := p.ListTemplates(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("ListTemplates = %+v, %v", ts, err)
	}
	if ts[0].Subject != "Hi {{.Invitee.Name}}" || len(ts[0].Version) != 16 || ts[1].Version != "fr-3" {
		t.Fatalf("templates: %+v", ts)
	}
	again, err := p.ListTemplates(ctx)
	if err != nil || notModified.Load() != 1 || len(again) != 2 || again[0].Version != ts[0].Version {
		t.Fatalf("304 not reused: %+v, %v (304s: %d)", again, err, notModified.Load())
	}

	// Wrong credentials: refused, not "unavailable".
	configure(t, p, map[string]any{"url": srv.URL + "/other"})
	if _, err := p.ListTemplates(ctx); !errors.Is(err, plugins.ErrInvalid) {
		t.Fatalf("401: %v", err)
	}
}

func TestListTemplatesFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"server error", http.StatusBadGateway, "", plugins.ErrUnavailable},
		{"not json", http.StatusOK, "<html>", plugins.ErrInvalid},
		{"no name", http.StatusOK, `{"templates":[{"locale":"en","subject":"x","text":"x"}]}`, plugins.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			p := remote.New()
			configure(t, p, map[string]any{"url": srv.URL})
			if _, err := p.ListTemplates(ctx); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	p := remote.New()
	configure(t, p, map[string]any{"url": "http://127.0.0.1:1/t.json"})
	if _, err := p.ListTemplates(ctx); !errors.Is(err, plugins.ErrUnavailable) {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestConfigure(t *testing.T) {
	p := remote.New()
	err := configure(t, p, map[string]any{"url": "ftp://x", "timeout_seconds": 900, "headers": map[string]string{"Bad Header": "x"}})
	var ce plugins.ConfigErrors
	if !errors.As(err, &ce) || len(ce) != 3 {
		t.Fatalf("Configure = %v, want 3 problems", err)
	}
}
