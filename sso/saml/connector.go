package saml

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/invitegate/gateway/sso/connector"
)

// Connector is one SAML connection's service provider.
type Connector struct {
	// sp answers SP-initiated logins: every response must carry the
	// InResponseTo of the request it answers. Finish copies it to accept
	// an unsolicited response when the connection allows one.
	sp                crewjam.ServiceProvider
	allowIDPInitiated bool
	keys              []*spKey
	connectionID      string
	now               func() time.Time
	// skew is how far the IdP's clock may be from ours, at most
	// crewjam.MaxClockSkew, the bound the library itself applies.
	skew   time.Duration
	replay connector.Replay
	// preferred is the binding AuthnRequests go with when the IdP has it.
	preferred string
}

var (
	_ connector.Connector = (*Connector)(nil)
	_ connector.Metadater = (*Connector)(nil)
)

// open builds the service provider of one connection.
func open(ctx context.Context, c *Config, env connector.Env) (*Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Keys) == 0 {
		return nil, errors.New("saml: the connection has no SP key; it is made when the connection is created, or by rotating the key")
	}
	if env.Replay == nil {
		return nil, errors.New("saml: no replay cache: assertions could be used twice")
	}
	keys := make([]*spKey, 0, len(c.Keys))
	for i, k := range c.Keys {
		sk, err := k.parse()
		if err != nil {
			return nil, fmt.Errorf("saml: config.keys[%d].%v", i, err)
		}
		keys = append(keys, sk)
	}
	idp, err := idpMetadata(ctx, c, env.HTTPClient)
	if err != nil {
		return nil, err
	}
	format, _ := c.nameIDFormat()
	base := strings.TrimRight(env.BaseURL, "/") + "/sso/saml/" + url.PathEscape(env.ConnectionID)
	metadataURL, err := url.Parse(base + "/metadata")
	if err != nil {
		return nil, fmt.Errorf("saml: base URL %q: %w", env.BaseURL, err)
	}
	acsURL, err := url.Parse(base + "/acs")
	if err != nil {
		return nil, fmt.Errorf("saml: base URL %q: %w", env.BaseURL, err)
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	skew := max(env.ClockSkew, 0)
	if skew > crewjam.MaxClockSkew {
		if env.Logger != nil {
			env.Logger.Warn("saml: clock skew above the SAML library's bound; using the bound",
				"connection", env.ConnectionID, "configured", env.ClockSkew, "used", crewjam.MaxClockSkew)
		}
		skew = crewjam.MaxClockSkew
	}
	decrypt := make([]*rsa.PrivateKey, 0, len(keys)-1)
	for _, k := range keys[1:] {
		decrypt = append(decrypt, k.key)
	}
	conn := &Connector{
		sp: crewjam.ServiceProvider{
			EntityID:          c.EntityID,
			Key:               keys[0].key,
			Certificate:       keys[0].cert,
			DecryptionKeys:    decrypt,
			HTTPClient:        env.HTTPClient,
			MetadataURL:       *metadataURL,
			AcsURL:            *acsURL,
			IDPMetadata:       idp,
			AuthnNameIDFormat: format,
			// Signed AuthnRequests, always: the IdP can tell our
			// requests from anyone's who knows our entity id.
			SignatureMethod: dsig.RSASHA256SignatureMethod,
			// Only the HTTP-POST binding is served at the ACS.
			AssertionConsumerServiceBindings: []string{crewjam.HTTPPostBinding},
			Clock:                            newClock(now),
		},
		allowIDPInitiated: c.AllowIDPInitiated,
		keys:              keys,
		connectionID:      env.ConnectionID,
		now:               now,
		skew:              skew,
		replay:            env.Replay,
		preferred:         c.binding(),
	}
	return conn, nil
}

