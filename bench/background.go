//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The machine is shared: other processes (other tests, builds) steal CPU
// from a scenario and make its figures noisy. backgroundMeter measures the
// CPU time of user processes outside the lab's namespaces (not this
// process, not kernel threads) over a window, so the report shows how
// quiet each scenario's machine was.
type backgroundMeter struct {
	mine  map[uint64]bool // the lab's network namespaces, by inode
	self  int
	start time.Time
	t0    map[int]float64
}

func newBackgroundMeter(prefix string) *backgroundMeter {
	m := &backgroundMeter{mine: map[uint64]bool{}, self: os.Getpid()}
	names, _ := filepath.Glob("/var/run/netns/" + prefix + "-*")
	for _, n := range names {
		var st syscall.Stat_t
		if syscall.Stat(n, &st) == nil {
			m.mine[st.Ino] = true
		}
	}
	return m
}

// foreign returns the utime+stime of every user process outside the lab.
func (m *backgroundMeter) foreign() map[int]float64 {
	out := map[int]float64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == m.self || pid == 2 {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == "2" { // a kernel thread (parent kthreadd)
				continue
			}
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && m.mine[st.Ino] {
			continue
		}
		if v, err := ParsePidStat(s); err == nil {
			out[pid] = v
		}
	}
	return out
}

func (m *backgroundMeter) begin() {
	m.start = time.Now()
	m.t0 = m.foreign()
}

// end returns the other processes' CPU time over the window as a share of
// all CPUs (percent).
func (m *backgroundMeter) end() float64 {
	wall := time.Since(m.start).Seconds()
	var used float64
	for pid, t1 := range m.foreign() {
		used += t1 - m.t0[pid] // a process started in the window counts whole
	}
	return 100 * used / (wall * float64(numCPU()))
}
