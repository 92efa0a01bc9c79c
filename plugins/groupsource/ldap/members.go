package ldap

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins/groupsource"
)

// dirGroup is a group as read for a member listing.
type dirGroup struct {
	id, name   string
	memberDNs  []memberDN
	memberUIDs []string
}

// memberDN is a DN-valued member reference: as written, and its key.
type memberDN struct{ dn, key string }

// dirUser is a person as the member listing emits them.
type dirUser struct{ id, email, name string }

// listing holds what one ListMembers read: every group (nesting needs them
// all) and every user under the user base, indexed by DN and uid. Users the
// groups name outside that search are read one by one and remembered, found
// or not, so each is asked for once.
type listing struct {
	cfg    *Config
	d      directory
	groups []*dirGroup
	byDN   map[string]*dirGroup
	users  map[string]*dirUser // by normalised DN; nil value: not a user
	byUID  map[string]*dirUser // nil value: no such user
	// skipped counts member references that name nobody the user filter
	// matches (deleted people, entries of other kinds).
	skipped []string
}

func (c *Config) groupAttrs(withMembers bool) []string {
	attrs := []string{c.GroupIDAttribute, c.GroupNameAttribute}
	if withMembers {
		attrs = append(attrs, c.MemberAttributes...)
		if c.MemberUIDAttribute != "" {
			attrs = append(attrs, c.MemberUIDAttribute)
		}
	}
	return attrs
}

func (c *Config) userAttrs() []string {
	attrs := append([]string{c.UserIDAttribute, c.EmailAttribute, c.UIDAttribute}, c.NameAttributes...)
	return slices.Compact(attrs)
}

// readGroups lists the groups with their ids and names (and members when
// withMembers), in the directory's order.
func readGroups(ctx context.Context, d directory, c *Config, withMembers bool, each func(*goldap.Entry, groupsource.Group) error) error {
	return searchPages(ctx, d, c.GroupBaseDN, c.GroupFilter, c.groupAttrs(withMembers), c.PageSize, func(e *goldap.Entry) error {
		id := idValue(e, c.GroupIDAttribute)
		if id == "" {
			return fmt.Errorf("group %s has no %s: set group_id_attribute to an attribute every group has", e.DN, c.GroupIDAttribute)
		}
		return each(e, groupsource.Group{ID: id, Name: e.GetEqualFoldAttributeValue(c.GroupNameAttribute)})
	})
}

// read fills the listing from the directory: groups with their member
// references, then the users.
func (l *listing) read(ctx context.Context) error {
	c := l.cfg
	l.byDN, l.users, l.byUID = map[string]*dirGroup{}, map[string]*dirUser{}, map[string]*dirUser{}
	err := readGroups(ctx, l.d, c, true, func(e *goldap.Entry, g groupsource.Group) error {
		dg := &dirGroup{id: g.ID, name: g.Name}
		for _, attr := range c.MemberAttributes {
			vals, err := attrValues(ctx, l.d, e, attr)
			if err != nil {
				return err
			}
			for _, v := range vals {
				dn := stripUID(v)
				dg.memberDNs = append(dg.memberDNs, memberDN{dn, normDN(dn)})
			}
		}
		if c.MemberUIDAttribute != "" {
			vals, err := attrValues(ctx, l.d, e, c.MemberUIDAttribute)
			if err != nil {
				return err
			}
			dg.memberUIDs = vals
		}
		l.groups = append(l.groups, dg)
		l.byDN[normDN(e.DN)] = dg
		return nil
	})
	if err != nil {
		return err
	}
	return searchPages(ctx, l.d, c.UserBaseDN, c.UserFilter, c.userAttrs(), c.PageSize, func(e *goldap.Entry) error {
		u := l.user(e)
		l.users[normDN(e.DN)] = u
		if c.MemberUIDAttribute != "" {
			if uid := e.GetEqualFoldAttributeValue(c.UIDAttribute); uid != "" {
				l.byUID[uid] = u
			}
		}
		return nil
	})
}

func (l *listing) user(e *goldap.Entry) *dirUser {
	u := &dirUser{id: idValue(e, l.cfg.UserIDAttribute), email: e.GetEqualFoldAttributeValue(l.cfg.EmailAttribute)}
	for _, a := range l.cfg.NameAttributes {
		if u.name = e.GetEqualFoldAttributeValue(a); u.name != "" {
			break
		}
	}
	return u
}

