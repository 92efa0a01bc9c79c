// Command gateway-plugin-template-http is a template provider plugin: email
// templates fetched over HTTP(S) from a URL. The gateway starts it; see
// plugins/README.md.
package main

import (
	"github.com/invitegate/gateway/plugins/templateprovider"
	"github.com/invitegate/gateway/plugins/templateprovider/remote"
)

func main() { templateprovider.Serve(remote.New()) }
