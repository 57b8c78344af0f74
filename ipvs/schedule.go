package ipvs

// The new-connection path: find the service, pick a real server (through a
// persistence template when the service is persistent), create the entry.

const ftpPort = 21

// schedule is IPVS's conn_schedule + ip_vs_schedule for a packet that
// matched no connection. h is the flow's connection hash.
func (w *Worker) schedule(f *Flow, pi *PacketInfo, now int64, opts *Options, h uint64) Verdict {
	e := w.e
	svc := e.lookupService(f)
	if svc == nil {
		return Verdict{Action: ActionPass}
	}
	switch f.Protocol {
	case ProtoTCP:
		// a later packet of a connection a kernel scheduler forwarded
		// (its SYN's record was lost) is taken as the SYN would have been
		if pi.TCPFlags&TCPRst != 0 || (pi.TCPFlags&TCPSyn == 0 && !opts.SloppyTCP && pi.KernelDest == 0) {
			return w.drop(DropNoConn)
		}
	case ProtoSCTP:
		if pi.SCTPChunk == SCTPChunkAbort || (pi.SCTPChunk != SCTPChunkInit && !opts.SloppySCTP) {
			return w.drop(DropNoConn)
		}
	}
	if e.defense.shouldDropPacket() {
		return w.drop(DropDefense)
	}
	p := svc.params.Load()
	onePacket := p.flags&SvcOnePacket != 0 && f.Protocol == ProtoUDP

	var dest *Dest
	var ctl ConnRef
	var dport uint16
	if p.flags&SvcPersistent != 0 {
		var r DropReason
		dest, ctl, r = w.persistentDest(svc, p, f, pi, now, opts)
		if r != DropNone {
			return w.drop(r)
		}
		if dest == nil {
			return Verdict{Action: ActionReject}
		}
		dport = f.DstPort
		if dport == svc.key.Port && dest.port != 0 {
			dport = dest.port
		}
	} else {
		if svc.key.FWMark == 0 && f.DstPort != svc.key.Port {
			// port-zero services are only for persistence (kernel logs and rejects)
			return Verdict{Action: ActionReject}
		}
		if d := e.dest(pi.KernelDest); d != nil && d.svc == svc && d.Available() {
			dest = d
			if c, ok := p.sched.(Cycler); ok {
				c.Advance(svc) // the kernel's pick, made here too: the engine's position follows the kernel's
			}
		} else if f.Protocol == ProtoTCP && pi.TCPFlags&TCPSyn == 0 && !opts.SloppyTCP {
			return w.drop(DropNoConn) // mid-connection: never to a server of the engine's choosing
		} else if p.sched != nil {
			dest = p.sched.Schedule(svc, f, now)
		}
		if dest == nil {
			return Verdict{Action: ActionReject}
		}
		dport = dest.port
		if dport == 0 {
			dport = f.DstPort
		}
	}

	fwd := dest.fwd.Load()
	if onePacket {
		// One-packet scheduling: the entry would be expired at once, so it
		// is never stored; the connection is still counted.
		e.dropControl(ctl)
		w.countConn(dest)
		w.countIn(dest, pi.Bytes)
		v := Verdict{Action: ActionForward, Forwarding: *fwd, DestFamily: dest.family, Dest: dest.addr,
			DestPort: dport, VAddr: f.Dst, VPort: f.DstPort, DestID: dest.id, NewConn: true}
		return v
	}

	sh, _ := e.table.shardOf(h)
	sh.mu.Lock()
	if idx := sh.findIn(uint32(h), f); idx != 0 {
		// Another worker created it meanwhile: follow that one.
		sh.mu.Unlock()
		e.dropControl(ctl)
		return w.In(f, pi, now)
	}
	srcCounted := false
	if opts.PerSourceLimit != 0 {
		if !e.sources.acquire(f.Family, f.Src, opts.PerSourceLimit) {
			sh.mu.Unlock()
			e.dropControl(ctl)
			return w.drop(DropSourceLimit)
		}
		srcCounted = true
	}
	idx := e.insertConn(sh, uint32(h))
	if idx == 0 {
		sh.mu.Unlock()
		if srcCounted {
			e.sources.release(f.Family, f.Src)
		}
		e.dropControl(ctl)
		return w.drop(DropTableFull)
	}
	c := sh.entry(idx)
	c.caddr, c.cport = f.Src, f.SrcPort
	c.vaddr, c.vport = f.Dst, f.DstPort
	c.daddr, c.dport = dest.addr, dport
	c.proto, c.af, c.daf = f.Protocol, f.Family, dest.family
	c.fwmark = f.Mark
	c.control = ctl
	c.flags = ConnFlags(fwd.Method) | ConnInactive
	if fwd.Method != Masq {
		c.flags |= ConnNoOutput
	}
	if srcCounted {
		c.flags |= connSrcCounted
	}
	c.destID = dest.id
	dest.bindConn(false, true)
	sh.indexInsert(c.hash, idx)
	w.countConn(dest)
	w.countIn(dest, pi.Bytes)
	assured := e.transition(c, dirInput, pi, dest)
	c.expires = expiryTick(now, c.timeout)
	c.inPkts = 1
	sh.wheelAdd(idx, c)
	v := verdictOf(c, dest)
	v.NewConn = true
	sh.mu.Unlock()
	if assured {
		e.assureTemplate(ctl)
	}
	return v
}

