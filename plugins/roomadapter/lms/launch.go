package lms

import (
	"encoding/json"
	"strings"

	"github.com/invitegate/gateway/plugins/roomadapter"
)

// Launch is a launch as a Profile reads it: the claims, and the custom
// parameters by the variable they carry.
type Launch struct {
	roomadapter.Launch
	names map[string]string
}

// Custom is the custom parameter that carries the variable (a key of
// the profile's Custom: "role", "context_title"...), "" when the launch
// has none or the platform did not substitute it (the value is still
// "$Sakai.ext.role": the platform does not know the variable).
//
// A variable's names may be several, comma-separated: the first the
// launch has counts.
func (l *Launch) Custom(variable string) string {
	for _, name := range strings.Split(l.names[variable], ",") {
		v := strings.TrimSpace(l.Launch.Custom[strings.TrimSpace(name)])
		if v != "" && !strings.HasPrefix(v, "$") {
			return v
		}
	}
	return ""
}

// Extension decodes the extension claim named claim into v; false when
// the launch has none that decodes.
func (l *Launch) Extension(claim string, v any) bool {
	raw, ok := l.Extensions[claim]
	return ok && json.Unmarshal([]byte(raw), v) == nil
}

// Profile is what one LMS adds to the shared adapter.
type Profile struct {
	// Name, Description and Version are the plugin's Info.
	Name, Description, Version string
	// Roles are the platform's roles added to ltiroles.DefaultRoles
	// (keys such as "sakai:maintain").
	Roles map[string]string
	// Custom names the custom parameter that carries each variable the
	// adapter reads: "role" (the platform role), "context_id",
	// "context_title", "email", "username", "chat_collaboration".
	Custom map[string]string
	// PlatformRole is the launcher's platform role as a mapping key
	// ("sakai:maintain"), "" when the platform sends none.
	PlatformRole func(l *Launch) string
	// Username is the launcher's user name on the platform, for the
	// collaborators config.
	Username func(l *Launch) string
	// Session is the course's academic session (term), "" when unknown.
	Session func(l *Launch) string
}
