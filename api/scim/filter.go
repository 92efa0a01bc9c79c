package scim

import (
	"fmt"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/filter"
	parser "github.com/scim2/filter-parser/v2"
)

// equalities reads a list's filter: what identity providers send to find
// a resource before creating it ("userName eq ...", "displayName eq ...",
// "externalId eq ...", "id eq ..."), alone or joined by "and". It returns
// the compared values by attribute (spelled as in allowed); any other
// filter is refused, naming what is supported, rather than answered
// wrongly.
func equalities(v *filter.Validator, allowed ...string) (match, error) {
	out := match{eq: map[string]string{}}
	if v == nil {
		return out, nil
	}
	var walk func(e parser.Expression) bool
	walk = func(e parser.Expression) bool {
		switch x := e.(type) {
		case *parser.LogicalExpression:
			return x.Operator == parser.AND && walk(x.Left) && walk(x.Right)
		case *parser.AttributeExpression:
			return equality(*x, allowed, &out)
		}
		return false
	}
	if !walk(v.GetFilter()) {
		return match{}, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidFilter, Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("filter: only equality on %s (joined by \"and\") is supported, e.g. %s eq \"value\"", strings.Join(allowed, ", "), allowed[0])}
	}
	return out, nil
}

// match is what a filter asks: attributes equal to values, or (none) two
// different values for one attribute, which nothing matches.
type match struct {
	eq   map[string]string
	none bool
}

func equality(x parser.AttributeExpression, allowed []string, out *match) bool {
	if x.Operator != parser.EQ || x.AttributePath.SubAttribute != nil || x.AttributePath.URIPrefix != nil {
		return false
	}
	s, ok := x.CompareValue.(string)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if strings.EqualFold(a, x.AttributePath.AttributeName) {
			if prev, dup := out.eq[a]; dup && prev != s {
				out.none = true
			}
			out.eq[a] = s
			return true
		}
	}
	return false
}
