package mail_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

// maildir makes an empty Maildir.
func maildir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// deliverDSN writes the testdata report as the MTA would (tmp/, then a
// rename into new/), about the message with messageID.
func deliverDSN(t testing.TB, dir, testdata, name, messageID string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", testdata))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(b), "<ORIGINAL-MESSAGE-ID>", messageID)
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(body, "\n", "\r\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestBouncesMarkMessagesFailed(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		dir := maildir(t)
		hard := queueTo(t, db, "nobody@example.org", "ref-hard")
		soft := queueTo(t, db, "busy@example.org", "ref-soft")
		for _, m := range []*mail.Message{hard, soft} {
			markSent(t, db, m, time.Now().UTC().Add(-time.Hour))
		}
		var heard []string
		b, err := mail.NewBounces(db, mail.BounceConfig{Maildir: dir,
			OnFailed: func(tx *store.Tx, m *mail.Message) error { heard = append(heard, m.ID+":"+m.FailKind); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		deliverDSN(t, dir, "postfix-bounce-5.1.1.eml", "1764756902.V801I1.mx", hard.MessageID)
		deliverDSN(t, dir, "postfix-delayed-4.4.1.eml", "1764771609.V801I2.mx", soft.MessageID)
		deliverDSN(t, dir, "postfix-bounce-5.1.1.eml", "1764756999.V801I3.mx", "<01a2f000-0000-7000-8000-000000000000@gw.test>")
		if err := os.WriteFile(filepath.Join(dir, "new", "1764757000.V801I4.mx"), []byte("Subject: out of office\r\n\r\nback monday\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}

		res, err := b.ReadOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != 2 || res.Processed != 2 || res.Left != 2 {
			t.Fatalf("reading: %+v, want 2 failed, 2 processed, 2 left", res)
		}
		if d := lastOf(t, db, "ref-hard"); d.State != mail.StateFailed || d.FailKind != mail.Hard || !strings.Contains(d.Error, "5.1.1") || !strings.Contains(d.Error, "User unknown") {
			t.Fatalf("hard bounce: %+v", d)
		}
		if d := lastOf(t, db, "ref-soft"); d.State != mail.StateFailed || d.FailKind != mail.Soft || !strings.Contains(d.Error, "4.4.1") {
			t.Fatalf("delayed report: %+v", d)
		}
		if !exists(filepath.Join(dir, "cur", "1764756902.V801I1.mx:2,S")) || exists(filepath.Join(dir, "new", "1764756902.V801I1.mx")) {
			t.Fatal("the processed report was not moved to cur/ with the Seen flag")
		}
		for _, left := range []string{"1764756999.V801I3.mx", "1764757000.V801I4.mx"} {
			if !exists(filepath.Join(dir, "new", left)) {
				t.Fatalf("%s (matching nothing) was not left in new/", left)
			}
		}
		if len(heard) != 2 {
			t.Fatalf("the failure hook heard %v, want the two bounced messages", heard)
		}

		// The server gives up on the delayed message: soft turns hard.
		deliverDSN(t, dir, "postfix-bounce-5.1.1.eml", "1764800000.V801I5.mx", soft.MessageID)
		if res, err = b.ReadOnce(context.Background()); err != nil || res.Failed != 1 || res.Left != 2 {
			t.Fatalf("second reading: %+v, %v", res, err)
		}
		if d := lastOf(t, db, "ref-soft"); d.FailKind != mail.Hard {
			t.Fatalf("after the final bounce, kind %s, want hard", d.FailKind)
		}
		// Reading again changes nothing.
		if res, err = b.ReadOnce(context.Background()); err != nil || res.Failed != 0 || res.Processed != 0 || res.Left != 2 {
			t.Fatalf("third reading: %+v, %v", res, err)
		}
	})
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct{ file, action, status, kind string }{
		{"postfix-bounce-5.1.1.eml", "failed", "5.1.1", mail.Hard},
		{"postfix-delayed-4.4.1.eml", "delayed", "4.4.1", mail.Soft},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d, err := mail.ParseDSN(f)
			if err != nil {
				t.Fatal(err)
			}
			if d.MessageID != "<ORIGINAL-MESSAGE-ID>" || len(d.Recipients) != 1 || d.Recipients[0].Action != tc.action || d.Recipients[0].Status != tc.status {
				t.Fatalf("parsed %+v", d)
			}
			if fl, ok := d.Failure(); !ok || fl.Kind != tc.kind {
				t.Fatalf("failure %+v %v, want kind %s", fl, ok, tc.kind)
			}
		})
	}
}
