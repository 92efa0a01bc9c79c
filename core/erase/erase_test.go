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

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/erase"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
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

// world is two accounts where Grace is known: shared in both (an attendee,
// an invitee, a member of two directory groups and a row of a bulk invite
// file waiting for confirmation in the first; a console member and a
// member of one group in the second), and Alan, who must be left untouched.
type world struct {
	acc1, acc2   *account.Bootstrap
	grace1       *user.User
	grace2       *user.User
	alan         *user.User
	ev           *event.Event
	res          *resource.Resource
	graceSession string
	sessions     *session.Service
	// graceFile names Grace (and Ada); othersFile does not.
	graceFile, othersFile string
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

	// The directory lists Grace in two groups of the first account (by
	// her directory id) and one of the second, Alan in one.
	directory := []struct {
		acc     string
		groups  []group.SourceGroup
		members []group.SourceMember
	}{
		{w.acc1.Account.ID, []group.SourceGroup{{ExternalID: "navy", Name: "Navy"}, {ExternalID: "compilers", Name: "Compilers"}}, []group.SourceMember{
			{GroupExternalID: "navy", ExternalID: "ghopper", Email: victim, Name: "Grace Hopper"},
			{GroupExternalID: "compilers", ExternalID: "ghopper", Email: victim, Name: "Grace Hopper"},
			{GroupExternalID: "navy", ExternalID: "aturing", Email: "alan@bletchley.test", Name: "Alan Turing"},
		}},
		{acc2.ID, []group.SourceGroup{{ExternalID: "staff", Name: "Staff"}}, []group.SourceMember{
			{GroupExternalID: "staff", Email: victim, Name: "Grace Hopper"},
		}},
	}
	for _, d := range directory {
		_, err := group.Apply(ctx, db, d.acc, "campus-ldap", d.groups, func(emit func(group.SourceMember) error) error {
			for _, m := range d.members {
				if err := emit(m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two bulk invite files checked and waiting for confirmation; the
	// first has Grace's row, her address in capitals.
	bs := &bulk.Service{DB: db, Events: evs}
	for i, rows := range []string{
		"ada@engine.test,Ada,Lovelace,,,,\nGRACE.Hopper@Navy.TEST,Grace,Hopper,,,Yes,\n",
		"ada@engine.test,Ada,Lovelace,,,,\nkatherine@nasa.test,Katherine,Johnson,,,,\n",
	} {
		up, err := bs.Upload(ctx, c, w.ev.ID, "people.csv", strings.NewReader("Email,First Name,Last Name,Title,Company,Speaker,Moderator\n"+rows))
		if err != nil || up.Job.Status != job.Ready {
			t.Fatalf("upload: %+v, %v", up, err)
		}
		if i == 0 {
			w.graceFile = up.Job.ID
		} else {
			w.othersFile = up.Job.ID
		}
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

// occurrences lists every table row, in any column, that still holds s:
// every table in the database, declared or not.
func occurrences(t *testing.T, db *store.DB, s string) []string {
	t.Helper()
	tables, err := db.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range tables {
		var rows []map[string]any
		if err := db.R.Table(name).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for col, v := range r {
				text := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					text = string(b) // a staged file, an image
				}
				if strings.Contains(strings.ToLower(text), s) {
					out = append(out, name+"."+col)
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
			first.Invitations != 1 || first.Resources != 0 || first.Messages != 1 || first.Groups != 2 {
			t.Errorf("first account impact = %+v", first)
		}
		if second.AccountName != "Second org" || second.ConsoleRole != user.RoleMember || len(second.Events) != 0 || second.Groups != 1 {
			t.Errorf("second account impact = %+v", second)
		}
		if n := count(t, db, &bulk.Chunk{}, "job_id = ?", w.graceFile); n == 0 {
			t.Fatal("the fixture staged no file")
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
		if left := occurrences(t, db, "ghopper"); len(left) > 0 {
			t.Fatalf("Grace's directory id is still in %v", left)
		}
		var members []group.Member
		db.R.Order("email").Find(&members)
		if len(members) != 1 || members[0].Email != "alan@bletchley.test" {
			t.Errorf("group members left: %+v, want Alan's only", members)
		}
		if n := count(t, db, &group.Group{}, "1 = 1"); n != 3 {
			t.Errorf("%d groups left, want the 3 (only memberships go)", n)
		}
		checkStopped(t, db, w)
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
			if acc == w.acc1.Account.ID && !strings.Contains(e.Detail, `"groups":2`) {
				t.Errorf("audit entry does not count the groups: %s", e.Detail)
			}
		}
	})
}

// checkStopped: the bulk invite whose staged file names Grace stopped, its
// file gone and refusing confirmation; the other file waits as it was.
func checkStopped(t *testing.T, db *store.DB, w *world) {
	t.Helper()
	ctx := context.Background()
	stopped, err := job.Get(ctx, db, w.acc1.Account.ID, w.graceFile)
	if err != nil || stopped.Status != job.Failed || stopped.Error != bulk.StoppedByErasure || strings.Contains(strings.ToLower(stopped.Error), "grace") {
		t.Errorf("the file naming Grace: %+v, %v; want it failed with %q", stopped, err, bulk.StoppedByErasure)
	}
	if n := count(t, db, &bulk.Chunk{}, "job_id = ?", w.graceFile); n != 0 {
		t.Errorf("%d chunks of the file naming Grace left", n)
	}
	c := event.Caller{AccountID: w.acc1.Account.ID, Actor: audit.Actor{Kind: audit.ActorUser, ID: w.acc1.Admin.ID}}
	bs := &bulk.Service{DB: db, Events: &event.Service{DB: db}}
	if _, err := bs.Confirm(ctx, c, w.graceFile, false); !errors.Is(err, job.ErrNotConfirmable) {
		t.Errorf("confirming the stopped file: %v, want ErrNotConfirmable", err)
	}
	kept, err := job.Get(ctx, db, w.acc1.Account.ID, w.othersFile)
	if err != nil || kept.Status != job.Ready || count(t, db, &bulk.Chunk{}, "job_id = ?", w.othersFile) == 0 {
		t.Errorf("the file without Grace: %+v, %v; want it waiting, staged", kept, err)
	}
}

func count(t *testing.T, db *store.DB, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.R.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
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
		var kept []group.Member
		db.R.Where("email = ?", victim).Find(&kept)
		if len(kept) != 1 {
			t.Errorf("Grace's memberships left: %+v, want the second account's one", kept)
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
