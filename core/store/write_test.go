package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

type row struct {
	ID int `gorm:"primaryKey;autoIncrement:false"`
	N  int
}

// Concurrent writes are grouped on SQLite; each must still succeed or fail
// on its own: a failed write leaves nothing, the others all land.
func TestWritesSucceedOrFailAlone(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		errBoom := errors.New("boom")
		var wg sync.WaitGroup
		errs := make([]error, 300)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *store.Tx) error {
					if _, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", i, i); err != nil {
						return err
					}
					switch i % 3 {
					case 1: // fails after writing: its insert must be undone
						return errBoom
					case 2: // a duplicate key: fails in the database
						_, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", i, i)
						return err
					}
					return nil
				})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			switch i % 3 {
			case 0:
				if err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			case 1:
				if !errors.Is(err, errBoom) {
					t.Fatalf("write %d: want its own error, got %v", i, err)
				}
			case 2:
				if !store.IsUniqueViolation(err) {
					t.Fatalf("write %d: want a unique violation, got %v", i, err)
				}
			}
		}
		var ids []int
		if err := db.R.Raw("SELECT id FROM rows ORDER BY id").Scan(&ids).Error; err != nil {
			t.Fatal(err)
		}
		if len(ids) != 100 {
			t.Fatalf("want the 100 successful rows, got %d", len(ids))
		}
		for _, id := range ids {
			if id%3 != 0 {
				t.Fatalf("row %d of a failed write was kept", id)
			}
		}
		// A cancelled caller's write is not run.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ran := false
		if err := db.Write(cctx, func(*store.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("cancelled write: err %v, ran %v", err, ran)
		}
	})
}

// A caller that goes away while its write is running does not take the
// other writes of its group down with it: on SQLite an interrupted statement
// would roll back the whole shared transaction, so the group runs each write
// to completion and only the caller stops waiting.
func TestCallerGoingAwayMidWriteKeepsTheGroup(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(id int) func(*store.Tx) error {
			return func(tx *store.Tx) error {
				_, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", id, id)
				return err
			}
		}
		// Hold the writer so the next writes queue up and share one group.
		release := holdWriter(ctx, db)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if i != 1 {
					errs[i] = db.Write(ctx, insert(i))
					return
				}
				// A slow write whose caller leaves 5 ms into it.
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				errs[i] = db.Write(cctx, func(tx *store.Tx) error {
					time.AfterFunc(5*time.Millisecond, cancel)
					_, err := tx.ExecSQL(`INSERT INTO rows (id, n)
						SELECT 1, COUNT(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000) SELECT x FROM c) AS s`)
					return err
				})
			}(i)
		}
		time.Sleep(50 * time.Millisecond) // let the three queue behind the held write
		release()
		wg.Wait()
		var ids []int
		if err := db.R.Raw("SELECT id FROM rows ORDER BY id").Scan(&ids).Error; err != nil {
			t.Fatal(err)
		}
		landed := map[int]bool{}
		for _, id := range ids {
			landed[id] = true
		}
		for _, i := range []int{0, 2} {
			if errs[i] != nil || !landed[i] {
				t.Fatalf("write %d beside a caller that went away: err %v, landed %v", i, errs[i], landed[i])
			}
		}
		// Its caller left after the write had started: it is told what
		// really happened, which is that the write landed.
		if errs[1] != nil || !landed[1] {
			t.Fatalf("the slow write whose caller left mid-write: err %v, landed %v; want nil and landed", errs[1], landed[1])
		}
	})
}

// A caller that leaves before its write's turn is told so, and its write
// never runs; one that leaves once its write has started waits for the
// outcome and is told it. Either way what the caller hears is what the
// database holds.
func TestCallerLearnsTheRealOutcome(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		release := holdWriter(ctx, db)
		early, leave := context.WithCancel(ctx)
		ran := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- db.Write(early, func(tx *store.Tx) error {
				ran <- struct{}{}
				_, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", 1, 1)
				return err
			})
		}()
		time.Sleep(20 * time.Millisecond) // queued behind the held write (SQLite)
		leave()
		if err := <-done; db.Dialect == store.SQLite && !errors.Is(err, context.Canceled) {
			t.Fatalf("a caller gone before its turn: %v, want context.Canceled", err)
		}
		release()

		started, stop := context.WithCancel(ctx)
		go func() {
			done <- db.Write(started, func(tx *store.Tx) error {
				if _, err := tx.ExecSQL("INSERT INTO rows (id, n) VALUES ($1, $2)", 2, 2); err != nil {
					return err
				}
				stop() // the caller leaves while its write runs
				time.Sleep(20 * time.Millisecond)
				_, err := tx.ExecSQL("UPDATE rows SET n = 3 WHERE id = $1", 2)
				return err
			})
		}()
		err := <-done
		var n int64
		db.R.Raw("SELECT COUNT(*) FROM rows WHERE id = 2 AND n = 3").Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("a caller gone mid-write: err %v, row written %v; want nil and written", err, n == 1)
		}
		var first int64
		db.R.Raw("SELECT COUNT(*) FROM rows WHERE id = 1").Scan(&first)
		select {
		case <-ran:
			if first != 1 {
				t.Fatal("the first write ran but did not land")
			}
		default:
			if first != 0 {
				t.Fatal("the withdrawn write landed")
			}
		}
	})
}

