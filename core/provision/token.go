package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
)

// Token lets an identity provider provision people and groups into one
// account, and nothing else: it is no API key.
type Token struct {
	ID        string `gorm:"primaryKey;size:36" json:"id"`
	AccountID string `gorm:"size:36;not null;index" json:"account_id"`
	Name      string `gorm:"size:200" json:"name"`
	// Prefix is the first characters of the token, shown so admins can
	// tell tokens apart.
	Prefix string `gorm:"size:16" json:"prefix"`
	Hash   string `gorm:"size:64;not null;uniqueIndex" json:"-"`
	// LinkByEmail lets a person this token provisions become the account's
	// existing user with the same email (one who signed in by SSO before,
	// or was invited). Off, such a push is refused: the token's provider
	// could otherwise take over any person of the account by naming their
	// address.
	LinkByEmail bool       `json:"link_by_email"`
	CreatedBy   string     `gorm:"size:64" json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// TableName names the table.
func (Token) TableName() string { return "scim_tokens" }

// TokenPrefix starts every provisioning token, so a leaked one is easy to
// scan for and is never mistaken for an API key.
const TokenPrefix = "igs_"

// maxTokenName bounds a token's name, in characters.
const maxTokenName = 200

// lastUsedEvery is how stale a token's last use may get before a request
// records it again: a provider's push is hundreds of requests, and one
// write per request would double the writes on SQLite's single writer.
const lastUsedEvery = time.Minute

// ErrBadToken refuses a request whose bearer token is no live
// provisioning token.
var ErrBadToken = problem.New(problem.Unauthorized, "bad_scim_token", "the bearer token is not a provisioning token of this gateway, or it was revoked")

// ErrTokenNotFound is a token not in the account.
var ErrTokenNotFound = problem.New(problem.NotFound, "scim_token_not_found", "no provisioning token with this id in this account")

// NewToken is what an admin gives to make a token.
type NewToken struct {
	Name        string `json:"name"`
	LinkByEmail bool   `json:"link_by_email"`
}

// CreateToken makes a token and returns its secret, shown once; only its
// hash is kept.
func (s *Service) CreateToken(ctx context.Context, accountID string, by audit.Actor, in NewToken) (string, *Token, error) {
	name := strings.TrimSpace(in.Name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", nil, problem.Field("name", "name is required: say which identity provider uses the token")
	case n > maxTokenName:
		return "", nil, problem.Field("name", fmt.Sprintf("name is %d characters long; at most %d are allowed", n, maxTokenName))
	}
	t, _ := token.New()
	plain := TokenPrefix + t
	k := &Token{ID: id.New(), AccountID: accountID, Name: name, Prefix: plain[:10], Hash: token.Hash(plain),
		LinkByEmail: in.LinkByEmail, CreatedBy: by.ID, CreatedAt: s.DB.Now()}
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, by, "scim.token_created", "scim_token", k.ID, map[string]any{"name": name, "link_by_email": in.LinkByEmail})
	})
	if err != nil {
		return "", nil, err
	}
	return plain, k, nil
}

// Tokens lists the account's tokens, newest first, revoked ones too.
func (s *Service) Tokens(ctx context.Context, accountID string) ([]Token, error) {
	out := []Token{}
	err := s.DB.R.WithContext(ctx).Where("account_id = ?", accountID).Order("created_at DESC, id DESC").Find(&out).Error
	return out, err
}

// RevokeToken ends a token: the provider's next request is refused.
// Revoking it again changes nothing.
func (s *Service) RevokeToken(ctx context.Context, accountID string, by audit.Actor, tokenID string) (*Token, error) {
	if !id.Valid(tokenID) {
		return nil, ErrTokenNotFound
	}
	var k Token
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Where("account_id = ? AND id = ?", accountID, tokenID).Take(&k).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrTokenNotFound
			}
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		now := tx.Now()
		k.RevokedAt = &now
		if err := tx.Model(&Token{}).Where("id = ?", k.ID).Update("revoked_at", now).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, by, "scim.token_revoked", "scim_token", k.ID, nil)
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// Authenticate finds the caller a presented secret stands for. The lookup
// is by the secret's SHA-256 (an index hit, the comparison of equal hashes
// done by the database); a malformed secret costs the same hashing and is
// refused before any query.
func (s *Service) Authenticate(ctx context.Context, plain string) (Caller, error) {
	h := token.Hash(plain)
	if !strings.HasPrefix(plain, TokenPrefix) || !token.WellFormed(strings.TrimPrefix(plain, TokenPrefix)) {
		return Caller{}, ErrBadToken
	}
	var k Token
	err := s.DB.R.WithContext(ctx).Where("hash = ? AND revoked_at IS NULL", h).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && !token.Equal(k.Hash, h) {
		return Caller{}, ErrBadToken
	}
	if err != nil {
		return Caller{}, err
	}
	now := s.DB.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > lastUsedEvery {
		if err := s.DB.W.WithContext(ctx).Model(&Token{}).Where("id = ?", k.ID).Update("last_used_at", now).Error; err != nil {
			return Caller{}, err
		}
	}
	return Caller{AccountID: k.AccountID, TokenID: k.ID, LinkByEmail: k.LinkByEmail}, nil
}
