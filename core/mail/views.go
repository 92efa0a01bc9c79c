package mail

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/store"
)

// View records that a link's page was loaded (GET /i/{token}, /l/{token}).
// Opening a link changes nothing, so a view is an append-only row of its
// own beside the message, never a change to the message or the
// invitation. It keeps neither the token nor the client's address: only
// when, which page, whether the client sent any cookie, and the class of
// its user agent.
type View struct {
	ID        string `gorm:"primaryKey;size:36"`
	AccountID string `gorm:"size:36;not null"`
	// RefID is the invitation or attendee whose link was loaded.
	RefID string `gorm:"size:36;not null;index"`
	// MessageID is the newest email about RefID when the view was
	// recorded ("" when none had been queued: a copied link).
	MessageID string    `gorm:"size:36;not null;index"`
	At        time.Time `gorm:"not null"`
	// Page is "invite" or "login".
	Page    string `gorm:"size:8;not null"`
	Cookies bool   `gorm:"not null"`
	// Agent is AgentBrowser, AgentRobot or AgentNone.
	Agent string `gorm:"size:8;not null"`
	// Scanner is what the view looked like when it was recorded: no
	// cookie, and either within ScannerWindow of the message being sent
	// or from a client that names itself a robot.
	Scanner bool `gorm:"not null"`
}

// TableName names the table.
func (View) TableName() string { return "mail_views" }

// User-agent classes of a view.
const (
	AgentBrowser = "browser"
	AgentRobot   = "robot"
	AgentNone    = "none"
)

// robotWords mark a user agent as a program rather than a person's
// browser: crawlers, link checkers, the link scanners of mail filters and
// HTTP libraries.
var robotWords = []string{"bot", "crawl", "spider", "scan", "preview", "safelinks", "proofpoint", "mimecast", "barracuda",
	"curl", "wget", "python", "go-http-client", "java/", "okhttp", "libwww", "httpclient", "axios", "node-fetch"}

// AgentClass is the class of a User-Agent header.
func AgentClass(ua string) string {
	ua = strings.ToLower(strings.TrimSpace(ua))
	if ua == "" {
		return AgentNone
	}
	for _, w := range robotWords {
		if strings.Contains(ua, w) {
			return AgentRobot
		}
	}
	return AgentBrowser
}

// PageView is what a page hands ViewLog.Record.
type PageView struct {
	AccountID, RefID string
	Page             string
	Cookies          bool
	UserAgent        string
	at               time.Time // set by Record
}

