package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/invitegate/gateway/plugins"
)

// CheckReport is what `gateway plugins check` learns about a binary.
type CheckReport struct {
	Path   string       `json:"path"`
	SHA256 string       `json:"sha256"`
	Info   plugins.Info `json:"info"`
	// APIVersion is the version this gateway would use with it.
	APIVersion uint32 `json:"api_version"`
	// ConfigProblems lists what the plugin said about the config it was
	// given (none given: not configured, nothing to report).
	Configured     bool                    `json:"configured"`
	ConfigProblems []plugins.ConfigProblem `json:"config_problems,omitempty"`
	// Health is "ok" or why the plugin is not healthy.
	Health string `json:"health"`
}

// Check starts the executable at path without a checksum (it is how an
// operator learns the checksum and what the plugin is), performs the
// handshake, asks for its Info, negotiates the API version, configures it
// with config when given, health-checks it and stops it. It returns an error
// for what would stop the host from using the plugin: no handshake, an
// unknown protocol, a kind not in the table (Kinds), no common API version,
// a failed Info call.
// Config problems and an unhealthy plugin are reported, not returned.
func Check(ctx context.Context, path string, config json.RawMessage, logger *slog.Logger, timeout time.Duration) (*CheckReport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	sum, err := FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	rep := &CheckReport{Path: path, SHA256: sum}
	proc, err := launch(path, newHCLog(logger.With("plugin", path)), timeout)
	if err != nil {
		return rep, fmt.Errorf("handshake failed: %w", err)
	}
	defer proc.stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := proc.base.Info(ctx)
	if err != nil {
		return rep, fmt.Errorf("Info call failed: %w", err)
	}
	rep.Info = info
	kind, err := LookupKind(info.Kind)
	if err != nil {
		return rep, fmt.Errorf("%w: the plugin reports %w", plugins.ErrIncompatible, err)
	}
	api, err := plugins.Negotiate(kind.APIVersions, info.APIVersions)
	if err != nil {
		return rep, err
	}
	rep.APIVersion = api
	if config != nil {
		rep.Configured = true
		err := proc.base.Configure(ctx, api, config)
		var ce plugins.ConfigErrors
		switch {
		case errors.As(err, &ce):
			rep.ConfigProblems = ce
		case err != nil:
			return rep, fmt.Errorf("Configure call failed: %w", err)
		}
	}
	rep.Health = "ok"
	if err := proc.base.Health(ctx); err != nil {
		rep.Health = err.Error()
	}
	return rep, nil
}
