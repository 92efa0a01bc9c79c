package saml

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/invitegate/gateway/sso/connector"
)

// bearer is the SubjectConfirmation method of the web browser SSO profile.
const bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// Finish checks the Response the IdP posted to the ACS and returns the
// assertion in it.
//
// crewjam/saml checks the signatures (of the Response or of the
// assertion, refusing the wrapping and comment attacks), the Destination
// (here: exactly this connection's ACS URL), the Issuer of the response and
// of the assertion (the IdP's entity id), the audience (this SP's entity
// id), the bearer Recipient (the ACS URL), InResponseTo (the request req
// recorded; none for an unsolicited response, which only passes when the
// connection allows it), the status, and the time bounds with its own
// fixed skew. Finish then applies the connection's clock skew, which may
// only be stricter, and records the assertion id in the replay cache, so
// each assertion signs in once across every replica.
func (c *Connector) Finish(ctx context.Context, req *connector.Request, r *http.Request) (*connector.Assertion, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: the ACS takes only the HTTP-POST binding (got %s)", connector.ErrInvalidResponse, r.Method)
	}
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("%w: form: %v", connector.ErrInvalidResponse, err)
	}
	encoded := r.PostForm.Get("SAMLResponse")
	if encoded == "" {
		return nil, fmt.Errorf("%w: no SAMLResponse in the POST", connector.ErrInvalidResponse)
	}
	sp := c.sp
	var requestIDs []string
	if req == nil {
		if !c.allowIDPInitiated {
			return nil, fmt.Errorf("%w: an IdP-initiated response, which the connection does not allow", connector.ErrUnsolicited)
		}
		sp.AllowIDPInitiated = true
	} else {
		requestIDs = []string{req.AuthnRequestID}
	}
	doc, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: SAMLResponse is not base64", connector.ErrInvalidResponse)
	}
	// The ACS URL, not the request's URL, is where a signed Response must
	// say it was sent: behind a proxy the request URL is only a path.
	a, err := sp.ParseXMLResponse(doc, requestIDs, sp.AcsURL)
	if err != nil {
		return nil, refusal(err)
	}
	out, err := c.assertion(a)
	if err != nil {
		return nil, err
	}
	// Remember the id while any replica could still accept the assertion:
	// until its expiry plus the skew allowed.
	if err := c.replay.Once(ctx, c.connectionID, a.ID, out.Expires.Add(c.skew)); err != nil {
		if errors.Is(err, connector.ErrReplayed) {
			return nil, fmt.Errorf("%w: assertion %s was already used", connector.ErrReplayed, a.ID)
		}
		return nil, fmt.Errorf("saml: replay cache: %w", err)
	}
	return out, nil
}

// refusal maps what crewjam/saml refused to the connector's refusals,
// keeping its private detail (never the response itself) for the log, and
// its classification (crewjam's ErrInvalidSignature, ErrAudienceMismatch,
// ...) for errors.Is.
func refusal(err error) error {
	detail := err
	var ire *crewjam.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		detail = ire.PrivateErr
	}
	var status crewjam.ErrBadStatus
	switch {
	case errors.As(detail, &status):
		return fmt.Errorf("%w: the IdP answered with status %s", connector.ErrProvider, status.Status)
	case errors.Is(detail, crewjam.ErrExpired):
		return fmt.Errorf("%w: %w", connector.ErrExpired, detail)
	default:
		return fmt.Errorf("%w: %w", connector.ErrInvalidResponse, detail)
	}
}

// assertion applies the connection's clock skew to what the library
// accepted and turns it into the connector's Assertion.
func (c *Connector) assertion(a *crewjam.Assertion) (*connector.Assertion, error) {
	now := c.now()
	if a.ID == "" {
		return nil, fmt.Errorf("%w: the assertion has no ID", connector.ErrInvalidResponse)
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return nil, fmt.Errorf("%w: the assertion has no NameID", connector.ErrInvalidResponse)
	}
	if a.IssueInstant.Add(-c.skew).After(now) {
		return nil, fmt.Errorf("%w: assertion issued in the future (%s; allowed skew %s)", connector.ErrInvalidResponse, a.IssueInstant.UTC().Format(time.RFC3339), c.skew)
	}
	cond := a.Conditions
	if !cond.NotBefore.IsZero() && cond.NotBefore.Add(-c.skew).After(now) {
		return nil, fmt.Errorf("%w: assertion not valid before %s (allowed skew %s)", connector.ErrInvalidResponse, cond.NotBefore.UTC().Format(time.RFC3339), c.skew)
	}
	expires := c.bearerDeadline(a)
	if !cond.NotOnOrAfter.IsZero() && (expires.IsZero() || cond.NotOnOrAfter.Before(expires)) {
		expires = cond.NotOnOrAfter
	}
	if expires.IsZero() {
		return nil, fmt.Errorf("%w: the assertion has no NotOnOrAfter", connector.ErrInvalidResponse)
	}
	if !now.Before(expires.Add(c.skew)) {
		return nil, fmt.Errorf("%w: assertion expired at %s (allowed skew %s)", connector.ErrExpired, expires.UTC().Format(time.RFC3339), c.skew)
	}
	return &connector.Assertion{
		Issuer:        a.Issuer.Value,
		Subject:       a.Subject.NameID.Value,
		Attributes:    attributes(a),
		EmailVerified: true,
		Expires:       expires,
	}, nil
}

// bearerDeadline is the latest NotOnOrAfter of the bearer confirmations
// addressed to this ACS: one valid confirmation confirms the subject, as
// crewjam/saml reads it.
func (c *Connector) bearerDeadline(a *crewjam.Assertion) time.Time {
	var latest time.Time
	acs := c.sp.AcsURL.String()
	for _, sc := range a.Subject.SubjectConfirmations {
		d := sc.SubjectConfirmationData
		if sc.Method != bearer || d == nil || d.Recipient != acs {
			continue
		}
		if d.NotOnOrAfter.After(latest) {
			latest = d.NotOnOrAfter
		}
	}
	return latest
}

// attributes are the assertion's attributes by Name, and by FriendlyName
// where no attribute has that Name (a FriendlyName is a label, and must
// not stand in for another attribute).
func attributes(a *crewjam.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			out[at.Name] = append(out[at.Name], values(at)...)
		}
	}
	friendly := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.FriendlyName == "" || at.FriendlyName == at.Name {
				continue
			}
			if _, named := out[at.FriendlyName]; named {
				continue
			}
			friendly[at.FriendlyName] = append(friendly[at.FriendlyName], values(at)...)
		}
	}
	for k, v := range friendly {
		out[k] = v
	}
	return out
}

func values(at crewjam.Attribute) []string {
	vs := make([]string, 0, len(at.Values))
	for _, v := range at.Values {
		if v.Nil {
			continue
		}
		vs = append(vs, v.Value)
	}
	return vs
}
