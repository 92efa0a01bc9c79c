package host

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/plugins"
)

// Config declares one plugin in the gateway's config file:
//
//	plugins:
//	  - name: campus-groups
//	    kind: groupsource
//	    path: /usr/lib/gateway/gateway-plugin-file-groups
//	    sha256: 9f2c...e1
//	    schedule: "*/15 * * * *"
//	    account: 01890a5d-ac96-774b-bcce-b302099a8057
//	    config:
//	      path: /etc/gateway/groups.csv
type Config struct {
	// Name identifies the plugin in logs, status and API calls; it is also
	// the "source" of the groups a group source syncs.
	Name string `yaml:"name" json:"name"`
	// Kind is one of the table's (Kinds): roomadapter, groupsource or
	// templateprovider.
	Kind string `yaml:"kind" json:"kind"`
	// Path is the plugin executable.
	Path string `yaml:"path" json:"path"`
	// SHA256 is the hex SHA-256 of the executable. The host refuses to start
	// a binary whose checksum differs: a replaced binary runs only after an
	// operator vouches for it here (`sha256sum PATH`).
	SHA256 string `yaml:"sha256" json:"sha256"`
	// Schedule is when the kind's job runs (group sync, template refresh): a
	// cron expression ("*/15 * * * *") or a descriptor ("@hourly",
	// "@every 10m"). Required for a kind that has a job (KindSpec.Job),
	// refused for the others (room adapters).
	Schedule string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// Account is the account whose groups a group source syncs; only the
	// kinds whose KindSpec.Account says what it is for take one.
	Account string `yaml:"account,omitempty" json:"account,omitempty"`
	// MaxRemovalShare is, for a group source, the share (0 to 1) of its
	// members a sync may remove before the gateway holds the sync for an
	// admin to confirm (default 0.2, see core/group.Sync). It belongs to
	// the gateway, not the plugin: the plugin never sees it.
	MaxRemovalShare *float64 `yaml:"max_removal_share,omitempty" json:"max_removal_share,omitempty"`
	// Config is the plugin's own configuration, handed to it as JSON by
	// Configure; the plugin checks it and reports every problem at once.
	Config map[string]any `yaml:"config,omitempty" json:"config,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ParseSchedule parses a schedule the way the scheduler does.
func ParseSchedule(spec string) (cron.Schedule, error) {
	return cron.ParseStandard(spec)
}

// Validate reports every problem of the declaration at once. What a kind
// requires or refuses (a schedule, an account) is its entry in Kinds.
func (c Config) Validate() error {
	var f problem.Fields
	c.validate(&f, "")
	return f.Err()
}

func (c Config) validate(f *problem.Fields, prefix string) {
	if !nameRE.MatchString(c.Name) {
		f.Add(prefix+"name", "must be 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit")
	}
	spec, kindErr := LookupKind(plugins.Kind(c.Kind))
	if kindErr != nil {
		f.Add(prefix+"kind", fmt.Sprintf("must be one of %v, not %q", kindNames(), c.Kind))
	}
	if strings.TrimSpace(c.Path) == "" {
		f.Add(prefix+"path", "is required: the plugin executable")
	}
	if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != 32 {
		f.Add(prefix+"sha256", "must be the 64 hex digits of the executable's SHA-256 (sha256sum PATH)")
	}
	known := kindErr == nil
	switch {
	case known && spec.Job == "" && c.Schedule != "":
		f.Add(prefix+"schedule", spec.Plural+" have no scheduled job; remove it")
	case known && spec.Job != "" && c.Schedule == "":
		f.Add(prefix+"schedule", "is required for a "+c.Kind+` (e.g. "@hourly" or "*/15 * * * *")`)
	case c.Schedule != "":
		if _, err := ParseSchedule(c.Schedule); err != nil {
			f.Add(prefix+"schedule", "is not a cron expression or descriptor: "+err.Error())
		}
	}
	switch {
	case known && spec.Account != "" && strings.TrimSpace(c.Account) == "":
		f.Add(prefix+"account", "is required for a "+c.Kind+": "+spec.Account)
	case known && spec.Account == "" && c.Account != "":
		f.Add(prefix+"account", accountRefused())
	}
	if c.MaxRemovalShare != nil {
		switch share := *c.MaxRemovalShare; {
		case known && spec.Job != JobGroupSync:
			f.Add(prefix+"max_removal_share", "only group sources have a mass-removal guard; remove it")
		case share < 0 || share > 1:
			f.Add(prefix+"max_removal_share", fmt.Sprintf("must be a share between 0 and 1 (0.2 = 20%%), not %g", share))
		}
	}
	if _, err := json.Marshal(c.Config); err != nil {
		f.Add(prefix+"config", "cannot be expressed as JSON: "+err.Error())
	}
}

// ValidateAll checks a whole plugins list, including that names are unique,
// and reports every problem at once with fields like "plugins[2].sha256".
func ValidateAll(cfgs []Config) error {
	var f problem.Fields
	seen := map[string]int{}
	for i, c := range cfgs {
		prefix := fmt.Sprintf("plugins[%d].", i)
		c.validate(&f, prefix)
		if j, dup := seen[c.Name]; dup && c.Name != "" {
			f.Add(prefix+"name", fmt.Sprintf("%q is already the name of plugins[%d]", c.Name, j))
		} else {
			seen[c.Name] = i
		}
	}
	return f.Err()
}

// ConfigJSON is the plugin's configuration as handed to Configure.
func (c Config) ConfigJSON() (json.RawMessage, error) {
	if c.Config == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(c.Config)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: config: %w", c.Name, err)
	}
	return b, nil
}

// kindNames lists the table's kinds, for messages.
func kindNames() []plugins.Kind {
	table := Kinds()
	out := make([]plugins.Kind, len(table))
	for i, k := range table {
		out[i] = k.Kind
	}
	return out
}

// accountRefused tells which kinds take an account ("only group sources
// take an account").
func accountRefused() string {
	var out []string
	for _, k := range Kinds() {
		if k.Account != "" {
			out = append(out, k.Plural)
		}
	}
	if len(out) == 0 {
		return "no plugin kind takes an account; remove it"
	}
	return "only " + orList(out, "and") + " take an account"
}
