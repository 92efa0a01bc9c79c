package bulk

import "hash/maphash"

// dupSet remembers the addresses of a file by a keyed 64-bit hash with the
// line each came from: 12 bytes a row at most twice over, instead of the
// addresses themselves. The key is random per upload, so nobody can craft
// two addresses that collide.
type dupSet struct {
	seed  maphash.Seed
	keys  []uint64 // 0 = empty slot
	lines []uint32
	n     int
}

func newDupSet() *dupSet {
	return &dupSet{seed: maphash.MakeSeed(), keys: make([]uint64, 1024), lines: make([]uint32, 1024)}
}

// add records email at line; if the set held it already it returns the
// earlier line.
func (d *dupSet) add(email string, line int) (int, bool) {
	h := maphash.String(d.seed, email) | 1 // never 0
	if prev, ok := d.put(h, uint32(line)); !ok {
		return int(prev), true
	}
	d.n++
	if d.n*2 > len(d.keys) {
		d.grow()
	}
	return 0, false
}

func (d *dupSet) put(h uint64, line uint32) (uint32, bool) {
	mask := uint64(len(d.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch d.keys[i] {
		case 0:
			d.keys[i], d.lines[i] = h, line
			return 0, true
		case h:
			return d.lines[i], false
		}
	}
}

func (d *dupSet) grow() {
	keys, lines := d.keys, d.lines
	d.keys, d.lines = make([]uint64, 2*len(keys)), make([]uint32, 2*len(keys))
	for i, k := range keys {
		if k != 0 {
			d.put(k, lines[i])
		}
	}
}