// insertConn allocates an entry in sh (locked) within the table's cap; 0 when full.
func (e *Engine) insertConn(sh *shard, tag uint32) uint32 {
	t := e.table
	if t.count.Add(1) > t.max {
		t.count.Add(-1)
		return 0
	}
	idx := sh.alloc()
	if idx == 0 {
		t.count.Add(-1)
		return 0
	}
	sh.entry(idx).hash = tag
	return idx
}

// fwmarkAddr is the stand-in virtual address of firewall-mark templates.
func fwmarkAddr(mark uint32) Addr {
	return AddrFrom4([4]byte{byte(mark >> 24), byte(mark >> 16), byte(mark >> 8), byte(mark)})
}

// persistentDest finds or creates the persistence template for the flow's
// client network (ip_vs_sched_persist) and returns its destination, with
// the template's reference already taken for the new connection.
func (w *Worker) persistentDest(svc *Service, p *serviceParams, f *Flow, pi *PacketInfo, now int64, opts *Options) (*Dest, ConnRef, DropReason) {
	e := w.e
	// A persistence engine adds its own key (the SIP Call-ID) to the
	// template's; a packet it cannot key is dropped, as in IPVS.
	var peHash uint64
	var peKey []byte
	if p.pe != nil {
		k, ok := p.pe.Fill(f, pi.Payload)
		if !ok {
			return nil, 0, DropPersistence
		}
		peKey, peHash = k, peKeyHash(k)
	}
	snet := f.Src.Mask(svc.key.Family, p.netmask)
	proto, vaddr, vport := f.Protocol, f.Dst, uint16(0)
	if f.DstPort == svc.key.Port {
		// <proto, caddr, 0, vaddr, vport> (FTP: vport 0, so data follows control)
		if svc.key.Port != ftpPort {
			vport = f.DstPort
		}
	} else if svc.key.FWMark != 0 {
		// <IPPROTO_IP, caddr, 0, fwmark, 0>: one template across the mark's ports
		proto, vaddr = ProtoIP, fwmarkAddr(svc.key.FWMark)
	}
	// otherwise a port-zero service: <proto, caddr, 0, vaddr, 0>

	h := e.table.hashKey(proto, f.Family, &snet, 0, true) ^ peHash
	sh, si := e.table.shardOf(h)
	tag := uint32(h)
	match := func(c *connEntry) bool {
		return c.flags&ConnTemplate != 0 && c.cport == 0 && c.vport == vport && c.proto == proto &&
			c.af == f.Family && c.caddr == snet && c.vaddr == vaddr && c.peHash == peHash
	}
	timeout := secToMS(p.timeout)

	sh.mu.Lock()
	if idx, d := e.findTemplate(sh, tag, match, opts); idx != 0 {
		c := sh.entry(idx)
		c.nControl++
		c.timeout = timeout
		sh.wheelRefresh(idx, c, expiryTick(now, timeout))
		sh.mu.Unlock()
		return d, makeRef(si, idx), DropNone
	}
	sh.mu.Unlock()

	if p.sched == nil {
		return nil, 0, DropNone
	}
	dest := p.sched.Schedule(svc, f, now)
	if dest == nil {
		return nil, 0, DropNone
	}
	dport := uint16(0)
	if f.DstPort == svc.key.Port && svc.key.Port != ftpPort {
		dport = dest.port
	}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	if idx, d := e.findTemplate(sh, tag, match, opts); idx != 0 {
		// raced with another worker: share its template
		sh.entry(idx).nControl++
		return d, makeRef(si, idx), DropNone
	}
	idx := e.insertConn(sh, tag)
	if idx == 0 {
		return nil, 0, DropTableFull
	}
	c := sh.entry(idx)
	c.caddr, c.cport = snet, 0
	c.vaddr, c.vport = vaddr, vport
	c.daddr, c.dport = dest.addr, dport
	c.proto, c.af, c.daf = proto, f.Family, dest.family
	c.fwmark = f.Mark
	c.flags = ConnFlags(dest.fwd.Load().Method) | ConnTemplate | connNoCPort
	c.destID = dest.id
	c.nControl = 1
	c.peHash = peHash
	if peKey != nil {
		sh.setPEData(idx, p.pe.Name(), peKey)
	}
	c.timeout = timeout
	c.expires = expiryTick(now, timeout)
	dest.bindConn(true, false)
	sh.indexInsert(tag, idx)
	sh.wheelAdd(idx, c)
	return dest, makeRef(si, idx), DropNone
}

// findTemplate returns a usable template (and its server) in sh, locked,
// invalidating unusable ones on the way: they are no longer found and
// expire on their own timer, as IPVS rehashes them out of reach.
func (e *Engine) findTemplate(sh *shard, tag uint32, match func(*connEntry) bool, opts *Options) (uint32, *Dest) {
	for {
		idx := sh.find(tag, match)
		if idx == 0 {
			return 0, nil
		}
		c := sh.entry(idx)
		if d := e.usableTemplateDest(c, opts); d != nil {
			return idx, d
		}
		sh.indexDelete(c.hash, idx)
		c.flags |= connUnhashed
	}
}

// usableTemplateDest is ip_vs_check_template: the template's server must
// still be in the service and, with expire_quiescent_template, have weight.
func (e *Engine) usableTemplateDest(c *connEntry, opts *Options) *Dest {
	d := e.dest(c.destID)
	if d == nil || !d.Available() {
		return nil
	}
	if opts.ExpireQuiescentTemplate && d.Weight() == 0 {
		return nil
	}
	return d
}
