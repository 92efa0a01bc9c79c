package ldap

import (
	"context"
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/invitegate/gateway/plugins"
)

// directory is the part of an LDAP connection a listing uses: one search
// request at a time. *goldap.Conn is one; tests give a fake to serve what
// slapd cannot (Active Directory's ranged attributes).
type directory interface {
	Search(*goldap.SearchRequest) (*goldap.SearchResult, error)
}

// searchPages runs a subtree search page by page (RFC 2696 paged results)
// and calls each for every entry. Paging is what lets a listing pass the
// directory's size limit (slapd's olcSizeLimit, AD's MaxPageSize), so a
// 100,000-member directory lists whole. A server that does not page answers
// everything at once (or fails with its size limit, which is reported).
func searchPages(ctx context.Context, d directory, base, filter string, attrs []string, pageSize int, each func(*goldap.Entry) error) error {
	paging := goldap.NewControlPaging(uint32(pageSize))
	req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, []goldap.Control{paging})
	for page := 1; ; page++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := d.Search(req)
		if err != nil {
			return searchError(ctx, base, filter, err)
		}
		for _, e := range res.Entries {
			if err := each(e); err != nil {
				return err
			}
		}
		ctl, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if !ok || len(ctl.Cookie) == 0 {
			return nil
		}
		if page > 1 && string(ctl.Cookie) == string(paging.Cookie) && len(res.Entries) == 0 {
			return fmt.Errorf("the directory's paged search of %q does not advance (same cookie, no entries, page %d)", base, page)
		}
		paging.SetCookie(ctl.Cookie)
	}
}

// readEntry reads one entry by DN if it matches filter; nil when there is
// no such entry or it does not match.
func readEntry(ctx context.Context, d directory, dn, filter string, attrs []string) (*goldap.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false, filter, attrs, nil)
	res, err := d.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, searchError(ctx, dn, filter, err)
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}

// searchError names what failed in words an operator can act on; it is
// what the source's page shows for the failed sync.
func searchError(ctx context.Context, base, filter string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var le *goldap.Error
	code := uint16(0)
	if errors.As(err, &le) {
		code = le.ResultCode
	}
	switch {
	case code == goldap.LDAPResultNoSuchObject:
		return fmt.Errorf("the base DN %q does not exist in the directory (%v)", base, err)
	case code == goldap.LDAPResultSizeLimitExceeded:
		return fmt.Errorf("the directory's size limit stopped the search of %q for %s, although it was paged: raise the bind DN's limit for paged searches (OpenLDAP: olcLimits with size.prtotal=unlimited) (%v)", base, filter, err)
	case code == goldap.LDAPResultInsufficientAccessRights:
		return fmt.Errorf("the bind DN may not search %q: %v", base, err)
	case code == goldap.LDAPResultFilterError:
		return fmt.Errorf("the directory refused the filter %s: %v", filter, err)
	case le != nil && (code == goldap.ErrorNetwork || code == goldap.LDAPResultServerDown || code == goldap.LDAPResultUnavailable || code == goldap.LDAPResultBusy):
		return fmt.Errorf("%w: the directory stopped answering during the search of %q: %v", plugins.ErrUnavailable, base, err)
	}
	return fmt.Errorf("the search of %q for %s failed: %v", base, filter, err)
}
