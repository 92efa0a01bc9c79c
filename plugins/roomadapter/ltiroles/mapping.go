package ltiroles

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/invitegate/gateway/plugins"
	"github.com/invitegate/gateway/plugins/roomadapter"
)

// Viewer is the mapping's word for "no collaborator role": the person
// enters as a viewer and may not invite.
const Viewer = "viewer"

// rank orders the room roles a mapping gives: a launcher with several
// roles gets the highest.
var rank = map[string]int{Viewer: 0, roomadapter.RoleCoPublisher: 1, roomadapter.RoleCoEditor: 2, roomadapter.RoleCoOwner: 3, roomadapter.RoleOwner: 4}

// DefaultRoles is the mapping a configuration starts from: instructors own
// the room, teaching assistants co-edit, content developers co-publish,
// institution and system administrators co-own, and everyone else (the
// learners, and the vocabulary's other roles) views. A platform's own
// roles are "platform:name" keys the adapter adds (Sakai's site roles).
func DefaultRoles() map[string]string {
	m := map[string]string{
		"membership#Instructor":                   roomadapter.RoleOwner,
		"membership/Instructor#TeachingAssistant": roomadapter.RoleCoEditor,
		"membership#ContentDeveloper":             roomadapter.RoleCoPublisher,
		"membership#Administrator":                roomadapter.RoleCoOwner,
		"institution#Administrator":               roomadapter.RoleCoOwner,
		"system#Administrator":                    roomadapter.RoleCoOwner,
		"system#SysAdmin":                         roomadapter.RoleCoOwner,
	}
	// Known roles that give no collaborator role, so that they are not
	// reported as unknown.
	for _, k := range []string{
		"membership#Learner", "membership#Mentor", "membership#Member", "membership#Manager", "membership#Officer",
		"institution#Student", "institution#Faculty", "institution#Instructor", "institution#Learner", "institution#Member",
		"institution#Mentor", "institution#Staff", "institution#Alumni", "institution#Guest", "institution#Other",
		"institution#ProspectiveStudent", "institution#Observer", "institution#None",
		"system#User", "system#None", "system#TestUser", "system#Creator", "system#AccountAdmin",
	} {
		m[k] = Viewer
	}
	return m
}

// ValidRole reports whether r is a role a mapping may give.
func ValidRole(r string) bool { _, ok := rank[r]; return ok }

// CheckRoles adds a problem to p for each entry of roles (a configuration's
// "roles", under field) that gives no room role.
func CheckRoles(p *plugins.ConfigErrors, field string, roles map[string]string) {
	keys := make([]string, 0, len(roles))
	for k := range roles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			p.Add(field, "a role to map is empty")
		} else if !ValidRole(roles[k]) {
			p.Add(field+"."+k, "must be owner, co-owner, co-editor, co-publisher or viewer, not %q", roles[k])
		}
	}
}

// Mapper gives a launcher's room role. It logs each role it does not know
// once, so an operator sees which ones to add to the mapping without a
// line per launch.
type Mapper struct {
	roles map[string]string
	log   *slog.Logger

	mu   sync.Mutex
	seen map[string]bool
}

// NewMapper maps with DefaultRoles, changed by overrides (entries of a
// configuration's "roles").
func NewMapper(overrides map[string]string, log *slog.Logger) *Mapper {
	roles := DefaultRoles()
	for k, v := range overrides {
		roles[strings.TrimSpace(k)] = v
	}
	return &Mapper{roles: roles, log: log, seen: map[string]bool{}}
}

// Map is the room role of a launcher with the LTI roles and, when the
// platform says it, its own role in the context (platformRole, a key such
// as "sakai:maintain"): "owner", "co-owner", "co-editor", "co-publisher",
// or "" (a viewer, who may not invite).
//
// In the context, a platform role the mapping knows decides (Sakai's site
// role is what the site's owner set); otherwise the context roles do, a
// sub-role standing for its principal (a teaching assistant is sent as an
// Instructor too, and is no owner), and a sub-role the mapping does not
// know counting as its principal. Institution and system roles add to
// that: the highest role wins.
func (m *Mapper) Map(roles []string, platformRole string) string {
	best := Viewer
	take := func(r string) {
		if rank[r] > rank[best] {
			best = r
		}
	}
	contextDecided := false
	if platformRole != "" {
		if r, ok := m.roles[platformRole]; ok {
			take(r)
			contextDecided = true
		} else {
			m.unknown(platformRole)
		}
	}
	parsed := make([]Role, 0, len(roles))
	withSub := map[Role]bool{}
	for _, s := range roles {
		r, ok := Parse(s)
		if !ok {
			if v, known := m.roles[s]; known {
				take(v)
			} else {
				m.unknown(s)
			}
			continue
		}
		parsed = append(parsed, r)
		if r.Sub != "" {
			withSub[r.Principal()] = true
		}
	}
	for _, r := range parsed {
		if r.Scope == Context && (contextDecided || (r.Sub == "" && withSub[r])) {
			continue
		}
		if v, ok := m.roles[r.Key()]; ok {
			take(v)
			continue
		}
		if r.Sub != "" {
			if v, ok := m.roles[r.Principal().Key()]; ok {
				take(v)
				continue
			}
		}
		m.unknown(r.Key())
	}
	if best == Viewer {
		return ""
	}
	return best
}

func (m *Mapper) unknown(role string) {
	m.mu.Lock()
	first := !m.seen[role]
	m.seen[role] = true
	m.mu.Unlock()
	if first && m.log != nil {
		m.log.Warn(fmt.Sprintf("unknown LTI role %q: its launchers enter as viewers; map it under roles: in the plugin's config", role), "role", role)
	}
}
