package api

import (
	"errors"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/provision"
)

var (
	errNoRoute  = problem.New(problem.NotFound, "no_route", "there is no page or endpoint at this address")
	errNoMethod = problem.New(problem.Invalid, "method_not_allowed", "this address does not accept this HTTP method")
	errInternal = errors.New("internal error")
)

// statusOf is the one place core's refusals become HTTP statuses.
func statusOf(err error) int {
	if err == errNoMethod {
		return http.StatusMethodNotAllowed
	}
	if errors.Is(err, errBodyTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	switch problem.KindOf(err) {
	case problem.Invalid:
		return http.StatusBadRequest
	case problem.NotFound:
		return http.StatusNotFound
	case problem.Forbidden:
		return http.StatusForbidden
	case problem.Unauthorized:
		return http.StatusUnauthorized
	case problem.Conflict:
		return http.StatusConflict
	case problem.Gone:
		return http.StatusGone
	case problem.RateLimited:
		return http.StatusTooManyRequests
	case problem.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// scimRefusal is scimRefusalOf for the SCIM handler, which has the
// request (api/scim's Config.Refusal).
func scimRefusal(r *http.Request, err error) error {
	c, _ := r.Context().Value(ginKey{}).(*gin.Context)
	return scimRefusalOf(c, err)
}

// scimRefusalOf is err as a SCIM error (RFC 7644 3.12): the status of
// statusOf, the message of describe led by the attribute at fault, and
// the SCIM error type a provider acts on.
func scimRefusalOf(c *gin.Context, err error) scimerrors.ScimError {
	se := scimerrors.ScimError{Status: statusOf(err)}
	if c == nil {
		se.Status, se.Detail = http.StatusInternalServerError, "something went wrong on our side"
		return se
	}
	b := describe(c, err)
	se.Detail = b.Message
	if b.Field != "" && !strings.HasPrefix(b.Message, b.Field+":") && !strings.HasPrefix(b.Message, b.Field+" ") {
		se.Detail = b.Field + ": " + b.Message
	}
	switch {
	case b.Code == provision.ErrEmailChange.Code:
		se.ScimType = scimerrors.ScimTypeMutability
	case se.Status == http.StatusBadRequest && b.Code != errBodyTooLarge.Code:
		se.ScimType = scimerrors.ScimTypeInvalidValue
	case se.Status == http.StatusConflict && b.Code == provision.ErrUserNameTaken.Code:
		se.ScimType = scimerrors.ScimTypeUniqueness
	}
	return se
}

type errorBody struct {
	Code      string               `json:"code"`
	Message   string               `json:"message"`
	Field     string               `json:"field,omitempty"`
	Details   []problem.FieldError `json:"details,omitempty"`
	RequestID string               `json:"request_id"`
}

// describe returns what a person may be told about err. Unexpected errors are
// logged in full and shown only as "internal error" with the request id.
func describe(c *gin.Context, err error) errorBody {
	b := errorBody{RequestID: requestIDOf(c)}
	if p, ok := problem.As(err); ok {
		if p.Cause != nil {
			// The gateway is at fault (a stored setting it cannot read):
			// the person sees the refusal, the log the cause.
			reqLog(c).Error("refused on a fault of the gateway's", "route", c.FullPath(), "code", p.Code, "error", p.Cause.Error())
		}
		b.Code, b.Message, b.Field, b.Details = p.Code, p.Message, p.Field, p.Details
		return b
	}
	reqLog(c).Error("request failed", "route", c.FullPath(), "error", err.Error())
	b.Code = "internal"
	b.Message = "something went wrong on our side; if it persists, report request id " + b.RequestID
	return b
}

// fail answers with the error as JSON under /api and as a page elsewhere,
// noting it on the request (failureKey) for middleware that acts on what
// was answered (linkLimit).
func (s *Server) fail(c *gin.Context, err error) {
	c.Set(failureKey, err)
	status := statusOf(err)
	b := describe(c, err)
	if strings.HasPrefix(c.Request.URL.Path, "/api/") || wantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": b})
		return
	}
	s.render(c, status, "error", pageData{Title: errorTitle(b.Code), Error: &b})
	c.Abort()
}

func wantsJSON(c *gin.Context) bool {
	a := c.GetHeader("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// errorTitle is the heading of each failure page.
func errorTitle(code string) string {
	switch code {
	case "invite_expired":
		return "This link has expired"
	case "invite_used":
		return "This link has already been used"
	case "used_on_another_device":
		return "This link was used on another device"
	case "email_mismatch":
		return "That is not the invited email"
	case "domain_blocked":
		return "This email domain is not allowed"
	case "domain_policy_unreadable":
		return "Entry is paused"
	case "event_closed":
		return "This event is closed"
	case "invite_removed":
		return "This invitation was removed"
	case "resource_deleted":
		return "This room or media no longer exists"
	case "module_disabled":
		return "Invitations are turned off"
	case "session_not_open":
		return "This session has not started yet"
	case "too_many_attempts", "too_many_unknown_links":
		return "Too many attempts"
	case "invite_not_found", "login_link_invalid":
		return "This link is not valid"
	case "login_link_used":
		return "This sign-in link was already used"
	case "login_link_expired":
		return "This sign-in link has expired"
	case "unauthorized":
		return "Please sign in"
	case "forbidden":
		return "You cannot do this"
	case "no_route", "not_found":
		return "Page not found"
	case "sso_unknown_connection":
		return "This organization sign-in is not set up here"
	case "sso_no_connection":
		return "No organization sign-in for this email"
	case "sso_ambiguous_domain":
		return "Use your organization's sign-in link"
	case "sso_provider_error":
		return "Your organization's sign-in failed"
	case "sso_invalid_response":
		return "The sign-in could not be verified"
	case "sso_expired":
		return "This sign-in has expired"
	case "sso_replayed":
		return "This sign-in was already used"
	case "sso_request_unknown":
		return "This sign-in is not known here"
	case "sso_unsolicited":
		return "This sign-in was not started here"
	case "sso_other_browser":
		return "This sign-in was started in another browser"
	case "sso_not_provisioned":
		return "You are not a user here yet"
	case "sso_no_console_access":
		return "You have no console access"
	case "sso_no_email":
		return "Your email address was not sent"
	case "sso_event_not_sso":
		return "This event does not use organization sign-in"
	case "identity_not_linked":
		return "This sign-in cannot be linked to your account"
	}
	return "Something went wrong"
}
