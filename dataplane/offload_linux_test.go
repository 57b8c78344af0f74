//go:build linux

package dataplane

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A late or long offloader step is logged with how late and how long; an
// ordinary one is not.
func TestOffloaderSlow(t *testing.T) {
	var buf bytes.Buffer
	o := &offloader{log: slog.New(slog.NewTextHandler(&buf, nil))}
	now := time.Now()
	o.slow("sweep", now, now)
	if buf.Len() != 0 {
		t.Fatalf("an ordinary step logged: %s", buf.String())
	}
	o.slow("sweep", now.Add(-300*time.Millisecond), now)
	if out := buf.String(); !strings.Contains(out, "offloader was slow") || !strings.Contains(out, "step=sweep") || !strings.Contains(out, "late=300ms") {
		t.Fatalf("a late step: %q", out)
	}
	if n := o.stats.slowSteps.Load(); n != 1 {
		t.Fatalf("slow steps counted %d, want 1", n)
	}
}

// Every flow left in user space for want of an entry is counted; only
// the first is logged.
func TestOffloaderRefuse(t *testing.T) {
	var buf bytes.Buffer
	o := &offloader{log: slog.New(slog.NewTextHandler(&buf, nil))}
	o.refuse(errFlowMapFull)
	o.refuse(errFlowMapFull)
	if n, logged := o.stats.refused.Load(), strings.Count(buf.String(), "refused"); n != 2 || logged != 1 {
		t.Fatalf("refused %d, logged %d times, want 2 and 1", n, logged)
	}
}
