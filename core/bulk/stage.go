package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/invitegate/gateway/core/store"
)

// stager copies an upload into bulk_chunks as it streams past, ChunkBytes
// at a time, each chunk in its own short write so a large upload never
// holds the single SQLite writer for long.
type stager struct {
	ctx   context.Context
	db    *store.DB
	jobID string
	buf   []byte
	seq   int
	size  int64
	err   error
	// stop, if set, is asked before each write: an error from it ends the
	// staging.
	stop func() error
}

func newStager(ctx context.Context, db *store.DB, jobID string) *stager {
	return &stager{ctx: ctx, db: db, jobID: jobID, buf: make([]byte, 0, ChunkBytes)}
}

// Write implements io.Writer for io.TeeReader.
func (s *stager) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.stop != nil {
		if err := s.stop(); err != nil {
			s.err = err
			return 0, err
		}
	}
	n := len(p)
	s.size += int64(n)
	for len(p) > 0 {
		k := min(len(p), ChunkBytes-len(s.buf))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == ChunkBytes {
			if err := s.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (s *stager) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	if err := s.db.W.WithContext(s.ctx).Create(&Chunk{JobID: s.jobID, Seq: s.seq, Data: s.buf}).Error; err != nil {
		s.err = fmt.Errorf("bulk: stage the file: %w", err)
		return s.err
	}
	s.seq++
	s.buf = s.buf[:0]
	return nil
}

// close writes the last chunk.
func (s *stager) close() error {
	if s.err != nil {
		return s.err
	}
	return s.flush()
}

// chunkReader reads a staged file from an offset, one chunk in memory at a
// time, with the reader pool or inside a transaction.
type chunkReader struct {
	ctx   context.Context
	db    store.Reader
	jobID string
	seq   int
	buf   []byte
	skip  int
	done  bool
}

func newChunkReader(ctx context.Context, db store.Reader, jobID string, offset int64) *chunkReader {
	return &chunkReader{ctx: ctx, db: db, jobID: jobID, seq: int(offset / ChunkBytes), skip: int(offset % ChunkBytes)}
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		var c Chunk
		res := r.db.Read(r.ctx).Where("job_id = ? AND seq = ?", r.jobID, r.seq).Limit(1).Find(&c)
		if res.Error != nil {
			return 0, fmt.Errorf("bulk: read the staged file: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			r.done = true
			continue
		}
		if r.skip > len(c.Data) {
			return 0, errors.New("bulk: the staged file is shorter than its checkpoint")
		}
		r.buf = c.Data[r.skip:]
		r.skip = 0
		r.seq++
		if len(c.Data) < ChunkBytes {
			r.done = true
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
