package scim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	parser "github.com/scim2/filter-parser/v2"

	"github.com/invitegate/gateway/core/provision"
)

func noTarget(path string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeNoTarget, Status: http.StatusBadRequest,
		Detail: fmt.Sprintf("%s: the gateway cannot apply this operation to it", path)}
}

func invalidValue(attr, why string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Status: http.StatusBadRequest, Detail: attr + ": " + why}
}

// patchUser applies one validated operation to a person's attributes a.
// Without a path the value is attributes to set (Entra ID's
// {"op":"replace","value":{"active":false}}); with one, the attribute,
// sub-attribute, or the work address (emails[type eq "work"].value).
func patchUser(a scim.ResourceAttributes, op scim.PatchOperation) error {
	if op.Path == nil {
		m, ok := op.Value.(map[string]interface{})
		if !ok {
			return invalidValue("value", "an operation without a path takes an object of attributes")
		}
		for k, v := range m {
			p, err := parser.ParsePath([]byte(k))
			if err != nil {
				return invalidValue(k, "is not an attribute path")
			}
			if err := patchUserPath(a, op.Op, p, v); err != nil {
				return err
			}
		}
		return nil
	}
	return patchUserPath(a, op.Op, *op.Path, op.Value)
}

func patchUserPath(a scim.ResourceAttributes, o string, p parser.Path, v interface{}) error {
	name := strings.ToLower(p.AttributePath.AttributeName)
	sub := p.AttributePath.SubAttribute
	if sub == nil {
		sub = p.SubAttribute
	}
	remove := strings.EqualFold(o, scim.PatchOperationRemove)
	switch {
	case p.AttributePath.URIPrefix != nil && !strings.EqualFold(*p.AttributePath.URIPrefix, UserSchema().ID):
		// An extension's attribute (Entra ID's enterprise department,
		// manager): accepted, not kept.
		return nil
	case name == "username" || name == "externalid" || name == "displayname" || name == "active":
		key := map[string]string{"username": "userName", "externalid": "externalId", "displayname": "displayName", "active": "active"}[name]
		if remove {
			delete(a, key)
			if key == "active" {
				a[key] = false
			}
			return nil
		}
		a[key] = v
	case name == "name":
		n, _ := a["name"].(map[string]interface{})
		if n == nil {
			n = map[string]interface{}{}
		}
		switch {
		case sub != nil && remove:
			delete(n, *sub)
		case sub != nil:
			n[canonicalName(*sub)] = v
		case remove:
			n = map[string]interface{}{}
		default:
			m, ok := v.(map[string]interface{})
			if !ok {
				return invalidValue("name", "takes an object (givenName, familyName)")
			}
			for k, x := range m {
				n[canonicalName(k)] = x
			}
		}
		a["name"] = n
	case name == "emails":
		return patchEmails(a, remove, p, sub, v)
	default:
		// Attributes of the schema the gateway does not keep (phone
		// numbers, addresses, title): accepted, not kept.
	}
	return nil
}

func canonicalName(s string) string {
	switch strings.ToLower(s) {
	case "givenname":
		return "givenName"
	case "familyname":
		return "familyName"
	}
	return s
}

// patchEmails sets the one address the gateway keeps: the value of the
// work (or primary) address, or the whole list.
func patchEmails(a scim.ResourceAttributes, remove bool, p parser.Path, sub *string, v interface{}) error {
	if remove {
		return noTarget("emails")
	}
	if p.ValueExpression != nil || sub != nil {
		if sub == nil || !strings.EqualFold(*sub, "value") {
			return nil // the type or primary flag of an address: not kept
		}
		s, ok := v.(string)
		if !ok {
			return invalidValue("emails", "an address is a string")
		}
		a["emails"] = []interface{}{map[string]interface{}{"value": s, "type": "work", "primary": true}}
		return nil
	}
	list, ok := v.([]interface{})
	if !ok {
		return invalidValue("emails", "takes a list of addresses")
	}
	a["emails"] = list
	return nil
}

// groupChanges translates a group's validated operations into
// provision's changes, in order: members added and removed as Entra ID
// and Okta send them ({"op":"add","path":"members","value":[{"value":id}]},
// {"op":"remove","path":"members[value eq \"id\"]"}), displayName and
// externalId replaced.
func groupChanges(ops []scim.PatchOperation) ([]provision.GroupChange, error) {
	var out []provision.GroupChange
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]interface{})
			if !ok {
				return nil, invalidValue("value", "an operation without a path takes an object of attributes")
			}
			for k, v := range m {
				p, err := parser.ParsePath([]byte(k))
				if err != nil {
					return nil, invalidValue(k, "is not an attribute path")
				}
				ch, err := groupChange(op.Op, p, v)
				if err != nil {
					return nil, err
				}
				out = append(out, ch...)
			}
			continue
		}
		ch, err := groupChange(op.Op, *op.Path, op.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, ch...)
	}
	return out, nil
}

func groupChange(o string, p parser.Path, v interface{}) ([]provision.GroupChange, error) {
	name := strings.ToLower(p.AttributePath.AttributeName)
	remove := strings.EqualFold(o, scim.PatchOperationRemove)
	switch name {
	case "displayname", "externalid":
		op := provision.Rename
		if name == "externalid" {
			op = provision.SetExternalID
		}
		if remove {
			if op == provision.Rename {
				return nil, invalidValue("displayName", "is required and cannot be removed")
			}
			return []provision.GroupChange{{Op: op}}, nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, invalidValue(p.AttributePath.AttributeName, "takes a string")
		}
		return []provision.GroupChange{{Op: op, Value: s}}, nil
	case "members":
		return memberChange(o, p, v)
	}
	return nil, noTarget(p.String())
}

func memberChange(o string, p parser.Path, v interface{}) ([]provision.GroupChange, error) {
	switch strings.ToLower(o) {
	case scim.PatchOperationRemove:
		if p.ValueExpression != nil {
			id, ok := memberFilterID(p.ValueExpression)
			if !ok {
				return nil, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidFilter, Status: http.StatusBadRequest,
					Detail: `members: only members[value eq "<id>"] selects members to remove`}
			}
			return []provision.GroupChange{{Op: provision.RemoveMembers, Members: []string{id}}}, nil
		}
		if v == nil {
			return []provision.GroupChange{{Op: provision.RemoveAllMembers}}, nil
		}
		ids, err := memberIDs(v)
		return []provision.GroupChange{{Op: provision.RemoveMembers, Members: ids}}, err
	case scim.PatchOperationAdd:
		ids, err := memberIDs(v)
		return []provision.GroupChange{{Op: provision.AddMembers, Members: ids}}, err
	default:
		ids, err := memberIDs(v)
		return []provision.GroupChange{{Op: provision.ReplaceMembers, Members: ids}}, err
	}
}

func memberFilterID(e parser.Expression) (string, bool) {
	x, ok := e.(*parser.AttributeExpression)
	if !ok || x.Operator != parser.EQ || !strings.EqualFold(x.AttributePath.AttributeName, "value") || x.AttributePath.SubAttribute != nil {
		return "", false
	}
	s, ok := x.CompareValue.(string)
	return s, ok
}

// memberIDs reads the ids of a list of members ([{"value": id}, ...]).
func memberIDs(v interface{}) ([]string, error) {
	list, ok := v.([]interface{})
	if !ok {
		list = []interface{}{v}
	}
	ids := make([]string, 0, len(list))
	for _, m := range list {
		obj, _ := m.(map[string]interface{})
		id, _ := obj["value"].(string)
		if id == "" {
			return nil, invalidValue("members", `each member needs its "value": the id of a provisioned user`)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
