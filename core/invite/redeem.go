package invite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

// Why a link does not let someone in. Each has its own page.
var (
	ErrNotFound       = problem.New(problem.NotFound, "invite_not_found", "this link is not valid: check that you copied all of it, or ask the person who invited you for a new one")
	ErrRemoved        = problem.New(problem.Gone, "invite_removed", "this invitation was removed by the person who sent it; ask them for a new one")
	ErrReplaced       = problem.New(problem.Gone, "invite_removed", "this link was replaced by a newer one; use the link in the most recent email")
	ErrResourceGone   = problem.New(problem.Gone, "resource_deleted", "the room or media this link was for has been deleted")
	ErrExpired        = problem.New(problem.Gone, "invite_expired", "this link has expired; ask the person who invited you to send a new one")
	ErrDomainBlocked  = problem.New(problem.Forbidden, "domain_blocked", "invitations to this email domain are not allowed by the organizer's policy")
	ErrUsed           = problem.New(problem.Conflict, "invite_used", "this link has already been used as many times as it allows; ask for a new one")
	ErrOtherDevice    = problem.New(problem.Conflict, "used_on_another_device", "this link was already used on another device; open it on the device you used first, or ask for a new one")
	ErrEmailMismatch  = problem.New(problem.Invalid, "email_mismatch", "this email is not the one the invitation was sent to; type the address that received the invitation")
	ErrTooManyGuesses = problem.New(problem.RateLimited, "too_many_attempts", "too many wrong email addresses were tried for this link; wait a few minutes and try again")
	ErrNotOpen        = problem.New(problem.Conflict, "session_not_open", "this session has not started yet; the page opens the lobby when it does")
	errChatOff        = problem.New(problem.Forbidden, "module_disabled", "chat and collaboration is turned off for this room, so guests cannot enter; the organizer can turn it back on")
)

// Page states of an openable link.
const (
	StateCountdown = "countdown" // session not open yet: show details and a countdown
	StateLobby     = "lobby"     // ask for the invited email
	StateDirect    = "direct"    // signed in as the invited email: one button
	StateReturning = "returning" // this device redeemed the link before: one button
)

// Visitor is what the gateway knows of whoever opened a link.
type Visitor struct {
	// DeviceSecret is the value of the device cookie, if the browser has one.
	DeviceSecret string
	// SessionEmail and SessionAccountID come from a console session, if any.
	SessionEmail     string
	SessionAccountID string
}

// View is what the invite page shows.
type View struct {
	Invitation *Invitation
	Resource   *resource.Resource
	State      string
	Now        time.Time
}

// refusal is the reason the link cannot be used at all, whoever holds it.
func (l *loaded) refusal(now time.Time) error {
	switch {
	case l.inv.RevokedAt != nil && l.inv.ReplacedBy != "":
		return ErrReplaced
	case l.inv.RevokedAt != nil:
		return ErrRemoved
	case l.res.DeletedAt != nil:
		return ErrResourceGone
	case !l.set.Enabled:
		return ErrModuleDisabled
	case l.res.Type == resource.Room && !l.res.ChatCollab:
		return errChatOff
	case !now.Before(l.inv.ExpiresAt):
		return ErrExpired
	case !l.set.DomainAllowed(user.Domain(l.inv.Email)):
		return ErrDomainBlocked
	}
	return nil
}

// exhausted explains a link with no uses left.
func (s *Service) exhausted(ctx context.Context, l *loaded) error {
	if l.inv.DeviceBinding {
		st, err := s.stmts(ctx)
		if err != nil {
			return err
		}
		var n int64
		if err := st.anyRedemption.QueryRowContext(ctx, l.inv.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrOtherDevice
		}
	}
	return ErrUsed
}

func (l *loaded) full() bool { return l.inv.MaxUses > 0 && l.inv.Uses >= l.inv.MaxUses }

// returning finds the user of this device's earlier redemption of a
// device-bound link, or "".
func (s *Service) returning(ctx context.Context, l *loaded, v Visitor) (string, error) {
	if !l.inv.DeviceBinding || !token.WellFormed(v.DeviceSecret) {
		return "", nil
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return "", err
	}
	var uid string
	err = st.returning.QueryRowContext(ctx, l.inv.ID, token.Hash(v.DeviceSecret)).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return uid, err
}

