//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Capture is a running packet capture (tcpdump -w) on one link of the lab,
// for tests such as "no packet leaked onto the client side".
type Capture struct {
	File string // the pcap file
	l    *Lab
	name string
}

var captureSeq atomic.Uint64

// Capture starts tcpdump on a role's interface (e.g. "router", "eth0": the
// client-side link) with a pcap-filter expression ("" for everything), and
// returns once tcpdump listens. Stop ends it; Down does too.
func (l *Lab) Capture(ctx context.Context, role, iface, filter string) (*Capture, error) {
	bin, err := lookPath("tcpdump")
	if err != nil {
		return nil, errors.New("lab: tcpdump is not installed (Debian package tcpdump)")
	}
	n := captureSeq.Add(1)
	c := &Capture{l: l, name: fmt.Sprintf("tcpdump-%s-%s-%d", role, iface, n)}
	c.File = filepath.Join(l.Dir, c.name+".pcap")
	// -U: write each packet at once; -Z root: keep the rights to the work
	// directory (tcpdump otherwise becomes user tcpdump)
	args := []string{"-i", iface, "-n", "-U", "--immediate-mode", "-Z", "root", "-w", c.File}
	if filter != "" {
		args = append(args, filter)
	}
	if err := l.Spawn(c.name, role, bin, args...); err != nil {
		return nil, err
	}
	err = l.waitFor(ctx, c.name, "the capture", func() (bool, error) {
		return strings.Contains(l.Log(c.name), "listening on"), nil
	})
	if err != nil {
		l.Kill(c.name)
		return nil, err
	}
	return c, nil
}

// Stop ends the capture once its file has stopped growing (200 ms
// without a new packet, 3 s at most), so packets in flight make it into
// the file. tcpdump writes each packet as it reads it (-U), and on a
// loaded machine it reads late: a fixed 100 ms pause once lost the last
// fragments of a test's exchange.
func (c *Capture) Stop() {
	const quiet, most = 200 * time.Millisecond, 3 * time.Second
	start := time.Now()
	size, since := int64(-1), start
	for time.Since(start) < most {
		if st, err := os.Stat(c.File); err == nil && st.Size() != size {
			size, since = st.Size(), time.Now()
		} else if time.Since(since) >= quiet {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	c.l.Kill(c.name)
}

// Packets stops the capture if it still runs and returns its packets, one
// line each, as tcpdump -n -r prints them.
func (c *Capture) Packets(ctx context.Context) ([]string, error) {
	if c.l.Running(c.name) {
		c.Stop()
	}
	bin, err := lookPath("tcpdump")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, bin, "-n", "-r", c.File).Output()
	if err != nil {
		return nil, fmt.Errorf("lab: tcpdump -r %s: %w", c.File, err)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines, nil
}