// idpMetadata is the stored metadata, or, for a connection given only a
// URL and not yet refreshed, the metadata fetched now.
func idpMetadata(ctx context.Context, c *Config, client *http.Client) (*crewjam.EntityDescriptor, error) {
	if strings.TrimSpace(c.IDPMetadataXML) != "" {
		ed, err := parseIDPMetadata([]byte(c.IDPMetadataXML))
		if err != nil {
			return nil, fmt.Errorf("saml: stored IdP metadata %v", err)
		}
		return ed, nil
	}
	_, ed, err := fetchMetadata(ctx, client, c.IDPMetadataURL)
	return ed, err
}

// Begin makes a signed AuthnRequest for req and says where to send the
// browser with it. The request id is kept in req: the response must
// answer it.
func (c *Connector) Begin(ctx context.Context, req *connector.Request) (*connector.Redirect, error) {
	binding, location := c.ssoEndpoint()
	ar, err := c.sp.MakeAuthenticationRequest(location, binding, crewjam.HTTPPostBinding)
	if err != nil {
		return nil, fmt.Errorf("saml: make AuthnRequest: %w", err)
	}
	req.AuthnRequestID = ar.ID
	if binding == crewjam.HTTPRedirectBinding {
		u, err := ar.Redirect(req.Key, &c.sp)
		if err != nil {
			return nil, fmt.Errorf("saml: sign AuthnRequest: %w", err)
		}
		return &connector.Redirect{URL: u.String()}, nil
	}
	doc := etree.NewDocument()
	doc.SetRoot(ar.Element())
	body, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("saml: write AuthnRequest: %w", err)
	}
	return &connector.Redirect{URL: location, Form: map[string]string{
		"SAMLRequest": base64.StdEncoding.EncodeToString(body),
		"RelayState":  req.Key,
	}}, nil
}

// ssoEndpoint is the IdP's SSO endpoint of the preferred binding, or of
// the other one when the IdP offers only that (Validate made sure it
// offers one of them).
func (c *Connector) ssoEndpoint() (binding, location string) {
	other := crewjam.HTTPPostBinding
	if c.preferred == crewjam.HTTPPostBinding {
		other = crewjam.HTTPRedirectBinding
	}
	for _, b := range []string{c.preferred, other} {
		if loc := c.sp.GetSSOBindingLocation(b); loc != "" {
			return b, loc
		}
	}
	return c.preferred, ""
}

// RequestKey is the RelayState the IdP posts back with the response. The
// ACS takes only urlencoded forms (the HTTP-POST binding), so a multipart
// body is never read here.
func (c *Connector) RequestKey(r *http.Request) string {
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get("RelayState")
}

// Metadata is the SP metadata to give the IdP: every key's certificate,
// for signing and for encryption (during a rollover the IdP learns the
// next key before it is used), and the ACS with the HTTP-POST binding.
//
// The signing certificates come in key order, the one that signs first.
// The encryption certificates come newest first: an IdP encrypts to the
// first one it finds (samlidp does, and IdPs that take one certificate
// take the first), so an IdP given the metadata during a rollover
// encrypts to the new key, which the rollover's second step keeps, and
// its sign-ins go on after that step without telling the IdP again.
func (c *Connector) Metadata(ctx context.Context) ([]byte, error) {
	ed := c.sp.Metadata()
	spd := &ed.SPSSODescriptors[0]
	var methods []crewjam.EncryptionMethod
	for _, kd := range spd.KeyDescriptors {
		if kd.Use == "encryption" {
			methods = kd.EncryptionMethods
		}
	}
	kds := make([]crewjam.KeyDescriptor, 0, 2*len(c.keys))
	infos := make([]crewjam.KeyInfo, len(c.keys))
	for i, k := range c.keys {
		infos[i] = crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{
			{Data: base64.StdEncoding.EncodeToString(k.cert.Raw)},
		}}}
		kds = append(kds, crewjam.KeyDescriptor{Use: "signing", KeyInfo: infos[i]})
	}
	for i := len(infos) - 1; i >= 0; i-- {
		kds = append(kds, crewjam.KeyDescriptor{Use: "encryption", KeyInfo: infos[i], EncryptionMethods: methods})
	}
	spd.KeyDescriptors = kds
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: write SP metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}
