package dir_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/templateprovider/dir"
)

func TestListTemplates(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o644)
	}
	write("invitation/en/subject.txt", "Hello\n")
	write("invitation/en/body.txt", "Hi")
	write("reminder/de/subject.txt", "Erinnerung")
	write("reminder/de/body.html", "<p>Bald</p>")
	write(".git/config", "ignored")
	p := dir.New()
	ctx := context.Background()
	if err := p.Configure(ctx, 1, []byte(`{"dir": "`+root+`"}`)); err != nil {
		t.Fatal(err)
	}
	ts, err := p.ListTemplates(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "invitation" || ts[0].Subject != "Hello" || ts[1].HTML != "<p>Bald</p>" {
		t.Fatalf("templates = %+v, %v", ts, err)
	}
	v := ts[0].Version
	write("invitation/en/body.txt", "Hi again")
	ts, _ = p.ListTemplates(ctx)
	if ts[0].Version == v {
		t.Fatal("version did not change with the content")
	}
	write("broken/en/body.txt", "no subject")
	if _, err := p.ListTemplates(ctx); !errors.Is(err, plugins.ErrInvalid) {
		t.Fatalf("template without subject: %v", err)
	}
	var ce plugins.ConfigErrors
	if err := dir.New().Configure(ctx, 1, []byte(`{"dir": "/nonexistent"}`)); !errors.As(err, &ce) {
		t.Fatalf("missing dir: %v", err)
	}
}
