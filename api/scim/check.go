package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
)

// CheckBody checks a request's body before the library reads it, against
// the same schemas, so that a refusal names the attribute at fault (the
// library's say only that some value was wrong); it returns the body to
// hand on. The one change it makes is Entra ID's: a boolean sent as the
// string "True" or "False" (as Entra ID's provisioning sends active)
// becomes a boolean.
func CheckBody(method, path string, body []byte) ([]byte, error) {
	s, exts, ok := schemaOf(path)
	if !ok || len(bytes.TrimSpace(body)) == 0 {
		return body, nil
	}
	switch method {
	case http.MethodPost, http.MethodPut:
		var m map[string]interface{}
		if err := decode(body, &m); err != nil {
			return nil, syntaxError("the body is not a JSON object: " + err.Error())
		}
		if err := checkSchemas(m, s.ID); err != nil {
			return nil, err
		}
		if err := checkAttributes(m, withExternalID(s), true); err != nil {
			return nil, err
		}
		return body, nil
	case http.MethodPatch:
		return checkPatch(body, withExternalID(s), exts)
	}
	return body, nil
}

// schemaOf is the schema of the resource type a path under /v2 names.
func schemaOf(path string) (schema.Schema, []schema.Schema, bool) {
	path = strings.TrimPrefix(path, "/v2")
	switch {
	case path == "/Users" || strings.HasPrefix(path, "/Users/"):
		return UserSchema(), []schema.Schema{schema.ExtensionEnterpriseUser()}, true
	case path == "/Groups" || strings.HasPrefix(path, "/Groups/"):
		return GroupSchema(), nil, true
	}
	return schema.Schema{}, nil, false
}

func withExternalID(s schema.Schema) schema.Schema {
	s.Attributes = append(append([]schema.CoreAttribute{}, s.Attributes...), schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
		CaseExact: true, Mutability: schema.AttributeMutabilityReadWrite(), Name: schema.CommonAttributeExternalID,
		Uniqueness: schema.AttributeUniquenessNone(),
	})))
	return s
}

func decode(b []byte, v interface{}) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func syntaxError(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidSyntax, Status: http.StatusBadRequest, Detail: detail}
}

func checkSchemas(m map[string]interface{}, id string) error {
	list, _ := m["schemas"].([]interface{})
	for _, s := range list {
		if s == id {
			return nil
		}
	}
	return syntaxError(fmt.Sprintf("schemas: the body must list %q", id))
}

// checkAttributes validates each attribute of s that m holds, and, when
// whole, that m holds the required ones.
func checkAttributes(m map[string]interface{}, s schema.Schema, whole bool) error {
	for _, a := range s.Attributes {
		v, found := lookup(m, a.Name())
		if !found || v == nil {
			if whole && a.Required() {
				return invalidValue(a.Name(), a.Name()+" is required")
			}
			continue
		}
		if a.Mutability() == "readOnly" {
			continue
		}
		if err := checkValue(a, a.Name(), v); err != nil {
			return err
		}
	}
	return nil
}

func lookup(m map[string]interface{}, name string) (interface{}, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// checkValue validates v as attribute a, naming it (and the sub-attribute
// at fault of a complex value).
func checkValue(a schema.CoreAttribute, name string, v interface{}) error {
	vs := []interface{}{v}
	if a.MultiValued() {
		list, ok := v.([]interface{})
		if !ok {
			return invalidValue(name, "takes a list")
		}
		vs = list
	}
	for _, x := range vs {
		if a.HasSubAttributes() {
			obj, ok := x.(map[string]interface{})
			if !ok {
				return invalidValue(name, "takes an object")
			}
			for _, sub := range a.SubAttributes() {
				if sv, found := lookup(obj, sub.Name()); found && sv != nil {
					if err := checkValue(sub, name+"."+sub.Name(), sv); err != nil {
						return err
					}
				}
			}
			continue
		}
		if _, err := a.ValidateSingular(x); err != nil {
			return invalidValue(name, fmt.Sprintf("is not a valid %s value", a.AttributeType()))
		}
	}
	return nil
}

// patchBody is a PATCH request.
type patchBody struct {
	Schemas    []string         `json:"schemas"`
	Operations []map[string]any `json:"Operations"`
}

// checkPatch validates each operation's op, path and value, naming the
// operation and its path.
func checkPatch(body []byte, s schema.Schema, exts []schema.Schema) ([]byte, error) {
	var p patchBody
	if err := decode(body, &p); err != nil {
		return nil, syntaxError("the body is not a PATCH request: " + err.Error())
	}
	if len(p.Schemas) != 1 || p.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:PatchOp" {
		return nil, syntaxError(`schemas: a PATCH request lists exactly "urn:ietf:params:scim:api:messages:2.0:PatchOp"`)
	}
	if len(p.Operations) == 0 {
		return nil, invalidValue("Operations", "a PATCH request needs at least one operation")
	}
	for i, op := range p.Operations {
		name := fmt.Sprintf("Operations[%d]", i)
		o, _ := lookup(op, "op")
		os, _ := o.(string)
		switch strings.ToLower(os) {
		case "add", "remove", "replace":
		default:
			return nil, invalidValue(name+".op", `op must be "add", "remove" or "replace"`)
		}
		pv, _ := lookup(op, "path")
		path, _ := pv.(string)
		value, _ := lookup(op, "value")
		if path == "" {
			if strings.EqualFold(os, "remove") {
				return nil, scimerrors.ScimError{ScimType: scimerrors.ScimTypeNoTarget, Status: http.StatusBadRequest, Detail: name + ".path: a remove operation needs a path"}
			}
			m, ok := value.(map[string]interface{})
			if !ok {
				return nil, invalidValue(name+".value", "an operation without a path takes an object of attributes")
			}
			fixBooleans(s, m)
			continue
		}
		v, err := filter.NewPathValidator(path, s, exts...)
		if err == nil {
			err = v.Validate()
		}
		if err != nil {
			return nil, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidPath, Status: http.StatusBadRequest,
				Detail: fmt.Sprintf("%s.path: %q is not an attribute of this resource", name, path)}
		}
		pp := v.Path()
		if pp.ValueExpression != nil || pp.SubAttribute != nil || pp.AttributePath.SubAttribute != nil || value == nil {
			continue
		}
		for _, a := range s.Attributes {
			if !strings.EqualFold(a.Name(), pp.AttributePath.AttributeName) {
				continue
			}
			if b, ok := boolString(a, value); ok {
				setValue(op, b)
				value = b
			}
			if a.MultiValued() {
				if _, ok := value.([]interface{}); !ok {
					value = []interface{}{value}
				}
			}
			if err := checkValue(a, path, value); err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(p)
}

func setValue(op map[string]any, v any) {
	for k := range op {
		if strings.EqualFold(k, "value") {
			op[k] = v
		}
	}
}

// fixBooleans turns "True" and "False" of m's boolean attributes into
// booleans.
func fixBooleans(s schema.Schema, m map[string]interface{}) {
	for k, v := range m {
		for _, a := range s.Attributes {
			if strings.EqualFold(a.Name(), k) {
				if b, ok := boolString(a, v); ok {
					m[k] = b
				}
			}
		}
	}
}

func boolString(a schema.CoreAttribute, v interface{}) (bool, bool) {
	s, ok := v.(string)
	if !ok || a.AttributeType() != "boolean" {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
