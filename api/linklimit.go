package api

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/invite"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/session"
)

// unknownLinkScope names the unknown-link counts in core/limit.
const unknownLinkScope = "unknown_link"

// guessScope names the counts of wrong lobby emails in core/limit.
const guessScope = "lobby_guess"

// failureKey is where fail and siteFail, which answer a request with a
// failure page or body, leave the refusal, for middleware that acts on what
// was answered. Refusals shown inside a page (a lobby asking again, a form
// with its error) are not answers that a link does not exist.
const failureKey = "failure"

// linkLimit guards the routes that take a link's token (/i/{token},
// /l/{token}, /e/{slug}/confirm/{token}): a client whose answers "this link
// does not exist" (a malformed or unknown token) reached the limit within
// the window is refused, with answer, on all of them until the window ends,
// whatever token it sends. Refusing before the lookup matters: were a
// limited client still answered for a valid token, the refusal would tell
// valid tokens from the others and limit nothing.
//
// The check is the only cost on a valid link's path: in memory, and on
// PostgreSQL without a database read for a client that has not been
// counted lately (see limit.Counter). Only answers that say the token does
// not exist are counted, so a client opening valid links is never limited,
// and other refusals (expired, used, another device) say nothing a guesser
// could use.
func (s *Server) linkLimit(answer func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		client := c.ClientIP()
		ctx := c.Request.Context()
		until, blocked, err := s.unknownLinks.Blocked(ctx, client)
		if err != nil {
			// The limit is a second line of defence: a database that cannot
			// be read fails the link's own lookup anyway.
			reqLog(c).Warn("unknown-link limit not checked", "error", err.Error())
		}
		if blocked {
			wait := until.Sub(s.cfg.Now())
			c.Header("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			answer(c, errTooManyUnknownLinks(wait))
			return
		}
		c.Next()
		if f, ok := c.Get(failureKey); ok && unknownLink(f.(error)) {
			if err := s.unknownLinks.Add(ctx, client); err != nil {
				reqLog(c).Warn("unknown link not counted", "error", err.Error())
			}
		}
	}
}

// unknownLink reports whether err says a link's token does not exist.
func unknownLink(err error) bool {
	return errors.Is(err, invite.ErrNotFound) || errors.Is(err, session.ErrLinkInvalid) || errors.Is(err, event.ErrLinkInvalid)
}

// errTooManyUnknownLinks refuses a client that opened too many links that
// do not exist; it may try again after wait.
func errTooManyUnknownLinks(wait time.Duration) error {
	return problem.New(problem.RateLimited, "too_many_unknown_links",
		"too many links that do not exist were opened from your network address; wait "+waitText(wait)+
			" and try again. If you were sent a link, check that you copied all of it")
}

// waitText writes a wait for people: "40 seconds", "3 minutes".
func waitText(d time.Duration) string {
	if d <= 90*time.Second {
		n := int((d + time.Second - 1) / time.Second)
		if n <= 1 {
			return "a second"
		}
		return fmt.Sprintf("%d seconds", n)
	}
	return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
}
