// Package ltiroles reads the LTI role vocabulary (LTI Core 1.3 §A.2: the
// context, institution and system roles, their sub-roles, in full URIs,
// the short names and LTI 1.1's URNs) and maps a launcher's roles to a
// room role, with a mapping a room adapter's configuration may change.
// The LMS room adapters (Sakai, and the generic one for Canvas, Moodle,
// Brightspace and Blackboard) share it.
package ltiroles

import "strings"

// Scope is where a role holds: in the launch's context (a course or
// site), in the institution, or in the whole system.
type Scope string

// Scopes, as a Key writes them.
const (
	Context     Scope = "membership"
	Institution Scope = "institution"
	System      Scope = "system"
)

// Role is one LTI role: Name in Scope, and Sub when it is a sub-role
// (membership/Instructor#TeachingAssistant is Instructor's sub-role
// TeachingAssistant).
type Role struct {
	Scope Scope
	Name  string
	Sub   string
}

// Key is the role as the mapping names it: "membership#Instructor",
// "membership/Instructor#TeachingAssistant", "institution#Administrator",
// "system#Administrator".
func (r Role) Key() string {
	if r.Sub != "" {
		return string(r.Scope) + "/" + r.Name + "#" + r.Sub
	}
	return string(r.Scope) + "#" + r.Name
}

// Principal is the role a sub-role belongs to (itself when it is none).
func (r Role) Principal() Role { return Role{Scope: r.Scope, Name: r.Name} }

const (
	lisV2 = "http://purl.imsglobal.org/vocab/lis/v2/"
	ltiV1 = "http://purl.imsglobal.org/vocab/lti/"
)

// Parse reads a role as platforms send it. ok is false for a value that
// is no LTI role (it may still be a platform's own, which the mapping
// can name as it is).
func Parse(s string) (r Role, ok bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, lisV2+"membership/"):
		// A sub-role: membership/Instructor#TeachingAssistant.
		name, sub, found := strings.Cut(strings.TrimPrefix(s, lisV2+"membership/"), "#")
		return Role{Scope: Context, Name: name, Sub: sub}, found && name != "" && sub != ""
	case strings.HasPrefix(s, lisV2+"membership#"):
		return named(Context, strings.TrimPrefix(s, lisV2+"membership#"))
	case strings.HasPrefix(s, lisV2+"institution/person#"):
		return named(Institution, strings.TrimPrefix(s, lisV2+"institution/person#"))
	case strings.HasPrefix(s, lisV2+"system/person#"):
		return named(System, strings.TrimPrefix(s, lisV2+"system/person#"))
	case strings.HasPrefix(s, ltiV1+"system/person#"):
		// LTI's own system roles (TestUser).
		return named(System, strings.TrimPrefix(s, ltiV1+"system/person#"))
	case strings.HasPrefix(s, "urn:lti:role:ims/lis/"):
		return urn(Context, strings.TrimPrefix(s, "urn:lti:role:ims/lis/"))
	case strings.HasPrefix(s, "urn:lti:instrole:ims/lis/"):
		return urn(Institution, strings.TrimPrefix(s, "urn:lti:instrole:ims/lis/"))
	case strings.HasPrefix(s, "urn:lti:sysrole:ims/lis/"):
		return urn(System, strings.TrimPrefix(s, "urn:lti:sysrole:ims/lis/"))
	case s != "" && !strings.ContainsAny(s, ":/#"):
		// A short name of a context role (deprecated, still sent).
		return named(Context, s)
	}
	return Role{}, false
}

func named(scope Scope, name string) (Role, bool) {
	return Role{Scope: scope, Name: name}, name != "" && !strings.ContainsAny(name, "/#")
}

// urn reads LTI 1.1's "Instructor" or "Instructor/TeachingAssistant".
func urn(scope Scope, rest string) (Role, bool) {
	name, sub, _ := strings.Cut(rest, "/")
	return Role{Scope: scope, Name: name, Sub: sub}, name != ""
}
