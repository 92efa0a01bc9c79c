package bulk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/store"
)

// An import writes a batch of rows in a handful of multi-row statements on
// the transaction's database/sql handle (as core/group does for members):
// through gorm, every row would pay for reflection, and 100,000 rows for
// 100,000 round trips.

// batch is the state of one running import between its commits.
type batch struct {
	s      *Service
	ev     *event.Event
	job    *job.Job
	imp    *Import
	lease  job.Lease
	by     audit.Actor
	counts Counts
	// stmts are the full-chunk statements, prepared once per run, and
	// full the text of each full-chunk insert, by its INSERT clause (a
	// statement of 1,000 rows is some 100 KB of text, not to be written
	// again for every chunk).
	stmts map[string]*sql.Stmt
	full  map[string]string
}

// close releases the run's prepared statements.
func (b *batch) close() {
	for _, st := range b.stmts {
		st.Close()
	}
}

// existing is an attendee already on the event, as a batch reads it.
type existing struct {
	ID, UserID, Title, Company, Bio, ImageRef string
	Status                                    event.Status
	Detail                                    event.Detail
	Speaker, Moderator                        bool
}

// inflight is a batch being written beside the reading of the next one;
// done is closed once it has committed (err nil) or failed.
type inflight struct {
	done chan struct{}
	err  error
}

// errEarlierBatch: the batch before this one failed, so this one, written
// beside it, rolls back; the job resumes from the last checkpoint.
var errEarlierBatch = errors.New("bulk: an earlier batch failed")

// commit writes rows in one transaction together with the move of the
// checkpoint from from to (offset, line): either all of it happens, or
// none, and only if the job's checkpoint and lease are still the ones this
// runner holds. When prev is not nil the batch before runs at the same
// time on another connection: this one writes its rows, then waits for
// prev to commit before it moves the checkpoint on from where prev left it
// and commits, so batches commit in file order whatever happens.
func (b *batch) commit(ctx context.Context, p *plan, from, offset int64, line int, prev *inflight) error {
	for try := 0; ; try++ {
		err := b.commitOnce(ctx, p, from, offset, line, prev)
		if errors.Is(err, errBlocked) {
			<-prev.done
			continue
		}
		if !errors.Is(err, errRetry) || try == 4 {
			return err
		}
	}
}

// blockedAfter bounds how long a batch, its rows written, waits for the
// batch before it to commit. A batch takes well under a second; one that
// waits longer may hold a row the batch before needs (two rows the file
// check should have called duplicates), and rolls back to let it through.
const blockedAfter = 10 * time.Second

var errBlocked = errors.New("bulk: the batch before did not commit in time")

// plan is what a batch writes, worked out before its transaction (while
// the batch before is written): the rows it refuses, and for each valid
// row the attendee, audit entry and invitation email it gets should the
// person not be on the event yet, which is the rule in an import. Only
// what depends on the database's rows (which people and attendees exist)
// is left to the transaction, so that the single SQLite writer spends its
// time writing.
type plan struct {
	now    time.Time
	counts Counts // the refusals found here
	probs  []StoredProblem
	valid  []*Row
	// fresh[i] is valid[i] as a new attendee (its user id set in the
	// transaction), entries[i] its audit entry.
	fresh   []*event.Attendee
	entries []audit.Entry
	// invites are fresh's invitation emails, when the import sends them.
	invites *event.Invitations
}

