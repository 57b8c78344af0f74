package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

// theLab is shared by the tests: building it costs seconds; each test
// starts its own gvsd with its own configuration.
var (
	theLab  *lab.Lab
	skipWhy string
)

func TestMain(m *testing.M) {
	if err := lab.Available(); err != nil {
		skipWhy = err.Error()
	} else if err := lab.ServicesAvailable(); err != nil {
		skipWhy = err.Error()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		// One lab per test process: lab.Up first removes whatever carries
		// its prefix, so two runs sharing one would tear each other down.
		prefix := fmt.Sprintf("gvse%d", os.Getpid())
		cleanStaleLabs()
		l, err := lab.Up(ctx, lab.Options{Prefix: prefix, Servers: 3, BigFile: 200 << 20})
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: lab:", err)
			os.Exit(1)
		}
		theLab = l
	}
	code := m.Run()
	if theLab != nil {
		theLab.Down()
	}
	os.Exit(code)
}

func needLab(t *testing.T) *lab.Lab {
	t.Helper()
	if theLab == nil {
		t.Skip("e2e: " + skipWhy + " (CI runs these as root with the packages installed)")
	}
	return theLab
}

// director starts gvsd with a configuration (and more gvsd arguments) for
// one test and stops it at the end.
func director(t *testing.T, config string, args ...string) *lab.Director {
	t.Helper()
	l := needLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := l.StartDirector(ctx, "dir", []byte(config), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("gvsd log:\n%s", d.Log())
		}
	})
	return d
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func adm(t *testing.T, d *lab.Director, args ...string) string {
	t.Helper()
	out, err := d.Adm(ctx(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// field returns the value after key= in an echo/whoami line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// cleanStaleLabs removes the labs of earlier test processes that no longer
// run (killed before their teardown).
func cleanStaleLabs() {
	entries, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "gvse")
		pid, isLab := strings.CutSuffix(rest, "-client")
		if !ok || !isLab {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n == os.Getpid() {
			continue
		}
		if err := syscall.Kill(n, 0); errors.Is(err, syscall.ESRCH) {
			lab.Clean("gvse" + pid)
		}
	}
}
