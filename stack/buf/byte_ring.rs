//! A byte ring for stream socket buffers: a FIFO of bytes in storage
//! allocated once, that can also write ahead of its data (out-of-order
//! arrivals, committed when the gap fills) and read at an offset without
//! consuming (retransmission from the send buffer). The storage is
//! allocated on the first write, so a connection that never carries data
//! (an idle one) costs no buffer memory.

/// A fixed-capacity FIFO of bytes; it grows only when asked ([`grow`](Self::grow)).
#[derive(Debug, Clone)]
pub struct ByteRing {
    /// Empty until the first write; then `capacity` bytes.
    storage: Box<[u8]>,
    capacity: usize,
    /// Offset of the first byte of data.
    head: usize,
    /// Bytes of data; invariant `len <= storage.len()`.
    len: usize,
}

impl ByteRing {
    /// An empty ring of `capacity` bytes (allocated at the first write).
    pub fn new(capacity: usize) -> Self {
        ByteRing {
            storage: Box::default(),
            capacity,
            head: 0,
            len: 0,
        }
    }

    /// Bytes the ring can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of memory the ring holds now (0 until the first write).
    pub fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// Bytes of data held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no data is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that can still be written.
    pub fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Copies `data` into the ring's storage starting `offset` bytes past
    /// the end of the data, without making it data yet; returns how many
    /// bytes fit (the rest would pass the capacity).
    pub fn write_ahead(&mut self, offset: usize, data: &[u8]) -> usize {
        let capacity = self.capacity();
        if offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        if n > 0 && self.storage.is_empty() {
            self.storage = vec![0; capacity].into_boxed_slice();
        }
        let start = (self.head + self.len + offset) % capacity.max(1);
        let first = n.min(capacity - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        self.storage[..n - first].copy_from_slice(&data[first..n]);
        n
    }

    /// Makes `n` bytes already written ahead part of the data.
    pub fn commit(&mut self, n: usize) {
        self.len += n.min(self.free());
    }

    /// Appends as much of `data` as fits; returns how many bytes.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = self.write_ahead(0, data);
        self.commit(n);
        n
    }

    /// Copies data starting `offset` bytes in into `out`, without consuming;
    /// returns how many bytes were copied.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let capacity = self.capacity();
        let n = out.len().min(self.len - offset);
        let start = (self.head + offset) % capacity;
        let first = n.min(capacity - start);
        out[..first].copy_from_slice(&self.storage[start..start + first]);
        out[first..n].copy_from_slice(&self.storage[..n - first]);
        n
    }

    /// Drops `n` bytes from the front (fewer if there are fewer); returns
    /// how many. Bytes written ahead keep their place.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.len -= n;
        // The head advances even when the ring empties: bytes written
        // ahead of the data must stay where `write_ahead` put them.
        self.head = (self.head + n) % self.capacity().max(1);
        n
    }

    /// Copies data from the front into `out` and consumes it; returns how many bytes.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.read_at(0, out);
        self.consume(n)
    }

    /// Grows the storage to `capacity` bytes (never shrinks), keeping the data.
    pub fn grow(&mut self, capacity: usize) {
        if capacity <= self.capacity() {
            return;
        }
        if !self.storage.is_empty() {
            let mut storage = vec![0; capacity].into_boxed_slice();
            let n = self.read_at(0, &mut storage[..self.len]);
            debug_assert_eq!(n, self.len);
            self.storage = storage;
            self.head = 0;
        }
        self.capacity = capacity;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_comes_with_the_first_write() {
        let mut ring = ByteRing::new(4096);
        assert_eq!(
            (ring.capacity(), ring.allocated(), ring.free()),
            (4096, 0, 4096)
        );
        assert_eq!(ring.read(&mut [0u8; 8]), 0);
        assert_eq!(ring.consume(10), 0);
        ring.grow(8192);
        assert_eq!((ring.capacity(), ring.allocated()), (8192, 0));
        assert_eq!(ring.write(b"abc"), 3);
        assert_eq!(ring.allocated(), 8192);
        let mut out = [0u8; 3];
        assert_eq!(ring.read(&mut out), 3);
        assert_eq!(&out, b"abc");
    }

    #[test]
    fn fifo_across_the_wrap() {
        let mut ring = ByteRing::new(8);
        assert_eq!(ring.write(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(ring.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(ring.write(b"ghijklmn"), 6, "only the free space");
        let mut all = [0u8; 8];
        assert_eq!(ring.read_at(0, &mut all), 8);
        assert_eq!(&all, b"efghijkl");
        assert_eq!(ring.read_at(6, &mut all), 2);
        assert_eq!(&all[..2], b"kl");
        assert_eq!(ring.read_at(8, &mut all), 0);
    }

    #[test]
    fn writes_ahead_then_commits() {
        let mut ring = ByteRing::new(10);
        ring.write(b"ab");
        assert_eq!(
            ring.write_ahead(3, b"fgh"),
            3,
            "out of order: leaves a gap of 3"
        );
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.write_ahead(0, b"cde"), 3, "the gap fills");
        ring.commit(6);
        let mut out = [0u8; 10];
        assert_eq!(ring.read(&mut out), 8);
        assert_eq!(&out[..8], b"abcdefgh");
        assert_eq!(ring.write_ahead(10, b"x"), 0, "beyond the capacity");
    }

    #[test]
    fn data_written_ahead_survives_the_ring_emptying() {
        let mut ring = ByteRing::new(8);
        ring.write(b"ab");
        assert_eq!(ring.write_ahead(1, b"d"), 1, "one byte after a gap");
        let mut out = [0u8; 2];
        assert_eq!(ring.read(&mut out), 2, "the reader drains the ring");
        assert_eq!(ring.write_ahead(0, b"c"), 1, "the gap fills");
        ring.commit(2);
        assert_eq!(ring.read(&mut out), 2);
        assert_eq!(&out, b"cd");
    }

    #[test]
    fn grow_keeps_data_in_order() {
        let mut ring = ByteRing::new(4);
        ring.write(b"abc");
        let mut out = [0u8; 2];
        ring.read(&mut out);
        ring.write(b"def");
        ring.grow(16);
        assert_eq!(ring.capacity(), 16);
        assert_eq!(ring.write(b"gh"), 2);
        let mut all = [0u8; 16];
        let n = ring.read(&mut all);
        assert_eq!(&all[..n], b"cdefgh");
    }
}
