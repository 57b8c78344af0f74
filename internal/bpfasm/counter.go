package bpfasm

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// A packet counter: one 64-bit count per CPU that a program adds one to
// (Count) and user space sums (CounterSum), as the flood sink and the real
// server's kernel decapsulation count their packets.

// NewCounter makes a counter's map.
func NewCounter(name string) (*ebpf.Map, error) {
	return ebpf.NewMap(&ebpf.MapSpec{Name: name, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
}

// Count adds one to the counter whose map is m, with its index at
// fp+key; the program goes on after the sequence, or at miss if the
// lookup fails (it does not, for this map). A plain add is enough: the
// value is this CPU's, and a TC program does not nest on its CPU.
func Count(m int, key int16, miss string) asm.Instructions {
	in := asm.Instructions{asm.StoreImm(asm.RFP, key, 0, asm.Word)}
	in = append(in, Lookup(m, key, miss)...)
	return append(in,
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
	)
}

// CounterSum is a counter's count over every CPU.
func CounterSum(m *ebpf.Map) (uint64, error) {
	var per []uint64
	if err := m.Lookup(uint32(0), &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}
