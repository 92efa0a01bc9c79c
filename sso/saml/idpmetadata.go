package saml

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/invitegate/gateway/sso/connector"
)

// maxMetadataBytes bounds a fetched metadata document. A single IdP's
// metadata is a few kilobytes; a federation aggregate can reach megabytes,
// and more than this is refused rather than read into memory.
const maxMetadataBytes = 8 << 20

// parseIDPMetadata reads an IdP's metadata: an EntityDescriptor, or an
// EntitiesDescriptor holding exactly one identity provider. It refuses
// metadata this SP could not log in with (no entity id, no SSO endpoint of
// a binding it sends, no signing certificate to check responses with), so
// an admin hears of it when saving rather than at the first login.
func parseIDPMetadata(data []byte) (*crewjam.EntityDescriptor, error) {
	root, err := rootElement(data)
	if err != nil {
		return nil, errors.New("is not XML metadata")
	}
	var ed *crewjam.EntityDescriptor
	switch root.Local {
	case "EntityDescriptor":
		ed = &crewjam.EntityDescriptor{}
		if err := xml.Unmarshal(data, ed); err != nil {
			return nil, fmt.Errorf("is not valid SAML metadata: %v", err)
		}
	case "EntitiesDescriptor":
		var all crewjam.EntitiesDescriptor
		if err := xml.Unmarshal(data, &all); err != nil {
			return nil, fmt.Errorf("is not valid SAML metadata: %v", err)
		}
		var idps []crewjam.EntityDescriptor
		collectIDPs(&all, &idps)
		if len(idps) != 1 {
			return nil, fmt.Errorf("holds %d identity providers; give the metadata of exactly one", len(idps))
		}
		ed = &idps[0]
	default:
		return nil, fmt.Errorf("is not SAML metadata (root element %s)", root.Local)
	}
	return ed, checkIDP(ed)
}

func rootElement(data []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.Name{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}

func collectIDPs(all *crewjam.EntitiesDescriptor, out *[]crewjam.EntityDescriptor) {
	for _, e := range all.EntityDescriptors {
		if len(e.IDPSSODescriptors) > 0 {
			*out = append(*out, e)
		}
	}
	for i := range all.EntitiesDescriptors {
		collectIDPs(&all.EntitiesDescriptors[i], out)
	}
}

func checkIDP(ed *crewjam.EntityDescriptor) error {
	if strings.TrimSpace(ed.EntityID) == "" {
		return errors.New("has no entityID")
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return errors.New("describes no identity provider (no IDPSSODescriptor)")
	}
	var sso, signing bool
	for _, d := range ed.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			if s.Binding == crewjam.HTTPRedirectBinding || s.Binding == crewjam.HTTPPostBinding {
				sso = true
			}
		}
		for _, k := range d.KeyDescriptors {
			if (k.Use == "" || k.Use == "signing") && len(k.KeyInfo.X509Data.X509Certificates) > 0 {
				signing = true
			}
		}
	}
	if !sso {
		return errors.New("has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding")
	}
	if !signing {
		return errors.New("has no signing certificate")
	}
	return nil
}

// fetchMetadata GETs the IdP's metadata and checks it as parseIDPMetadata
// does, so only a usable document replaces the stored one.
func fetchMetadata(ctx context.Context, client *http.Client, url string) ([]byte, *crewjam.EntityDescriptor, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: IdP metadata %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: fetch IdP metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("saml: fetch IdP metadata %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("saml: read IdP metadata: %w", err)
	}
	if len(body) > maxMetadataBytes {
		return nil, nil, fmt.Errorf("saml: IdP metadata %s is larger than %d bytes", url, maxMetadataBytes)
	}
	ed, err := parseIDPMetadata(body)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: IdP metadata from %s %v", url, err)
	}
	return body, ed, nil
}

// Refresh fetches the IdP metadata from IDPMetadataURL and returns the
// config holding it. On an error the caller keeps the stored copy. A
// config without a URL has nothing to fetch and is returned as it is.
func (c *Config) Refresh(ctx context.Context, client *http.Client) (connector.Config, error) {
	if c.IDPMetadataURL == "" {
		return c, nil
	}
	body, _, err := fetchMetadata(ctx, client, c.IDPMetadataURL)
	if err != nil {
		return nil, err
	}
	n := c.clone()
	n.IDPMetadataXML = string(body)
	return n, nil
}
