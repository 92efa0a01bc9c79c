package scim

import (
	"errors"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/invitegate/gateway/core/provision"
)

// groupHandler serves /Groups.
type groupHandler struct{ handlers }

var _ scim.ResourceHandler = groupHandler{}

func (h groupHandler) groupResource(v *provision.GroupView) scim.Resource {
	attrs := scim.ResourceAttributes{"displayName": v.Name}
	if v.Members != nil {
		ms := make([]interface{}, 0, len(v.Members))
		for _, m := range v.Members {
			ms = append(ms, map[string]interface{}{"value": m.ID, "display": m.UserName, "type": "User",
				"$ref": h.cfg.BaseURL + "/Users/" + m.ID})
		}
		attrs["members"] = ms
	}
	r := scim.Resource{ID: v.ID, Attributes: attrs, Meta: scim.Meta{Created: &v.CreatedAt, LastModified: &v.UpdatedAt}}
	if v.ExternalID != "" && v.ExternalID != v.ID {
		r.ExternalID = optional.NewString(v.ExternalID)
	}
	return r
}

func groupInput(a scim.ResourceAttributes) (provision.GroupInput, error) {
	var in provision.GroupInput
	in.DisplayName, _ = a["displayName"].(string)
	in.ExternalID, _ = a["externalId"].(string)
	in.Members = []string{}
	if ms, ok := a["members"]; ok {
		ids, err := memberIDs(ms)
		if err != nil {
			return in, err
		}
		in.Members = ids
	}
	return in, nil
}

// withMembers tells whether the provider wants the members listed: Entra
// ID asks for groups with excludedAttributes=members while it matches
// them, and a large group's members are many.
func withMembers(r *http.Request) bool {
	q := r.URL.Query()
	for _, ex := range strings.Split(q.Get("excludedAttributes"), ",") {
		if strings.EqualFold(strings.TrimSpace(ex), "members") {
			return false
		}
	}
	if at := q.Get("attributes"); at != "" {
		for _, a := range strings.Split(at, ",") {
			if strings.EqualFold(strings.TrimSpace(a), "members") {
				return true
			}
		}
		return false
	}
	return true
}

func (h groupHandler) Create(r *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	in, err := groupInput(a)
	if err != nil {
		return scim.Resource{}, err
	}
	v, err := h.cfg.Provision.CreateGroup(r.Context(), callerOf(r), in)
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return h.groupResource(v), nil
}

func (h groupHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	v, err := h.cfg.Provision.GetGroup(r.Context(), callerOf(r), id)
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	if !withMembers(r) {
		v.Members = nil
	}
	return h.groupResource(v), nil
}

func (h groupHandler) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	m, err := equalities(p.FilterValidator, "displayName", "externalId", "id")
	if err != nil {
		return scim.Page{}, err
	}
	page := scim.Page{Resources: []scim.Resource{}}
	if m.none {
		return page, nil
	}
	c := callerOf(r)
	if id, ok := m.eq["id"]; ok {
		v, err := h.cfg.Provision.GetGroup(r.Context(), c, id)
		if errors.Is(err, provision.ErrGroupNotFound) {
			return page, nil
		}
		if err != nil {
			return page, h.fail(r, err)
		}
		if n, ok := m.eq["displayName"]; ok && n != v.Name {
			return page, nil
		}
		if x, ok := m.eq["externalId"]; ok && x != v.ExternalID {
			return page, nil
		}
		if !withMembers(r) {
			v.Members = nil
		}
		page.TotalResults, page.Resources = 1, []scim.Resource{h.groupResource(v)}
		return page, nil
	}
	vs, total, err := h.cfg.Provision.Groups(r.Context(), c, provision.GroupQuery{
		DisplayName: m.eq["displayName"], ExternalID: m.eq["externalId"],
		Offset: p.StartIndex - 1, Limit: p.Count, Members: withMembers(r)})
	if err != nil {
		return page, h.fail(r, err)
	}
	page.TotalResults = int(total)
	for i := range vs {
		page.Resources = append(page.Resources, h.groupResource(&vs[i]))
	}
	return page, nil
}

func (h groupHandler) Replace(r *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	in, err := groupInput(a)
	if err != nil {
		return scim.Resource{}, err
	}
	v, err := h.cfg.Provision.ReplaceGroup(r.Context(), callerOf(r), id, in)
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return h.groupResource(v), nil
}

func (h groupHandler) Delete(r *http.Request, id string) error {
	return h.fail(r, h.cfg.Provision.DeleteGroup(r.Context(), callerOf(r), id))
}

// Patch answers 204 No Content: a group's members are many, and Entra ID
// and Okta read nothing back from a PATCH of a group.
func (h groupHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	changes, err := groupChanges(ops)
	if err != nil {
		return scim.Resource{}, err
	}
	if _, err := h.cfg.Provision.ChangeGroup(r.Context(), callerOf(r), id, changes); err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return scim.Resource{}, nil
}
