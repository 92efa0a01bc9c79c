package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/invitegate/gateway/core/store"
)

// A large sync writes tens of thousands of members. Through gorm, each row
// costs reflection, and each transaction prepares its INSERT again; here new
// members go in multi-row INSERTs (store.Insert) whose full chunk is
// prepared once per sync (store.Run), and changed ones through one prepared
// UPDATE per transaction, with plain database/sql arguments.

// memberRows are the members a sync inserts; a batch's rows share their
// time. 500 rows of six values of their own stay far below SQLite's
// 32,766 parameters.
var memberRows = store.Rows{Table: "group_members",
	Columns:      []string{"created_at", "updated_at", "id", "group_id", "member_key", "external_id", "email", "name"},
	Shared:       []string{"created_at", "updated_at"},
	PerStatement: 500}

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
	now time.Time
	ids idMaker
}

// write inserts ins and updates ups in tx.
func (w *memberWriter) write(tx *store.Tx, ins []newMember, ups []changedMember) error {
	if len(ins) > 0 {
		ids, err := w.ids.make(len(ins))
		if err != nil {
			return err
		}
		_, err = tx.Insert(&memberRows, len(ins), func(args []any, i int) []any {
			m := &ins[i]
			return append(args, w.now, w.now, ids[i], m.GroupID, m.Key, m.ExternalID, m.Email, m.Name)
		})
		if err != nil {
			return err
		}
	}
	if len(ups) > 0 {
		stmt, err := tx.PrepareSQL("UPDATE group_members SET external_id = $1, email = $2, name = $3, updated_at = $4 WHERE id = $5")
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range ups {
			if _, err := stmt.ExecContext(tx.Context(), m.ExternalID, m.Email, m.Name, w.now, m.ID); err != nil {
				return err
			}
		}
	}
	return nil
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
		// The sync's inserts are prepared once, before the first batch
		// that has some, outside any transaction.
		var run *store.Run
		defer func() {
			if run != nil {
				run.Close()
			}
		}()
		for b := range wr.batches {
			if wr.err != nil {
				continue // drain: the stream stops at its next batch
			}
			var err error
			if run == nil && len(b.ins) > 0 {
				run, err = db.NewRun(ctx, &memberRows)
			}
			if err == nil {
				tx := db.Tx
				if run != nil {
					tx = run.Tx
				}
				err = tx(ctx, func(tx *store.Tx) error { return w.write(tx, b.ins, b.ups) })
			}
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
