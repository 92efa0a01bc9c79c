package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/invitegate/gateway/cmd/gateway/app"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/bulk"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/job"
)

func newEventsCommand(configPath *string) *cobra.Command {
	events := &cobra.Command{Use: "events", Short: "Administer events"}
	var noEmail, skipInvalid bool
	var resume, errorsFile string
	bi := &cobra.Command{
		Use:   "bulk-invite EVENT FILE",
		Short: "Invite the people of a CSV file to an event (EVENT is its id or slug)",
		Long: "Check a CSV file (Email, First Name, Last Name; optional Title, Company, Speaker, Moderator), print\n" +
			"what it holds and every problem, then import it with a progress bar: new people are invited, people\n" +
			"already on the event have their roles, title and company updated. A file with problems is not imported\n" +
			"unless --skip-invalid. Invitation emails are queued in the outbox (the serving gateway sends them)\n" +
			"unless --no-email. If the import is interrupted, `gateway serve` resumes it, or run\n" +
			"`gateway events bulk-invite --resume JOB`.",
		Args: func(cmd *cobra.Command, args []string) error {
			if resume != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The import runs here, on the gateway's own job runner, not
			// started in the background: this command runs its one job.
			g, err := buildFor(ctx, *configPath, cmd)
			if err != nil {
				return err
			}
			defer g.Close()
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			jobID := resume
			if jobID == "" {
				jobID, err = checkAndConfirm(ctx, out, g, args[0], args[1], !noEmail, skipInvalid, errorsFile)
				if err != nil || jobID == "" {
					return err
				}
			}
			return runWithProgress(ctx, out, errOut, g, jobID)
		},
	}
	bi.Flags().BoolVar(&noEmail, "no-email", false, `"Invite without sending email": add people without queuing invitation emails`)
	bi.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "import a file with row problems anyway: those rows are refused (see --errors)")
	bi.Flags().StringVar(&errorsFile, "errors", "", "write the error report (every problem, CSV) to this file")
	bi.Flags().StringVar(&resume, "resume", "", "resume an interrupted import by its job id")
	events.AddCommand(bi)
	return events
}

