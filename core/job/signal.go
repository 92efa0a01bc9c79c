package job

// Signal tells an idle runner that a job was queued, so it starts it at
// once instead of at its next poll. It is made before the runner and the
// services that queue jobs, so that each of them is built complete: the
// services ring it (their Jobs field), the runner listens (Runner.Signal).
type Signal struct{ c chan struct{} }

// NewSignal makes a signal nobody has rung yet.
func NewSignal() *Signal { return &Signal{c: make(chan struct{}, 1)} }

// Wake rings the signal; rings while the runner is busy count as one.
func (s *Signal) Wake() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}
