// Package schema lists every table the gateway migrates (core's, and the
// SSO connections and logins in flight of package sso), so migration,
// tests, the gateway and erasing a person agree on one schema. Each table
// comes from the package that owns it (its Tables), declared with how a
// person's data is erased from it or why it holds none (core/table).
package schema

import (
	"context"
	"errors"
	"fmt"

	"github.com/invitegate/gateway/core/access"
	"github.com/invitegate/gateway/core/limit"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/provision"
	"github.com/invitegate/gateway/core/resend"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
	"github.com/invitegate/gateway/lti"
	"github.com/invitegate/gateway/sso"
)

// Tables returns every table, each after the tables its rows are found
// through (an attendee after the user and the event it names, the
// attendee's visits and speaker image after the attendee), so migration
// creates parents first and erasure, walking the list from its end,
// erases every row while the rows that lead to it are still there.
func Tables() []table.Table {
	var ts []table.Table
	for _, owned := range [][]table.Table{
		account.Tables(), user.Tables(), audit.Tables(),
		resource.Tables(), access.Tables(), invite.Tables(), session.Tables(),
		jointoken.Tables(), mail.Tables(), event.Tables(),
		job.Tables(), bulk.Tables(), resend.Tables(), group.Tables(), provision.Tables(), scheduled.Tables(), limit.Tables(),
		lti.Tables(), webhook.Tables(),
		sso.Tables(),
	} {
		ts = append(ts, owned...)
	}
	return ts
}

// Models are the tables' models, what store.DB.Migrate takes.
func Models() []any { return table.Models(Tables()) }

// Check compares db, migrated with Models, with the list: it reports every
// table in db that no package declares (a table nobody erases a person
// from), every declared table db lacks, and every declaration that is not
// exactly one of an eraser and a reason the table holds no personal data.
func Check(ctx context.Context, db *store.DB) error {
	ts := Tables()
	errs := []error{table.Check(ts)}
	names, err := table.Names(ts)
	if err != nil {
		return err
	}
	declared := map[string]bool{}
	for _, n := range names {
		declared[n] = true
	}
	found, err := db.Tables(ctx)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, n := range found {
		exists[n] = true
		if !declared[n] {
			errs = append(errs, fmt.Errorf("table %s exists but no package declares it (with its eraser, or why it holds no personal data)", n))
		}
	}
	for _, n := range names {
		if !exists[n] {
			errs = append(errs, fmt.Errorf("table %s is declared but the migration did not make it", n))
		}
	}
	return errors.Join(errs...)
}
