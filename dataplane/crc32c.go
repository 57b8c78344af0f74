package dataplane

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is SCTP's checksum (hardware-accelerated by hash/crc32), stored
// little-endian in the common header as the kernel does.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
