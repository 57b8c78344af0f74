package sched

import (
	"sync/atomic"

	"github.com/govs/gvs/ipvs"
)

// sh is Source Hashing (ip_vs_sh.c): a client's address, and with sh-port
// its source port, picks one of 256 buckets (IP_VS_SH_TAB_BITS 8, Debian's
// CONFIG_IP_VS_SH_TAB_BITS), and the bucket names the server, so a client
// keeps its server as long as the destination list does not change.
//
// The table (ip_vs_sh_reassign) is filled bucket by bucket walking the
// destination list (newest first) round and round, each destination taking
// as many consecutive buckets as its weight, and at least one (a weight-0
// server keeps its bucket: its clients are refused rather than moved). It is
// rebuilt on every add, delete and edit of a destination.
//
// The bucket of a client is (offset + hash_32(port + fold(addr), 8)) & 255,
// offset 0 (ip_vs_sh_hashkey), with the address folded as foldAddr does and
// port 0 unless sh-port (then the TCP/UDP/SCTP source port in host order).
// A bucket whose server has weight <= 0 or is overloaded refuses the
// connection; with sh-fallback the kernel instead probes the buckets for
// offsets ihash, ihash+1, ... (mod 256) with the same hash, taking the
// first available server and giving up at an empty bucket
// (ip_vs_sh_get_fallback).
type sh struct {
	table atomic.Pointer[shTable]
}

const (
	shTabBits = 8
	shTabSize = 1 << shTabBits
	shTabMask = shTabSize - 1
)

type shTable [shTabSize]*ipvs.Dest

func init() { register("sh", func(*ipvs.Service) ipvs.Scheduler { return &sh{} }) }

// UpdateDests rebuilds the table (ip_vs_sh_reassign).
func (s *sh) UpdateDests(svc *ipvs.Service) {
	var t shTable
	list := svc.Dests()
	if len(list) > 0 {
		p, count := 0, int32(0)
		for i := range t {
			d := list[p]
			t[i] = d
			// don't move to the next destination until its weight is filled
			if count++; count >= d.Weight() {
				p = (p + 1) % len(list)
				count = 0
			}
		}
	}
	s.table.Store(&t)
}

// shBucket is ip_vs_sh_hashkey.
func shBucket(fold uint32, port uint16, offset uint32) uint32 {
	return (offset + hash32(uint32(port)+fold, shTabBits)) & shTabMask
}

// shUnavailable is the kernel's is_unavailable for sh (and mh).
func shUnavailable(d *ipvs.Dest) bool {
	return d.Weight() <= 0 || d.Overloaded()
}

func (s *sh) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	flags := svc.Flags()
	var port uint16
	if flags&ipvs.SvcSHPort != 0 {
		port = flowPort(f)
	}
	fold := foldAddr(&f.Src, f.Family, svc.Family())
	ihash := shBucket(fold, port, 0)
	d := t[ihash]
	if d == nil {
		return nil
	}
	if !shUnavailable(d) {
		return d
	}
	if flags&ipvs.SvcSHFallback == 0 {
		return nil
	}
	// ip_vs_sh_get_fallback: loop around the table from the original hash
	for off := uint32(0); off < shTabSize; off++ {
		d = t[shBucket(fold, port, (off+ihash)%shTabSize)]
		if d == nil {
			return nil
		}
		if !shUnavailable(d) {
			return d
		}
	}
	return nil
}
