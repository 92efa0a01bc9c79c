// Package provision owns what an organization's identity provider (Entra
// ID, Okta) pushes to the gateway by SCIM provisioning: the account's
// provisioning tokens, the people it provisioned (their provider-facing
// record: userName, externalId, active) and the members it put in its
// groups. The people themselves are core/user's (found or made by
// user.Resolve with the identity Issuer / the provisioned id), the groups
// and the memberships access reads are core/group's (source
// group.SourcePushed). It knows no HTTP: api/scim speaks the protocol.
package provision

import (
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Issuer is the issuer of the identities provisioning gives people; the
// subject is their provisioned id (User.ID), which the gateway assigns and
// never reuses, where the provider's externalId may be absent (Okta) or
// change.
const Issuer = "scim"

// ActorKind is the audit actor kind of a change a provisioning token made.
const ActorKind = "scim_token"

// Service provisions people and groups; its clock is the database's.
type Service struct {
	DB *store.DB
}

// Caller is a provider authenticated by one of the account's tokens:
// everything it reads or writes is the account's.
type Caller struct {
	AccountID string
	TokenID   string
	// LinkByEmail is the token's: a provisioned person may become the
	// account's existing user with the same email.
	LinkByEmail bool
}

func (c Caller) actor() audit.Actor { return audit.Actor{Kind: ActorKind, ID: c.TokenID} }

// Refusals. Field is the SCIM attribute at fault.
var (
	ErrUserNotFound  = problem.New(problem.NotFound, "scim_user_not_found", "no provisioned user with this id in this account")
	ErrGroupNotFound = problem.New(problem.NotFound, "scim_group_not_found", "no provisioned group with this id in this account")
	ErrUserNameTaken = &problem.Error{Kind: problem.Conflict, Code: "scim_uniqueness", Field: "userName",
		Message: "another provisioned user of this account has this userName"}
	ErrEmailTaken = &problem.Error{Kind: problem.Conflict, Code: "scim_uniqueness", Field: "emails",
		Message: "another provisioned user of this account has this email"}
	ErrNotLinked = &problem.Error{Kind: problem.Conflict, Code: "scim_uniqueness", Field: "emails",
		Message: "this account already has a person with this email, and this provisioning token may not link to people the account already has; an admin can create a token that links by email"}
	ErrGroupExternalIDTaken = &problem.Error{Kind: problem.Conflict, Code: "scim_uniqueness", Field: "externalId",
		Message: "another provisioned group of this account has this externalId"}
	ErrEmailChange = &problem.Error{Kind: problem.Invalid, Code: "scim_mutability", Field: "emails",
		Message: "the gateway knows a person by their email, which provisioning cannot change; deprovision the user and provision them again with the new address"}
)
