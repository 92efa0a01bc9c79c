package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitegate/gateway/api/apitest"
)

// The console's resource page offers the invite form only when inviting
// would work, and otherwise says why: a room with chat and collaboration
// off, an account whose invitation module is off.
func TestConsoleResourcePageSaysWhyNotInvitable(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	on := e.Resource(map[string]any{"type": "room", "title": "Open room"})
	off := e.Resource(map[string]any{"type": "room", "title": "Quiet room", "chat_collaboration": false})
	admin := e.SignIn(e.Admin)
	page := func(id string) string {
		return string(e.Must(e.Get(admin, "/console/resources/"+id), http.StatusOK).Body)
	}

	if p := page(on); strings.Contains(p, `id="not-invitable"`) {
		t.Fatalf("a room with chat on says it cannot be invited to: %s", p)
	}
	if p := page(off); !strings.Contains(p, `id="not-invitable"`) || !strings.Contains(p, "chat and collaboration turned off") {
		t.Fatalf("a room with chat off does not say why no one can be invited: %s", p)
	}
	e.Must(e.Do("PUT", "/api/v1/settings/invitations", e.APIKey, map[string]any{"enabled": false}), http.StatusOK)
	if p := page(on); !strings.Contains(p, `id="not-invitable"`) || !strings.Contains(p, "invitation module is turned off") {
		t.Fatalf("with the module off the page does not say so: %s", p)
	}
}
