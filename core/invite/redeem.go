package invite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/invitegate/gateway/core/access"

	"github.com/invitegate/gateway/core/session"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
	"github.com/invitegate/gateway/core/webhook"
)

// Why a link does not let someone in. Each has its own page.
var (
	ErrNotFound       = problem.New(problem.NotFound, "invite_not_found", "this link is not valid: check that you copied all of it, or ask the person who invited you for a new one")
	ErrRemoved        = problem.New(problem.Gone, "invite_removed", "this invitation was removed by the person who sent it; ask them for a new one")
	ErrReplaced       = problem.New(problem.Gone, "invite_removed", "this link was replaced by a newer one; use the link in the most recent email")
	ErrResourceGone   = access.ErrResourceGone
	ErrExpired        = problem.New(problem.Gone, "invite_expired", "this link has expired; ask the person who invited you to send a new one")
	ErrUsed           = problem.New(problem.Conflict, "invite_used", "this link has already been used as many times as it allows; ask for a new one")
	ErrOtherDevice    = problem.New(problem.Conflict, "used_on_another_device", "this link was already used on another device; open it on the device you used first, or ask for a new one")
	ErrEmailMismatch  = &problem.Error{Kind: problem.Invalid, Code: "email_mismatch", Field: "email", Message: "this email is not the one the invitation was sent to; type the address that received the invitation"}
	ErrEmailTooLong   = &problem.Error{Kind: problem.Invalid, Code: "email_too_long", Field: "email", Message: fmt.Sprintf("the email is longer than %d characters, longer than any address; type the address that received the invitation", user.MaxEmail)}
	ErrTooManyGuesses = problem.New(problem.RateLimited, "too_many_attempts", "too many wrong email addresses were tried for this link; wait a few minutes and try again")
	ErrNotOpen        = problem.New(problem.Conflict, "session_not_open", "this session has not started yet; the page opens the lobby when it does")
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
	// SessionAccountID comes from the visitor's session, if any: a console
	// session, whose user's email is SessionEmail, or the session an earlier
	// redemption opened for SessionUserID on the resource SessionResourceID
	// (which proves nothing for another resource).
	SessionAccountID  string
	SessionEmail      string
	SessionUserID     string
	SessionResourceID string
}

// View is what the invite page shows.
type View struct {
	Invitation *Invitation
	Resource   *resource.Resource
	State      string
	Now        time.Time
	// PlatformErr is set when the platform hosting the resource could not
	// say whether it exists and when it starts: the page shows the stored
	// schedule.
	PlatformErr error
}