// userByDN finds a member DN's person: from the user search, else by
// reading that one entry (a person outside user_base_dn).
func (l *listing) userByDN(ctx context.Context, ref memberDN) (*dirUser, error) {
	if u, ok := l.users[ref.key]; ok {
		return u, nil
	}
	e, err := readEntry(ctx, l.d, ref.dn, l.cfg.UserFilter, l.cfg.userAttrs())
	if err != nil {
		return nil, err
	}
	var u *dirUser
	if e != nil {
		u = l.user(e)
	} else {
		l.skipped = append(l.skipped, ref.dn)
	}
	l.users[ref.key] = u
	return u, nil
}

// userByUID finds a memberUid's person: from the user search, else with a
// search for that uid under the user base.
func (l *listing) userByUID(ctx context.Context, uid string) (*dirUser, error) {
	if u, ok := l.byUID[uid]; ok {
		return u, nil
	}
	filter := fmt.Sprintf("(&%s(%s=%s))", l.cfg.UserFilter, l.cfg.UIDAttribute, goldap.EscapeFilter(uid))
	var u *dirUser
	err := searchPages(ctx, l.d, l.cfg.UserBaseDN, filter, l.cfg.userAttrs(), l.cfg.PageSize, func(e *goldap.Entry) error {
		if u == nil {
			u = l.user(e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if u == nil {
		l.skipped = append(l.skipped, l.cfg.UIDAttribute+"="+uid)
	}
	l.byUID[uid] = u
	return u, nil
}

// emit sends g's members, each person once: direct DN members, memberUid
// members and, with nested groups, the members of member groups at any
// depth. A group already being expanded is not entered again, so a cycle
// (A in B, B in A) ends.
func (l *listing) emit(ctx context.Context, g *dirGroup, emit func(groupsource.Member) error) error {
	seen := map[dirUser]bool{} // by value: one person read twice is one member
	entered := map[*dirGroup]bool{}
	var walk func(*dirGroup) error
	walk = func(cur *dirGroup) error {
		entered[cur] = true
		send := func(u *dirUser) error {
			if u == nil || seen[*u] || (u.id == "" && u.email == "") {
				return nil
			}
			seen[*u] = true
			return emit(groupsource.Member{GroupID: g.id, ID: u.id, Email: u.email, Name: u.name})
		}
		for _, ref := range cur.memberDNs {
			if sub, ok := l.byDN[ref.key]; ok {
				if l.cfg.NestedGroups && !entered[sub] {
					if err := walk(sub); err != nil {
						return err
					}
				}
				continue
			}
			u, err := l.userByDN(ctx, ref)
			if err != nil {
				return err
			}
			if err := send(u); err != nil {
				return err
			}
		}
		for _, uid := range cur.memberUIDs {
			u, err := l.userByUID(ctx, uid)
			if err != nil {
				return err
			}
			if err := send(u); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(g)
}

// normDN is a DN's comparison key: attribute types and values folded to
// lower case (the matching rules of the naming attributes in use, cn, ou,
// dc, uid, are case-insensitive) and escaping made uniform, so a member
// value written "CN=Ann,OU=People" finds the entry "cn=ann,ou=people".
func normDN(dn string) string {
	p, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	var b strings.Builder
	for i, rdn := range p.RDNs {
		if i > 0 {
			b.WriteByte(0)
		}
		parts := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			parts[j] = strings.ToLower(a.Type) + "\x01" + strings.ToLower(a.Value)
		}
		slices.Sort(parts)
		b.WriteString(strings.Join(parts, "\x02"))
	}
	return b.String()
}

// stripUID drops the optional "#'0101'B" unique identifier a uniqueMember
// value may carry (RFC 4517 Name and Optional UID).
func stripUID(v string) string {
	if i := strings.LastIndex(v, "#'"); i > 0 && strings.HasSuffix(v, "'B") && v[i-1] != '\\' {
		return v[:i]
	}
	return v
}

// idValue is an entry's id attribute as text: AD's binary objectGUID in its
// usual string form, a textual id (entryUUID) as it is, other binary values
// in hex.
func idValue(e *goldap.Entry, attr string) string {
	raw := e.GetEqualFoldRawAttributeValue(attr)
	switch {
	case len(raw) == 0:
		return ""
	case strings.EqualFold(attr, "objectGUID") && len(raw) == 16:
		return guidString(raw)
	case utf8.Valid(raw) && !slices.ContainsFunc(raw, func(b byte) bool { return b < 0x20 }):
		return string(raw)
	}
	return hex.EncodeToString(raw)
}

// guidString formats AD's objectGUID: its first three fields are stored
// little-endian.
func guidString(b []byte) string {
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:16])
}