// checkAndConfirm uploads the file, prints the check and confirms the job
// ("" when the file is not to be imported).
func checkAndConfirm(ctx context.Context, out io.Writer, g *app.Gateway, eventRef, path string, send, skipInvalid bool, errorsFile string) (string, error) {
	b := g.Bulk
	ev, err := findEvent(ctx, g, eventRef)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	c := event.Caller{AccountID: ev.AccountID, Actor: audit.Actor{Kind: audit.ActorSystem, ID: "cli"}}
	up, err := b.Upload(ctx, c, ev.ID, filepath.Base(path), f)
	if err != nil {
		return "", err
	}
	rep := up.Report
	fmt.Fprintf(out, "Event: %s (%s)\nFile: %s\n", ev.Name, ev.Slug, path)
	if len(rep.Columns) > 0 {
		fmt.Fprintf(out, "Columns: %s\n", strings.Join(rep.Columns, ", "))
	}
	for i, r := range rep.Preview {
		fmt.Fprintf(out, "Row %d (line %d): %s | %s | %s | title %q | company %q | speaker %s | moderator %s\n",
			i+1, r.Line, r.Email, r.FirstName, r.LastName, r.Title, r.Company, orDash(r.Speaker.String()), orDash(r.Moderator.String()))
	}
	fmt.Fprintf(out, "People: %d (%d without problems)\n", rep.Rows, rep.Valid)
	if rep.ProblemCount > 0 {
		fmt.Fprintf(out, "Problems: %d\n", rep.ProblemCount)
		for i, p := range rep.Problems {
			if i == 50 {
				fmt.Fprintf(out, "  ... and %d more (all of them: --errors FILE)\n", rep.ProblemCount-50)
				break
			}
			fmt.Fprintf(out, "  %s\n", p)
		}
	}
	if errorsFile != "" {
		ef, err := os.Create(errorsFile)
		if err != nil {
			return "", err
		}
		if err := b.WriteErrorReport(ctx, c, up.Job.ID, ef); err != nil {
			ef.Close()
			return "", err
		}
		if err := ef.Close(); err != nil {
			return "", err
		}
		fmt.Fprintf(out, "Error report written to %s\n", errorsFile)
	}
	if rep.Refused {
		return "", errors.New("the file cannot be imported; fix it and run again")
	}
	if rep.ProblemCount > 0 && !skipInvalid {
		if err := b.Discard(ctx, c, up.Job.ID); err != nil {
			return "", err
		}
		return "", fmt.Errorf("nothing imported: fix the file, or run again with --skip-invalid to invite the rows without problems (%d) and refuse the others (%d)", rep.Valid, rep.Rows-rep.Valid)
	}
	if _, err := b.Confirm(ctx, c, up.Job.ID, send); err != nil {
		return "", err
	}
	mode := "with invitation emails"
	if !send {
		mode = "without sending email"
	}
	fmt.Fprintf(out, "Importing %d people %s (job %s)\n", rep.Rows, mode, up.Job.ID)
	return up.Job.ID, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// findEvent loads an event by id or slug.
func findEvent(ctx context.Context, g *app.Gateway, ref string) (*event.Event, error) {
	ev, err := event.ByIDOrSlug(ctx, g.DB, ref)
	if err != nil {
		return nil, fmt.Errorf("no event with id or slug %q", ref)
	}
	return ev, nil
}

// runWithProgress runs the job here, drawing its progress on errOut, and
// prints the result. A job held by a runner that died is taken over once
// its lease runs out.
func runWithProgress(ctx context.Context, out, errOut io.Writer, g *app.Gateway, jobID string) error {
	runner := g.Jobs
	if j, err := job.ByID(ctx, g.DB, jobID); err != nil || j.Kind != bulk.Kind {
		return fmt.Errorf("no bulk invite job %s", jobID)
	}
	done := make(chan error, 1)
	go func() {
		for {
			ok, err := runner.Run(ctx, jobID)
			if err != nil || ok {
				done <- err
				return
			}
			cur, err := job.ByID(ctx, g.DB, jobID)
			if err != nil {
				done <- err
				return
			}
			if cur.Finished() {
				done <- nil
				return
			}
			// Another runner holds it (or held it and died): wait.
			select {
			case <-ctx.Done():
				done <- ctx.Err()
				return
			case <-time.After(time.Second):
			}
		}
	}()
	bar := newProgressBar(errOut)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			cur, qerr := job.ByID(ctx, g.DB, jobID)
			if qerr == nil {
				bar.draw(cur)
			} else {
				cur = &job.Job{}
			}
			bar.end()
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted after %d of %d rows; `gateway serve` resumes the import, or run: gateway events bulk-invite --resume %s", cur.Processed, cur.Total, jobID)
				}
				return err
			}
			fmt.Fprintf(out, "%s: %d of %d rows; counts %s\n", cur.Status, cur.Processed, cur.Total, cur.Counts)
			if cur.Status != job.Done {
				return fmt.Errorf("the import ended %s: %s", cur.Status, cur.Error)
			}
			return nil
		case <-tick.C:
			if cur, err := job.ByID(ctx, g.DB, jobID); err == nil {
				bar.draw(cur)
			}
		}
	}
}

// progressBar draws a job's progress: redrawn in place on a terminal, a line
// per tenth otherwise (logs, CI).
type progressBar struct {
	w    io.Writer
	tty  bool
	last int
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, last: -1}
}

func (p *progressBar) draw(j *job.Job) {
	pct := int(j.Progress() * 100)
	const width = 30
	fill := pct * width / 100
	line := fmt.Sprintf("[%s%s] %3d%% %d/%d rows %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct, j.Processed, j.Total, j.Counts)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
		return
	}
	if pct/10 != p.last/10 || p.last < 0 {
		fmt.Fprintln(p.w, line)
		p.last = pct
	}
}

func (p *progressBar) end() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
