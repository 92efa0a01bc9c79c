package sso

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/sso/connector"
)

// Request is a login in flight (connector.Request as stored), from Start
// to the provider's answer: found by its key's hash, consumed once.
type Request struct {
	KeyHash        string    `gorm:"primaryKey;size:64"`
	AccountID      string    `gorm:"size:36;not null"`
	ConnectionID   string    `gorm:"size:36;not null;index"`
	Purpose        string    `gorm:"size:16;not null"`
	EventID        string    `gorm:"size:36;not null;default:''"`
	ReturnPath     string    `gorm:"size:1024;not null;default:''"`
	BrowserHash    string    `gorm:"size:64;not null;default:''"`
	Nonce          string    `gorm:"size:128;not null;default:''"`
	CodeVerifier   string    `gorm:"size:128;not null;default:''"`
	AuthnRequestID string    `gorm:"size:128;not null;default:''"`
	ExpiresAt      time.Time `gorm:"not null;index"`
	CreatedAt      time.Time `gorm:"not null"`
}

// TableName names the table.
func (Request) TableName() string { return "sso_requests" }

// SeenAssertion is an assertion id a provider sent, remembered until the
// assertion expires so it is used once across every replica.
type SeenAssertion struct {
	ConnectionID string    `gorm:"primaryKey;size:36"`
	AssertionID  string    `gorm:"primaryKey;size:255"`
	Until        time.Time `gorm:"not null;index"`
}

// TableName names the table.
func (SeenAssertion) TableName() string { return "sso_assertions" }

// DefaultRequestTTL is how long a login may take at the provider.
const DefaultRequestTTL = 10 * time.Minute

// Requests keeps logins in flight and the replay cache, in the database.
type Requests struct {
	DB  *store.DB
	Now func() time.Time
}

// Save stores req (its key hashed).
func (q *Requests) Save(ctx context.Context, req *connector.Request) error {
	row := Request{KeyHash: token.Hash(req.Key), AccountID: req.AccountID, ConnectionID: req.ConnectionID, Purpose: req.Purpose,
		EventID: req.EventID, ReturnPath: req.ReturnPath, BrowserHash: token.Hash(req.Browser), Nonce: req.Nonce, CodeVerifier: req.CodeVerifier,
		AuthnRequestID: req.AuthnRequestID, ExpiresAt: req.ExpiresAt.UTC(), CreatedAt: q.Now().UTC()}
	return q.DB.W.WithContext(ctx).Create(&row).Error
}

// Refusals of a login's request.
var (
	ErrUnknownRequest = problem.New(problem.Unauthorized, "sso_request_unknown",
		"this sign-in is not known here, or was already completed; start the sign-in again")
	ErrOtherBrowser = problem.New(problem.Unauthorized, "sso_other_browser",
		"this sign-in was started in another browser, or this browser did not keep the gateway's cookie; start the sign-in again here, with cookies allowed for this site")
)

// Take consumes the login in flight with this key: it is deleted by one
// conditional statement, and only the caller whose delete removed the
// row gets it, so a second use of the key fails on every replica. A key
// never stored, already used, or of another connection is
// ErrUnknownRequest; one past its expiry is connector.ErrExpired; one
// started in a browser whose cookie was not browser is ErrOtherBrowser
// (the login is used up either way: a stranger's answer cannot be tried
// again).
func (q *Requests) Take(ctx context.Context, connectionID, key, browser string) (*connector.Request, error) {
	if !token.WellFormed(key) {
		return nil, ErrUnknownRequest
	}
	hash := token.Hash(key)
	row, err := q.take(ctx, hash)
	if err != nil {
		return nil, err
	}
	if row == nil || row.ConnectionID != connectionID {
		return nil, ErrUnknownRequest
	}
	if !q.Now().Before(row.ExpiresAt) {
		return nil, fmt.Errorf("%w: the sign-in started at %s expired at %s", connector.ErrExpired,
			row.CreatedAt.UTC().Format(time.RFC3339), row.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !token.WellFormed(browser) || subtle.ConstantTimeCompare([]byte(token.Hash(browser)), []byte(row.BrowserHash)) != 1 {
		if browser == "" {
			return nil, fmt.Errorf("%w: the answer came without the browser cookie of the login", ErrOtherBrowser)
		}
		return nil, fmt.Errorf("%w: the answer came with another browser's cookie", ErrOtherBrowser)
	}
	return &connector.Request{Key: key, AccountID: row.AccountID, ConnectionID: row.ConnectionID, Purpose: row.Purpose,
		EventID: row.EventID, ReturnPath: row.ReturnPath, Browser: browser, Nonce: row.Nonce, CodeVerifier: row.CodeVerifier,
		AuthnRequestID: row.AuthnRequestID, ExpiresAt: row.ExpiresAt}, nil
}

const requestColumns = "key_hash, account_id, connection_id, purpose, event_id, return_path, browser_hash, nonce, code_verifier, authn_request_id, expires_at, created_at"

// take deletes the login's row and returns what it held, in one
// statement (DELETE ... RETURNING, on SQLite and PostgreSQL alike): a
// second take of the row, on any replica, waits for the first on the row
// and then finds nothing.
func (q *Requests) take(ctx context.Context, hash string) (*Request, error) {
	var rows []Request
	err := q.DB.W.WithContext(ctx).Raw("DELETE FROM sso_requests WHERE key_hash = ? RETURNING "+requestColumns, hash).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// Once records the assertion id for the connection until until; a second
// record of it while the first has not expired is connector.ErrReplayed,
// whichever replica made the first. One INSERT decides: a conflicting row
// is replaced only when it has expired (the upsert's WHERE), otherwise
// nothing is written and the row count, 0, says the id was seen.
func (q *Requests) Once(ctx context.Context, connectionID, assertionID string, until time.Time) error {
	if assertionID == "" {
		return fmt.Errorf("%w: the assertion carries no id", connector.ErrInvalidResponse)
	}
	if len(assertionID) > 255 {
		return fmt.Errorf("%w: the assertion id is longer than 255 characters", connector.ErrInvalidResponse)
	}
	now := q.Now().UTC()
	if until.Before(now) {
		until = now
	}
	r := q.DB.W.WithContext(ctx).Exec("INSERT INTO sso_assertions (connection_id, assertion_id, until) VALUES (?, ?, ?) "+
		"ON CONFLICT (connection_id, assertion_id) DO UPDATE SET until = excluded.until WHERE sso_assertions.until < ?",
		connectionID, assertionID, until.UTC(), now)
	if r.Error != nil {
		return r.Error
	}
	if r.RowsAffected == 0 {
		return fmt.Errorf("%w: assertion %s was used before", connector.ErrReplayed, assertionID)
	}
	return nil
}

// Sweep deletes the logins in flight and the remembered assertions that
// have expired; it says how many of each.
func (q *Requests) Sweep(ctx context.Context) (requests, assertions int64, err error) {
	now := q.Now().UTC()
	r := q.DB.W.WithContext(ctx).Where("expires_at < ?", now).Delete(&Request{})
	if r.Error != nil {
		return 0, 0, r.Error
	}
	a := q.DB.W.WithContext(ctx).Where("until < ?", now).Delete(&SeenAssertion{})
	return r.RowsAffected, a.RowsAffected, a.Error
}

var _ connector.Replay = (*Requests)(nil)
