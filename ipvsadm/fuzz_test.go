package ipvsadm

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FuzzParseArgs feeds arbitrary argument vectors (arguments separated by
// NUL bytes, which C arguments cannot contain) to the parser and then to a
// CLI on a LocalBackend. Every vector must end in a command or in one of
// ipvsadm's errors (exit 2 from ipvsadm's checks, 255 from popt), and
// running it must not panic. The seed corpus is every command line of the
// oracle's goldens plus testdata/fuzz/FuzzParseArgs.
func FuzzParseArgs(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "oracle", "[0-9]*.txt"))
	for _, p := range paths {
		for _, r := range parseGolden(f, p) {
			if w, ok := shellWords(r.cmd); ok && len(w) > 1 && w[0] == "ipvsadm" {
				f.Add([]byte(strings.Join(w[1:], "\x00")))
			}
		}
	}
	res := &SystemResolver{HostsFile: filepath.Join("testdata", "etc", "hosts"), ServicesFile: filepath.Join("testdata", "etc", "services")}
	env := newTestEnv(f, "")
	env.res = res
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, data []byte) {
		argv := append([]string{"ipvsadm"}, strings.Split(string(data), "\x00")...)
		ce, err := ParseArgs(argv, res)
		switch {
		case err == nil && ce == nil:
			t.Fatal("no command and no error")
		case err != nil:
			ee, ok := err.(*ExitError)
			if !ok {
				t.Fatalf("error %T %v, want *ExitError", err, err)
			}
			if (ee.Code != 2 && ee.Code != 255) || !strings.HasSuffix(ee.Stderr, "\n") {
				t.Fatalf("exit %d %q", ee.Code, ee.Stderr)
			}
			return
		}
		if ce.cmd == cmdRestore {
			return
		}
		// run it; commands that change state share one backend, so flush now
		// and then to keep it small
		mu.Lock()
		defer mu.Unlock()
		var out, errb bytes.Buffer
		cli := &CLI{Backend: env.backend, Resolver: res, Stdin: bytes.NewReader(nil), Stdout: &out, Stderr: &errb}
		rc := cli.Run(context.Background(), argv)
		if rc != 0 && errb.Len() == 0 {
			t.Fatalf("exit %d without a message", rc)
		}
		if len(env.engine.Services()) > 64 {
			_ = env.engine.Flush()
		}
	})
}

// FuzzRestoreStream feeds arbitrary restore streams: never a panic, and a
// failed restore changes nothing.
func FuzzRestoreStream(f *testing.F) {
	f.Add([]byte("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 1.2.3.4 -m\n"))
	f.Add([]byte("-C\n-A -t 10.0.0.9:80\n-A -t 10.0.0.9:80\n"))
	f.Add([]byte(bigRules(3, 2)))
	f.Add([]byte("ipvsadm\n\n-L -n\n-S\n--set 1 2 3\n-v\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env := newTestEnv(t, "")
		seedState(env)
		before := env.state()
		_, _, rc := env.run(data, "-R")
		if rc != 0 {
			if after := env.state(); after != before {
				t.Fatalf("failed restore (rc %d) changed the state", rc)
			}
		}
	})
}
