package user

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm/clause"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// UserIdentity is how someone outside the gateway knows a user: an identity
// provider (SAML entity id or OIDC issuer) or an LTI platform, and its
// stable id of the person. A person keeps one user per account however many
// issuers vouch for them.
type UserIdentity struct {
	ID         string    `gorm:"primaryKey;size:36" json:"id"`
	AccountID  string    `gorm:"size:36;not null;uniqueIndex:idx_user_identities_key,priority:1" json:"account_id"`
	Issuer     string    `gorm:"size:512;not null;uniqueIndex:idx_user_identities_key,priority:2" json:"issuer"`
	Subject    string    `gorm:"size:255;not null;uniqueIndex:idx_user_identities_key,priority:3" json:"subject"`
	UserID     string    `gorm:"size:36;not null;index" json:"user_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// TableName keeps the table name plain.
func (UserIdentity) TableName() string { return "user_identities" }

// Identity is a person arriving from outside: an assertion of an identity
// provider, an LTI launch, a form that names them by email.
type Identity struct {
	AccountID string
	// Issuer and Subject are who vouches for the person and their id of
	// them. Both empty: the person is known by email only (an invitation,
	// a registration form), and Resolve finds or creates them by email.
	Issuer, Subject string
	// Email is the address the issuer gives; it is normalized here.
	Email               string
	FirstName, LastName string
	// LinkByEmail lets a first sign-in of this identity attach to a user
	// the account already has with the same email. Without it, such a
	// sign-in is refused (ErrNotLinked): an issuer that does not verify
	// addresses could otherwise take over an existing user by claiming
	// their email. The caller sets it from its own policy (the SSO
	// connection's "link by verified email" together with the assertion's
	// email being verified).
	LinkByEmail bool
}

// Limits of what an issuer may send; names are bounded by MaxName.
const (
	maxIssuer  = 512
	maxSubject = 255
)

// ErrNotLinked refuses a first sign-in whose email belongs to a user the
// account already has, when linking by email is not allowed.
var ErrNotLinked = problem.New(problem.Conflict, "identity_not_linked",
	"this organization already has a person with this email, and this sign-in may not be linked to them; an admin can allow linking by verified email for this identity provider")

// validate normalizes in and reports what is wrong with it.
func (in *Identity) validate() error {
	var fs problem.Fields
	in.Issuer, in.Subject = strings.TrimSpace(in.Issuer), strings.TrimSpace(in.Subject)
	switch {
	case (in.Issuer == "") != (in.Subject == ""):
		fs.Add("subject", "an identity needs both its issuer and its subject")
	case len(in.Issuer) > maxIssuer:
		fs.Add("issuer", fmt.Sprintf("issuer is longer than %d characters", maxIssuer))
	case len(in.Subject) > maxSubject:
		fs.Add("subject", fmt.Sprintf("subject is longer than %d characters", maxSubject))
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		fs.Add("email", err.Error())
	}
	in.Email = email
	in.FirstName, in.LastName = strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName)
	if utf8.RuneCountInString(in.FirstName) > MaxName {
		fs.Add("first_name", fmt.Sprintf("first name is longer than %d characters", MaxName))
	}
	if utf8.RuneCountInString(in.LastName) > MaxName {
		fs.Add("last_name", fmt.Sprintf("last name is longer than %d characters", MaxName))
	}
	return fs.Err()
}

// Resolve finds or creates, in tx, the user an identity names. A known
// identity gives its user; a new one gives a new user, or, where the
// identity may link by email, the account's user with that email. An
// identity without issuer (known by email only) gives the user with that
// email, created if new. Names still empty are filled in.
//
// It never makes two users for one person, however many resolutions of
// the same identity run at once: users are unique on (account, email) and
// identities on (account, issuer, subject), every insert is ON CONFLICT DO
// NOTHING, and the rows are read back afterwards. On PostgreSQL a
// conflicting insert waits for the transaction that made the row, so the
// read that follows sees the winner's user and identity; SQLite has one
// writer.
func Resolve(tx *store.Tx, in Identity) (*User, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.Issuer == "" {
		u, _, err := ensure(tx, in)
		return u, err
	}
	if u, err := byIdentity(tx, in); err != nil || u != nil {
		return u, err
	}
	u, created, err := ensure(tx, in)
	if err != nil {
		return nil, err
	}
	if !created {
		// The user may be the one a resolution of this same identity
		// made while this one waited on the email's row.
		if mine, err := byIdentity(tx, in); err != nil || mine != nil {
			return mine, err
		}
		if !in.LinkByEmail {
			return nil, ErrNotLinked
		}
	}
	now := tx.Now()
	link := UserIdentity{ID: id.New(), AccountID: in.AccountID, Issuer: in.Issuer, Subject: in.Subject, UserID: u.ID, CreatedAt: now, LastSeenAt: now}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&link).Error; err != nil {
		return nil, err
	}
	got, err := byIdentity(tx, in)
	if err == nil && got == nil {
		err = fmt.Errorf("user: identity %s of %s was neither made nor found", in.Subject, in.Issuer)
	}
	return got, err
}

// seenEvery is how stale an identity's last sign-in may be: a sign-in
// within it of the recorded one writes nothing.
const seenEvery = time.Minute

// byIdentity is the user of a known identity, with its last sign-in
// recorded, or nil. One read finds both the identity and its user.
func byIdentity(tx *store.Tx, in Identity) (*User, error) {
	var rows []struct {
		User
		LinkID   string
		LinkSeen time.Time
	}
	err := tx.Raw("SELECT users.*, user_identities.id AS link_id, user_identities.last_seen_at AS link_seen FROM user_identities "+
		"LEFT JOIN users ON users.id = user_identities.user_id AND users.account_id = user_identities.account_id "+
		"WHERE user_identities.account_id = ? AND user_identities.issuer = ? AND user_identities.subject = ?",
		in.AccountID, in.Issuer, in.Subject).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	if r.User.ID == "" {
		return nil, fmt.Errorf("user: identity %s names a user who is gone", r.LinkID)
	}
	if now := tx.Now(); now.Sub(r.LinkSeen) >= seenEvery {
		if err := tx.Model(&UserIdentity{}).Where("id = ?", r.LinkID).Update("last_seen_at", now).Error; err != nil {
			return nil, err
		}
	}
	u := r.User
	return &u, fillNames(tx, &u, in.FirstName, in.LastName)
}

// ensure finds or creates the user with in's email; created tells which.
func ensure(tx *store.Tx, in Identity) (*User, bool, error) {
	now := tx.Now()
	u := User{ID: id.New(), AccountID: in.AccountID, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, CreatedAt: now, UpdatedAt: now}
	r := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_id"}, {Name: "email"}},
		DoNothing: true,
	}).Create(&u)
	if r.Error != nil {
		return nil, false, r.Error
	}
	var got User
	if err := tx.Where("account_id = ? AND email = ?", in.AccountID, in.Email).Take(&got).Error; err != nil {
		return nil, false, err
	}
	created := r.RowsAffected == 1 && got.ID == u.ID
	return &got, created, fillNames(tx, &got, in.FirstName, in.LastName)
}

// fillNames gives a user without a name the one an arrival brings.
func fillNames(tx *store.Tx, u *User, first, last string) error {
	if u.FirstName != "" || u.LastName != "" || first == "" && last == "" {
		return nil
	}
	u.FirstName, u.LastName = first, last
	return tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{"first_name": first, "last_name": last, "updated_at": tx.Now()}).Error
}
