package e2b_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// fakeEnv, set, makes the test binary a fake envd in debug mode that prints
// its address and serves until its stdin closes: the benchmarks below talk
// to it from another process, so that their CPU figures are the client's.
const fakeEnv = "E2B_TEST_FAKE_ENVD"

// serveFakeEnvd is the test binary as that fake envd.
func serveFakeEnvd() {
	srv, err := e2btest.Start(e2btest.Options{Debug: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.DebugURL())
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

// envdURL is the envd the wire benchmarks talk to: E2B_SANDBOX_URL when set
// (a real envd, in debug mode), or a fake envd in a child process.
func envdURL(b *testing.B) string {
	if u := os.Getenv("E2B_SANDBOX_URL"); u != "" {
		return u
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fakeEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the fake envd said nothing: %v", err)
	}
	return strings.TrimSpace(line)
}

// wire counts the TCP connections a client dials and the bytes it reads.
type wire struct {
	dials, read atomic.Int64
}

// client is a client with the transport of sandboxes made with no
// HTTPClient, counting.
func (w *wire) client() *http.Client {
	tr := e2b.DefaultTransport()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w.dials.Add(1)
		return &countedConn{Conn: c, read: &w.read}, nil
	}
	return &http.Client{Transport: tr}
}

type countedConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openEnvd opens the benchmarks' sandbox: envd in debug mode, through a
// counting client.
func openEnvd(b *testing.B) (*e2b.Sandbox, *wire) {
	w := &wire{}
	hc := w.client()
	sb, err := e2b.New(context.Background(), e2b.Config{Debug: true, SandboxURL: envdURL(b), HTTPClient: hc})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sb.Close(context.Background())
		hc.CloseIdleConnections()
	})
	return sb, w
}

// BenchmarkEnvd measures the client's cost on the wire to envd: a fake envd
// in another process, or the envd at E2B_SANDBOX_URL. Reported: TCP dials
// for the whole benchmark (one sandbox), the client's CPU per operation or
// per MiB (getrusage of this process alone), and bytes read from the wire
// per MiB of stdout.
func BenchmarkEnvd(b *testing.B) {
	b.Run("http-floor", func(b *testing.B) {
		// Not the client's: one bare GET /health on the same transport, the
		// least any request to envd costs here, for scale.
		url := envdURL(b)
		w := &wire{}
		hc := w.client()
		b.Cleanup(hc.CloseIdleConnections)
		cpu := cpuTime()
		for b.Loop() {
			resp, err := hc.Get(url + "/health")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "client-µs/op")
	})
	b.Run("echo", func(b *testing.B) {
		sb, w := openEnvd(b)
		ctx := context.Background()
		cpu := cpuTime()
		for b.Loop() {
			var out strings.Builder
			res, err := sb.Run(ctx, agentbox.Command{Cmd: "echo hi", Stdout: &out})
			if err != nil || res.ExitCode != 0 || out.String() != "hi\n" {
				b.Fatalf("echo hi: exit %d, %v, %q", res.ExitCode, err, out.String())
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "client-µs/op")
		b.ReportMetric(float64(w.dials.Load()), "dials")
	})
	b.Run("echo-parallel", func(b *testing.B) {
		// Many commands at once, as a service running many agents does: the
		// marginal CPU of a command, without the cost of a process waking
		// from idle for each of its messages.
		sb, w := openEnvd(b)
		ctx := context.Background()
		b.SetParallelism(8)
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var out strings.Builder
				res, err := sb.Run(ctx, agentbox.Command{Cmd: "echo hi", Stdout: &out})
				if err != nil || res.ExitCode != 0 || out.String() != "hi\n" {
					b.Errorf("echo hi: exit %d, %v, %q", res.ExitCode, err, out.String())
					return
				}
			}
		})
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "client-µs/op")
		b.ReportMetric(float64(w.dials.Load()), "dials")
	})
	b.Run("stream", func(b *testing.B) {
		const mib = 50
		sb, w := openEnvd(b)
		ctx := context.Background()
		// Incompressible output, as a build log or a binary is not all zeros.
		cmd := fmt.Sprintf("head -c %d /dev/urandom", mib<<20)
		cpu := cpuTime()
		read := w.read.Load()
		for b.Loop() {
			var n byteCounter
			res, err := sb.Run(ctx, agentbox.Command{Cmd: cmd, Stdout: &n})
			if err != nil || res.ExitCode != 0 || n != mib<<20 {
				b.Fatalf("%s: exit %d, %v, %d bytes", cmd, res.ExitCode, err, n)
			}
		}
		b.SetBytes(mib << 20)
		total := float64(b.N * mib)
		b.ReportMetric(float64(w.read.Load()-read)/total/(1<<20), "wire-MiB/MiB")
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/total, "client-ms/MiB")
		b.ReportMetric(float64(w.dials.Load()), "dials")
	})
	files := make([]agentbox.File, 100)
	for i := range files {
		files[i] = agentbox.File{Path: fmt.Sprintf("bench/w%03d.txt", i), Data: []byte(strings.Repeat("x", 1023) + "\n")}
	}
	b.Run("write-100x1KiB-batch", func(b *testing.B) {
		sb, _ := openEnvd(b)
		cpu := cpuTime()
		for b.Loop() {
			if err := sb.WriteFiles(context.Background(), files); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "client-ms/op")
	})
	b.Run("write-100x1KiB-single", func(b *testing.B) {
		sb, _ := openEnvd(b)
		cpu := cpuTime()
		for b.Loop() {
			for _, f := range files {
				if err := sb.WriteFiles(context.Background(), []agentbox.File{f}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "client-ms/op")
	})
	b.Run("read-1MiB", func(b *testing.B) {
		sb, w := openEnvd(b)
		ctx := context.Background()
		line := "a line of text, like most files an agent reads\n"
		data := []byte(strings.Repeat(line, 1<<20/len(line)+1)[:1<<20])
		if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "bench/1mib.bin", Data: data}}); err != nil {
			b.Fatal(err)
		}
		cpu := cpuTime()
		for b.Loop() {
			r, err := sb.Open(ctx, "bench/1mib.bin")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			r.Close()
			if err != nil || n != 1<<20 {
				b.Fatalf("read %d bytes, %v", n, err)
			}
		}
		b.SetBytes(1 << 20)
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "client-ms/MiB")
		b.ReportMetric(float64(w.dials.Load()), "dials")
	})
}

// byteCounter counts what is written to it.
type byteCounter int

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}
