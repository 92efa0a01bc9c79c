// Package user owns people: console users (admins and members who own and
// co-own resources) and invitees, one row per (account, normalized email).
package user

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// Console roles. A user with no console role is an invitee only.
const (
	RoleAdmin  = "admin"  // manages the account: settings, users, every resource
	RoleMember = "member" // signs in to the console; acts on resources they collaborate on
)

// User is a person known to an account.
type User struct {
	ID          string    `gorm:"primaryKey;size:36" json:"id"`
	AccountID   string    `gorm:"size:36;not null;uniqueIndex:idx_users_account_email,priority:1" json:"account_id"`
	Email       string    `gorm:"size:254;not null;uniqueIndex:idx_users_account_email,priority:2" json:"email"`
	FirstName   string    `gorm:"size:100" json:"first_name"`
	LastName    string    `gorm:"size:100" json:"last_name"`
	ExternalID  string    `gorm:"size:255" json:"external_id,omitempty"`
	ConsoleRole string    `gorm:"size:16" json:"console_role,omitempty"`
	Shared      bool      `json:"shared"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Name is the display name.
func (u *User) Name() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// IsAdmin reports whether u administers its account.
func (u *User) IsAdmin() bool { return u.ConsoleRole == RoleAdmin }

// Limits of what a person gives about themselves; the columns hold as much.
const (
	MaxEmail = 254 // bytes: a plain ASCII mailbox, as SMTP allows
	MaxName  = 100 // characters of a first or last name
)

// NormalizeEmail trims and lower-cases an address (FoldEmail) and checks it
// is a plain ASCII mailbox (no display name, no comments), the form the
// gateway stores for a person.
func NormalizeEmail(s string) (string, error) {
	s = FoldEmail(s)
	if s == "" {
		return "", errors.New("email is required")
	}
	if len(s) > MaxEmail {
		return "", fmt.Errorf("email is longer than %d characters", MaxEmail)
	}
	for _, r := range s {
		if r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", fmt.Errorf("email %q contains %q: only plain ASCII addresses are accepted", s, r)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", fmt.Errorf("%q is not an email address", s)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "", fmt.Errorf("%q has no valid domain", s)
	}
	return s, nil
}

// FoldEmail is an email as the gateway compares it: trimmed and
// lower-cased, and nothing more. It is for an address the gateway keeps
// as a source sent it, such as a directory group's member, which may not
// be a mailbox NormalizeEmail accepts and is still that member's; a
// person's address is NormalizeEmail's.
func FoldEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Domain returns the part after the last @.
func Domain(email string) string { return email[strings.LastIndexByte(email, '@')+1:] }

// Get loads a user of the account.
func Get(ctx context.Context, r store.Reader, accountID, userID string) (*User, error) {
	return store.Owned[User](ctx, r, accountID, userID)
}

// ByEmail loads a user of the account by normalized email.
func ByEmail(ctx context.Context, r store.Reader, accountID, email string) (*User, error) {
	var u User
	err := r.Read(ctx).Where("account_id = ? AND email = ?", accountID, email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &u, err
}

// NewConsoleUser is what an admin gives to add someone to the console.
type NewConsoleUser struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"console_role"`
}

// AddConsoleUser creates a console user, or grants a console role to a known
// invitee.
func AddConsoleUser(ctx context.Context, db *store.DB, accountID string, who audit.Actor, in NewConsoleUser) (*User, error) {
	var fs problem.Fields
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		fs.Add("email", err.Error())
	}
	first, last := strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName)
	if first == "" {
		fs.Add("first_name", "first name is required")
	} else if utf8.RuneCountInString(first) > MaxName {
		fs.Add("first_name", fmt.Sprintf("first name is longer than %d characters", MaxName))
	}
	if last == "" {
		fs.Add("last_name", "last name is required")
	} else if utf8.RuneCountInString(last) > MaxName {
		fs.Add("last_name", fmt.Sprintf("last name is longer than %d characters", MaxName))
	}
	if in.Role != RoleAdmin && in.Role != RoleMember {
		fs.Add("console_role", `console role must be "admin" or "member"`)
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	var out *User
	err = db.Tx(ctx, func(tx *store.Tx) error {
		u, err := Resolve(tx, Identity{AccountID: accountID, Email: email, FirstName: first, LastName: last})
		if err != nil {
			return err
		}
		if u.ConsoleRole != "" {
			return problem.New(problem.Conflict, "user_exists", fmt.Sprintf("%s is already a console user", email))
		}
		if err := tx.Model(u).Updates(map[string]any{"console_role": in.Role, "first_name": first, "last_name": last, "updated_at": tx.Now()}).Error; err != nil {
			return err
		}
		u.ConsoleRole, u.FirstName, u.LastName = in.Role, first, last
		out = u
		return audit.Record(tx, accountID, who, "user.console_added", "user", u.ID, map[string]any{"console_role": in.Role})
	})
	return out, err
}

// Search finds users of the account whose email or name starts with q, for
// the invite dialog's autocomplete.
func Search(ctx context.Context, db *store.DB, accountID, q string, limit int) ([]User, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if utf8.RuneCountInString(q) > MaxEmail {
		return nil, problem.Field("q", fmt.Sprintf("q is longer than %d characters, longer than any email or name", MaxEmail))
	}
	limit = SearchLimit(limit)
	tx := db.R.WithContext(ctx).Where("account_id = ?", accountID)
	if q != "" {
		like := escapeLike(q) + "%"
		tx = tx.Where("(email LIKE ? ESCAPE '\\' OR LOWER(first_name) LIKE ? ESCAPE '\\' OR LOWER(last_name) LIKE ? ESCAPE '\\')", like, like, like)
	}
	var out []User
	err := tx.Order("email").Limit(limit).Find(&out).Error
	return out, err
}

// SearchLimit is how many people a search asked for limit answers: 1 to
// 50, 10 for anything else.
func SearchLimit(limit int) int {
	if limit <= 0 || limit > 50 {
		return 10
	}
	return limit
}

// ByEmails loads the account's users with these normalized emails, those
// there are.
func ByEmails(ctx context.Context, r store.Reader, accountID string, emails []string) ([]User, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	var out []User
	err := r.Read(ctx).Where("account_id = ? AND email IN ?", accountID, emails).Find(&out).Error
	return out, err
}

// ListConsole returns the account's console users.
func ListConsole(ctx context.Context, db *store.DB, accountID string) ([]User, error) {
	var out []User
	err := db.R.WithContext(ctx).Where("account_id = ? AND console_role <> ''", accountID).Order("email").Find(&out).Error
	return out, err
}

// FirstConsoleUser finds the oldest console user with this email in any
// account (admins only, when admin is set): the server-side admin commands
// name people by email.
func FirstConsoleUser(ctx context.Context, db *store.DB, email string, admin bool) (*User, error) {
	q := db.R.WithContext(ctx).Where("email = ? AND console_role <> ''", email)
	if admin {
		q = q.Where("console_role = ?", RoleAdmin)
	}
	var u User
	err := q.Order("created_at").Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &u, err
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