// Inspect tells what opening a link shows. It changes nothing: mail scanners
// and link previews open every link, and must not use it up.
func (s *Service) Inspect(ctx context.Context, tok string, v Visitor) (*View, error) {
	l, err := s.load(ctx, tok)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := l.refusal(now); err != nil {
		return nil, err
	}
	view := &View{Invitation: l.inv, Resource: l.res, Now: now}
	if !l.res.Open(now) {
		view.State = StateCountdown
		return view, nil
	}
	uid, err := s.returning(ctx, l, v)
	if err != nil {
		return nil, err
	}
	switch {
	case uid != "":
		view.State = StateReturning
	case l.full():
		return nil, s.exhausted(ctx, l)
	case v.SessionAccountID == l.inv.AccountID && v.SessionEmail == l.inv.Email:
		view.State = StateDirect
	default:
		view.State = StateLobby
	}
	return view, nil
}

// RedeemInput is a person's click on "Enter".
type RedeemInput struct {
	Token   string
	Email   string // typed in the lobby; ignored when the session or device proves it
	Visitor Visitor

	retried bool
}

// Entry is a successful redemption: who goes in, where, with which role.
type Entry struct {
	Invitation *Invitation
	Resource   *resource.Resource
	User       *user.User
	Role       string
	// PreviousRole is the role the person had inside before, if any.
	PreviousRole string
	Upgraded     bool
	// Reentry is true when this device came back through a link it redeemed.
	Reentry bool
	// DeviceSecret is the device cookie to set (new, or the one presented).
	DeviceSecret string
	// NotifyErr is set when the room side could not be told of an upgrade;
	// the person is in regardless.
	NotifyErr error
}

// Redeem lets the invited person in, consuming one use of the link.
func (s *Service) Redeem(ctx context.Context, in RedeemInput) (*Entry, error) {
	l, err := s.load(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := l.refusal(now); err != nil {
		return nil, err
	}
	if !l.res.Open(now) {
		return nil, ErrNotOpen
	}
	if uid, err := s.returning(ctx, l, in.Visitor); err != nil {
		return nil, err
	} else if uid != "" {
		return s.reenter(ctx, l, uid, in.Visitor.DeviceSecret)
	}
	if l.full() {
		return nil, s.exhausted(ctx, l)
	}
	if err := s.checkEmail(ctx, l, in, now); err != nil {
		return nil, err
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return nil, err
	}
	secret := in.Visitor.DeviceSecret
	if !token.WellFormed(secret) {
		secret, _ = token.New()
	}
	deviceHash := token.Hash(secret)
	redemptionID, userID, auditID := id.New(), id.New(), id.New()
	e := &Entry{Invitation: l.inv, Resource: l.res, DeviceSecret: secret}
	err = s.DB.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		r, err := tx.StmtContext(ctx, st.consume).ExecContext(ctx, now, l.inv.ID, now)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errLostRace
		}
		if e.User, err = l.invitee(ctx, tx, st, userID, now); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, st.insertRedemption).ExecContext(ctx, redemptionID, l.inv.ID, deviceHash, e.User.ID, now); err != nil {
			return err
		}
		if e.Role, e.PreviousRole, err = enterAs(ctx, tx, st, l, e.User.ID, now); err != nil {
			return err
		}
		e.Upgraded = e.PreviousRole != "" && e.Role != e.PreviousRole
		return record(ctx, tx, st, auditID, l.inv.AccountID, e.User.ID, now, "invitation.redeemed", "invitation", l.inv.ID,
			map[string]string{"resource_id": l.res.ID, "role": e.Role, "previous_role": e.PreviousRole})
	})
	if errors.Is(err, errLostRace) {
		return nil, s.whyLost(ctx, in.Token)
	}
	if err != nil {
		if store.IsUniqueViolation(err) && !in.retried {
			// The same device (or person) entered twice at once: the first
			// one won; this one is now a returning device.
			in.retried = true
			return s.Redeem(ctx, in)
		}
		return nil, err
	}
	l.inv.Uses++
	s.tellRoom(ctx, e)
	return e, nil
}

var errLostRace = errors.New("lost redemption race")

// whyLost re-reads the link after the conditional update found nothing to
// change, to say which refusal applies now.
func (s *Service) whyLost(ctx context.Context, tok string) error {
	l, err := s.load(ctx, tok)
	if err != nil {
		return err
	}
	if err := l.refusal(s.now()); err != nil {
		return err
	}
	return s.exhausted(ctx, l)
}

