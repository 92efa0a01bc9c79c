package lti

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySets holds each platform's published keys, fetched from its JWKS URL
// and kept in memory. A token naming a kid the set lacks refetches it once,
// but never sooner than refresh after the last fetch: a flood of tokens
// with made-up kids costs the platform one request a minute per replica.
type keySets struct {
	http    *http.Client
	now     func() time.Time
	refresh time.Duration

	mu   sync.Mutex
	sets map[string]*keySet
}

// keySet is one platform's keys; its mutex also makes concurrent launches
// wait for one fetch instead of each making their own.
type keySet struct {
	mu        sync.Mutex
	keys      jose.JSONWebKeySet
	fetchedAt time.Time
	fetched   bool
}

// maxKeySet bounds a key set's size; real ones are a few KB.
const maxKeySet = 1 << 20

// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3).
const minRSABits = 2048

func newKeySets(c *http.Client, now func() time.Time, refresh time.Duration) *keySets {
	return &keySets{http: c, now: now, refresh: refresh, sets: map[string]*keySet{}}
}

// Why a key could not be had.
var (
	errKeySetFetch = errors.New("the platform's key set could not be fetched")
	errUnknownKid  = errors.New("no key with this kid in the platform's key set, even after fetching it again")
)

// key returns the platform's RS256 verification key named kid.
func (k *keySets) key(ctx context.Context, p *Platform, kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	set, ok := k.sets[p.ID+" "+p.JWKSURL]
	if !ok {
		set = &keySet{}
		k.sets[p.ID+" "+p.JWKSURL] = set
	}
	k.mu.Unlock()

	set.mu.Lock()
	defer set.mu.Unlock()
	if !set.fetched {
		if err := k.fetch(ctx, p, set); err != nil {
			return nil, err
		}
	}
	if key, err := pick(set.keys, kid); err == nil || !errors.Is(err, errUnknownKid) {
		return key, err
	}
	if k.now().Sub(set.fetchedAt) < k.refresh {
		return nil, fmt.Errorf("%w (fetched %s ago; the next fetch is allowed after %s)", errUnknownKid, k.now().Sub(set.fetchedAt).Round(time.Second), k.refresh)
	}
	if err := k.fetch(ctx, p, set); err != nil {
		return nil, err
	}
	return pick(set.keys, kid)
}

// fetch reads the platform's key set into set. A failed fetch keeps the
// keys there were and counts as a fetch, so a platform that is down is not
// asked again at once.
func (k *keySets) fetch(ctx context.Context, p *Platform, set *keySet) error {
	set.fetchedAt, set.fetched = k.now(), true
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errKeySetFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errKeySetFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d", errKeySetFetch, p.JWKSURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySet+1))
	if err != nil || len(body) > maxKeySet {
		return fmt.Errorf("%w: unreadable or over 1 MB", errKeySetFetch)
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(body, &keys); err != nil {
		return fmt.Errorf("%w: not a JSON Web Key Set: %v", errKeySetFetch, err)
	}
	set.keys = keys
	return nil
}

// pick is the key named kid that may verify RS256: an RSA public key of at
// least 2048 bits, for signatures, declared RS256 or for no algorithm.
func pick(set jose.JSONWebKeySet, kid string) (*rsa.PublicKey, error) {
	for _, jwk := range set.Key(kid) {
		pub, ok := jwk.Key.(*rsa.PublicKey)
		if !ok || (jwk.Use != "" && jwk.Use != "sig") || (jwk.Algorithm != "" && jwk.Algorithm != string(jose.RS256)) {
			continue
		}
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("the platform's key %q has %d bits; at least %d are needed", kid, pub.N.BitLen(), minRSABits)
		}
		return pub, nil
	}
	return nil, errUnknownKid
}
