package host

import "time"

// State is where a plugin is in its life.
type State string

// Plugin states.
const (
	// StateStopped: not started yet, or stopped with the gateway.
	StateStopped State = "stopped"
	// StateStarting: checksum, handshake, Info, Configure, Health underway.
	StateStarting State = "starting"
	// StateRunning: started and healthy at the last check.
	StateRunning State = "running"
	// StateBackoff: it crashed, hung or failed to start; a restart is due.
	StateBackoff State = "backoff"
	// StateFailed: it cannot start as configured (checksum mismatch, no
	// common version, wrong kind, configuration rejected). The host tries
	// again every MaxBackoff, so fixing the binary or what the config
	// points at heals it without a restart of the gateway. A plugin stays
	// failed, with LastError, while such an attempt runs, until one
	// succeeds; NextStart is when the next attempt is due (or the running
	// one began).
	StateFailed State = "failed"
)

// Status is what an operator needs to know about one plugin.
type Status struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Path  string `json:"path"`
	State State  `json:"state"`
	// Plugin, Version and APIVersion come from the plugin's Info.
	Plugin     string `json:"plugin,omitempty"`
	Version    string `json:"version,omitempty"`
	APIVersion uint32 `json:"api_version,omitempty"`
	PID        int    `json:"pid,omitempty"`
	// Restarts counts restarts after a crash, a hang or a failed start.
	Restarts    int       `json:"restarts"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// NextStart is when a plugin in back-off or failed is tried again.
	NextStart time.Time `json:"next_start,omitzero"`
	InFlight  int       `json:"in_flight"`
}
