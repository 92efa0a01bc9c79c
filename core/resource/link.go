package resource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Linker is who links a platform's resource, as the API (or an LTI
// launch) authenticated them.
type Linker struct {
	AccountID string
	Actor     audit.Actor
	// Admin is an account admin or an API key: they may link any of the
	// platform's resources, with a role on it or not.
	Admin bool
	// UserID, Email and Name are the console user linking (empty for an API
	// key): the adapter is told who launches, and they become a
	// collaborator with the role it gives them.
	UserID, Email, Name string
}

// Linked is a platform's resource as the gateway holds it after a link.
type Linked struct {
	Resource *Resource
	// Created is true when this link made the resource.
	Created bool
	// Role is the linker's collaborator role on it now, "" for none.
	Role string
}

// Link brings a platform's resource into the gateway: the adapter says
// which resource the launch is about and what the launcher may do there,
// Upsert makes the resource exactly once, and the launcher becomes a
// collaborator with the role the platform gives them (replacing the one
// they had: the platform is the truth about who teaches a course). A
// member the platform gives no role may not link. The API's link and LTI
// launches both come here.
//
// The adapter is asked before the transaction: it is a call to another
// process, and a SQLite write transaction holds the one writer.
func Link(ctx context.Context, db *store.DB, p Platform, who Linker, adapter string, l Launch) (*Linked, error) {
	if err := checkLaunch(adapter, &l); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, NoAdapter(adapter, nil)
	}
	if l.UserSubject == "" && l.UserEmail == "" {
		l.UserSubject, l.UserEmail, l.UserName = who.UserID, who.Email, who.Name
	}
	res, err := p.Resolve(ctx, adapter, l)
	if err != nil {
		return nil, err
	}
	if res.ExternalID == "" {
		return nil, PlatformDown(adapter, errors.New("the adapter resolved the launch to a resource without an id"))
	}
	role := res.CollaboratorRole
	if !ValidCollaboratorRole(role) {
		role = ""
	}
	if !who.Admin && (who.UserID == "" || role == "") {
		return nil, ErrNoPlatformRole
	}
	res.Fields.By = who.Actor
	out, err := link(ctx, db, who, adapter, res, role)
	if store.IsUniqueViolation(err) {
		// The same person linked the same resource at the same time, and
		// the other link made them its collaborator first: this one now
		// finds them so.
		out, err = link(ctx, db, who, adapter, res, role)
	}
	return out, err
}

// link writes what Link decided, in one transaction.
func link(ctx context.Context, db *store.DB, who Linker, adapter string, res Resolution, role string) (*Linked, error) {
	out := &Linked{}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		r, created, err := Upsert(tx, who.AccountID, adapter, res.ExternalID, res.Fields)
		if err != nil {
			return err
		}
		out.Resource, out.Created = r, created
		if who.UserID == "" {
			return nil
		}
		if out.Role, err = CollaboratorRole(ctx, tx, r.ID, who.UserID); err != nil || role == "" || role == out.Role {
			return err
		}
		out.Role = role
		return setCollaborator(tx, who.AccountID, r.ID, who.UserID, role, who.Actor)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkLaunch refuses a launch that names nothing, or names it with more
// than an external id holds. Fields are named as the API's link takes
// them.
func checkLaunch(adapter string, l *Launch) error {
	var fs problem.Fields
	switch {
	case adapter == "":
		fs.Add("adapter", "adapter is required: the name of the room adapter plugin, as the gateway's config declares it")
	case len(adapter) > MaxAdapter:
		fs.Add("adapter", fmt.Sprintf("adapter is longer than %d characters", MaxAdapter))
	}
	ids := []struct {
		field string
		v     *string
	}{{"resource_id", &l.ResourceID}, {"context_id", &l.ContextID}, {"resource_link_id", &l.ResourceLinkID}}
	named := false
	for _, f := range ids {
		*f.v = strings.TrimSpace(*f.v)
		if len(*f.v) > MaxExternalID {
			fs.Add(f.field, fmt.Sprintf("%s is longer than %d characters", f.field, MaxExternalID))
		}
		named = named || *f.v != ""
	}
	if !named {
		fs.Add("resource_id", "name the platform's resource: resource_id, or the LTI context_id or resource_link_id")
	}
	for _, f := range []struct {
		field string
		v     string
	}{{"context_title", l.ContextTitle}, {"resource_link_title", l.ResourceLinkTitle}} {
		if len(f.v) > maxTitle {
			fs.Add(f.field, fmt.Sprintf("%s is longer than %d characters", f.field, maxTitle))
		}
	}
	return fs.Err()
}
