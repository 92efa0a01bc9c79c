package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/invitegate/gateway/plugins"
)

// maxPage bounds one response body: a page of 1,000 groups with their
// members fits many times over; a server sending more is not a SCIM page.
const maxPage = 64 << 20

// listResponse is RFC 7644 §3.4.2's ListResponse.
type listResponse struct {
	TotalResults int               `json:"totalResults"`
	StartIndex   int               `json:"startIndex"`
	ItemsPerPage int               `json:"itemsPerPage"`
	Resources    []json.RawMessage `json:"Resources"`
}

// scimError is RFC 7644 §3.12's error body.
type scimError struct {
	Detail   string `json:"detail"`
	ScimType string `json:"scimType"`
}

// client makes the SCIM requests of one listing.
type client struct {
	cfg  *Config
	http *http.Client
}

// list pages through endpoint (Users or Groups) from startIndex 1, count
// PageSize at a time, and calls each for every resource. It follows the
// server's answer (a server may send fewer than asked) and stops at
// totalResults; a page that does not move the listing on (an empty page
// before the total, a startIndex other than the one asked for) is an error,
// so a misbehaving server cannot loop the sync or end it short.
func (c *client) list(ctx context.Context, endpoint string, attrs []string, each func(json.RawMessage) error) error {
	start, seen := 1, 0
	ids := map[string]bool{}
	for {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(c.cfg.PageSize)}}
		if len(attrs) > 0 {
			q.Set("attributes", strings.Join(attrs, ","))
		}
		var page listResponse
		if err := c.get(ctx, endpoint, q, &page); err != nil {
			return err
		}
		if page.StartIndex != 0 && page.StartIndex != start {
			return fmt.Errorf("the SCIM server's paging does not advance: asked %s for startIndex %d, it answered startIndex %d", endpoint, start, page.StartIndex)
		}
		for _, r := range page.Resources {
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r, &head); err != nil || head.ID == "" {
				return fmt.Errorf("the SCIM server sent a resource of %s without an id at startIndex %d", endpoint, start)
			}
			if ids[head.ID] {
				return fmt.Errorf("the SCIM server's paging does not advance: %s at startIndex %d sent %s again", endpoint, start, head.ID)
			}
			ids[head.ID] = true
			if err := each(r); err != nil {
				return err
			}
		}
		seen += len(page.Resources)
		if seen >= page.TotalResults {
			return nil
		}
		if len(page.Resources) == 0 {
			return fmt.Errorf("the SCIM server's paging does not advance: %s at startIndex %d sent no resources, but totalResults is %d", endpoint, start, page.TotalResults)
		}
		start += len(page.Resources)
	}
}

// getOne reads one resource; found is false on 404.
func (c *client) getOne(ctx context.Context, endpoint, id string, attrs []string, dst any) (found bool, err error) {
	q := url.Values{}
	if len(attrs) > 0 {
		q.Set("attributes", strings.Join(attrs, ","))
	}
	err = c.get(ctx, endpoint+"/"+url.PathEscape(id), q, dst)
	var nf *notFoundError
	if errors.As(err, &nf) {
		return false, nil
	}
	return err == nil, err
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// get sends one authenticated GET and decodes the JSON answer. Errors say
// which request failed and why in the operator's terms: the token refused,
// no SCIM service at the URL, a server error, an answer that is not JSON.
func (c *client) get(ctx context.Context, endpoint string, q url.Values, dst any) error {
	u := *c.cfg.base
	u.Path += "/" + endpoint
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.token)
	req.Header.Set("Accept", "application/scim+json, application/json")
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("%w: cannot reach the SCIM server: GET %s: %v", plugins.ErrUnavailable, u.Redacted(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxPage+1))
	if err != nil {
		return fmt.Errorf("%w: GET %s: reading the answer: %v", plugins.ErrUnavailable, u.Redacted(), err)
	}
	if res.StatusCode != http.StatusOK {
		var se scimError
		_ = json.Unmarshal(body, &se)
		detail := se.Detail
		if detail == "" {
			detail = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		switch {
		case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
			return fmt.Errorf("the SCIM server refused the bearer token (HTTP %d) for GET %s: %s", res.StatusCode, u.Redacted(), detail)
		case res.StatusCode == http.StatusNotFound:
			return &notFoundError{fmt.Sprintf("GET %s: not found (HTTP 404; is url the SCIM base, ending before /Users and /Groups?): %s", u.Redacted(), detail)}
		case res.StatusCode >= 500:
			return fmt.Errorf("%w: the SCIM server failed (HTTP %d) for GET %s: %s", plugins.ErrUnavailable, res.StatusCode, u.Redacted(), detail)
		}
		return fmt.Errorf("the SCIM server answered HTTP %d to GET %s: %s", res.StatusCode, u.Redacted(), detail)
	}
	if len(body) > maxPage {
		return fmt.Errorf("GET %s: the answer is larger than %d MiB; lower page_size", u.Redacted(), maxPage>>20)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: the answer is not SCIM JSON: %v", u.Redacted(), err)
	}
	return nil
}
