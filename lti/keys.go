package lti

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
)

// Key is one of the tool's RS256 key pairs, in the database so every
// replica signs and publishes the same keys. A key signs from ActivatesAt
// until RetiredAt; it is published from its creation (before it signs, so
// platforms that cache the tool's key set know it when its first token
// arrives) until SignedTTL after RetiredAt (when the last token it signed
// has expired).
type Key struct {
	KID         string     `gorm:"primaryKey;size:64"`
	PrivatePEM  string     `gorm:"not null"`
	CreatedAt   time.Time  `gorm:"not null"`
	ActivatesAt time.Time  `gorm:"not null"`
	RetiredAt   *time.Time `gorm:"index"`
}

// TableName names the table; the join tokens' ES256 keys are elsewhere
// (core/jointoken).
func (Key) TableName() string { return "lti_keys" }

// SignedTTL is the longest life of a token the tool signs (the client
// assertions and deep linking responses it sends platforms).
const SignedTTL = 5 * time.Minute

// keyBits is the size of the tool's RSA keys.
const keyBits = 2048

// Keys are the tool's signing keys. They are read from the database at
// most every 30 s, so a rotation on one replica reaches the others
// without a restart.
type Keys struct {
	db   *store.DB
	now  func() time.Time
	lead time.Duration

	mu       sync.Mutex
	loadedAt time.Time
	signing  *signingKey
	public   []jose.JSONWebKey
}

type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// openKeys loads the keys, making the first (active at once) if there are none.
func openKeys(ctx context.Context, db *store.DB, now func() time.Time, lead time.Duration) (*Keys, error) {
	k := &Keys{db: db, now: now, lead: lead}
	var n int64
	if err := db.Read(ctx).Model(&Key{}).Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		if _, err := k.add(ctx, now()); err != nil {
			return nil, err
		}
	}
	return k, k.reload(ctx)
}

// Rotated says what a rotation did.
type Rotated struct {
	KID string
	// SignsFrom is when the new key starts signing and the key before it
	// stops; that one stays published until SignedTTL later.
	SignsFrom time.Time
}

// Rotate makes a new key, published now and signing from the lead time
// on; the keys not yet retired retire then.
func (k *Keys) Rotate(ctx context.Context) (*Rotated, error) {
	from := k.now().Add(k.lead)
	kid, err := k.add(ctx, from)
	if err != nil {
		return nil, err
	}
	return &Rotated{KID: kid, SignsFrom: from}, nil
}

// add stores a new key signing from activates, retiring the others then.
func (k *Keys) add(ctx context.Context, activates time.Time) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	row := &Key{KID: id.New(), PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CreatedAt: k.now(), ActivatesAt: activates}
	err = k.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Model(&Key{}).Where("retired_at IS NULL").Update("retired_at", activates).Error; err != nil {
			return err
		}
		return tx.Create(row).Error
	})
	if err != nil {
		return "", fmt.Errorf("lti: make a signing key: %w", err)
	}
	k.mu.Lock()
	k.loadedAt = time.Time{}
	k.mu.Unlock()
	return row.KID, nil
}

// reload reads the published keys and picks the one signing now.
func (k *Keys) reload(ctx context.Context) error {
	now := k.now()
	var rows []Key
	if err := k.db.Read(ctx).Where("retired_at IS NULL OR retired_at > ?", now.Add(-SignedTTL)).
		Order("activates_at DESC, created_at DESC").Find(&rows).Error; err != nil {
		return err
	}
	var signing *signingKey
	pub := make([]jose.JSONWebKey, 0, len(rows))
	for _, r := range rows {
		block, _ := pem.Decode([]byte(r.PrivatePEM))
		if block == nil {
			return fmt.Errorf("lti: signing key %s is not PEM", r.KID)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("lti: signing key %s: %w", r.KID, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("lti: signing key %s is not RSA", r.KID)
		}
		pub = append(pub, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: r.KID, Algorithm: string(jose.RS256), Use: "sig"})
		if signing == nil && !now.Before(r.ActivatesAt) && (r.RetiredAt == nil || now.Before(*r.RetiredAt)) {
			signing = &signingKey{kid: r.KID, priv: priv}
		}
	}
	if signing == nil {
		return errors.New("lti: no signing key is active: run `gateway lti keys rotate`")
	}
	k.mu.Lock()
	k.signing, k.public, k.loadedAt = signing, pub, now
	k.mu.Unlock()
	return nil
}

// fresh reloads the keys when the last load is over 30 s old.
func (k *Keys) fresh(ctx context.Context) error {
	k.mu.Lock()
	stale := k.now().Sub(k.loadedAt) > 30*time.Second
	k.mu.Unlock()
	if stale {
		return k.reload(ctx)
	}
	return nil
}

// JWKS is the tool's public key set, as served at /lti/jwks.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	if err := k.fresh(ctx); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), k.public...)}, nil
}

// PublicPEM is the signing key's public key in PEM, for platforms whose
// registration asks for a key rather than a key set URL.
func (k *Keys) PublicPEM(ctx context.Context) (kid, pemText string, err error) {
	if err := k.fresh(ctx); err != nil {
		return "", "", err
	}
	k.mu.Lock()
	sk := k.signing
	k.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&sk.priv.PublicKey)
	if err != nil {
		return "", "", err
	}
	return sk.kid, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// Sign signs claims (a JSON object) as an RS256 JWT with the key signing
// now, its kid in the header, for messages the tool sends platforms.
func (k *Keys) Sign(ctx context.Context, claims []byte) (string, error) {
	if err := k.fresh(ctx); err != nil {
		return "", err
	}
	k.mu.Lock()
	sk := k.signing
	k.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: sk.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", sk.kid))
	if err != nil {
		return "", err
	}
	jws, err := sig.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
