//go:build linux

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Command returns a command that runs inside a role's namespace (through
// ip netns exec, which also mounts the namespace's /sys).
func (l *Lab) Command(ctx context.Context, role, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.NS(role), name}, args...)...)
}

// Exec runs a command in a role's namespace and returns its combined
// output.
func (l *Lab) Exec(ctx context.Context, role, name string, args ...string) (string, error) {
	out, err := l.Command(ctx, role, name, args...).CombinedOutput()
	return string(out), err
}

// Run runs a command (argv) in a role's namespace and returns its standard
// output; a failure's error carries the standard error.
func (l *Lab) Run(ctx context.Context, role string, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("lab: Run: no command")
	}
	cmd := l.Command(ctx, role, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s in %s: %v: %s", strings.Join(argv, " "), role, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// proc is a background process this Lab started.
type proc struct {
	name string
	pid  int
	done chan struct{} // closed once it has exited and been reaped
}

// pidRecord is a process as its pid file records it. The start time
// (clock ticks since boot) tells the process from a later one that reused
// its pid.
type pidRecord struct {
	name  string
	pid   int
	start uint64
}

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

func (l *Lab) pidFile(name string) string { return filepath.Join(l.runDir, "pids", name+".pid") }

// Spawn starts a long-running process in a role's namespace, in a session
// of its own (it outlives the calling process; Kill and Down end it and its
// children). Its output goes to <Dir>/<name>.log and its pid to a pid file,
// so Down, Clean and another gvs-lab process find it again.
func (l *Lab) Spawn(name, role, bin string, args ...string) error {
	if name == "" || strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("lab: bad process name %q", name)
	}
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		return errors.New("lab: the lab is down")
	}
	if p := l.procs[name]; p != nil && !p.exited() {
		l.mu.Unlock()
		return fmt.Errorf("lab: %s is already running (pid %d)", name, p.pid)
	}
	l.mu.Unlock()
	log, err := os.Create(filepath.Join(l.Dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.NS(role), bin}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("lab: start %s: %w", name, err)
	}
	p := &proc{name: name, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		log.Close()
		close(p.done)
	}()
	// ip netns exec execs the command: the pid stays the command's
	rec := pidRecord{name: name, pid: p.pid, start: startTime(p.pid)}
	if err := os.WriteFile(l.pidFile(name), []byte(fmt.Sprintf("%d %d\n", rec.pid, rec.start)), 0o600); err != nil {
		rec.kill(sigKill)
		return err
	}
	l.mu.Lock()
	l.procs[name] = p
	l.mu.Unlock()
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill stops a spawned process and its children: SIGTERM, then SIGKILL if
// it is still there after three seconds. It also stops one another process
// (gvs-lab up) spawned under that name.
func (l *Lab) Kill(name string) {
	l.mu.Lock()
	p := l.procs[name]
	delete(l.procs, name)
	l.mu.Unlock()
	if p != nil {
		if !p.exited() {
			syscall.Kill(-p.pid, sigTerm)
			select {
			case <-p.done:
			case <-time.After(3 * time.Second):
				syscall.Kill(-p.pid, sigKill)
				<-p.done
			}
		}
	} else if rec, ok := readPidFile(l.pidFile(name)); ok {
		rec.stop(3 * time.Second)
	}
	os.Remove(l.pidFile(name))
}

// Signal sends a signal to a spawned process (not its children).
func (l *Lab) Signal(name string, sig syscall.Signal) error {
	l.mu.Lock()
	p := l.procs[name]
	l.mu.Unlock()
	if p != nil {
		if p.exited() {
			return fmt.Errorf("lab: %s has exited", name)
		}
		return syscall.Kill(p.pid, sig)
	}
	rec, ok := readPidFile(l.pidFile(name))
	if !ok || !rec.alive() {
		return fmt.Errorf("lab: %s is not running", name)
	}
	return syscall.Kill(rec.pid, sig)
}

// Running reports whether a spawned process is still there.
func (l *Lab) Running(name string) bool {
	l.mu.Lock()
	p := l.procs[name]
	l.mu.Unlock()
	if p != nil {
		return !p.exited()
	}
	rec, ok := readPidFile(l.pidFile(name))
	return ok && rec.alive()
}

// Log returns a spawned process's output so far.
func (l *Lab) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.Dir, name+".log"))
	return string(b)
}

// Process is a background process of the lab, as its pid file records it.
type Process struct {
	Name  string
	Pid   int
	Alive bool
}

// Processes lists the lab's background processes.
func (l *Lab) Processes() []Process {
	var ps []Process
	for _, rec := range recordedProcs(l.runDir) {
		ps = append(ps, Process{Name: rec.name, Pid: rec.pid, Alive: rec.alive()})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// stopAll stops every process this Lab started, all at once: SIGTERM, two
// seconds' grace, SIGKILL.
func (l *Lab) stopAll() {
	l.mu.Lock()
	procs := l.procs
	l.procs = map[string]*proc{}
	l.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			syscall.Kill(-p.pid, sigTerm)
		}
	}
	deadline := time.After(2 * time.Second)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
			syscall.Kill(-p.pid, sigKill)
			<-p.done
		}
	}
}

func readPidFile(path string) (pidRecord, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidRecord{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return pidRecord{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 1 {
		return pidRecord{}, false
	}
	return pidRecord{name: strings.TrimSuffix(filepath.Base(path), ".pid"), pid: pid, start: start}, true
}

func recordedProcs(runDir string) []pidRecord {
	files, _ := filepath.Glob(filepath.Join(runDir, "pids", "*.pid"))
	var recs []pidRecord
	for _, f := range files {
		if rec, ok := readPidFile(f); ok {
			recs = append(recs, rec)
		}
	}
	return recs
}

// alive reports whether the recorded process still runs (and is not a
// later process with the same pid).
func (r pidRecord) alive() bool {
	st := startTime(r.pid)
	return st != 0 && st == r.start && !zombie(r.pid)
}

// kill signals the recorded process's group, if the process is still the
// one recorded.
func (r pidRecord) kill(sig syscall.Signal) {
	if r.alive() {
		syscall.Kill(-r.pid, sig)
		syscall.Kill(r.pid, sig)
	}
}

// stop ends a process this Lab did not start (so cannot wait for):
// SIGTERM, polling, then SIGKILL.
func (r pidRecord) stop(grace time.Duration) {
	r.kill(sigTerm)
	for end := time.Now().Add(grace); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !r.alive() {
			return
		}
	}
	r.kill(sigKill)
}

// stopRecorded ends processes this Lab did not start, all at once:
// SIGTERM, up to grace for them to go, then SIGKILL.
func stopRecorded(recs []pidRecord, grace time.Duration) {
	for _, r := range recs {
		r.kill(sigTerm)
	}
	for end := time.Now().Add(grace); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		alive := false
		for _, r := range recs {
			alive = alive || r.alive()
		}
		if !alive {
			return
		}
	}
	for _, r := range recs {
		r.kill(sigKill)
	}
}

// startTime reads a process's start time (field 22 of /proc/PID/stat), or
// 0 if there is no such process.
func startTime(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// the command name (field 2) is in parentheses and may hold spaces
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// killNetnsProcs kills every process whose network namespace is the named
// one (what ip netns pids finds), never this process.
func killNetnsProcs(ns string) {
	var target syscall.Stat_t
	if err := syscall.Stat("/var/run/netns/"+ns, &target); err != nil {
		return
	}
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Dev == target.Dev && st.Ino == target.Ino {
			syscall.Kill(pid, sigKill)
		}
	}
}
