package mail_test

import (
	"context"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

func TestCatalogRefresh(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cat, err := mail.NewCatalog(db, []string{"brand", "other"})
		if err != nil {
			t.Fatal(err)
		}
		// The embedded default until a provider supplies one.
		f, _, err := cat.Lookup(ctx, mail.Invitation, "fr-CA")
		if err != nil || f.Source != mail.DefaultSource || f.Locale != "en" {
			t.Fatalf("Lookup before refresh = %+v, %v", f, err)
		}
		good := mail.Template{Name: mail.Invitation, Locale: "fr", Subject: "Invitation : {{.Resource.Title}}", Text: "Bonjour {{.Invitee.FirstName}} {{.Link}}", Version: "v1"}
		if err := cat.Refresh(ctx, "brand", []mail.Template{good}); err != nil {
			t.Fatal(err)
		}
		f, _, err = cat.Lookup(ctx, mail.Invitation, "fr-CA")
		if err != nil || f.Source != "brand" || f.Version != "v1" {
			t.Fatalf("Lookup after refresh = %+v, %v", f, err)
		}
		// English still comes from the defaults.
		if f, _, _ := cat.Lookup(ctx, mail.Invitation, "en"); f.Source != mail.DefaultSource {
			t.Fatalf("en from %s", f.Source)
		}

		// A broken new version is refused with its error; v1 stays.
		broken := good
		broken.Version, broken.Text = "v2", "Bonjour {{.Invitee.Nickname}}"
		newOne := mail.Template{Name: "custom", Locale: "en", Subject: "Custom", HTML: "<p>{{.Link}}</p>"}
		err = cat.Refresh(ctx, "brand", []mail.Template{broken, newOne})
		if err == nil || !strings.Contains(err.Error(), "invitation/fr") || !strings.Contains(err.Error(), "Nickname") {
			t.Fatalf("Refresh with a broken template = %v", err)
		}
		f, _, _ = cat.Lookup(ctx, mail.Invitation, "fr")
		if f.Version != "v1" {
			t.Fatalf("in service after a broken refresh: %+v", f)
		}
		if ok, _ := cat.Has(ctx, "custom"); !ok {
			t.Fatal("the good template of the same refresh was not stored")
		}
		list, err := cat.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var row *mail.Listed
		for i := range list {
			if list[i].Source == "brand" && list[i].Name == mail.Invitation {
				row = &list[i]
			}
		}
		if row == nil || row.Version != "v1" || row.RejectedVersion != "v2" || !strings.Contains(row.Error, "Nickname") || !row.InService {
			t.Fatalf("listing of the refused template: %+v", row)
		}

		// The same survives a new catalog (a restart).
		cat2, _ := mail.NewCatalog(db, []string{"brand"})
		if f, _, _ := cat2.Lookup(ctx, mail.Invitation, "fr"); f.Version != "v1" {
			t.Fatalf("after restart: %+v", f)
		}

		// A template the provider no longer lists is removed.
		if err := cat.Refresh(ctx, "brand", []mail.Template{good}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := cat.Has(ctx, "custom"); ok {
			t.Fatal("a template gone from the provider is still offered")
		}

		// Precedence: the first provider wins.
		other := good
		other.Version, other.Subject = "o1", "Other"
		if err := cat.Refresh(ctx, "other", []mail.Template{other}); err != nil {
			t.Fatal(err)
		}
		if f, _, _ := cat.Lookup(ctx, mail.Invitation, "fr"); f.Source != "brand" {
			t.Fatalf("precedence: %+v", f)
		}

		// A template that never passed is not offered.
		if err := cat.Refresh(ctx, "other", []mail.Template{other, {Name: "bad", Locale: "en", Subject: "{{", Text: "x"}}); err == nil {
			t.Fatal("a broken new template was accepted")
		}
		if ok, _ := cat.Has(ctx, "bad"); ok {
			t.Fatal("a template that never parsed is offered")
		}
	})
}
