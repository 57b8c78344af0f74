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
}
