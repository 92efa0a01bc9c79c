package saml

// PublicConfig is a SAML connection's config as the API returns it: the
// certificates with their fingerprints and expiry, never a private key.
type PublicConfig struct {
	IDPMetadataXML string `json:"idp_metadata_xml,omitempty"`
	IDPMetadataURL string `json:"idp_metadata_url,omitempty"`
	// IDPEntityID is read from the metadata, so an admin sees which IdP
	// the connection trusts.
	IDPEntityID       string      `json:"idp_entity_id,omitempty"`
	EntityID          string      `json:"entity_id,omitempty"`
	NameIDFormat      string      `json:"name_id_format,omitempty"`
	Binding           string      `json:"binding"`
	AllowIDPInitiated bool        `json:"allow_idp_initiated"`
	Keys              []PublicKey `json:"keys"`
}

// Public is the config without its private keys.
func (c *Config) Public() any {
	p := PublicConfig{
		IDPMetadataXML:    c.IDPMetadataXML,
		IDPMetadataURL:    c.IDPMetadataURL,
		EntityID:          c.EntityID,
		NameIDFormat:      c.NameIDFormat,
		Binding:           c.Binding,
		AllowIDPInitiated: c.AllowIDPInitiated,
		Keys:              publicKeys(c.Keys),
	}
	if p.Binding == "" {
		p.Binding = BindingRedirect
	}
	if c.IDPMetadataXML != "" {
		if ed, err := parseIDPMetadata([]byte(c.IDPMetadataXML)); err == nil {
			p.IDPEntityID = ed.EntityID
		}
	}
	return p
}
