// Package jointoken signs the short-lived tokens that carry a person into a
// room (who, which resource, which role and privileges) and publishes the
// public keys that verify them. Keys are ES256 (fast to sign on the
// redemption hot path, supported by every JOSE library), live in the
// database so every replica signs with the same key, and rotate: a retired
// key stays published until every token it signed has expired.
package jointoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/store"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/invitegate/gateway/core/id"
)

// Key is a signing key pair.
type Key struct {
	KID        string     `gorm:"primaryKey;size:64"`
	PrivatePEM string     `gorm:"not null"`
	CreatedAt  time.Time  ``
	RetiredAt  *time.Time `gorm:"index"`
}

// TableName names the table.
func (Key) TableName() string { return "signing_keys" }

// Claims are what a room learns about who enters.
type Claims struct {
	jwt.Claims
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	Resource   string   `json:"resource"`
	Role       string   `json:"role"`
	Privileges []string `json:"privileges"`
}

// TTL is how long a join token works: long enough for a redirect.
const TTL = 2 * time.Minute

// keep is how long a retired key stays published.
const keep = TTL + time.Hour

// Signer issues and verifies join tokens.
type Signer struct {
	DB     *store.DB
	Issuer string
	Now    func() time.Time

	mu       sync.RWMutex
	signer   *es256
	kid      string
	public   []jose.JSONWebKey
	loadedAt time.Time
}

// Options configure a Signer.
type Options struct {
	// Issuer is the tokens' iss: the gateway's base URL.
	Issuer string
	// Now is the clock of key rotation, key reloads and token expiry
	// (default time.Now).
	Now func() time.Time
}

// Open loads the keys, creating the first one if there is none.
func Open(ctx context.Context, db *store.DB, opts Options) (*Signer, error) {
	s := &Signer{DB: db, Issuer: opts.Issuer, Now: opts.Now}
	var n int64
	if err := db.Read(ctx).Model(&Key{}).Where("retired_at IS NULL").Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		if err := s.first(ctx); err != nil {
			return nil, err
		}
	}
	return s, s.reload(ctx)
}

// first makes the first key, unless a replica starting at the same time
// made it already: under the lock, each counts again after the one before
// it committed.
func (s *Signer) first(ctx context.Context) error {
	k, err := newKey(s.now())
	if err != nil {
		return err
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.LockTx("signing-key"); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Key{}).Where("retired_at IS NULL").Count(&n).Error; err != nil || n > 0 {
			return err
		}
		return tx.Create(k).Error
	})
	if err != nil {
		return fmt.Errorf("first signing key: %w", err)
	}
	return nil
}

// newKey is a new active signing key made at now.
func newKey(now time.Time) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &Key{KID: id.New(), PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), CreatedAt: now}, nil
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Rotate makes a new active key and retires the others.
func (s *Signer) Rotate(ctx context.Context) (string, error) {
	now := s.now()
	k, err := newKey(now)
	if err != nil {
		return "", err
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Model(&Key{}).Where("retired_at IS NULL").Update("retired_at", now).Error; err != nil {
			return err
		}
		return tx.Create(k).Error
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	s.mu.Lock()
	s.loadedAt = time.Time{}
	s.mu.Unlock()
	return k.KID, nil
}

// reload reads the active key and the published ones.
func (s *Signer) reload(ctx context.Context) error {
	var keys []Key
	now := s.now()
	if err := s.DB.Read(ctx).Where("retired_at IS NULL OR retired_at > ?", now.Add(-keep)).Order("created_at DESC").Find(&keys).Error; err != nil {
		return err
	}
	var active *Key
	pub := make([]jose.JSONWebKey, 0, len(keys))
	var activePriv *ecdsa.PrivateKey
	for i := range keys {
		k := &keys[i]
		block, _ := pem.Decode([]byte(k.PrivatePEM))
		if block == nil {
			return fmt.Errorf("signing key %s: not PEM", k.KID)
		}
		priv, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", k.KID, err)
		}
		pub = append(pub, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: k.KID, Algorithm: string(jose.ES256), Use: "sig"})
		if k.RetiredAt == nil && active == nil {
			active, activePriv = k, priv
		}
	}
	if active == nil {
		return errors.New("no active signing key: run `gateway keys rotate`")
	}
	sig, err := newES256(activePriv, active.KID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.signer, s.kid, s.public, s.loadedAt = sig, active.KID, pub, now
	s.mu.Unlock()
	return nil
}

// fresh reloads keys every half minute, so a rotation on one replica reaches
// the others without a restart.
func (s *Signer) fresh(ctx context.Context) error {
	s.mu.RLock()
	stale := s.now().Sub(s.loadedAt) > 30*time.Second
	s.mu.RUnlock()
	if stale {
		return s.reload(ctx)
	}
	return nil
}

// Issue signs a join token for an audience (the room side), valid for TTL.
func (s *Signer) Issue(ctx context.Context, audience string, c Claims) (string, error) {
	return s.IssueFor(ctx, audience, c, TTL)
}

// IssueFor signs a token with another lifetime (the demo room's own session).
func (s *Signer) IssueFor(ctx context.Context, audience string, c Claims, ttl time.Duration) (string, error) {
	if err := s.fresh(ctx); err != nil {
		return "", err
	}
	now := s.now()
	c.Issuer = s.Issuer
	c.Audience = jwt.Audience{audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now.Add(-5 * time.Second))
	c.Expiry = jwt.NewNumericDate(now.Add(ttl))
	c.ID = id.New()
	s.mu.RLock()
	sig := s.signer
	s.mu.RUnlock()
	return sig.sign(&c)
}

// JWKS is the public key set, as served at /.well-known/jwks.json.
func (s *Signer) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	if err := s.fresh(ctx); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), s.public...)}, nil
}

// Verify checks a join token's signature, issuer, audience and lifetime the
// way any room would with the published keys.
func Verify(raw string, keys jose.JSONWebKeySet, issuer, audience string, now time.Time) (*Claims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("join token is malformed: %w", err)
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("join token must have one signature")
	}
	found := keys.Key(tok.Headers[0].KeyID)
	if len(found) == 0 {
		return nil, fmt.Errorf("join token signed with unknown key %q", tok.Headers[0].KeyID)
	}
	var c Claims
	if err := tok.Claims(found[0].Key, &c); err != nil {
		return nil, fmt.Errorf("join token signature is invalid: %w", err)
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, 5*time.Second); err != nil {
		return nil, fmt.Errorf("join token rejected: %w", err)
	}
	return &c, nil
}
