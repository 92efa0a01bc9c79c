package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitegate/gateway/core/store"
)

// A large sync writes tens of thousands of members. Through gorm, each row
// costs reflection, and each transaction prepares its INSERT again; here new
// members go in multi-row INSERTs through one prepared statement per
// transaction, and changed ones through one prepared UPDATE, with plain
// database/sql arguments.

// insertRows is how many members one INSERT statement carries: 500 rows of
// 6 parameters (and the shared timestamp) stay far below SQLite's 32,766 and
// PostgreSQL's 65,535 parameters.
const insertRows = 500

// newMember is a member to insert.
type newMember struct {
	GroupID, Key, ExternalID, Email, Name string
}

// changedMember is a stored member whose details changed.
type changedMember struct {
	ID, ExternalID, Email, Name string
}

// memberWriter writes members in the transactions of one Apply.
type memberWriter struct {
	postgres bool
	now      time.Time
	fullSQL  string // INSERT of insertRows rows
	args     []any  // reused between statements
	ids      idMaker
}

func newMemberWriter(db *store.DB, now time.Time) *memberWriter {
	w := &memberWriter{postgres: db.Dialect == store.Postgres, now: now}
	w.fullSQL = w.insertSQL(insertRows)
	return w
}

// insertSQL is an INSERT of rows members whose rows share the timestamp,
// the first parameter, then take six parameters each. PostgreSQL numbers its
// parameters. SQLite's parser takes time quadratic in the number of numbered
// ones (?NNN), so there the timestamp comes from a one-row subquery joined
// to the VALUES list, and every parameter is an anonymous "?".
func (w *memberWriter) insertSQL(rows int) string {
	var b strings.Builder
	b.Grow(250 + rows*40)
	b.WriteString("INSERT INTO group_members (created_at, updated_at, id, group_id, member_key, external_id, email, name) ")
	if !w.postgres {
		b.WriteString("SELECT t.c, t.c, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (SELECT ? AS c) t, (VALUES ")
		for r := range rows {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?)")
		}
		b.WriteString(") v")
		return b.String()
	}
	b.WriteString("VALUES ")
	n := 2
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString("($1,$1")
		for range 6 {
			b.WriteString(",$")
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// write inserts ins and updates ups in tx.
func (w *memberWriter) write(ctx context.Context, tx *store.Tx, ins []newMember, ups []changedMember) error {
	if len(ins) > 0 {
		ids, err := w.ids.make(len(ins))
		if err != nil {
			return err
		}
		if len(ins) >= insertRows {
			stmt, err := tx.PrepareSQL(w.fullSQL)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for len(ins) >= insertRows {
				if _, err := stmt.ExecContext(ctx, w.insertArgs(ins[:insertRows], ids)...); err != nil {
					return err
				}
				ins, ids = ins[insertRows:], ids[insertRows:]
			}
		}
		if len(ins) > 0 {
			if _, err := tx.ExecSQL(w.insertSQL(len(ins)), w.insertArgs(ins, ids)...); err != nil {
				return err
			}
		}
	}
	if len(ups) > 0 {
		var q string
		if w.postgres {
			q = "UPDATE group_members SET external_id = $1, email = $2, name = $3, updated_at = $4 WHERE id = $5"
		} else {
			q = "UPDATE group_members SET external_id = ?, email = ?, name = ?, updated_at = ? WHERE id = ?"
		}
		stmt, err := tx.PrepareSQL(q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range ups {
			if _, err := stmt.ExecContext(ctx, m.ExternalID, m.Email, m.Name, w.now, m.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *memberWriter) insertArgs(ins []newMember, ids []string) []any {
	args := append(w.args[:0], w.now)
	for i, m := range ins {
		args = append(args, ids[i], m.GroupID, m.Key, m.ExternalID, m.Email, m.Name)
	}
	w.args = args
	return args
}

// idMaker makes member ids as core/id does (UUIDv7: creation-ordered,
// random otherwise), reading the randomness for a whole batch at once and
// formatting the ids into one string.
type idMaker struct {
	random []byte
	r      bytes.Reader
}

func (m *idMaker) make(n int) ([]string, error) {
	if cap(m.random) < 16*n {
		m.random = make([]byte, 16*n)
	}
	m.random = m.random[:16*n]
	if _, err := rand.Read(m.random); err != nil {
		return nil, err
	}
	m.r.Reset(m.random)
	text := make([]byte, 0, 36*n)
	for range n {
		u, err := uuid.NewV7FromReader(&m.r)
		if err != nil {
			return nil, err
		}
		text = appendUUID(text, u)
	}
	all := string(text)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[36*i : 36*i+36]
	}
	return ids, nil
}

const hexDigits = "0123456789abcdef"

// appendUUID appends u as uuid.UUID.String writes it.
func appendUUID(b []byte, u uuid.UUID) []byte {
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return b
}

// writing runs the member writes of one Apply in a goroutine of its own,
// one transaction per batch, in the order the batches came.
type writing struct {
	batches chan memberBatch
	failed  chan struct{} // closed when a write has failed
	done    chan struct{}
	// Set by the goroutine, read after done.
	err            error
	added, updated int
}

type memberBatch struct {
	ins []newMember
	ups []changedMember
}

func startWriting(ctx context.Context, db *store.DB, w *memberWriter) *writing {
	wr := &writing{batches: make(chan memberBatch), failed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(wr.done)
		for b := range wr.batches {
			if wr.err != nil {
				continue // drain: the stream stops at its next batch
			}
			err := db.Tx(ctx, func(tx *store.Tx) error { return w.write(ctx, tx, b.ins, b.ups) })
			if err != nil {
				wr.err = err
				close(wr.failed)
				continue
			}
			wr.added += len(b.ins)
			wr.updated += len(b.ups)
		}
	}()
	return wr
}

// write hands a batch over; it waits while the previous one is written. The
// batch's slices belong to the writer from then on.
func (wr *writing) write(ins []newMember, ups []changedMember) {
	wr.batches <- memberBatch{ins, ups}
}

// failure is non-nil once a write has failed: the sync stops.
func (wr *writing) failure() error {
	select {
	case <-wr.failed:
		return errors.New("a batch of members could not be saved")
	default:
		return nil
	}
}

// finish waits for the writes handed over and reports them.
func (wr *writing) finish() (added, updated int, err error) {
	close(wr.batches)
	<-wr.done
	return wr.added, wr.updated, wr.err
}
