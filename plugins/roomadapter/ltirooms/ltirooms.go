// Package ltirooms is the room adapter for any LTI 1.3 platform (Canvas,
// Moodle, Brightspace, Blackboard...): a course (context), or each
// resource link, is a room, and the LTI role vocabulary gives the
// launcher's room role. It reads the platforms' usual custom variables:
// Canvas's $Canvas.course.id and $Canvas.user.loginId, Moodle's
// context_id, and Moodle's user_username of LTI's ext claim.
package ltirooms

import (
	"log/slog"

	"github.com/invitegate/gateway/plugins/roomadapter/lms"
)

// Version is this plugin's release.
const Version = "1.0.0"

// ExtClaim is LTI's claim for a platform's extra values; Moodle puts the
// launcher's user name there.
const ExtClaim = "https://purl.imsglobal.org/spec/lti/claim/ext"

// Profile is the generic LTI platform's.
func Profile() lms.Profile {
	return lms.Profile{
		Name: "lti-rooms", Version: Version, Description: "LTI courses as rooms, LTI roles as room roles",
		Custom: map[string]string{
			"context_id":         "canvas_course_id,context_id",
			"context_title":      "context_title",
			"email":              "person_email_primary",
			"username":           "canvas_user_login_id,user_username",
			"chat_collaboration": "chat_collaboration",
		},
		Username: func(l *lms.Launch) string {
			var ext struct {
				Username string `json:"user_username"`
			}
			if l.Extension(ExtClaim, &ext) {
				return ext.Username
			}
			return ""
		},
	}
}

// New is the generic LTI adapter, unconfigured.
func New(log *slog.Logger) *lms.Adapter { return lms.New(Profile(), log) }