// refusal is the reason the link cannot be used at all, whoever holds it:
// the link's own state, then whether its invitee may enter the resource
// (core/access), then its expiry.
func (l *loaded) refusal(ctx context.Context, now time.Time) error {
	if err := l.withdrawn(); err != nil {
		return err
	}
	d, _ := access.Decide(ctx, access.Subject{AccountID: l.inv.AccountID, Email: l.inv.Email, Role: l.inv.Role, Wants: access.Enter}, l.target())
	if !d.Allowed {
		return d.Reason
	}
	if !now.Before(l.inv.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

// withdrawn is the refusal of a link its inviter took back (removed, or
// replaced by a newer one): it needs no word from the resource's platform,
// so it is given before the platform is asked.
func (l *loaded) withdrawn() error {
	switch {
	case l.inv.RevokedAt != nil && l.inv.ReplacedBy != "":
		return ErrReplaced
	case l.inv.RevokedAt != nil:
		return ErrRemoved
	}
	return nil
}

// target is the link's resource as core/access weighs it.
func (l *loaded) target() access.Target {
	return access.Target{Kind: access.Resource, AccountID: l.inv.AccountID, Deleted: l.res.DeletedAt != nil,
		ModuleOff: l.moduleOff, ChatOff: l.res.ChatOff(), Policy: l.policy}
}

// exhausted explains a link with no uses left, asking anyRedemption
// (the reader's statement, or the writer's inside a transaction) whether a
// device holds it.
func exhausted(ctx context.Context, anyRedemption *sql.Stmt, l *loaded) error {
	if l.inv.DeviceBinding {
		var n int64
		if err := anyRedemption.QueryRowContext(ctx, l.inv.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrOtherDevice
		}
	}
	return ErrUsed
}

func (l *loaded) full() bool { return l.inv.MaxUses > 0 && l.inv.Uses >= l.inv.MaxUses }

// returningUser finds who redeemed a device-bound link on the device with
// this cookie secret (given by its hash), or "", asking the given statement
// (the reader's, or the writer's inside a transaction).
func returningUser(ctx context.Context, returning *sql.Stmt, l *loaded, secret, secretHash string) (string, error) {
	if !l.inv.DeviceBinding || !token.WellFormed(secret) {
		return "", nil
	}
	var uid string
	err := returning.QueryRowContext(ctx, l.inv.ID, secretHash).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return uid, err
}

// provesInvitee reports whether the visitor's session shows they are the
// person the link was sent to.
func (v *Visitor) provesInvitee(l *loaded) bool {
	if v.SessionAccountID != l.inv.AccountID {
		return false
	}
	if v.SessionResourceID != "" {
		return v.SessionResourceID == l.res.ID && v.SessionUserID != "" && v.SessionUserID == l.userID
	}
	return v.SessionEmail != "" && v.SessionEmail == l.inv.Email
}

// Inspect tells what opening a link shows. It changes nothing: mail scanners
// and link previews open every link, and must not use it up.
func (s *Service) Inspect(ctx context.Context, tok string, v Visitor) (*View, error) {
	return s.inspect(ctx, tok, v, nil)
}

// inspect is Inspect with what the platform already said of the link's
// resource during this request, if anything (nil: ask it).
func (s *Service) inspect(ctx context.Context, tok string, v Visitor, heard *platformAnswer) (*View, error) {
	l, err := s.load(ctx, tok)
	if err != nil {
		return nil, err
	}
	if err := l.withdrawn(); err != nil {
		return nil, err
	}
	now := s.now()
	var platformErr error
	if l.res.Adapter != "" {
		var st resource.Status
		if heard != nil {
			st, platformErr = heard.status, heard.err
		} else {
			st, platformErr = s.askPlatform(ctx, l.res)
		}
		l.applyPlatform(st, platformErr, now)
	}
	if err := l.refusal(ctx, now); err != nil {
		return nil, err
	}
	view := &View{Invitation: l.inv, Resource: l.res, Now: now, PlatformErr: platformErr}
	if !l.res.Open(now) {
		view.State = StateCountdown
		return view, nil
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return nil, err
	}
	var secretHash string
	if token.WellFormed(v.DeviceSecret) {
		secretHash = token.Hash(v.DeviceSecret)
	}
	uid, err := returningUser(ctx, st.returning, l, v.DeviceSecret, secretHash)
	if err != nil {
		return nil, err
	}
	switch {
	case uid != "":
		view.State = StateReturning
	case l.full():
		return nil, exhausted(ctx, st.anyRedemption, l)
	case v.provesInvitee(l):
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
	// Invitation and Resource hold what the redemption read to decide, not
	// whole rows: no names or creation time of the invitation, no title,
	// description, end or time zone of the resource.
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
	// Session is the session the entry opened on the resource: its token
	// goes into the browser, so that this person, signed in, enters the
	// resource's later links without typing their email again.
	Session *session.Opened
	// NotifyErr is set when the room side could not be told of an upgrade;
	// the person is in regardless.
	NotifyErr error
	// PlatformErr is set when the platform hosting the resource could not
	// say whether it exists and when it starts: the stored values decided.
	PlatformErr error
}

// Redeem lets the invited person in, consuming one use of the link. The
// whole decision (read the link, check it, count a wrong guess, consume a
// use, record the entry) is one write transaction, so what is checked is
// what is changed.
func (s *Service) Redeem(ctx context.Context, in RedeemInput) (*Entry, error) {
	if !token.WellFormed(in.Token) {
		return nil, ErrNotFound
	}
	// No invited address is this long: refused before the transaction,
	// and not counted as a guess.
	if len(in.Email) > user.MaxEmail && len(strings.TrimSpace(in.Email)) > user.MaxEmail {
		return nil, ErrEmailTooLong
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	secret := in.Visitor.DeviceSecret
	if !token.WellFormed(secret) {
		secret, _ = token.New()
	}
	// Everything that does not depend on the database is worked out before
	// the write: on SQLite every redemption's transaction runs on the one
	// writer, one after another, so each microsecond spent there is spent
	// by all of them.
	r := &redemption{s: s, st: st, in: in, now: now, secret: secret,
		tokenHash: token.Hash(in.Token), secretHash: token.Hash(secret),
		redemptionID: id.New(), auditID: id.New()}
	r.email, r.emailErr = user.NormalizeEmail(in.Email)
	handled := false
	if !in.retried {
		handled, err = r.first(ctx)
		if store.IsUniqueViolation(err) {
			// They entered since the read: the transaction decides.
			handled, err = false, nil
		}
	}
	if err == nil && !handled {
		err = s.DB.Write(ctx, r.run)
		if err == nil && r.askFor != nil {
			r.askPlatform(ctx)
			err = s.DB.Write(ctx, r.run)
		}
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
	if r.refused != nil {
		return nil, r.refusal()
	}
	if !r.entry.Reentry {
		r.entry.Invitation.Uses++
	}
	r.entry.PlatformErr = r.platformErr
	s.tellRoom(ctx, r.entry)
	return r.entry, nil
}

// redemption is one press of "Enter", decided inside a write transaction.
type redemption struct {
	s      *Service
	st     *stmts
	in     RedeemInput
	now    time.Time
	secret string

	// worked out before the transaction
	tokenHash, secretHash string
	redemptionID, auditID string
	email                 string // the typed email, normalized
	emailErr              error

	entry *Entry
	// refused is a refusal to give the person; the transaction still
	// commits, so a counted wrong guess stays counted.
	refused error

	// for a resource a room adapter hosts (onPlatform): the resource to
	// ask about, then whether its platform was asked and what it said
	askFor      *resource.Resource
	asked       bool
	status      resource.Status
	platformErr error
}

func (r *redemption) run(tx *store.Tx) error {
	ctx := tx.Context()
	r.entry, r.refused = nil, nil
	l, err := loadForRedeem(ctx, tx.Stmt(r.st.loadW), r.tokenHash, nil)
	if err != nil {
		return r.refuse(err)
	}
	if err := l.withdrawn(); err != nil {
		return r.refuse(err)
	}
	if l.res.Adapter != "" && !r.onPlatform(l) {
		return nil
	}
	if err := l.refusal(ctx, r.now); err != nil {
		return r.refuse(err)
	}
	if !l.res.Open(r.now) {
		return r.refuse(ErrNotOpen)
	}
	// Only a device that brought its cookie can have redeemed this link before.
	if l.inv.DeviceBinding && token.WellFormed(r.in.Visitor.DeviceSecret) {
		// The secret was kept, so secretHash is the presented secret's hash.
		uid, err := returningUser(ctx, tx.Stmt(r.st.returningW), l, r.in.Visitor.DeviceSecret, r.secretHash)
		if err != nil {
			return err
		}
		if uid != "" {
			return r.reenter(ctx, tx, l, uid)
		}
	}
	if l.full() {
		return r.refuse(exhausted(ctx, tx.Stmt(r.st.anyRedemptionW), l))
	}
	if ok, err := r.checkEmail(ctx, tx, l); err != nil || !ok {
		return err
	}
	res, err := tx.Stmt(r.st.consume).ExecContext(ctx, r.now, l.inv.ID, r.now)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		// Only on PostgreSQL, where another transaction took the last use
		// after this one read the link.
		return r.refuse(exhausted(ctx, tx.Stmt(r.st.anyRedemptionW), l))
	}
	e := &Entry{Invitation: l.inv, Resource: l.res, DeviceSecret: r.secret}
	if e.User, err = l.invitee(tx, r.st); err != nil {
		return err
	}
	if _, err := tx.Stmt(r.st.insertRedemption).ExecContext(ctx, r.redemptionID, l.inv.ID, r.secretHash, e.User.ID, r.now); err != nil {
		return err
	}
	if e.Role, e.PreviousRole, err = r.st.entries.Enter(tx, l.res.ID, e.User.ID, l.inv.AccountID, l.inv.Role, r.now); err != nil {
		return err
	}
	e.Upgraded = e.PreviousRole != "" && e.Role != e.PreviousRole
	if e.Session, err = r.s.openSession(tx, l, e.User.ID); err != nil {
		return err
	}
	r.entry = e
	if err := r.s.Webhooks.Emit(tx, l.inv.AccountID, webhook.InvitationRedeemed, webhookSubject(l.inv),
		webhookPayload(l.inv, "user_id", e.User.ID, "email", e.User.Email, "entered_role", e.Role, "previous_role", e.PreviousRole)); err != nil {
		return err
	}
	return r.st.audit.Add(tx, redeemedEntry(r.auditID, l, e.User.ID, e.Role, e.PreviousRole, r.now))
}

// first makes the common redemption, an invitee's first entry into a
// resource they are not inside yet, by one read and one gated write
// (store.Gated) instead of a transaction: the read, outside any
// transaction, decides, and the write's UPDATE re-checks what could have
// changed since and matters (a use left, removal, expiry, the wrong-guess
// lock). On PostgreSQL that is two round trips instead of eight.
//
// It reports handled=false, having written nothing, for every other
// redemption (a device that may be returning, a link with no use left, a
// typed email to check, an invitee without a user row or already inside,
// a resource on a platform, webhooks to tell) and for a link that changed
// since the read: run's transaction decides those. A refusal that the
// read alone decides, as run would (an unknown or withdrawn link, access,
// expiry, a session not open yet), is given at once. A unique violation
// means the invitee entered since the read; nothing was written.
func (r *redemption) first(ctx context.Context) (handled bool, err error) {
	st := r.st
	if st.firstEntry == nil {
		return false, nil
	}
	var inside sql.NullString
	l, err := loadForRedeem(ctx, st.loadFirst, r.tokenHash, &inside)
	if err != nil {
		if err := r.refuse(err); err != nil {
			return false, callerLeft(ctx, err)
		}
		return true, nil
	}
	if err := l.withdrawn(); err != nil {
		return true, r.refuse(err)
	}
	if l.res.Adapter != "" {
		return false, nil
	}
	if err := l.refusal(ctx, r.now); err != nil {
		return true, r.refuse(err)
	}
	if !l.res.Open(r.now) {
		return true, r.refuse(ErrNotOpen)
	}
	window, max := r.s.guessLimits()
	switch {
	case l.inv.DeviceBinding && token.WellFormed(r.in.Visitor.DeviceSecret), l.full(),
		l.userID == "", inside.Valid, !r.emailProven(l, window, max):
		return false, nil
	}
	if wanted, err := r.s.Webhooks.Wants(ctx, r.s.DB, l.inv.AccountID, webhook.InvitationRedeemed); err != nil || wanted {
		return false, callerLeft(ctx, err)
	}
	e := &Entry{Invitation: l.inv, Resource: l.res, DeviceSecret: r.secret, Role: l.inv.Role,
		User: &user.User{ID: l.userID, AccountID: l.inv.AccountID, Email: l.inv.Email, FirstName: l.userFirst, LastName: l.userLast}}
	opened, sessionRow, err := r.s.Sessions.Prepare(l.inv.AccountID, l.userID, resourceSession(l))
	if err != nil {
		return false, err
	}
	e.Session = opened
	if r.s.betweenReadAndWrite != nil {
		r.s.betweenReadAndWrite()
	}
	taken, err := st.firstEntry.Exec(ctx, []any{r.now, l.inv.ID, r.now, max, r.now.Add(-window)},
		st.redemptions.Row(r.redemptionID, l.inv.ID, r.secretHash, l.userID, r.now),
		st.entries.First(l.res.ID, l.userID, l.inv.AccountID, l.inv.Role, r.now),
		sessionRow,
		st.audit.Row(redeemedEntry(r.auditID, l, l.userID, e.Role, "", r.now)))
	if err != nil || !taken {
		return false, err
	}
	r.entry = e
	return true, nil
}

// callerLeft is err, a failed read before any write, as the caller hears
// it: ctx's error if they left meanwhile (the driver may report that as a
// broken connection or a connect timeout), since nothing was written.
func callerLeft(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	// A dial cut short by the deadline can fail a moment before ctx
	// itself says it has ended.
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

// openSession signs the person who entered in to the resource.
func (s *Service) openSession(tx *store.Tx, l *loaded, userID string) (*session.Opened, error) {
	return s.Sessions.Open(tx, l.inv.AccountID, userID, resourceSession(l))
}

// resourceSession is the session a redemption of l opens.
func resourceSession(l *loaded) session.How {
	return session.How{Method: session.MethodInviteLink, Scope: session.ScopeResource, ScopeID: l.res.ID}
}

// redeemedEntry is the audit entry of a first use of l.
func redeemedEntry(entryID string, l *loaded, userID, role, previousRole string, now time.Time) *audit.Entry {
	return inviteeEntry(entryID, l.inv.AccountID, userID, now, "invitation.redeemed", "invitation", l.inv.ID,
		"resource_id", l.res.ID, "role", role, "previous_role", previousRole)
}

// refuse records a refusal for the person, or passes on a real failure.
func (r *redemption) refuse(err error) error {
	if _, ok := problem.As(err); ok {
		r.refused = err
		return nil
	}
	return err
}

// reenter lets a device that redeemed a device-bound link come back without
// using it again.
func (r *redemption) reenter(ctx context.Context, tx *store.Tx, l *loaded, userID string) error {
	e := &Entry{Invitation: l.inv, Resource: l.res, Reentry: true, DeviceSecret: r.secret,
		User: &user.User{ID: userID, AccountID: l.inv.AccountID, Email: l.inv.Email, FirstName: l.userFirst, LastName: l.userLast}}
	var err error
	if e.Role, e.PreviousRole, err = r.st.entries.Enter(tx, l.res.ID, userID, l.inv.AccountID, l.inv.Role, r.now); err != nil {
		return err
	}
	e.Upgraded = e.PreviousRole != "" && e.Role != e.PreviousRole
	if e.Session, err = r.s.openSession(tx, l, userID); err != nil {
		return err
	}
	r.entry = e
	if !e.Upgraded {
		return nil
	}
	return record(tx, r.st, r.auditID, l.inv.AccountID, userID, r.now, "participant.upgraded", "resource", l.res.ID,
		"role", e.Role, "previous_role", e.PreviousRole)
}

// checkEmail proves the visitor is the invitee: by a console session of the
// invited email, or by typing it. Wrong guesses are counted per link, and
// past the limit refused for a while.
func (r *redemption) checkEmail(ctx context.Context, tx *store.Tx, l *loaded) (bool, error) {
	v := r.in.Visitor
	if v.provesInvitee(l) {
		return true, nil
	}
	window, max := r.s.guessLimits()
	if r.guessesLocked(l, window, max) {
		return false, r.refuse(ErrTooManyGuesses)
	}
	if r.emailErr == nil && token.Equal(r.email, l.inv.Email) {
		return true, nil
	}
	start := r.now.Add(-window)
	if _, err := tx.Stmt(r.st.countGuess).ExecContext(ctx, start, start, r.now, l.inv.ID); err != nil {
		return false, err
	}
	return false, r.refuse(ErrEmailMismatch)
}

// guessLimits are how many wrong emails a link takes within how long
// before the lobby waits.
func (s *Service) guessLimits() (window time.Duration, max int) {
	window, max = s.GuessWindow, s.MaxGuesses
	if window <= 0 {
		window = 15 * time.Minute
	}
	if max <= 0 {
		max = 5
	}
	return window, max
}

// guessesLocked reports whether l took its most wrong guesses within the
// window: then even the right email waits.
func (r *redemption) guessesLocked(l *loaded, window time.Duration, max int) bool {
	inWindow := l.inv.GuessWindowStart != nil && r.now.Before(l.inv.GuessWindowStart.Add(window))
	return inWindow && l.inv.FailedGuesses >= max
}

// emailProven reports whether the visitor is shown to be the invitee
// without counting a guess: by their session, or by the typed email while
// wrong guesses have not locked the link.
func (r *redemption) emailProven(l *loaded, window time.Duration, max int) bool {
	if r.in.Visitor.provesInvitee(l) {
		return true
	}
	return !r.guessesLocked(l, window, max) && r.emailErr == nil && token.Equal(r.email, l.inv.Email)
}

// record writes the audit entry of an invitee's action in the same
// transaction (on SQLite with the other entries of the write group, by one
// statement). detail is pairs of keys and values, kept in order.
func record(tx *store.Tx, st *stmts, entryID, accountID, userID string, now time.Time, action, targetKind, targetID string, detail ...string) error {
	return st.audit.Add(tx, inviteeEntry(entryID, accountID, userID, now, action, targetKind, targetID, detail...))
}

// inviteeEntry is the audit entry of an invitee's action; detail is pairs
// of keys and values, kept in order.
func inviteeEntry(entryID, accountID, userID string, now time.Time, action, targetKind, targetID string, detail ...string) *audit.Entry {
	b := make([]byte, 0, 96)
	b = append(b, '{')
	for i := 0; i+1 < len(detail); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, detail[i])
		b = append(b, ':')
		b = strconv.AppendQuote(b, detail[i+1])
	}
	b = append(b, '}')
	return &audit.Entry{ID: entryID, AccountID: accountID, At: now, ActorKind: audit.ActorInvitee, ActorID: userID,
		Action: action, TargetKind: targetKind, TargetID: targetID, Detail: string(b)}
}

func (s *Service) tellRoom(ctx context.Context, e *Entry) {
	if e.Upgraded && s.Rooms != nil {
		e.NotifyErr = s.Rooms.RoleUpgraded(ctx, e.Resource, e.User, e.PreviousRole, e.Role)
	}
}