// enterAs records the person inside the resource with the higher of their
// present role and the invited one, returning (role, previous role).
func enterAs(ctx context.Context, tx *sql.Tx, st *stmts, l *loaded, userID string, now time.Time) (string, string, error) {
	// Most people enter once: try the insert first.
	r, err := tx.StmtContext(ctx, st.insertParticipant).ExecContext(ctx, l.res.ID, userID, l.inv.AccountID, l.inv.Role, now, now)
	if err != nil {
		return "", "", err
	}
	if n, err := r.RowsAffected(); err != nil {
		return "", "", err
	} else if n == 1 {
		return l.inv.Role, "", nil
	}
	var cur string
	if err := tx.StmtContext(ctx, st.participantRole).QueryRowContext(ctx, l.res.ID, userID).Scan(&cur); err != nil {
		return "", "", err
	}
	if !resource.Higher(l.inv.Role, cur) {
		return cur, cur, nil
	}
	_, err = tx.StmtContext(ctx, st.raiseParticipant).ExecContext(ctx, l.inv.Role, now, l.res.ID, userID)
	return l.inv.Role, cur, err
}

// record writes the audit entry of an invitee's action in the same transaction.
func record(ctx context.Context, tx *sql.Tx, st *stmts, entryID, accountID, userID string, now time.Time, action, targetKind, targetID string, detail map[string]string) error {
	d, _ := json.Marshal(detail)
	_, err := tx.StmtContext(ctx, st.audit).ExecContext(ctx, entryID, accountID, now, audit.ActorInvitee, userID, action, targetKind, targetID, string(d))
	return err
}

// reenter lets a device that redeemed a device-bound link come back without
// using it again.
func (s *Service) reenter(ctx context.Context, l *loaded, userID, secret string) (*Entry, error) {
	u, err := user.Get(ctx, s.DB.R, l.inv.AccountID, userID)
	if err != nil {
		return nil, err
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return nil, err
	}
	e := &Entry{Invitation: l.inv, Resource: l.res, User: u, Reentry: true, DeviceSecret: secret}
	now, auditID := s.now(), id.New()
	err = s.DB.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if e.Role, e.PreviousRole, err = enterAs(ctx, tx, st, l, u.ID, now); err != nil {
			return err
		}
		e.Upgraded = e.PreviousRole != "" && e.Role != e.PreviousRole
		if !e.Upgraded {
			return nil
		}
		return record(ctx, tx, st, auditID, l.inv.AccountID, u.ID, now, "participant.upgraded", "resource", l.res.ID,
			map[string]string{"role": e.Role, "previous_role": e.PreviousRole})
	})
	if err != nil {
		return nil, err
	}
	s.tellRoom(ctx, e)
	return e, nil
}

func (s *Service) tellRoom(ctx context.Context, e *Entry) {
	if e.Upgraded && s.Rooms != nil {
		e.NotifyErr = s.Rooms.RoleUpgraded(ctx, e.Resource, e.User, e.PreviousRole, e.Role)
	}
}

// checkEmail proves the visitor is the invitee: by a console session of the
// invited email, or by typing it. Wrong guesses are counted per link.
func (s *Service) checkEmail(ctx context.Context, l *loaded, in RedeemInput, now time.Time) error {
	v := in.Visitor
	if v.SessionAccountID == l.inv.AccountID && v.SessionEmail == l.inv.Email {
		return nil
	}
	window := s.GuessWindow
	if window <= 0 {
		window = 15 * time.Minute
	}
	max := s.MaxGuesses
	if max <= 0 {
		max = 5
	}
	inWindow := l.inv.GuessWindowStart != nil && now.Before(l.inv.GuessWindowStart.Add(window))
	if inWindow && l.inv.FailedGuesses >= max {
		return ErrTooManyGuesses
	}
	email, err := user.NormalizeEmail(in.Email)
	if err == nil && token.Equal(email, l.inv.Email) {
		return nil
	}
	// One statement, so concurrent guesses are all counted.
	start := now.Add(-window)
	if err := s.DB.W.WithContext(ctx).Exec(`UPDATE invitations SET
		failed_guesses = CASE WHEN guess_window_start IS NULL OR guess_window_start <= ? THEN 1 ELSE failed_guesses + 1 END,
		guess_window_start = CASE WHEN guess_window_start IS NULL OR guess_window_start <= ? THEN ? ELSE guess_window_start END
		WHERE id = ?`, start, start, now, l.inv.ID).Error; err != nil {
		return err
	}
	if err != nil {
		return &problem.Error{Kind: problem.Invalid, Code: "email_mismatch", Field: "email", Message: fmt.Sprintf("%s; %s", err.Error(), ErrEmailMismatch.Message)}
	}
	return ErrEmailMismatch
}