// ViewLogConfig tunes a ViewLog. Zero values take the defaults in brackets.
type ViewLogConfig struct {
	// ScannerWindow: a view without cookies this soon after the message
	// was sent is taken for a mail filter's link scanner [60s]. Filters
	// fetch every link of a message as it arrives, seconds after the
	// gateway's server accepted it; a person rarely reads that fast.
	ScannerWindow time.Duration
	// Flush is how often recorded views are written [1s]; Buffer bounds
	// the views waiting, past which new ones are dropped [4096].
	Flush  time.Duration
	Buffer int
	// Repeat: a view just like one recorded this recently (same link,
	// cookies and agent class) is not recorded again [10s].
	Repeat time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// ViewLog records page views off the request's path: Record hands a view
// to a buffer, and a background loop writes the buffer every Flush in one
// write, so a page load costs a channel send and the database sees one
// INSERT per flush (store.Inserts) rather than one write per request.
// Views still buffered when the process dies are lost, which costs only
// the distinction between "sent" and "viewed"; the opened mark comes from
// the page's beacon, which is written at once.
type ViewLog struct {
	db   *store.DB
	cfg  ViewLogConfig
	ins  *store.Inserts
	in   chan PageView
	sync chan chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewViewLog prepares the log's insert on db, which must be migrated.
func NewViewLog(db *store.DB, cfg ViewLogConfig) (*ViewLog, error) {
	if cfg.ScannerWindow <= 0 {
		cfg.ScannerWindow = time.Minute
	}
	if cfg.Flush <= 0 {
		cfg.Flush = time.Second
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.Repeat <= 0 {
		cfg.Repeat = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ins, err := db.NewInserts(context.Background(), "mail_views",
		"id", "account_id", "ref_id", "message_id", "at", "page", "cookies", "agent", "scanner")
	if err != nil {
		return nil, err
	}
	return &ViewLog{db: db, cfg: cfg, ins: ins, in: make(chan PageView, cfg.Buffer), sync: make(chan chan struct{})}, nil
}

// ScannerWindow is the configured window (see ViewLogConfig).
func (l *ViewLog) ScannerWindow() time.Duration { return l.cfg.ScannerWindow }

// Record hands v to the log without waiting; a full buffer drops it.
func (l *ViewLog) Record(v PageView) {
	if l == nil {
		return
	}
	v.at = l.cfg.Now().UTC()
	select {
	case l.in <- v:
	default:
	}
}

// Start runs the writing loop until Stop.
func (l *ViewLog) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go l.loop(ctx)
}

// Stop writes what is buffered and stops the loop, waiting until ctx ends.
func (l *ViewLog) Stop(ctx context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sync writes every view recorded before it, for tests and for a reader
// that must see them (it returns at once when the loop is not running).
func (l *ViewLog) Sync(ctx context.Context) {
	if l == nil {
		return
	}
	l.mu.Lock()
	running := l.cancel != nil
	l.mu.Unlock()
	if !running {
		return
	}
	ack := make(chan struct{})
	select {
	case l.sync <- ack:
		<-ack
	case <-ctx.Done():
	}
}

func (l *ViewLog) loop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.cfg.Flush)
	defer t.Stop()
	recent := map[viewKey]time.Time{}
	var pending []PageView
	flush := func() {
		l.write(context.WithoutCancel(ctx), pending, recent)
		pending = pending[:0]
	}
	for {
		select {
		case v := <-l.in:
			pending = append(pending, v)
			if len(pending) >= 256 {
				flush()
			}
		case ack := <-l.sync:
			l.drain(&pending)
			flush()
			close(ack)
		case <-t.C:
			flush()
		case <-ctx.Done():
			l.drain(&pending)
			flush()
			return
		}
	}
}

// drain moves every view waiting in the channel to pending.
func (l *ViewLog) drain(pending *[]PageView) {
	for {
		select {
		case v := <-l.in:
			*pending = append(*pending, v)
		default:
			return
		}
	}
}

type viewKey struct {
	ref, agent string
	cookies    bool
}

// write records views in one write: each is tied to the newest message
// about its link and classified against that message's sending time.
func (l *ViewLog) write(ctx context.Context, views []PageView, recent map[viewKey]time.Time) {
	now := l.cfg.Now().UTC()
	for k, at := range recent {
		if now.Sub(at) >= l.cfg.Repeat {
			delete(recent, k)
		}
	}
	var keep []PageView
	refs := map[string]bool{}
	for _, v := range views {
		k := viewKey{v.RefID, AgentClass(v.UserAgent), v.Cookies}
		if _, seen := recent[k]; seen {
			continue
		}
		recent[k] = v.at
		keep = append(keep, v)
		refs[v.RefID] = true
	}
	if len(keep) == 0 {
		return
	}
	ids := make([]string, 0, len(refs))
	for r := range refs {
		ids = append(ids, r)
	}
	newest, err := newestMessages(ctx, l.db, ids)
	if err != nil {
		l.cfg.Logger.Error("mail: page views not recorded", "views", len(keep), "error", err)
		return
	}
	err = l.db.Write(ctx, func(tx *store.Tx) error {
		for _, v := range keep {
			agent := AgentClass(v.UserAgent)
			m := newest[v.RefID]
			scanner := !v.Cookies && (agent != AgentBrowser || (m.SentAt != nil && v.at.Sub(*m.SentAt) <= l.cfg.ScannerWindow))
			if err := l.ins.Add(tx, id.New(), v.AccountID, v.RefID, m.ID, v.at, v.Page, v.Cookies, agent, scanner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.cfg.Logger.Error("mail: page views not recorded", "views", len(keep), "error", err)
	}
}

// newestMessages returns the newest message of each ref (id and sending
// time only); a ref with none is absent.
func newestMessages(ctx context.Context, db store.Reader, refIDs []string) (map[string]Message, error) {
	out := map[string]Message{}
	for len(refIDs) > 0 {
		chunk := refIDs[:min(len(refIDs), 500)]
		refIDs = refIDs[len(chunk):]
		var ms []Message
		if err := db.Read(ctx).Select("id", "ref_id", "created_at", "sent_at").Where("ref_id IN ?", chunk).Order("created_at").Find(&ms).Error; err != nil {
			return nil, err
		}
		for _, m := range ms {
			out[m.RefID] = m
		}
	}
	return out, nil
}

// MarkOpened records that a person has the link of ref open: the page's
// script said so (its beacon). It marks the newest sent message about ref,
// once: calling it again changes nothing. A ref with no sent message (its
// link was copied, not emailed) has nothing to mark.
func MarkOpened(ctx context.Context, db *store.DB, accountID, refID string, now time.Time) error {
	newest := db.W.Model(&Message{}).Select("id").Where("account_id = ? AND ref_id = ? AND sent_at IS NOT NULL", accountID, refID).
		Order("created_at DESC").Limit(1)
	return db.Write(ctx, func(tx *store.Tx) error {
		return tx.Model(&Message{}).Where("id IN (?) AND opened_at IS NULL", newest).
			Updates(map[string]any{"opened_at": now.UTC(), "updated_at": now.UTC()}).Error
	})
}
