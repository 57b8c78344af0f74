package bench

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// UserHZ is the unit of /proc/stat and /proc/PID/stat times (USER_HZ,
// 100 on every Linux architecture Go runs on).
const UserHZ = 100

// MachineCPU is the aggregate "cpu" line of /proc/stat, in seconds.
type MachineCPU struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal float64
}

// Busy is the time not idle (user, nice, system, irq, softirq, steal).
func (c MachineCPU) Busy() float64 {
	return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
}

// Sub returns c - o.
func (c MachineCPU) Sub(o MachineCPU) MachineCPU {
	return MachineCPU{c.User - o.User, c.Nice - o.Nice, c.System - o.System, c.Idle - o.Idle,
		c.IOWait - o.IOWait, c.IRQ - o.IRQ, c.SoftIRQ - o.SoftIRQ, c.Steal - o.Steal}
}

// ParseProcStat reads the aggregate cpu line of /proc/stat's text.
func ParseProcStat(s string) (MachineCPU, error) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var v [8]float64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return MachineCPU{}, err
			}
			v[i] = float64(n) / UserHZ
		}
		return MachineCPU{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}, nil
	}
	return MachineCPU{}, errors.New("/proc/stat: no cpu line")
}

// ParsePidStat returns a process's utime+stime in seconds from the text of
// /proc/PID/stat (fields 14 and 15; the command name may hold spaces and
// parentheses, so fields are counted after the last ')').
func ParsePidStat(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, f[11]
	if len(f) < 13 {
		return 0, errors.New("/proc/PID/stat: too few fields")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("/proc/PID/stat: bad times")
	}
	return float64(u+st) / UserHZ, nil
}

// ReadMachineCPU reads /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	return ParseProcStat(string(b))
}

// ReadProcessCPU reads a process's utime+stime (all its threads), seconds.
func ReadProcessCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return ParsePidStat(string(b))
}
