// Command gateway-plugin-static-rooms is the reference room adapter plugin:
// rooms declared in its configuration. The gateway starts it; see
// plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/static"
)

func main() { roomadapter.Serve(static.New(plugins.NewLogger())) }
