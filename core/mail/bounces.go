package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/store"
)

// BounceConfig says where delivery status notifications arrive. The
// bounce address (OutboxConfig.BounceAddress) is delivered by the local
// MTA into a Maildir; the gateway reads its new/ folder.
type BounceConfig struct {
	// Maildir is the folder holding new/, cur/ and tmp/.
	Maildir string
	// Every is how often the folder is read [1m]. One replica reads at a
	// time (an advisory lock on PostgreSQL).
	Every time.Duration
	// OnFailed hears of each message a bounce marks failed.
	OnFailed FailedHook
	Logger   *slog.Logger
	Now      func() time.Time
}

// Bounces reads delivery status notifications from a Maildir and marks
// the messages they report on failed: Hard for a 5.x.x status, Soft for a
// 4.x.x one (a server still retrying says so). A notification whose
// message it found (or that reports success) is moved to cur/ with the
// Seen flag, as a mail reader would; one that names no message of the
// outbox, or is no notification at all, is logged once and left in new/.
type Bounces struct {
	db  *store.DB
	cfg BounceConfig

	mu      sync.Mutex
	skipped map[string]bool // files of new/ already logged as left there
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewBounces checks the folder.
func NewBounces(db *store.DB, cfg BounceConfig) (*Bounces, error) {
	if cfg.Maildir == "" {
		return nil, errors.New("mail: bounces: maildir is required")
	}
	for _, sub := range []string{"new", "cur"} {
		if fi, err := os.Stat(filepath.Join(cfg.Maildir, sub)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("mail: bounces: %s is not a Maildir (it needs new/ and cur/ folders)", cfg.Maildir)
		}
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Bounces{db: db, cfg: cfg, skipped: map[string]bool{}}, nil
}

// BounceResult counts what one reading did.
type BounceResult struct {
	// Failed counts messages marked failed; Processed the notifications
	// moved to cur/ (those too, and reports of success or about a message
	// failed already); Left those left in new/.
	Failed, Processed, Left int
}

// ReadOnce reads every notification in new/.
func (b *Bounces) ReadOnce(ctx context.Context) (BounceResult, error) {
	var res BounceResult
	dir := filepath.Join(b.cfg.Maildir, "new")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("mail: bounces: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		failed, done, why, err := b.readFile(ctx, filepath.Join(dir, e.Name()))
		if err != nil {
			return res, err
		}
		if failed {
			res.Failed++
		}
		if !done {
			res.Left++
			b.logLeft(e.Name(), why)
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(b.cfg.Maildir, "cur", seen(e.Name()))); err != nil {
			return res, fmt.Errorf("mail: bounces: %w", err)
		}
		res.Processed++
	}
	return res, nil
}

// seen is a Maildir file's name in cur/ with the Seen flag.
func seen(name string) string {
	if i := strings.Index(name, ":2,"); i >= 0 {
		if strings.Contains(name[i+3:], "S") {
			return name
		}
		return name + "S"
	}
	return name + ":2,S"
}

func (b *Bounces) logLeft(name, why string) {
	b.mu.Lock()
	first := !b.skipped[name]
	b.skipped[name] = true
	b.mu.Unlock()
	if first {
		b.cfg.Logger.Warn("mail: bounce left in the maildir", "file", name, "reason", why)
	}
}

// readFile handles one notification: failed says a message was marked
// failed, done that the file is finished with; why is, when it is not,
// the reason.
func (b *Bounces) readFile(ctx context.Context, path string) (failed, done bool, why string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, false, "", fmt.Errorf("mail: bounces: %w", err)
	}
	defer f.Close()
	d, perr := ParseDSN(io.LimitReader(f, 10<<20))
	if perr != nil {
		return false, false, perr.Error(), nil
	}
	fl, isFailure := d.Failure()
	if !isFailure {
		return false, true, "", nil
	}
	found, failed, err := b.markBounced(ctx, d.MessageID, fl)
	if err != nil {
		return false, false, "", err
	}
	if !found {
		return false, false, fmt.Sprintf("no message of the outbox has the Message-ID %q", d.MessageID), nil
	}
	return failed, true, "", nil
}

// markBounced marks the message with this Message-ID failed with f. The
// Message-ID is "<row id@domain>", so the row is found by its key. A
// message failed already is marked again only to turn a soft failure hard.
func (b *Bounces) markBounced(ctx context.Context, messageID string, f Failure) (found, failed bool, err error) {
	rowID := strings.TrimPrefix(messageID, "<")
	if i := strings.IndexByte(rowID, '@'); i > 0 {
		rowID = rowID[:i]
	} else {
		return false, false, nil
	}
	now := b.cfg.Now().UTC()
	err = b.db.Tx(ctx, func(tx *store.Tx) error {
		var m Message
		e := tx.Select("id", "status", "fail_kind", "ref_kind", "ref_id", "account_id", "to_email", "message_id").
			Where("id = ? AND message_id = ?", rowID, messageID).Take(&m).Error
		if errors.Is(e, gorm.ErrRecordNotFound) {
			return nil
		}
		if e != nil {
			return e
		}
		found = true
		cond := "status <> ?"
		if f.Kind == Hard {
			cond = "(status <> ? OR fail_kind <> 'hard')"
		}
		failed, e = fail(tx, b.cfg.OnFailed, &m, f, now, cond, Failed)
		return e
	})
	return found, failed, err
}

// Start reads the folder every Every until Stop, under the lock that lets
// one replica read at a time.
func (b *Bounces) Start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		t := time.NewTicker(b.cfg.Every)
		defer t.Stop()
		for {
			b.tick(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (b *Bounces) tick(ctx context.Context) {
	release, ok, err := b.db.TryLock(ctx, "mail-bounces")
	if err != nil || !ok {
		return
	}
	defer release()
	res, err := b.ReadOnce(ctx)
	if err != nil && ctx.Err() == nil {
		b.cfg.Logger.Error("mail: read bounces", "error", err)
	}
	if res.Failed > 0 {
		b.cfg.Logger.Info("mail: bounces read", "failed", res.Failed, "processed", res.Processed, "left", res.Left)
	}
}

// Stop stops reading, waiting for a reading in progress until ctx ends.
func (b *Bounces) Stop(ctx context.Context) error {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping the bounce reader: %w", ctx.Err())
	}
}
