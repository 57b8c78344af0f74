//go:build linux

package dataplane

import (
	"os"

	"github.com/govs/gvs/dataplane/tcencap"
)

// openKernelEncap loads the TC program that encapsulates tunnelled
// super-frames (IPIP, GUE, GRE over IPv4 or IPv6) and attaches it to the
// egress of every attached interface. Without it the workers segment
// super-frames in user space. GVS_TC_ENCAP=off turns it off.
func (d *Dataplane) openKernelEncap() {
	e, ok := openOnInterfaces(d, "GVS_TC_ENCAP", "kernel encapsulation of tunnelled super-frames", "segmenting them in user space", tcencap.Open)
	if ok {
		d.kenc = e
	}
}

// kernelProgram is a loaded BPF program that goes on interfaces.
type kernelProgram interface {
	Attach(ifindex int) error
	Close() error
}

// turnedOff says whether env=off in gvsd's environment turns a kernel
// feature off (for measurements), and logs it once when it does.
func (d *Dataplane) turnedOff(env, what, without string) bool {
	if os.Getenv(env) != "off" {
		return false
	}
	d.log.Info(what+" off ("+env+"=off): "+without, "env", env)
	return true
}

// openOnInterfaces opens a kernel program and attaches it to every
// data-path interface, and has it closed with the data path. It says once
// why there is none: env=off in gvsd's environment (for measurements), or
// the kernel refusing it (no privileges, no BPF or TCX); what and without
// name the feature and what the data path does instead.
func openOnInterfaces[P kernelProgram](d *Dataplane, env, what, without string, open func() (P, error)) (P, bool) {
	var none P
	if d.turnedOff(env, what, without) {
		return none, false
	}
	p, err := open()
	if err == nil {
		for _, x := range d.ifs {
			if err = p.Attach(x.index); err != nil {
				p.Close()
				break
			}
		}
	}
	if err != nil {
		d.log.Warn(what+" unavailable: "+without, "err", err)
		return none, false
	}
	d.closers = append(d.closers, p.Close)
	return p, true
}
