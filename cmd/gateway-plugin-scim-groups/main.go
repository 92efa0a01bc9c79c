// Command gateway-plugin-scim-groups is the SCIM 2.0 client group source
// plugin: groups and users pulled from a SCIM service provider. The gateway
// starts it; see plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/scim"
)

func main() { groupsource.Serve(scim.New(plugins.NewLogger())) }
