package access

import (
	"context"

	"github.com/invitegate/gateway/core/resource"
)

// Member is a console user or an API key acting on one resource, with the
// facts about them that the rule needs: the caller reads the collaborator
// role (resource.CollaboratorRole), since it often shows it too.
type Member struct {
	AccountID string
	// Admin is an account admin or an API key.
	Admin bool
	// Collaborator is the member's collaborator role on the resource, or "".
	Collaborator string
}

// OnResource answers whether m may do what it wants with res in the console
// or the API: nil, or the refusal to show. moduleOff is the account's
// invitation module switched off; only inviting asks about it.
func OnResource(ctx context.Context, m Member, res *resource.Resource, wants Intent, moduleOff bool) error {
	d, _ := Decide(ctx, Subject{AccountID: m.AccountID, Admin: m.Admin, Collaborator: m.Collaborator, Wants: wants},
		Target{Kind: Resource, AccountID: res.AccountID, Deleted: res.DeletedAt != nil, ModuleOff: moduleOff, ChatOff: res.ChatOff(), MediaPageOff: res.NoMediaPage()})
	if !d.Allowed {
		return d.Reason
	}
	return nil
}
