//go:build bench

package api_test

import (
	"context"
	"database/sql"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/api/apitest"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/jointoken"
	"github.com/invitegate/gateway/core/resource"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/token"
)

// The redemption floor: a bare Gin handler (no middleware, no decision)
// doing only what no implementation of a redemption can leave out, each
// step the cheapest way this store offers:
//
//   - read who the link is for (the invitation by its token's hash, and
//     the invitee's user row);
//   - take the use and write the rows a redemption leaves: the redemption
//     (for device binding), the participant, the session that lets the
//     person enter the resource's later links, the audit entry. On
//     PostgreSQL that is one statement (store.Gated), after the read; on
//     SQLite one write of the store's write groups, the read inside it and
//     every row written with the group's;
//   - sign the ES256 join token and answer 303 with the device and
//     session cookies.
//
// It checks nothing (no removal, resource state, access policy, email,
// guess limit or returning device): a redemption does all of that and
// more, so the floor's ratio to the bare UPDATE bounds what any redemption
// can reach on this machine.
const (
	floorReadSQL = `SELECT i.id, i.account_id, i.resource_id, i.email, i.role, u.id, u.first_name, u.last_name
FROM invitations i JOIN users u ON u.account_id = i.account_id AND u.email = i.email
WHERE i.token_hash = $1`
	floorTakeSQL = `UPDATE invitations SET uses = uses + 1, last_redeemed_at = $1
WHERE id = $2 AND revoked_at IS NULL AND expires_at > $3 AND (max_uses = 0 OR uses < max_uses)`
)

// floorRedeem serves the redemption floor and returns its URL.
func floorRedeem(t *testing.T, env *apitest.Env) string {
	t.Helper()
	ctx := context.Background()
	db := env.DB
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("redeem floor: %v", err)
		}
	}
	signer, err := jointoken.Open(ctx, db, jointoken.Options{Issuer: env.URL})
	must(err)
	redemptions, err := db.NewInserts(ctx, "redemptions", "id", "invitation_id", "device_hash", "user_id", "at")
	must(err)
	participants, err := db.NewInserts(ctx, "participants", "resource_id", "user_id", "account_id", "role", "joined_at", "updated_at")
	must(err)
	sessions, err := db.NewInserts(ctx, "sessions", "id", "account_id", "user_id", "token_hash", "scope", "scope_id", "method",
		"created_at", "expires_at", "last_seen_at")
	must(err)
	audits, err := db.NewInserts(ctx, "audit_entries", "id", "account_id", "at", "actor_kind", "actor_id", "action", "target_kind", "target_id", "detail")
	must(err)
	gated, err := db.NewGated(ctx, floorTakeSQL, 3, redemptions, participants, sessions, audits)
	must(err)
	read, err := db.Prepare(ctx, gated == nil, floorReadSQL)
	must(err)
	take, err := db.Prepare(ctx, true, floorTakeSQL)
	must(err)

	type invitee struct{ inv, account, resource, email, role, user, first, last string }
	scan := func(row *sql.Row, v *invitee) error {
		return row.Scan(&v.inv, &v.account, &v.resource, &v.email, &v.role, &v.user, &v.first, &v.last)
	}
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	bare.POST("/i/:token", func(c *gin.Context) {
		rctx := c.Request.Context()
		hash := token.Hash(c.Param("token"))
		device, deviceHash := token.New()
		sessionID, auditID, redemptionID := id.New(), id.New(), id.New()
		sessionSecret, sessionHash := token.New()
		now := time.Now().UTC()
		var v invitee
		var err error
		rows := func() []store.Row {
			return []store.Row{
				redemptions.Row(redemptionID, v.inv, deviceHash, v.user, now),
				participants.Row(v.resource, v.user, v.account, v.role, now, now),
				sessions.Row(sessionID, v.account, v.user, sessionHash, "resource", v.resource, "invite_link", now, now.Add(12*time.Hour), now),
				audits.Row(auditID, v.account, now, "invitee", v.user, "invitation.redeemed", "invitation", v.inv,
					`{"resource_id":"`+v.resource+`","role":"`+v.role+`","previous_role":""}`),
			}
		}
		var took bool
		if gated != nil {
			err = scan(read.QueryRowContext(rctx, hash), &v)
			if err == nil {
				took, err = gated.Exec(rctx, []any{now, v.inv, now}, rows()...)
			}
		} else {
			err = db.Write(rctx, func(tx *store.Tx) error {
				took = false
				if err := scan(tx.Stmt(read).QueryRowContext(tx.Context(), hash), &v); err != nil {
					return err
				}
				r, err := tx.Stmt(take).ExecContext(tx.Context(), now, v.inv, now)
				if err != nil {
					return err
				}
				if n, err := r.RowsAffected(); err != nil || n == 0 {
					return err
				}
				for _, row := range rows() {
					if err := tx.AddRow(row); err != nil {
						return err
					}
				}
				took = true
				return nil
			})
		}
		if err != nil || !took {
			c.String(http.StatusConflict, "not taken: %v", err)
			return
		}
		claims := jointoken.Claims{Email: v.email, Name: v.first + " " + v.last, Resource: v.resource, Role: v.role, Privileges: resource.Privileges(v.role)}
		claims.Subject = v.user
		jt, err := signer.Issue(rctx, "demo", claims)
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		http.SetCookie(c.Writer, &http.Cookie{Name: "ig_device", Value: device, Path: "/i/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(c.Writer, &http.Cookie{Name: "ig_room", Value: sessionID + "." + sessionSecret, Path: "/i/", MaxAge: 12 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		c.Redirect(http.StatusSeeOther, env.URL+"/demo/rooms/"+v.resource+"?jt="+jt)
	})
	return serveBare(t, bare)
}
