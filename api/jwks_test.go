package api_test

import (
	"encoding/json"
	"net/http"

	"github.com/go-jose/go-jose/v4"

	"github.com/invitegate/gateway/api/apitest"
)

func jwksOf(e *apitest.Env, c *http.Client) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	r := e.Get(c, "/.well-known/jwks.json")
	err := json.Unmarshal(r.Body, &set)
	return set, err
}
