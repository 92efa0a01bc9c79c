package plugins

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeKind runs the plugin process: it answers the handshake and serves p
// (a kind package's go-plugin wrapper) until the host stops it. Plugin
// authors call their kind package's Serve, which calls this.
//
// The process runs on one P (GOMAXPROCS=1) unless GOMAXPROCS is set in its
// environment (a plugin inherits the gateway's). A plugin waits on its host
// most of the time; with one P the goroutines a call readies (the stream
// worker, then the writer) run on the thread that is already awake, instead
// of the runtime waking a second thread for them and putting it back to
// sleep at once, and the response leaves in one write. That saves ≈ 10 µs
// of a ≈ 140 µs round trip on a 2-core machine. Concurrent calls still
// overlap while they wait; a plugin that needs more CPU in parallel gets it
// with GOMAXPROCS.
func ServeKind(kind Kind, p goplugin.Plugin) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{string(kind): p},
		GRPCServer:      newGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Level:      hclog.Info,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
}

// longLivedStreams is how many streams go-plugin's host holds open on every
// plugin for its whole life: GRPCBroker.StartStream and GRPCStdio.StreamStdio.
const longLivedStreams = 2

const hclogTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// newGRPCServer is go-plugin's default server tuned for a peer on the same
// machine: a fixed flow-control window (no bandwidth-estimation pings on
// every call) and a pool of stream workers instead of a goroutine per call.
//
// A worker serves one stream until it ends, and go-plugin's host keeps two
// streams open for the life of the process (the broker's and the one that
// carries stdout and stderr), so they hold two workers for good: the pool
// has two more than GOMAXPROCS. Without them every call found the workers
// busy and fell back to a new goroutine, whose stack grew (copied) several
// times on each call.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return goplugin.DefaultGRPCServer(append(opts,
		grpc.InitialWindowSize(1<<20),
		grpc.InitialConnWindowSize(1<<20),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))+longLivedStreams),
		grpc.SharedWriteBuffer(true),
	))
}

// NewLogger returns a logger for code inside a plugin process. It writes
// JSON lines to stderr in the format the host reads, so each record reaches
// the gateway's log at its level, tagged with the plugin's name.
func NewLogger() *slog.Logger { return newLogger(os.Stderr) }

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				// The host parses exactly hclog's layout; another one turns
				// the whole record into a plain debug line.
				a.Key = "@timestamp"
				if t, ok := a.Value.Any().(time.Time); ok {
					a.Value = slog.StringValue(t.Format(hclogTimeLayout))
				}
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key = "@level"
				lvl, _ := a.Value.Any().(slog.Level)
				switch {
				case lvl < slog.LevelInfo:
					a.Value = slog.StringValue("debug")
				case lvl < slog.LevelWarn:
					a.Value = slog.StringValue("info")
				case lvl < slog.LevelError:
					a.Value = slog.StringValue("warn")
				default:
					a.Value = slog.StringValue("error")
				}
			}
			return a
		},
	}))
}
