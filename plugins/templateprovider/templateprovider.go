// Package templateprovider is the TemplateProvider plugin kind: a source of
// email templates (a folder, a CMS, a git repository...). The gateway fetches
// them on a schedule, renders them with html/template and text/template, and
// keeps the last version that parsed.
package templateprovider

import (
	"context"

	"github.com/invitegate/gateway/plugins"
)

// Kind is this package's plugin kind, as the config names it. Its wire
// enum in plugin.proto is named after it (plugins.KindFromProto).
const Kind plugins.Kind = "templateprovider"

// APIVersions lists the TemplateProvider API versions this SDK speaks.
//
// History:
//
//	1: ListTemplates.
func APIVersions() []uint32 { return []uint32{1} }

// Template is one email in one locale.
type Template struct {
	// Name is the email it renders, e.g. "invitation".
	Name string
	// Locale is a BCP 47 tag, e.g. "en" or "fr-CA".
	Locale  string
	Subject string
	HTML    string
	Text    string
	// Version changes whenever the content changes.
	Version string
}

// TemplateProvider is implemented by a template provider plugin and by the
// typed client the gateway uses to call one.
type TemplateProvider interface {
	plugins.Plugin
	ListTemplates(ctx context.Context) ([]Template, error)
}
