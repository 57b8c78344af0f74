//go:build linux

package dataplane

import (
	"os"

	"github.com/govs/gvs/dataplane/tcencap"
)

// openKernelEncap loads the TC program that encapsulates tunnelled
// super-frames (IPIP, GUE, GRE over IPv4) and attaches it to the egress of every attached interface. Where the
// kernel refuses (no privileges, no BPF or TCX), it says so once and the
// workers segment super-frames in user space as before. GVS_TC_ENCAP=off
// turns it off (for measurements).
func (d *Dataplane) openKernelEncap() {
	if os.Getenv("GVS_TC_ENCAP") == "off" {
		d.log.Info("kernel encapsulation of tunnelled super-frames off (GVS_TC_ENCAP=off): segmenting them in user space")
		return
	}
	e, err := tcencap.Open()
	if err == nil {
		for _, x := range d.ifs {
			if err = e.Attach(x.index); err != nil {
				break
			}
		}
		if err != nil {
			e.Close()
		}
	}
	if err != nil {
		d.log.Warn("kernel encapsulation of tunnelled super-frames unavailable: segmenting them in user space", "err", err)
		return
	}
	d.kenc = e
	d.closers = append(d.closers, e.Close)
}
