package oidc

import (
	"context"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet verifies id token signatures: with the provider's published keys
// (cached by go-oidc, fetched again only for a key id not seen yet), or,
// for a connection that lists HS256, an HS256 token with the client
// secret, as OIDC Core 10.1 prescribes for symmetric signatures.
//
// The verifier has already refused any algorithm the connection does not
// list, so an HS256 token only reaches the secret when HS256 is
// configured, and a public key is never used as an HMAC secret.
type keySet struct {
	remote interface {
		VerifySignature(ctx context.Context, jwt string) ([]byte, error)
	}
	secret []byte // nil unless the connection lists HS256
}

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	if k.secret == nil {
		return k.remote.VerifySignature(ctx, jwt)
	}
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.HS256,
		jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
		jose.PS256, jose.PS384, jose.PS512, jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("oidc: malformed jwt: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: id token must carry exactly one signature")
	}
	if jws.Signatures[0].Header.Algorithm != string(jose.HS256) {
		return k.remote.VerifySignature(ctx, jwt)
	}
	return jws.Verify(k.secret)
}
