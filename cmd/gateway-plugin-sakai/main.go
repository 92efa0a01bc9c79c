// Command gateway-plugin-sakai is the room adapter for Sakai: sites as
// rooms, Sakai and LTI roles as room roles. The gateway starts it; see
// plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/sakai"
)

func main() { roomadapter.Serve(sakai.New(plugins.NewLogger())) }
