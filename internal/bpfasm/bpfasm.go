// Package bpfasm holds the instruction sequences GVS's BPF programs share
// (the kernel fast path, the tunnel encapsulation, the real server's
// decapsulation, the fanout's flow hash, the benchmark's flood sink),
// written with cilium/ebpf's asm package. Every program
// keeps the skb in R6; a sequence that can fail jumps to the label it is
// given. Beside the sequences, the packet counter those programs keep
// (counter.go). It imports nothing from GVS.
package bpfasm

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"
)

// Net16 is the immediate that a native-endian 16-bit load of the bytes
// of v in network order yields: an EtherType or header field to compare
// or mask with without swapping the loaded value.
func Net16(v uint16) int32 {
	return int32(binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)))
}

// LoadBytes copies n bytes of the packet at offset off to the stack at
// fp+stack (bpf_skb_load_bytes); a failure (a shorter packet) jumps to
// fail.
func LoadBytes(off int32, stack int16, n int32, fail string) asm.Instructions {
	return skbBytes(asm.FnSkbLoadBytes, asm.RFP, stack, off, n, fail)
}

// Offsets of the packet's start and end in struct __sk_buff, for direct
// packet access.
const (
	SkbData    = 76
	SkbDataEnd = 80
)

// Linear loads the packet's start into R2 and its end into R3 (R6 the
// skb) and jumps to short unless the skb's linear part holds its first n
// bytes, which R2 then reaches directly. Uses R1.
func Linear(n int32, short string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R2, asm.R6, SkbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, SkbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R2),
		asm.Add.Imm(asm.R1, n),
		asm.JGT.Reg(asm.R1, asm.R3, short),
	}
}

// CopyPacket copies want bytes of the packet from offset off to the stack
// at fp+stack with direct packet loads when they are in the skb's linear
// part (a TC program, R6 the skb), and otherwise min bytes with
// bpf_skb_load_bytes (a helper call, about a tenth of a small fast-path
// program's time); a packet too short for min jumps to fail. label must
// be unique in the program. Uses R1–R5.
func CopyPacket(off int32, stack int16, want, min int32, fail, label string) asm.Instructions {
	in := Linear(off+want, label+"_helper")
	// each store as wide as its stack address's alignment and the rest allow
	for i := int32(0); i < want; {
		size, sz := int32(1), asm.Byte
		dst := int32(stack) + i
		for _, c := range []struct {
			n  int32
			sz asm.Size
		}{{8, asm.DWord}, {4, asm.Word}, {2, asm.Half}} {
			if want-i >= c.n && dst%c.n == 0 {
				size, sz = c.n, c.sz
				break
			}
		}
		in = append(in, asm.LoadMem(asm.R1, asm.R2, int16(off+i), sz), asm.StoreMem(asm.RFP, int16(dst), asm.R1, sz))
		i += size
	}
	in = append(in, asm.Ja.Label(label+"_done"))
	in = append(in, Labeled(label+"_helper", LoadBytes(off, stack, min, fail))...)
	return append(in, asm.Mov.Imm(asm.R1, 0).WithSymbol(label+"_done"))
}

// StoreBytes writes n bytes from the stack at fp+stack into the packet at
// offset off (bpf_skb_store_bytes, no flags); a failure jumps to fail.
func StoreBytes(off int32, stack int16, n int32, fail string) asm.Instructions {
	return StoreFrom(asm.RFP, stack, off, n, fail)
}

// StoreFrom writes n bytes from base+at (the stack or a map value) into
// the packet at offset off; a failure jumps to fail.
func StoreFrom(base asm.Register, at int16, off int32, n int32, fail string) asm.Instructions {
	return skbBytes(asm.FnSkbStoreBytes, base, at, off, n, fail)
}

// LoadNetBytes copies n bytes at offset off from the network header to
// the stack at fp+stack (bpf_skb_load_bytes_relative, BPF_HDR_START_NET:
// right wherever the skb's data starts, as in a fanout program); a
// failure jumps to fail.
func LoadNetBytes(off int32, stack int16, n int32, fail string) asm.Instructions {
	return append(asm.Instructions{asm.Mov.Imm(asm.R2, off)}, LoadNetBytesAtR2(stack, n, fail)...)
}

// LoadNetBytesAtR2 is LoadNetBytes from the offset in R2.
func LoadNetBytesAtR2(stack int16, n int32, fail string) asm.Instructions {
	const hdrStartNet = 1
	return call(asm.FnSkbLoadBytesRelative, asm.RFP, stack, n, hdrStartNet, fail)
}

func skbBytes(fn asm.BuiltinFunc, base asm.Register, at int16, off int32, n int32, fail string) asm.Instructions {
	return append(asm.Instructions{asm.Mov.Imm(asm.R2, off)}, call(fn, base, at, n, 0, fail)...)
}

// call calls fn(skb, R2, base+at, n, r5), which returns 0 or an error.
func call(fn asm.BuiltinFunc, base asm.Register, at int16, n int32, r5 int32, fail string) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R3, base),
		asm.Add.Imm(asm.R3, int32(at)),
		asm.Mov.Imm(asm.R4, n),
		asm.Mov.Imm(asm.R5, r5),
		fn.Call(),
		asm.JNE.Imm(asm.R0, 0, fail),
	}
}

// PlainIPv4 checks the IPv4 header copied to the stack at fp+stack: no
// options (the first byte 0x45) and not a fragment (neither MF nor an
// offset), or the program jumps to fail; R1 is then the protocol.
func PlainIPv4(stack int16, fail string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.RFP, stack, asm.Byte),
		asm.JNE.Imm(asm.R1, 0x45, fail),
		asm.LoadMem(asm.R1, asm.RFP, stack+6, asm.Half),
		asm.And.Imm(asm.R1, Net16(0x3fff)), // MF and the offset
		asm.JNE.Imm(asm.R1, 0, fail),
		asm.LoadMem(asm.R1, asm.RFP, stack+9, asm.Byte),
	}
}

// Lookup looks the key at fp+key up in the map m: R0 is the value, or the
// program jumps to miss.
func Lookup(m int, key int16, miss string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, miss),
	}
}

// Labeled gives the first instruction of ins the label, so a jump can
// land on the sequence.
func Labeled(label string, ins asm.Instructions) asm.Instructions {
	ins[0] = ins[0].WithSymbol(label)
	return ins
}
