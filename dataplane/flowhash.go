//go:build linux

package dataplane

import "github.com/govs/gvs/dataplane/flowhash"

// openFlowHash loads the program that gives frames to the workers by
// flow (package flowhash) in place of the kernel's hash fanout, whose
// flow dissector runs for every frame. Where the kernel refuses it the
// hash fanout does the same job, at that cost. GVS_FLOW_HASH=off turns it
// off (for measurements).
func (d *Dataplane) openFlowHash() {
	const what, without = "flow-hash fanout program", "the kernel's hash fanout spreads frames"
	if d.cfg.Fanout != FanoutByFlow || d.turnedOff("GVS_FLOW_HASH", what, without) {
		return
	}
	p, err := flowhash.Open()
	if err != nil {
		d.log.Warn(what+" unavailable: "+without, "err", err)
		return
	}
	d.flowHash = p
	d.closers = append(d.closers, p.Close)
}

// fanoutFD is the fanout program for the rings (0: the kernel's choice).
func (d *Dataplane) fanoutFD() int {
	if d.flowHash == nil {
		return 0
	}
	return d.flowHash.FD()
}
