// Command gateway-plugin-template-dir is the reference template provider
// plugin: email templates from a folder. The gateway starts it; see
// plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins/templateprovider"
	"github.com/invitegate/gateway/plugins/templateprovider/dir"
)

func main() { templateprovider.Serve(dir.New()) }
