//go:build bench

package api_test

import (
	"testing"

	"github.com/invitegate/gateway/core/store"
)

// TestBench_redeem_pg is the redeem benchmark on PostgreSQL (the cluster
// GATEWAY_TEST_POSTGRES names): one gateway's redemptions beside the bare
// conditional UPDATE on the same database. Target ratio >= 0.5.
func TestBench_redeem_pg(t *testing.T) { benchRedeem(t, "redeem_pg", store.Postgres) }
