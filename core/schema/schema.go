// Package schema lists every table the gateway migrates, so migration,
// tests and the gateway agree on one schema.
package schema

import (
	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/group"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/mail"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/scheduled"
	"github.com/invitegate/gateway/core/session"
	"github.com/invitegate/gateway/core/table"
	"github.com/invitegate/gateway/core/user"
)

// Models returns every table in dependency order.
func Models() []any {
	m := account.Models()
	m = append(m, &user.User{}, &audit.Entry{})
	m = append(m, resource.Models()...)
	m = append(m, invite.Models()...)
	m = append(m, session.Models()...)
	m = append(m, jointoken.Models()...)
	m = append(m, mail.Models()...)
	m = append(m, event.Models()...)
	m = append(append(m, job.Models()...), bulk.Models()...)
	m = append(m, group.Models()...)
	return append(m, table.Models(scheduled.Tables())...)
}
