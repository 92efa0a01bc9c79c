// Command gateway-plugin-ldap-groups is the LDAP and Active Directory group
// source plugin. The gateway starts it; see plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/ldap"
)

func main() { groupsource.Serve(ldap.New(plugins.NewLogger())) }
