package bulk_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/store"
)

// A closed event without additional users takes from a file only the
// members of its granted groups: every other row is refused on its line,
// saying why. With additional users on, the same file adds everyone.
func TestImportIntoClosedEvent(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d, event.RegistrationInviteOnly)
			ctx := context.Background()
			off := false
			ev, err := e.events.UpdateEvent(ctx, e.caller, e.ev.ID, event.EventPatch{Closed: ptrTo(true), AdditionalUsers: &off})
			if err != nil {
				t.Fatal(err)
			}
			e.ev = ev
			if _, err := group.Apply(ctx, e.db, ev.AccountID, "campus", []group.SourceGroup{{ExternalID: "s", Name: "Staff"}}, func(emit func(group.SourceMember) error) error {
				for _, m := range []string{"ann@uni.edu", "cy@uni.edu"} {
					if err := emit(group.SourceMember{GroupExternalID: "s", Email: m}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			gs, _ := group.List(ctx, e.db.R, ev.AccountID)
			if _, err := e.events.Grant(ctx, e.caller, ev.ID, gs[0].ID); err != nil {
				t.Fatal(err)
			}
			file := "Email,First Name,Last Name\r\n" +
				"ann@uni.edu,Ann,A\r\n" +
				"eve@else.org,Eve,E\r\n" +
				"CY@uni.edu,Cy,C\r\n" +
				"zed@else.org,Zed,Z\r\n"
			_, j := e.importFile(t, file, false)
			if string(j.Counts) != `{"added":2,"updated":0,"unchanged":0,"refused":2}` {
				t.Fatalf("counts %s", j.Counts)
			}
			var probs []bulk.StoredProblem
			e.db.R.Where("job_id = ?", j.ID).Order("line").Find(&probs)
			if len(probs) != 2 || probs[0].Line != 3 || probs[1].Line != 5 || probs[0].Email != "eve@else.org" ||
				!strings.Contains(probs[0].Message, "additional users are turned off") {
				t.Fatalf("problems %+v", probs)
			}
			var report bytes.Buffer
			if err := e.bulk.WriteErrorReport(ctx, e.caller, j.ID, &report); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(report.String(), "zed@else.org") || strings.Contains(report.String(), "ann@uni.edu") {
				t.Fatalf("error report:\n%s", report.String())
			}
			page, _ := e.events.ListFor(ctx, e.caller, ev.ID, event.Query{})
			if page.Total != 2 {
				t.Fatalf("%d attendees, want the 2 members", page.Total)
			}

			on := true
			if e.ev, err = e.events.UpdateEvent(ctx, e.caller, ev.ID, event.EventPatch{AdditionalUsers: &on}); err != nil {
				t.Fatal(err)
			}
			_, j = e.importFile(t, file, false)
			if string(j.Counts) != `{"added":2,"updated":0,"unchanged":2,"refused":0}` {
				t.Fatalf("with additional users on: counts %s", j.Counts)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
