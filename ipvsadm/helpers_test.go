package ipvsadm

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// kernelSchedulers are the schedulers Debian's 6.1 kernel has (the oracle:
// twos is not built), plus "none", which the kernel accepts for a service
// without scheduler (golden 201: -s none).
var kernelSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "none"}

// engineGaps records the kernel names the engine itself lacked when the
// tests registered placeholders; TestKnownEngineGaps reports them.
var engineGaps []string

type firstDest struct{}

func (firstDest) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	for _, d := range svc.Dests() {
		if d.Weight() > 0 && !d.Overloaded() {
			return d
		}
	}
	return nil
}

type testPE struct{ name string }

func (p testPE) Name() string                                { return p.name }
func (testPE) Fill(*ipvs.Flow, []byte) (key []byte, ok bool) { return nil, true }

var registerOnce sync.Once

// registerTestEngines makes sure the kernel's scheduler names and the sip
// persistence engine resolve. Real implementations (package ipvs/sched,
// imported by sched_test.go when it exists) win; placeholders fill gaps,
// since the CLI only needs the names to exist.
func registerTestEngines() {
	registerOnce.Do(func() {
		have := map[string]bool{}
		for _, n := range ipvs.Schedulers() {
			have[n] = true
		}
		for _, n := range kernelSchedulers {
			if !have[n] {
				if n == "none" {
					engineGaps = append(engineGaps, `scheduler "none" (the kernel's built-in no-scheduler service)`)
				}
				ipvs.RegisterScheduler(n, func(*ipvs.Service) (ipvs.Scheduler, error) { return firstDest{}, nil })
			}
		}
		e, _ := ipvs.New(ipvs.Config{MaxConns: 16})
		probe := ipvs.ServiceConfig{ServiceKey: ipvs.ServiceKey{FWMark: 1}, Scheduler: "rr", PE: "sip"}
		if ipvs.CodeOf(e.AddService(probe)) == ipvs.ErrNotFound {
			engineGaps = append(engineGaps, `persistence engine "sip"`)
			ipvs.RegisterPersistenceEngine(testPE{"sip"})
		}
	})
}

// testInterfaces are the interfaces of the oracle VM's daemon cases.
func testInterfaces(name string) (int, bool) {
	switch name {
	case "lo":
		return 65536, true
	case "sync0":
		return 1500, true
	case "sync1":
		return 9000, true
	}
	return 0, false
}

func testResolver(hosts string) *SystemResolver {
	if hosts == "" {
		hosts = filepath.Join("testdata", "etc", "hosts")
	}
	return &SystemResolver{HostsFile: hosts, ServicesFile: filepath.Join("testdata", "etc", "services")}
}

type testEnv struct {
	t       testing.TB
	engine  *ipvs.Engine
	backend *LocalBackend
	res     Resolver
}

func newTestEnv(t testing.TB, hosts string) *testEnv {
	t.Helper()
	registerTestEngines()
	e, err := ipvs.New(ipvs.Config{MaxConns: 1 << 16, HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := NewLocalBackend(e)
	b.Interface = testInterfaces
	return &testEnv{t: t, engine: e, backend: b, res: testResolver(hosts)}
}

// run runs one command line with stdin and returns stdout, stderr, status.
func (env *testEnv) run(stdin []byte, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	cli := &CLI{Backend: env.backend, Resolver: env.res, Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb}
	rc := cli.Run(context.Background(), append([]string{"ipvsadm"}, args...))
	return out.String(), errb.String(), rc
}

// mustRun runs a command that must succeed silently.
func (env *testEnv) mustRun(args ...string) {
	env.t.Helper()
	out, errs, rc := env.run(nil, args...)
	if rc != 0 || errs != "" {
		env.t.Fatalf("ipvsadm %v: rc=%d stdout=%q stderr=%q", args, rc, out, errs)
	}
}

// TestKnownEngineGaps lists what the kernel has and the engine lacked, so
// that the goldens using them could run only thanks to test placeholders.
func TestKnownEngineGaps(t *testing.T) {
	registerTestEngines()
	for _, g := range engineGaps {
		t.Logf("engine lacks %s; the tests registered a placeholder", g)
	}
}