// A write that fails in a group makes the group run again, each write in a
// savepoint: the others' work lands once, the failed one's not at all.
func TestFailedWriteInAGroupUndoesOnlyItself(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.W.Exec("INSERT INTO rows (id, n) VALUES (1, 0), (2, 0), (3, 0)").Error; err != nil {
			t.Fatal(err)
		}
		add := func(id int) func(*store.Tx) error {
			return func(tx *store.Tx) error {
				_, err := tx.ExecSQL("UPDATE rows SET n = n + 1 WHERE id = $1", id)
				return err
			}
		}
		errBoom := errors.New("boom")
		// Hold the writer so the next writes queue up and share one group.
		release := holdWriter(ctx, db)
		var wg sync.WaitGroup
		fns := []func(*store.Tx) error{
			add(1),
			func(tx *store.Tx) error {
				if err := add(2)(tx); err != nil {
					return err
				}
				return errBoom
			},
			add(3),
		}
		errs := make([]error, len(fns))
		for i, fn := range fns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Write(ctx, fn)
			}()
			time.Sleep(10 * time.Millisecond) // queue in this order
		}
		release()
		wg.Wait()
		if errs[0] != nil || !errors.Is(errs[1], errBoom) || errs[2] != nil {
			t.Fatalf("errors %v", errs)
		}
		var ns []int
		if err := db.R.Raw("SELECT n FROM rows ORDER BY id").Scan(&ns).Error; err != nil {
			t.Fatal(err)
		}
		if len(ns) != 3 || ns[0] != 1 || ns[1] != 0 || ns[2] != 1 {
			t.Fatalf("counts %v, want [1 0 1]", ns)
		}
	})
}

// TxStmt binds a prepared statement to the write's transaction: on SQLite
// once for all the writes of a group.
func TestTxStmtIsBoundOncePerGroup(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins, err := db.Prepare(ctx, true, "INSERT INTO rows (id, n) VALUES ($1, $2)")
		if err != nil {
			t.Fatal(err)
		}
		// Hold the writer so the next writes queue up and share one group.
		release := holdWriter(ctx, db)
		var wg sync.WaitGroup
		bound := make([]*sql.Stmt, 2)
		errs := make([]error, 2)
		for i := range bound {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *store.Tx) error {
					bound[i] = tx.Stmt(ins)
					if again := tx.Stmt(ins); again != bound[i] && db.Dialect == store.SQLite {
						t.Errorf("write %d: bound twice", i)
					}
					_, err := bound[i].ExecContext(ctx, i, i)
					return err
				})
			}()
		}
		time.Sleep(50 * time.Millisecond) // let both queue behind the held write
		release()
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("errors %v", errs)
		}
		if db.Dialect == store.SQLite && bound[0] != bound[1] {
			t.Fatal("the writes of a group bound the statement each")
		}
		var n int64
		db.R.Raw("SELECT COUNT(*) FROM rows").Scan(&n)
		if n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
	})
}

// holdWriter starts a write that holds the SQLite writer until release is
// called (release then waits for it to end), so that writes submitted in
// the meantime queue up and share one group.
func holdWriter(ctx context.Context, db *store.DB) (release func()) {
	rel, held, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		db.Write(ctx, func(*store.Tx) error { close(held); <-rel; return nil })
	}()
	<-held
	return func() { close(rel); <-done }
}

// Statements outside a transaction and the same statement inside one,
// while that transaction holds SQLite's one writer connection, all end:
// the writer's gorm keeps no prepared-statement cache whose entry the
// transaction would wait on while its preparer waits for the connection
// (go-gorm/gorm#7350).
func TestSameStatementInAndBesideATransactionEnds(t *testing.T) {
	storetest.Each(t, []any{&row{}}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.W.Exec("INSERT INTO rows (id, n) VALUES (1, 0)").Error; err != nil {
			t.Fatal(err)
		}
		const q = "UPDATE rows SET n = n + 1 WHERE id = 1"
		done := make(chan error, 3)
		inTx := make(chan struct{})
		go func() {
			done <- db.Tx(ctx, func(tx *store.Tx) error {
				close(inTx)
				time.Sleep(50 * time.Millisecond) // the others queue for the connection meanwhile
				return tx.Exec(q).Error
			})
		}()
		<-inTx
		for range 2 {
			go func() { done <- db.W.WithContext(ctx).Exec(q).Error }()
		}
		for range 3 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a statement beside a transaction running the same one never ended")
			}
		}
		var n int
		db.R.Raw("SELECT n FROM rows WHERE id = 1").Scan(&n)
		if n != 3 {
			t.Fatalf("n = %d, want 3", n)
		}
	})
}
