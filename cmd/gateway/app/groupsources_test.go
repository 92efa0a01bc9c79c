package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A group source's max_removal_share is read from the config file beside
// its schedule, and a share outside 0-1 is refused naming the field.
func TestMaxRemovalShareConfig(t *testing.T) {
	load := func(share string) (*Config, error) {
		p := filepath.Join(t.TempDir(), "gateway.yaml")
		yaml := "plugins:\n  - {name: campus, kind: groupsource, path: /p, sha256: " + strings.Repeat("ab", 32) +
			", schedule: \"@hourly\", account: a" + share + "}\n"
		os.WriteFile(p, []byte(yaml), 0o600)
		return Load(p, true)
	}
	c, err := load(", max_removal_share: 0.35")
	if err != nil || c.Plugins[0].MaxRemovalShare == nil || *c.Plugins[0].MaxRemovalShare != 0.35 {
		t.Fatalf("max_removal_share 0.35: %+v, %v", c.Plugins, err)
	}
	if c, err = load(""); err != nil || c.Plugins[0].MaxRemovalShare != nil {
		t.Fatalf("no max_removal_share: %+v, %v", c.Plugins, err)
	}
	if _, err = load(", max_removal_share: 35"); err == nil || !strings.Contains(err.Error(), "plugins[0]: max_removal_share") {
		t.Fatalf("max_removal_share 35: %v", err)
	}
}
