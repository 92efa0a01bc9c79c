// Command gateway-plugin-file-groups is the reference group source plugin:
// groups read from a JSON or CSV file. The gateway starts it; see
// plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins/groupsource"
	"github.com/invitegate/gateway/plugins/groupsource/file"
)

func main() { groupsource.Serve(file.New()) }
