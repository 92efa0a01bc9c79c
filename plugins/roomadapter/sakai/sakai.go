// Package sakai is the room adapter for Sakai (23 and later): a Sakai
// site, or each of its tool placements, is a room; Sakai's site roles
// (sakai_role of its extension claim, or the Sakai.ext.role custom
// variable) and the LTI roles give the launcher's room role.
package sakai

import (
	"log/slog"

	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/lms"
	"github.com/invitegate/gateway/plugins/roomadapter/ltiroles"
)

// Version is this plugin's release.
const Version = "1.0.0"

// ExtensionClaim is Sakai's own claim in its launches.
const ExtensionClaim = "https://www.sakailms.org/spec/lti/claim/extension"

// Extension is what the adapter reads of Sakai's claim. sakai_serverid
// and sakai_server name the application server of a cluster that sent
// the launch: a site's room never depends on them (two nodes, one site).
type Extension struct {
	Role            string `json:"sakai_role"`
	EID             string `json:"sakai_eid"`
	AcademicSession string `json:"sakai_academic_session"`
	Server          string `json:"sakai_server"`
	ServerID        string `json:"sakai_serverid"`
}

// Profile is Sakai's.
func Profile() lms.Profile {
	return lms.Profile{
		Name: "sakai", Version: Version, Description: "Sakai sites as rooms, Sakai and LTI roles as room roles",
		Roles: map[string]string{
			"sakai:maintain":           roomadapter.RoleOwner,
			"sakai:Instructor":         roomadapter.RoleOwner,
			"sakai:Teaching Assistant": roomadapter.RoleCoEditor,
			"sakai:access":             ltiroles.Viewer,
			"sakai:Student":            ltiroles.Viewer,
			"sakai:Guest":              ltiroles.Viewer,
		},
		Custom: map[string]string{
			"role":               "sakai_ext_role",
			"context_title":      "context_title",
			"email":              "person_email_primary",
			"username":           "user_username",
			"chat_collaboration": "chat_collaboration",
		},
		PlatformRole: func(l *lms.Launch) string {
			var ext Extension
			if l.Extension(ExtensionClaim, &ext) && ext.Role != "" {
				return "sakai:" + ext.Role
			}
			if r := l.Custom("role"); r != "" {
				return "sakai:" + r
			}
			return ""
		},
		Username: func(l *lms.Launch) string {
			var ext Extension
			if l.Extension(ExtensionClaim, &ext) {
				return ext.EID
			}
			return ""
		},
		Session: func(l *lms.Launch) string {
			var ext Extension
			// OTHER is Sakai's word for a site of no term.
			if l.Extension(ExtensionClaim, &ext) && ext.AcademicSession != "OTHER" {
				return ext.AcademicSession
			}
			return ""
		},
	}
}

// New is the Sakai adapter, unconfigured.
func New(log *slog.Logger) *lms.Adapter { return lms.New(Profile(), log) }
