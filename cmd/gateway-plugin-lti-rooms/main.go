// Command gateway-plugin-lti-rooms is the room adapter for any LTI 1.3
// platform (Canvas, Moodle, Brightspace, Blackboard): courses as rooms,
// LTI roles as room roles. The gateway starts it; see plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/ltirooms"
)

func main() { roomadapter.Serve(ltirooms.New(plugins.NewLogger())) }
