package ldap

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// Active Directory sends at most MaxValRange (1,500 by default) values of a
// multi-valued attribute per entry: a large group's members come back as
// "member;range=0-1499" and the rest must be asked for by range
// ("member;range=1500-*") until a reply's range ends in "*". This is
// incremental retrieval of multi-valued properties (MS-ADTS 3.1.1.3.1.3.3).

// valueRange is an attribute description's range option.
type valueRange struct {
	attr   string // the attribute's name, without options
	low    int
	high   int  // -1 when last
	isLast bool // the range ends in "*": no values follow
}

// parseRange reads "member;range=0-1499" or "member;range=1500-*"; ok is
// false for an attribute description without a range option.
func parseRange(desc string) (r valueRange, ok bool, err error) {
	parts := strings.Split(desc, ";")
	for _, opt := range parts[1:] {
		spec, found := strings.CutPrefix(strings.ToLower(opt), "range=")
		if !found {
			continue
		}
		lo, hi, found := strings.Cut(spec, "-")
		if !found {
			return r, true, fmt.Errorf("attribute %q: range %q has no '-'", desc, spec)
		}
		r.attr = parts[0]
		if r.low, err = strconv.Atoi(lo); err != nil || r.low < 0 {
			return r, true, fmt.Errorf("attribute %q: range start %q is not a number", desc, lo)
		}
		if hi == "*" {
			r.high, r.isLast = -1, true
			return r, true, nil
		}
		if r.high, err = strconv.Atoi(hi); err != nil || r.high < r.low {
			return r, true, fmt.Errorf("attribute %q: range end %q is not a number from %d up", desc, hi, r.low)
		}
		return r, true, nil
	}
	return r, false, nil
}

// attrValues returns every value of attr on e: the plain attribute's values,
// or, when the directory sent a range of them, that range and every later
// one, read with base-object searches until the last. A reply whose range
// does not start where the previous one ended is an error, so a directory
// that misbehaves cannot make this loop forever or skip members silently.
func attrValues(ctx context.Context, d directory, e *goldap.Entry, attr string) ([]string, error) {
	var vals []string
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, attr) {
			vals = append(vals, a.Values...)
			continue
		}
		r, ok, err := parseRange(a.Name)
		if err != nil {
			return nil, err
		}
		if !ok || !strings.EqualFold(r.attr, attr) {
			continue
		}
		if r.low != 0 {
			return nil, fmt.Errorf("%s: the directory sent %s starting at value %d, not 0", e.DN, a.Name, r.low)
		}
		vals = append(vals, a.Values...)
		for !r.isLast {
			reply, err := nextRange(ctx, d, e.DN, attr, r.high+1)
			if err != nil {
				return nil, err
			}
			vals = append(vals, reply.values...)
			r = reply.valueRange
		}
	}
	return vals, nil
}

type rangeReply struct {
	valueRange
	values []string
}

// nextRange asks for attr's values from index from onwards.
func nextRange(ctx context.Context, d directory, dn, attr string, from int) (rangeReply, error) {
	want := fmt.Sprintf("%s;range=%d-*", attr, from)
	e, err := readEntry(ctx, d, dn, "(objectClass=*)", []string{want})
	if err != nil {
		return rangeReply{}, err
	}
	if e == nil {
		return rangeReply{}, fmt.Errorf("%s disappeared while its %s values were read (at %d)", dn, attr, from)
	}
	for _, a := range e.Attributes {
		r, ok, err := parseRange(a.Name)
		if err != nil {
			return rangeReply{}, err
		}
		if !ok || !strings.EqualFold(r.attr, attr) {
			continue
		}
		if r.low != from {
			return rangeReply{}, fmt.Errorf("%s: asked the directory for %s, it answered %s", dn, want, a.Name)
		}
		return rangeReply{r, a.Values}, nil
	}
	return rangeReply{}, fmt.Errorf("%s: asked the directory for %s, it answered no range of %s", dn, want, attr)
}
