package bulk

import (
	"bytes"
	"io"

	"github.com/invitegate/gateway/core/job"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/table"
)

// Tables are the tables this package owns, parents first.
//
// Erasing a person deletes the lines of error reports that name them and
// stops every bulk invite of the account whose staged file names them:
// that file is dropped unread, so a later confirmation or a resumed import
// cannot add them back. The people the job already added are erased with
// everyone else's rows.
func Tables() []table.Table {
	return []table.Table{
		{Model: &Import{}, NoPersonalData: "an upload's file name, size, header line and checkpoint; its rows are bulk_chunks"},
		{Model: &Chunk{}, Erase: eraseStaged},
		{Model: &StoredProblem{}, Erase: eraseProblems},
	}
}

// StoppedByErasure is the error of a bulk invite stopped because its file
// names a person who was erased. It names no one.
const StoppedByErasure = "stopped: the file names a person who was deleted from the gateway; upload it again to invite the others"

// ErrStoppedByErasure answers an upload whose job was stopped while the
// file was read, because it names a person who was erased meanwhile.
var ErrStoppedByErasure = problem.New(problem.Conflict, "bulk_invite_stopped", "this upload was stopped while it was read: the file names a person who was deleted from the gateway; upload it again to invite the others")

// eraseStaged stops the account's bulk invites whose file is staged (from
// its upload until the import ends) and names the person.
func eraseStaged(tx *store.Tx, p table.Person) error {
	var ids []string
	err := tx.Model(&job.Job{}).Where("account_id = ? AND kind = ? AND status IN ?", p.AccountID, Kind, job.Unfinished()).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return err
	}
	for _, id := range ids {
		named, err := stagedFileNames(tx, id, p.Email)
		if err != nil {
			return err
		}
		if !named {
			continue
		}
		if _, err := job.Stop(tx, id, StoppedByErasure, tx.Now()); err != nil {
			return err
		}
		if err := dropStaged(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// stagedFileNames reports whether a job's staged file holds email, in any
// case (files are read case-blind), reading one chunk at a time; an
// address may straddle two chunks.
func stagedFileNames(tx *store.Tx, jobID, email string) (bool, error) {
	want := []byte(email)
	r := newChunkReader(tx.Context(), tx, jobID, 0)
	buf := make([]byte, ChunkBytes)
	var tail []byte
	for {
		n, err := r.Read(buf)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		data := append(tail, lowerASCII(buf[:n])...)
		if bytes.Contains(data, want) {
			return true, nil
		}
		tail = append([]byte(nil), data[max(0, len(data)-len(want)+1):]...)
	}
}

// lowerASCII lower-cases b's ASCII letters in place, keeping its length,
// as stored addresses are.
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// eraseProblems deletes the lines of the account's error reports that name
// the person, in their email column or quoted in the message (a typo'd
// domain is reported with the address as written).
func eraseProblems(tx *store.Tx, p table.Person) error {
	jobs := tx.Model(&job.Job{}).Select("id").Where("account_id = ?", p.AccountID)
	return tx.Where("job_id IN (?) AND (email = ? OR message LIKE ?)", jobs, p.Email, "%"+p.Email+"%").Delete(&StoredProblem{}).Error
}
