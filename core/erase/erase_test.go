package erase_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/erase"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
	"github.com/invitegate/gateway/core/user"
)

const victim = "grace.hopper@navy.test"

// world is two accounts where Grace is known: shared in both (an attendee
// and an invitee in the first, a console member in the second), and Alan,
// who must be left untouched.
type world struct {
	acc1, acc2   *account.Bootstrap
	grace1       *user.User
	grace2       *user.User
	alan         *user.User
	ev           *event.Event
	res          *resource.Resource
	graceSession string
	sessions     *session.Service
}

func build(t *testing.T, db *store.DB, shared bool) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{}
	var err error
	if w.acc1, err = account.EnsureFirst(ctx, db, "First org", "admin1@org.test"); err != nil {
		t.Fatal(err)
	}
	acc2, err := account.Create(ctx, db, "Second org")
	if err != nil {
		t.Fatal(err)
	}
	w.acc2 = &account.Bootstrap{Account: acc2}
	admin := audit.Actor{Kind: audit.ActorUser, ID: w.acc1.Admin.ID}
	ss, err := session.New(ctx, db, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := &event.Service{DB: db, Sessions: ss}
	c := event.Caller{AccountID: w.acc1.Account.ID, Actor: admin}
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	w.ev, err = evs.CreateEvent(ctx, c, event.EventInput{Name: "Compilers summit", Slug: "compilers", StartsAt: start, EndsAt: start.Add(2 * time.Hour), TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{victim, "alan@bletchley.test"} {
		img, err := evs.SaveImage(ctx, c, pngBytes(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = evs.Invite(ctx, c, w.ev.ID, event.InviteInput{Email: email, Profile: event.Profile{
			FirstName: "Grace", LastName: "Hopper", Speaker: true, Title: "Rear admiral", Bio: "Wrote the first compiler.", ImageRef: img.Ref}})
		if err != nil {
			t.Fatal(err)
		}
	}
	w.grace1, _ = user.ByEmail(ctx, db, w.acc1.Account.ID, victim)
	w.alan, _ = user.ByEmail(ctx, db, w.acc1.Account.ID, "alan@bletchley.test")
	att, _ := event.List(ctx, db, w.ev.ID, event.Query{Search: "grace.hopper"})
	grace := att.Rows[0].ID
	link, err := evs.GenerateLoginLink(ctx, c, w.ev.ID, grace)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evs.SignInWithLink(ctx, link.URL[strings.LastIndex(link.URL, "/")+1:]); err != nil {
		t.Fatal(err)
	}
	if _, err := evs.RecordVisit(ctx, w.ev.ID, grace); err != nil {
		t.Fatal(err)
	}
	if _, err := evs.AcceptChatTerms(ctx, w.ev.ID, grace); err != nil {
		t.Fatal(err)
	}
	if _, err := evs.PostChat(ctx, w.ev, grace, "Write to me at "+victim); err != nil {
		t.Fatal(err)
	}

	on := true
	w.res, err = resource.Create(ctx, db, w.acc1.Account.ID, admin, resource.Input{Type: "room", Title: "Office hours", ChatCollab: &on})
	if err != nil {
		t.Fatal(err)
	}
	invs := &invite.Service{DB: db}
	ic := invite.Caller{AccountID: w.acc1.Account.ID, Actor: admin, Admin: true}
	for _, email := range []string{victim, "alan@bletchley.test"} {
		if _, err := invs.Create(ctx, ic, w.res.ID, invite.NewInput{Email: email, FirstName: "Grace", LastName: "Hopper", Role: "speaker"}); err != nil {
			t.Fatal(err)
		}
	}
	err = db.Tx(ctx, func(tx *store.Tx) error {
		for _, to := range []string{victim, "alan@bletchley.test"} {
			if _, err := mail.Enqueue(tx, "org.test", mail.NewMessage{AccountID: w.acc1.Account.ID, ToEmail: to, ToName: "Grace Hopper", Rendered: mail.Rendered{Subject: "Welcome Grace Hopper", HTML: "<p>Hello " + to + "</p>", Text: "Hello " + to}}, time.Now()); err != nil {
				return err
			}
		}
		j := &job.Job{AccountID: w.acc1.Account.ID, Kind: "bulk_invite", Status: job.Done}
		if err := job.New(tx, j, time.Now()); err != nil {
			return err
		}
		for _, p := range []bulk.StoredProblem{
			{JobID: j.ID, Line: 2, Column: "Speaker", Email: victim, Message: `"Maybe" is not Yes or No`, Phase: "check"},
			{JobID: j.ID, Line: 3, Column: "Email", Message: `email "` + victim + `x": the domain looks like a typo`, Phase: "check"},
			{JobID: j.ID, Line: 4, Column: "Speaker", Email: "alan@bletchley.test", Message: `"Perhaps" is not Yes or No`, Phase: "check"},
		} {
			if err := tx.Create(&p).Error; err != nil {
				return err
			}
		}
		return audit.Record(tx, w.acc1.Account.ID, admin, "mail.test_sent", "mail_message", "x", map[string]any{"to": victim})
	})
	if err != nil {
		t.Fatal(err)
	}

	w.grace2, err = user.AddConsoleUser(ctx, db, acc2.ID, audit.System, user.NewConsoleUser{Email: victim, FirstName: "Grace", LastName: "Hopper", Role: user.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.W.Create(&user.User{ID: "0190aaaa-0000-7000-8000-000000000001", AccountID: acc2.ID, Email: "admin2@org.test", ConsoleRole: user.RoleAdmin}).Error; err != nil {
		t.Fatal(err)
	}
	tok, err := ss.IssueLoginLink(ctx, acc2.ID, w.grace2.ID, audit.System)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ss.SignIn(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	w.graceSession, w.sessions = o.Token, ss
	if err := db.W.Model(&user.User{}).Where("email = ?", victim).Update("shared", shared).Error; err != nil {
		t.Fatal(err)
	}
	return w
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// occurrences lists every table row, in any column, that still holds s.
func occurrences(t *testing.T, db *store.DB, s string) []string {
	t.Helper()
	var out []string
	for _, m := range schema.Models() {
		stmt := &gorm.Statement{DB: db.R}
		if err := stmt.Parse(m); err != nil {
			t.Fatal(err)
		}
		var rows []map[string]any
		if err := db.R.Table(stmt.Schema.Table).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for col, v := range r {
				if strings.Contains(strings.ToLower(fmt.Sprint(v)), s) {
					out = append(out, stmt.Schema.Table+"."+col)
				}
			}
		}
	}
	return out
}

func TestEraseSharedUser(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := build(t, db, true)
		admin := audit.Actor{Kind: audit.ActorUser, ID: w.acc1.Admin.ID}

		before := occurrences(t, db, victim)
		imp, err := erase.Preview(ctx, db, w.acc1.Account.ID, w.grace1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again := occurrences(t, db, victim); len(again) != len(before) {
			t.Fatalf("preview changed data: %v then %v", before, again)
		}
		if !imp.Shared || len(imp.Accounts) != 2 {
			t.Fatalf("impact = %+v, want a shared user in 2 accounts", imp)
		}
		first, second := imp.Accounts[0], imp.Accounts[1]
		if first.AccountName != "First org" || len(first.Events) != 1 || first.Events[0].Name != "Compilers summit" ||
			first.Invitations != 1 || first.Resources != 0 || first.Messages != 1 {
			t.Errorf("first account impact = %+v", first)
		}
		if second.AccountName != "Second org" || second.ConsoleRole != user.RoleMember || len(second.Events) != 0 {
			t.Errorf("second account impact = %+v", second)
		}

		for _, m := range []any{&event.Visit{}, &event.Link{}, &session.Session{}, &event.Login{}, &event.ChatMessage{}} {
			var n int64
			db.R.Model(m).Count(&n)
			if n == 0 {
				t.Fatalf("the fixture made no %T", m)
			}
		}
		if _, err := erase.Erase(ctx, db, w.acc1.Account.ID, w.grace1.ID, admin); err != nil {
			t.Fatal(err)
		}
		if left := occurrences(t, db, victim); len(left) > 0 {
			t.Fatalf("the erased address is still in %v", left)
		}
		if left := occurrences(t, db, "wrote the first compiler"); len(left) != 1 {
			t.Fatalf("Alan's bio should be the only one left, found %v", left)
		}
		if _, err := user.Get(ctx, db, w.acc1.Account.ID, w.alan.ID); err != nil {
			t.Errorf("Alan was erased too: %v", err)
		}
		page, _ := event.List(ctx, db, w.ev.ID, event.Query{})
		if page.Total != 1 || string(page.Rows[0].Email) != "alan@bletchley.test" {
			t.Errorf("attendees left = %+v", page)
		}
		for _, m := range []any{&event.Visit{}, &event.Link{}, &session.Session{}, &event.Login{}, &event.ChatMessage{}} {
			var n int64
			db.R.Model(m).Count(&n)
			if n != 0 {
				t.Errorf("%d rows of %T left", n, m)
			}
		}
		var problems []bulk.StoredProblem
		db.R.Find(&problems)
		if len(problems) != 1 || problems[0].Email != "alan@bletchley.test" {
			t.Errorf("bulk problems left: %+v, want Alan's only", problems)
		}
		var images int64
		db.R.Model(&event.Image{}).Count(&images)
		if images != 1 {
			t.Errorf("%d images left, want Alan's only", images)
		}
		if _, _, err := w.sessions.Authenticate(ctx, session.ScopeConsole, "", w.graceSession); err == nil {
			t.Error("the erased person's console session still signs in")
		}
		for _, acc := range []string{w.acc1.Account.ID, w.acc2.Account.ID} {
			var e audit.Entry
			if err := db.R.Where("account_id = ? AND action = ?", acc, "user.erased").Take(&e).Error; err != nil {
				t.Fatalf("no erasure audit entry in %s: %v", acc, err)
			}
			if strings.Contains(e.Detail, "grace") || strings.Contains(e.Detail, "Grace") {
				t.Errorf("audit entry keeps personal data: %s", e.Detail)
			}
		}
	})
}

func TestEraseRefusals(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := build(t, db, false)
		acc := w.acc1.Account.ID
		admin := audit.Actor{Kind: audit.ActorUser, ID: w.acc1.Admin.ID}

		// A non-shared user is erased from its own account only.
		imp, err := erase.Preview(ctx, db, acc, w.grace1.ID)
		if err != nil || len(imp.Accounts) != 1 {
			t.Fatalf("preview = %+v, %v; want one account", imp, err)
		}
		if _, err := erase.Erase(ctx, db, acc, w.grace1.ID, admin); err != nil {
			t.Fatal(err)
		}
		if _, err := user.Get(ctx, db, w.acc2.Account.ID, w.grace2.ID); err != nil {
			t.Errorf("the other account's unshared Grace was erased: %v", err)
		}

		if _, err := erase.Erase(ctx, db, acc, w.acc1.Admin.ID, admin); !errors.Is(err, erase.ErrSelf) {
			t.Errorf("erasing yourself: %v, want ErrSelf", err)
		}
		if _, err := erase.Erase(ctx, db, acc, w.acc1.Admin.ID, audit.System); !errors.Is(err, erase.ErrLastAdmin) {
			t.Errorf("erasing the only admin: %v, want ErrLastAdmin", err)
		}
		if _, err := erase.Preview(ctx, db, w.acc2.Account.ID, w.alan.ID); !errors.Is(err, problem.ErrNotFound) {
			t.Errorf("another account's user: %v, want not found", err)
		}
	})
}
