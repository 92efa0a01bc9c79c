// Package account owns tenants and their API keys. Nothing crosses accounts:
// every query elsewhere in core is scoped by an account id that comes from here.
package account

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
	"github.com/invitegate/gateway/core/user"
)

// Account is a tenant.
type Account struct {
	ID        string    `gorm:"primaryKey;size:36" json:"id"`
	Name      string    `gorm:"size:200;not null" json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey lets a program act as the account's administrator.
type APIKey struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	Name      string `gorm:"size:200" json:"name"`
	// Prefix is the first characters of the key, shown so people can tell keys apart.
	Prefix     string     `gorm:"size:16" json:"prefix"`
	Hash       string     `gorm:"size:64;not null;uniqueIndex" json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// KeyPrefix starts every API key so that leaked keys are easy to scan for.
const KeyPrefix = "igk_"

// Create makes an account.
func Create(ctx context.Context, db *store.DB, name string) (*Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, problem.Field("name", "account name is required")
	}
	a := &Account{ID: id.New(), Name: name, CreatedAt: db.Now()}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		return audit.Record(tx, a.ID, audit.System, "account.created", "account", a.ID, nil)
	})
	return a, err
}

// Get loads an account.
func Get(ctx context.Context, r store.Reader, accountID string) (*Account, error) {
	var a Account
	err := r.Read(ctx).Where("id = ?", accountID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &a, err
}

// CreateAPIKey returns the plain key (shown once) and its stored record.
func CreateAPIKey(ctx context.Context, db *store.DB, accountID, name string, who audit.Actor) (string, *APIKey, error) {
	t, _ := token.New()
	plain := KeyPrefix + t
	k := &APIKey{ID: id.New(), AccountID: accountID, Name: name, Prefix: plain[:10], Hash: token.Hash(plain), CreatedAt: db.Now()}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "api_key.created", "api_key", k.ID, map[string]any{"name": name})
	})
	return plain, k, err
}

// Authenticate finds the live key for a presented secret.
func Authenticate(ctx context.Context, db *store.DB, plain string) (*APIKey, error) {
	if !strings.HasPrefix(plain, KeyPrefix) || !token.WellFormed(strings.TrimPrefix(plain, KeyPrefix)) {
		return nil, problem.ErrUnauthorized
	}
	var k APIKey
	err := db.R.WithContext(ctx).Where("hash = ? AND revoked_at IS NULL", token.Hash(plain)).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.New(problem.Unauthorized, "bad_api_key", "the API key is unknown or revoked")
	}
	return &k, err
}

// Bootstrap is what the first start of a gateway creates.
type Bootstrap struct {
	Account *Account
	Admin   *user.User
	APIKey  string // plain, shown once
}

// EnsureFirst creates the first account, its admin and an API key when the
// database holds no account yet; otherwise it returns nil. It runs in one
// transaction, so a crash half-way leaves nothing and the next start retries.
func EnsureFirst(ctx context.Context, db *store.DB, accountName, adminEmail string) (*Bootstrap, error) {
	email, err := user.NormalizeEmail(adminEmail)
	if err != nil {
		return nil, problem.Field("bootstrap.admin_email", err.Error())
	}
	var out *Bootstrap
	err = db.Tx(ctx, func(tx *store.Tx) error {
		// Replicas starting together each find no account: the lock makes
		// them count one after the other, so one creates it and the others
		// see it.
		if err := tx.LockTx("first-start"); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Account{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		now := tx.Now()
		a := &Account{ID: id.New(), Name: accountName, CreatedAt: now}
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		admin := &user.User{ID: id.New(), AccountID: a.ID, Email: email, FirstName: "Admin", ConsoleRole: user.RoleAdmin, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(admin).Error; err != nil {
			return err
		}
		t, _ := token.New()
		plain := KeyPrefix + t
		k := &APIKey{ID: id.New(), AccountID: a.ID, Name: "bootstrap", Prefix: plain[:10], Hash: token.Hash(plain), CreatedAt: now}
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		if err := audit.Record(tx, a.ID, audit.System, "account.bootstrapped", "account", a.ID, map[string]any{"admin_user": admin.ID}); err != nil {
			return err
		}
		out = &Bootstrap{Account: a, Admin: admin, APIKey: plain}
		return nil
	})
	return out, err
}
