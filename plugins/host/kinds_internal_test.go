package host

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/invitegate/gateway/plugins"
)

// The plugin set offered at the handshake is the table's kinds, each with
// its own go-plugin wrapper, at the one protocol version there is.
func TestPluginSetIsTheTable(t *testing.T) {
	sets := pluginSets()
	if got := slices.Collect(maps.Keys(sets)); !slices.Equal(got, []int{plugins.ProtocolVersion}) {
		t.Fatalf("protocol versions = %v", got)
	}
	set := sets[plugins.ProtocolVersion]
	table := Kinds()
	if len(set) != len(table) {
		t.Fatalf("plugin set has %d entries, the table %d kinds", len(set), len(table))
	}
	for _, k := range table {
		p, ok := set[string(k.Kind)]
		if !ok || reflect.TypeOf(p) != reflect.TypeOf(k.Plugin) {
			t.Fatalf("plugin set entry of %s = %T, want %T", k.Kind, p, k.Plugin)
		}
	}
}
