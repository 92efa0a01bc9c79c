package scim

import (
	"errors"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/invitegate/gateway/core/provision"
)

// userHandler serves /Users.
type userHandler struct{ handlers }

var _ scim.ResourceHandler = userHandler{}

// userResource is a provisioned person as SCIM shows them: their email is
// their user's, the one work address.
func userResource(v *provision.UserView) scim.Resource {
	name := map[string]interface{}{"givenName": v.GivenName, "familyName": v.FamilyName,
		"formatted": strings.TrimSpace(v.GivenName + " " + v.FamilyName)}
	attrs := scim.ResourceAttributes{
		"userName": v.UserName,
		"name":     name,
		"active":   v.Active,
		"emails":   []interface{}{map[string]interface{}{"value": v.Email, "type": "work", "primary": true}},
	}
	if v.DisplayName != "" {
		attrs["displayName"] = v.DisplayName
	}
	r := scim.Resource{ID: v.ID, Attributes: attrs, Meta: scim.Meta{Created: &v.CreatedAt, LastModified: &v.UpdatedAt}}
	if v.ExternalID != "" {
		r.ExternalID = optional.NewString(v.ExternalID)
	}
	return r
}

// userInput reads the attributes the gateway keeps from a validated
// resource; the rest (phone numbers, addresses, the enterprise extension)
// it accepts and does not keep. Active absent is true.
func userInput(a scim.ResourceAttributes) provision.UserInput {
	in := provision.UserInput{Active: true}
	in.UserName, _ = a["userName"].(string)
	in.ExternalID, _ = a["externalId"].(string)
	in.DisplayName, _ = a["displayName"].(string)
	if n, ok := a["name"].(map[string]interface{}); ok {
		in.GivenName, _ = n["givenName"].(string)
		in.FamilyName, _ = n["familyName"].(string)
	}
	in.Email = primaryEmail(a["emails"])
	if b, ok := a["active"].(bool); ok {
		in.Active = b
	}
	return in
}

// primaryEmail is the address marked primary, else the work one, else the
// first.
func primaryEmail(v interface{}) string {
	list, _ := v.([]interface{})
	var work, first string
	for _, e := range list {
		m, _ := e.(map[string]interface{})
		value, _ := m["value"].(string)
		if value == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return value
		}
		if t, _ := m["type"].(string); strings.EqualFold(t, "work") && work == "" {
			work = value
		}
		if first == "" {
			first = value
		}
	}
	if work != "" {
		return work
	}
	return first
}

func (h userHandler) Create(r *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	v, err := h.cfg.Provision.CreateUser(r.Context(), callerOf(r), userInput(a))
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return userResource(v), nil
}

func (h userHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	v, err := h.cfg.Provision.GetUser(r.Context(), callerOf(r), id)
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return userResource(v), nil
}

func (h userHandler) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	m, err := equalities(p.FilterValidator, "userName", "externalId", "id")
	if err != nil {
		return scim.Page{}, err
	}
	if m.none {
		return scim.Page{Resources: []scim.Resource{}}, nil
	}
	eq, c := m.eq, callerOf(r)
	if id, ok := eq["id"]; ok {
		return h.byID(r, id, eq)
	}
	vs, total, err := h.cfg.Provision.Users(r.Context(), c, provision.UserQuery{
		UserName: eq["userName"], ExternalID: eq["externalId"], Offset: p.StartIndex - 1, Limit: p.Count})
	if err != nil {
		return scim.Page{}, h.fail(r, err)
	}
	page := scim.Page{TotalResults: int(total), Resources: []scim.Resource{}}
	for i := range vs {
		page.Resources = append(page.Resources, userResource(&vs[i]))
	}
	return page, nil
}

// byID answers a filter on id: the one person, if the rest of the filter
// holds for them.
func (h userHandler) byID(r *http.Request, id string, eq map[string]string) (scim.Page, error) {
	page := scim.Page{Resources: []scim.Resource{}}
	v, err := h.cfg.Provision.GetUser(r.Context(), callerOf(r), id)
	if errors.Is(err, provision.ErrUserNotFound) {
		return page, nil
	}
	if err != nil {
		return page, h.fail(r, err)
	}
	if u, ok := eq["userName"]; ok && !strings.EqualFold(u, v.UserName) {
		return page, nil
	}
	if x, ok := eq["externalId"]; ok && x != v.ExternalID {
		return page, nil
	}
	page.TotalResults, page.Resources = 1, []scim.Resource{userResource(v)}
	return page, nil
}

func (h userHandler) Replace(r *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	v, err := h.cfg.Provision.ReplaceUser(r.Context(), callerOf(r), id, userInput(a))
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return userResource(v), nil
}

func (h userHandler) Delete(r *http.Request, id string) error {
	return h.fail(r, h.cfg.Provision.DeleteUser(r.Context(), callerOf(r), id))
}

// Patch applies the operations to the person as they are and replaces
// them with the result: a person is a handful of attributes.
func (h userHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	c := callerOf(r)
	v, err := h.cfg.Provision.GetUser(r.Context(), c, id)
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	a := userResource(v).Attributes
	if v.ExternalID != "" {
		a["externalId"] = v.ExternalID
	}
	for _, op := range ops {
		if err := patchUser(a, op); err != nil {
			return scim.Resource{}, err
		}
	}
	v, err = h.cfg.Provision.ReplaceUser(r.Context(), c, id, userInput(a))
	if err != nil {
		return scim.Resource{}, h.fail(r, err)
	}
	return userResource(v), nil
}
