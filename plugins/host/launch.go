package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/invitegate/gateway/plugins"
)

// process is one running plugin executable.
type process struct {
	client *goplugin.Client
	conn   *grpc.ClientConn
	base   *plugins.BaseClient
	pid    int
}

// FileSHA256 is the hex SHA-256 of a file, as `sha256sum` prints it.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyChecksum refuses a binary that is not the one the config vouches for.
func verifyChecksum(name, path, want string) error {
	got, err := FileSHA256(path)
	if err != nil {
		return fmt.Errorf("plugin %q: cannot read %s: %w", name, path, err)
	}
	if !strings.EqualFold(got, want) {
		return permanent(fmt.Errorf("%w: plugin %q: %s has sha256 %s but the config expects %s; "+
			"refusing to start it. If you installed a new version on purpose, put its checksum (sha256sum %s) in the config",
			ErrChecksumMismatch, name, path, got, want, path))
	}
	return nil
}

// launch starts the executable and completes the handshake: magic cookie,
// protocol version, gRPC, automatic mutual TLS (a one-time certificate per
// side, so only this host can talk to this process).
func launch(path string, logger hclog.Logger, startTimeout time.Duration) (*process, error) {
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  plugins.Handshake,
		VersionedPlugins: pluginSets(),
		Cmd:              exec.Command(path),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           logger,
		StartTimeout:     startTimeout,
		// The plugin is on this machine: a fixed window spares a
		// bandwidth-estimation ping on most calls.
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(1 << 20),
			grpc.WithInitialConnWindowSize(1 << 20),
			grpc.WithSharedWriteBuffer(true),
			// Calls are not retried by gRPC: the host decides what a failure
			// means, and the retry machinery costs every call.
			grpc.WithDisableRetry(),
		},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, classifyLaunchError(path, err)
	}
	g, ok := rpc.(*goplugin.GRPCClient)
	if !ok {
		client.Kill()
		return nil, permanent(fmt.Errorf("%s does not speak gRPC", path))
	}
	p := &process{client: client, conn: g.Conn, base: plugins.NewBaseClient(g.Conn)}
	if rc := client.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}
	return p, nil
}

func classifyLaunchError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "incompatible API version with plugin"):
		return permanent(fmt.Errorf("%w: %s speaks a plugin protocol this gateway does not (this gateway speaks protocol %d; "+
			"rebuild the plugin with a matching SDK): %v", plugins.ErrIncompatible, path, plugins.ProtocolVersion, err))
	case strings.Contains(msg, "incompatible core API version"),
		strings.Contains(msg, "unsupported plugin protocol"):
		return permanent(fmt.Errorf("%w: %s: %v", plugins.ErrIncompatible, path, err))
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		return permanent(fmt.Errorf("%s did not answer the plugin handshake (is it a gateway plugin?): %v", path, err))
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrPermission), errors.Is(err, os.ErrNotExist):
		return permanent(fmt.Errorf("cannot run %s: %w", path, err))
	}
	return fmt.Errorf("start %s: %w", path, err)
}

func (p *process) exited() bool { return p.client.Exited() }

// stop asks the plugin to exit (go-plugin's controller service), and kills
// it if it has not gone within a few seconds.
func (p *process) stop() {
	done := make(chan struct{})
	go func() { p.client.Kill(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.killHard()
		<-done
	}
}

// killHard ends a hung plugin at once: asking it to exit could hang too.
func (p *process) killHard() {
	if p.pid > 0 {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	p.client.Kill()
}