// plan works out rows' plan, reading with the reader pool: the lines the
// upload check refused, and what the emails need.
func (b *batch) plan(ctx context.Context, rows []pendingRow) (*plan, error) {
	p := &plan{now: b.s.now()}
	refused, err := checkedLines(ctx, b.s.DB.R, b.job.ID, rows[0].Line, rows[len(rows)-1].Line)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(rows))
	for i := range rows {
		r := &rows[i]
		switch {
		case refused[r.Line]:
			p.counts.Refused++
		case len(r.probs) > 0:
			p.counts.Refused++
			for _, pr := range r.probs {
				p.probs = append(p.probs, StoredProblem{JobID: b.job.ID, Line: pr.Line, Column: pr.Column, Email: r.Email, Message: pr.Message, Fix: pr.Fix, Phase: "import"})
			}
		case seen[r.Email]:
			// The check refused duplicates; this only guards the
			// statements below against one that slipped through.
			p.counts.Refused++
			p.probs = append(p.probs, StoredProblem{JobID: b.job.ID, Line: r.Line, Column: ColEmail, Email: r.Email, Message: "email is already in the file", Phase: "import"})
		default:
			seen[r.Email] = true
			p.valid = append(p.valid, &r.Row)
		}
	}
	on := event.TrigInvite
	if b.ev.Registration == event.RegistrationOpen {
		on = event.TrigInviteToRegister
	}
	to, err := event.Next(event.State{}, on)
	if err != nil {
		return nil, err
	}
	p.fresh = make([]*event.Attendee, len(p.valid))
	p.entries = make([]audit.Entry, len(p.valid))
	for i, r := range p.valid {
		a := &event.Attendee{ID: id.New(), AccountID: b.ev.AccountID, EventID: b.ev.ID, Email: event.SearchKey(r.Email),
			FirstName: r.FirstName, LastName: r.LastName, Speaker: r.Speaker == Yes, Moderator: r.Moderator == Yes,
			Title: r.Title, Company: r.Company, RegistrationType: event.RegInvited, Status: to.Status, Detail: to.Detail,
			CreatedAt: p.now, UpdatedAt: p.now}
		a.NameKey = event.SearchKey(strings.ToLower(strings.TrimSpace(a.FirstName + " " + a.LastName)))
		a.LastKey = event.SearchKey(strings.ToLower(a.LastName))
		p.fresh[i] = a
		p.entries[i] = b.entry(p.now, "attendee.invited", a.ID, entryDetail{
			EventID: b.ev.ID, JobID: b.job.ID, Line: r.Line, Roles: a.Roles(), Detail: a.Detail, Emailed: &b.imp.SendEmail})
	}
	if b.imp.SendEmail {
		if p.invites, err = b.s.Events.PrepareInvitations(ctx, b.s.DB, b.ev, p.fresh, b.by); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (b *batch) commitOnce(ctx context.Context, p *plan, from, offset int64, line int, prev *inflight) error {
	now := b.s.now()
	// counts is this batch's part; total is the job's once it commits.
	var counts, total Counts
	wake := false
	err := b.s.DB.Tx(ctx, func(tx *store.Tx) error {
		w := &sqlw{ctx: ctx, db: b.s.DB, tx: tx, pg: b.s.DB.Dialect != "sqlite", stmts: b.stmts, full: b.full}
		if w.pg {
			// The lookups below are prepared once and run with new ids
			// every batch. PostgreSQL would soon plan them once for all,
			// from the statistics of the tables when they were small (a
			// sequential scan), and keep that plan as they grow: each batch
			// would then read the whole table.
			if _, err := tx.ExecSQL("SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
				return err
			}
		}
		counts = p.counts
		probs := append([]StoredProblem(nil), p.probs...)
		valid := p.valid
		users, created, err := w.ensureUsers(b.ev.AccountID, valid, now)
		if err != nil {
			return err
		}
		var known []string
		for _, r := range valid {
			if uid := users[r.Email]; !created[uid] {
				known = append(known, uid)
			}
		}
		have, err := w.attendees(b.ev.ID, known)
		if err != nil {
			return err
		}
		added := make([]*event.Attendee, 0, len(valid))
		var changed []*event.Attendee
		entries := make([]audit.Entry, 0, len(valid))
		for i, r := range valid {
			uid := users[r.Email]
			old, ok := have[uid]
			if !ok {
				a := p.fresh[i]
				a.UserID = uid
				added = append(added, a)
				entries = append(entries, p.entries[i])
				continue
			}
			a := &event.Attendee{ID: old.ID, Status: old.Status, Detail: old.Detail, Speaker: old.Speaker, Moderator: old.Moderator,
				Title: old.Title, Company: old.Company, Bio: old.Bio, ImageRef: old.ImageRef}
			if err := event.Check(a, b.ev, event.ActionEdit); err != nil {
				counts.Refused++
				probs = append(probs, StoredProblem{JobID: b.job.ID, Line: r.Line, Column: ColEmail, Email: r.Email,
					Message: "already on the event and not updated: " + err.Error(), Phase: "import"})
				continue
			}
			if r.Speaker != Unset {
				a.Speaker = r.Speaker == Yes
			}
			if r.Moderator != Unset {
				a.Moderator = r.Moderator == Yes
			}
			if r.Title != "" {
				a.Title = r.Title
			}
			if r.Company != "" {
				a.Company = r.Company
			}
			if !a.Speaker && !a.Moderator && (a.Title != "" || a.Company != "" || a.Bio != "" || a.ImageRef != "") {
				counts.Refused++
				probs = append(probs, StoredProblem{JobID: b.job.ID, Line: r.Line, Column: ColSpeaker, Email: r.Email,
					Message: "already on the event with speaker details (title, company, bio or image); taking away both the speaker and moderator roles would leave them without a role: clear them in the console first", Phase: "import"})
				continue
			}
			if a.Speaker == old.Speaker && a.Moderator == old.Moderator && a.Title == old.Title && a.Company == old.Company {
				counts.Unchanged++
				continue
			}
			a.UpdatedAt = now
			changed = append(changed, a)
			entries = append(entries, b.entry(now, "attendee.edited", a.ID, entryDetail{
				EventID: b.ev.ID, JobID: b.job.ID, Line: r.Line, Roles: a.Roles()}))
		}
		if err := w.insertAttendees(added); err != nil {
			if store.IsUniqueViolation(err) {
				// Someone invited one of these people from the form
				// between the read and the insert: read again.
				return errRetry
			}
			return err
		}
		n, err := w.updateAttendees(changed)
		if err != nil {
			return err
		}
		if n != len(changed) {
			// An attendee's status moved between the read and the update
			// (two statements in this transaction); PostgreSQL can see that
			// under load. The whole batch goes again.
			return errRetry
		}
		counts.Added += len(added)
		counts.Updated += len(changed)
		if b.imp.SendEmail && len(added) > 0 {
			keep := make(map[string]bool, len(added))
			for _, a := range added {
				keep[a.ID] = true
			}
			if err := p.invites.Write(ctx, tx, func(id string) bool { return keep[id] }); err != nil {
				return err
			}
			wake = true
		}
		if err := w.insertAudit(entries); err != nil {
			return err
		}
		if len(probs) > 0 {
			if err := tx.CreateInBatches(probs, 500).Error; err != nil {
				return err
			}
		}
		if prev != nil {
			t := time.NewTimer(blockedAfter)
			select {
			case <-prev.done:
				t.Stop()
			case <-t.C:
				return errBlocked
			}
			if prev.err != nil {
				return errEarlierBatch
			}
		}
		// Every batch before this one has committed, and set b.counts.
		total = Counts{Added: b.counts.Added + counts.Added, Updated: b.counts.Updated + counts.Updated,
			Unchanged: b.counts.Unchanged + counts.Unchanged, Refused: b.counts.Refused + counts.Refused}
		ok, err := w.checkpoint(b.job.ID, from, offset, line, now)
		if err != nil {
			return err
		}
		if !ok {
			return job.ErrLeaseLost
		}
		return job.Step(tx, b.job.ID, b.lease.Runner, total.Processed(), total, now, b.lease.Until())
	})
	if err != nil {
		return err
	}
	b.counts = total
	b.imp.Offset, b.imp.Line = offset, line
	if wake {
		b.s.Events.WakeMail()
	}
	return nil
}

var errRetry = errors.New("bulk: batch raced with another change; retrying")

// entryDetail is the detail of an imported attendee's audit entry, its
// fields in the order a map's would be written.
type entryDetail struct {
	Detail  event.Detail `json:"detail,omitempty"`
	Emailed *bool        `json:"emailed,omitempty"`
	EventID string       `json:"event_id"`
	JobID   string       `json:"job_id"`
	Line    int          `json:"line"`
	Roles   []string     `json:"roles"`
}

func (b *batch) entry(now time.Time, action, target string, detail entryDetail) audit.Entry {
	d, _ := json.Marshal(detail)
	return audit.Entry{ID: id.New(), AccountID: b.ev.AccountID, At: now, ActorKind: b.by.Kind, ActorID: b.by.ID,
		Action: action, TargetKind: "attendee", TargetID: target, Detail: string(d)}
}

// sqlw writes with plain statements on one transaction.
type sqlw struct {
	ctx   context.Context
	db    *store.DB
	tx    *store.Tx
	pg    bool
	stmts map[string]*sql.Stmt
	full  map[string]string
	args  []any
	// shared is args with the columns a statement shares bound once.
	shared []any
}

// chunkRows is how many rows one statement carries. Statements of a full
// chunk are the same text batch after batch, so they are prepared once per
// run (SQLite spends as long parsing a statement of thousands of
// parameters as running it); a last, shorter chunk is sent as is.
const chunkRows = 1000

// time is t as an argument: on SQLite formatted here, once for the rows
// of a batch that share it, rather than by the driver for each row
// (store.TimeArg).
func (w *sqlw) time(t time.Time) any { return w.db.TimeArg(t) }

// query is exec for a statement that returns rows.
func (w *sqlw) query(q string, args []any) (*sql.Rows, error) {
	q = w.q(q)
	if st, ok := w.stmts[q]; ok {
		return w.tx.Stmt(st).QueryContext(w.ctx, args...)
	}
	return w.tx.QuerySQL(q, args...)
}

// maxParams keeps a statement below SQLite's 32,766 parameters (and
// PostgreSQL's 65,535).
const maxParams = 30000

// q numbers a statement's "?" placeholders for PostgreSQL.
func (w *sqlw) q(s string) string {
	if !w.pg {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(fmt.Sprint(n))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// values writes "(?,?,?),(?,?,?)" for rows of n placeholders.
func values(b *strings.Builder, rows, n int) {
	one := "(" + strings.Repeat("?,", n-1) + "?)"
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// insert runs ins over rows rows, as few statements as the parameter limit
// allows; on PostgreSQL, one statement with one array per column
// (store.Unnest). row(i) appends row i's arguments, every column's. It
// returns how many rows the statements wrote.
func (w *sqlw) insert(ins store.SharedInsert, rows int, row func(args []any, i int) []any) (int64, error) {
	var wrote int64
	run := func(q string, args []any) error {
		q = w.q(q)
		var r sql.Result
		var err error
		if st, ok := w.stmts[q]; ok {
			r, err = w.tx.Stmt(st).ExecContext(w.ctx, args...)
		} else {
			r, err = w.tx.ExecSQL(q, args...)
		}
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		wrote += n
		return err
	}
	width := len(ins.Shared)
	if w.pg && rows > 0 {
		args := w.args[:0]
		for i := range rows {
			args = row(args, i)
		}
		w.args = args
		q, cols, err := store.Unnest(ins.Insert, ins.Suffix, width, args)
		if err != nil {
			return 0, err
		}
		err = run(q, cols)
		return wrote, err
	}
	per := chunkOf(width)
	for start := 0; start < rows; start += per {
		end := min(rows, start+per)
		args := w.args[:0]
		for i := start; i < end; i++ {
			args = row(args, i)
		}
		w.args = args
		// The columns every row shares are bound once (store.SharedInsert);
		// should one differ after all, the rows go one parameter per value.
		shared, ok := ins.Args(w.shared[:0], args)
		w.shared = shared
		var q string
		if ok {
			var have bool
			if q, have = w.full[ins.Insert]; !have || end-start != per {
				q = ins.SQL(end - start)
			}
			args = shared
		} else {
			q = insertSQL(ins.Insert, ins.Suffix, end-start, width)
		}
		if err := run(q, args); err != nil {
			return wrote, err
		}
	}
	return wrote, nil
}

// The statements of a batch, by their parts.
const (
	usersInsert = "INSERT INTO users (id, account_id, email, first_name, last_name, external_id, console_role, shared, created_at, updated_at)"
	usersSuffix = " ON CONFLICT (account_id, email) DO NOTHING"
	attInsert   = `INSERT INTO attendees (id, account_id, event_id, user_id, email, first_name, last_name, name_key, last_key,
speaker, moderator, organizer, title, company, bio, image_ref, registration_type, status, detail, blocked_from_chat, created_at, updated_at)`
	auditInsert = "INSERT INTO audit_entries (id, account_id, at, actor_kind, actor_id, action, target_kind, target_id, detail)"
	usersSelect = "SELECT id, email, first_name, last_name FROM users WHERE account_id = ? AND email"
	attSelect   = "SELECT id, user_id, status, detail, speaker, moderator, title, company, bio, image_ref FROM attendees WHERE event_id = ? AND user_id"
)

// The inserts of a batch, with the columns that are the same for all its
// rows: the account, the event, the batch's time and status, empty
// defaults.
var (
	usersRows = store.SharedInsert{Insert: usersInsert, Suffix: usersSuffix,
		Shared: []bool{false, true, false, false, false, true, true, true, true, true}}
	attRows = store.SharedInsert{Insert: attInsert,
		Shared: []bool{false, true, true, false, false, false, false, false, false,
			false, false, true, false, false, true, true, true, true, true, true, true, true}}
	auditRows = store.SharedInsert{Insert: auditInsert,
		Shared: []bool{false, true, true, true, true, false, true, false, false}}
)

// selectRows is how many keys one lookup carries: on PostgreSQL, all of
// them, as one array.
func (w *sqlw) selectRows() int {
	if w.pg {
		return 1 << 30
	}
	return chunkRows
}

// in runs "sel IN (keys)" with first as the first parameter; on PostgreSQL
// "sel = ANY(array)".
func (w *sqlw) in(sel string, first string, keys []string) (*sql.Rows, error) {
	if w.pg {
		return w.query(sel+" = ANY(?::text[])", []any{first, keys})
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, first)
	for _, k := range keys {
		args = append(args, k)
	}
	return w.query(sel+" IN ("+placeholders(len(keys))+")", args)
}

// insertSQL is an INSERT of rows rows of width parameters.
func insertSQL(prefix, suffix string, rows, width int) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(" VALUES ")
	values(&b, rows, width)
	b.WriteString(suffix)
	return b.String()
}

func chunkOf(width int) int { return min(chunkRows, maxParams/width) }

// prepare readies the full-chunk statements of a run. It runs outside any
// transaction: on SQLite the writer's one connection is the transaction's
// while one is open.
func (b *batch) prepare(ctx context.Context) error {
	w := &sqlw{pg: b.s.DB.Dialect != "sqlite"}
	b.stmts, b.full = map[string]*sql.Stmt{}, map[string]string{}
	if w.pg {
		// Its statements do not depend on the number of rows, and the
		// driver keeps them prepared.
		return nil
	}
	for _, ins := range []store.SharedInsert{usersRows, attRows, auditRows} {
		b.full[ins.Insert] = ins.SQL(chunkOf(len(ins.Shared)))
	}
	for _, q := range []string{
		b.full[usersInsert], b.full[attInsert], b.full[auditInsert],
		usersSelect + " IN (" + placeholders(chunkRows) + ")",
		attSelect + " IN (" + placeholders(chunkRows) + ")",
	} {
		q = w.q(q)
		st, err := b.s.DB.Prepare(ctx, true, q)
		if err != nil {
			return err
		}
		b.stmts[q] = st
	}
	return nil
}

// checkedLines are the lines of [from, to] the upload check refused,
// read with db.
func checkedLines(ctx context.Context, db *gorm.DB, jobID string, from, to int) (map[int]bool, error) {
	q := "SELECT DISTINCT line FROM bulk_problems WHERE job_id = ? AND phase = 'check' AND line >= ? AND line <= ?"
	var lines []int
	if err := db.WithContext(ctx).Raw(q, jobID, from, to).Scan(&lines).Error; err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(lines))
	for _, l := range lines {
		out[l] = true
	}
	return out, nil
}

// ensureUsers finds or creates the user of each row, as user.Ensure does
// one at a time: created if new, names filled if still empty. It returns
// user ids by email, and the ids of the users it created: those cannot be
// on the event yet.
//
// The users are inserted with ids made here, skipping the emails the
// account already has; when the statements wrote every row (a file of new
// people), those ids are the users'. Otherwise every row's user is read
// back, and the ones with the ids made here are the ones created.
func (w *sqlw) ensureUsers(accountID string, rows []*Row, now time.Time) (map[string]string, map[string]bool, error) {
	out := make(map[string]string, len(rows))
	created := make(map[string]bool, len(rows))
	if len(rows) == 0 {
		return out, created, nil
	}
	ids := make([]string, len(rows))
	for i := range ids {
		ids[i] = id.New()
	}
	at := w.time(now)
	wrote, err := w.insert(usersRows, len(rows), func(args []any, i int) []any {
		r := rows[i]
		return append(args, ids[i], accountID, r.Email, r.FirstName, r.LastName, "", "", false, at, at)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bulk: users: %w", err)
	}
	if wrote == int64(len(rows)) {
		for i, r := range rows {
			out[r.Email], created[ids[i]] = ids[i], true
		}
		return out, created, nil
	}
	ours := make(map[string]bool, len(rows))
	for _, id := range ids {
		ours[id] = true
	}
	known := make([]string, len(rows))
	byEmail := make(map[string]*Row, len(rows))
	for i, r := range rows {
		known[i] = r.Email
		byEmail[r.Email] = r
	}
	var unnamed []*Row
	for start := 0; start < len(known); start += w.selectRows() {
		end := min(len(known), start+w.selectRows())
		rs, err := w.in(usersSelect, accountID, known[start:end])
		if err != nil {
			return nil, nil, fmt.Errorf("bulk: users: %w", err)
		}
		for rs.Next() {
			var uid, email string
			var first, last sql.NullString
			if err := rs.Scan(&uid, &email, &first, &last); err != nil {
				rs.Close()
				return nil, nil, err
			}
			out[email] = uid
			if ours[uid] {
				created[uid] = true
			} else if first.String == "" && last.String == "" {
				unnamed = append(unnamed, byEmail[email])
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, nil, err
		}
	}
	for _, r := range unnamed {
		if _, err := w.tx.ExecSQL(w.q("UPDATE users SET first_name = ?, last_name = ?, updated_at = ? WHERE id = ?"), r.FirstName, r.LastName, now, out[r.Email]); err != nil {
			return nil, nil, err
		}
	}
	for _, r := range rows {
		if out[r.Email] == "" {
			return nil, nil, fmt.Errorf("bulk: user %s was neither created nor found", r.Email)
		}
	}
	return out, created, nil
}

// attendees reads the event's attendees among userIDs, by user id.
func (w *sqlw) attendees(eventID string, userIDs []string) (map[string]*existing, error) {
	out := map[string]*existing{}
	for start := 0; start < len(userIDs); start += w.selectRows() {
		end := min(len(userIDs), start+w.selectRows())
		rs, err := w.in(attSelect, eventID, userIDs[start:end])
		if err != nil {
			return nil, fmt.Errorf("bulk: attendees: %w", err)
		}
		for rs.Next() {
			var e existing
			var title, company, bio, image sql.NullString
			if err := rs.Scan(&e.ID, &e.UserID, &e.Status, &e.Detail, &e.Speaker, &e.Moderator, &title, &company, &bio, &image); err != nil {
				rs.Close()
				return nil, err
			}
			e.Title, e.Company, e.Bio, e.ImageRef = title.String, company.String, bio.String, image.String
			out[e.UserID] = &e
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (w *sqlw) insertAttendees(as []*event.Attendee) error {
	var created, updated any
	if len(as) > 0 {
		created, updated = w.time(as[0].CreatedAt), w.time(as[0].UpdatedAt)
	}
	_, err := w.insert(attRows, len(as), func(args []any, i int) []any {
		a := as[i]
		c, u := created, updated
		if !a.CreatedAt.Equal(as[0].CreatedAt) || !a.UpdatedAt.Equal(as[0].UpdatedAt) {
			c, u = w.time(a.CreatedAt), w.time(a.UpdatedAt)
		}
		return append(args, a.ID, a.AccountID, a.EventID, a.UserID, string(a.Email), a.FirstName, a.LastName, string(a.NameKey), string(a.LastKey),
			a.Speaker, a.Moderator, false, a.Title, a.Company, "", "", a.RegistrationType, string(a.Status), string(a.Detail), false, c, u)
	})
	return err
}

// updateAttendees writes the roles and speaker details of changed
// attendees, each only if its status is still the one read; it returns how
// many it updated.
func (w *sqlw) updateAttendees(as []*event.Attendee) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	st, err := w.tx.PrepareSQL(w.q("UPDATE attendees SET speaker = ?, moderator = ?, title = ?, company = ?, updated_at = ? WHERE id = ? AND status = ?"))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n := 0
	for _, a := range as {
		r, err := st.ExecContext(w.ctx, a.Speaker, a.Moderator, a.Title, a.Company, a.UpdatedAt, a.ID, string(a.Status))
		if err != nil {
			return n, err
		}
		k, _ := r.RowsAffected()
		n += int(k)
	}
	return n, nil
}

func (w *sqlw) insertAudit(es []audit.Entry) error {
	var at any
	if len(es) > 0 {
		at = w.time(es[0].At)
	}
	_, err := w.insert(auditRows, len(es), func(args []any, i int) []any {
		e := &es[i]
		t := at
		if !e.At.Equal(es[0].At) {
			t = w.time(e.At)
		}
		return append(args, e.ID, e.AccountID, t, e.ActorKind, e.ActorID, e.Action, e.TargetKind, e.TargetID, e.Detail)
	})
	return err
}

// checkpoint moves the import's checkpoint from one offset to the next;
// false means the checkpoint is no longer from (another runner moved it).
func (w *sqlw) checkpoint(jobID string, from, to int64, line int, now time.Time) (bool, error) {
	r, err := w.tx.ExecSQL(w.q(`UPDATE bulk_imports SET "offset" = ?, line = ?, updated_at = ? WHERE job_id = ? AND "offset" = ?`), to, line, now, jobID, from)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}
