//! A byte ring for stream socket buffers: a FIFO of bytes that can also
//! write ahead of its data (out-of-order arrivals, committed when the gap
//! fills) and read at an offset without consuming (retransmission from the
//! send buffer). Its capacity is what the socket buffer may hold; its
//! storage grows to what is in use, in powers of two from 4 KiB, so an idle
//! connection holds no buffer memory and one exchanging small messages
//! holds a few KiB (as Linux's buffers hold only what is queued). Growth
//! copies the contents once per doubling; a connection in steady state
//! allocates nothing. New storage is never zeroed: bytes become part of
//! it as they are first written (an initialised prefix that grows), so a
//! short connection pays for the bytes it sends, not for its buffers.

/// Smallest storage allocated, in bytes.
const MIN_STORAGE: usize = 4096;

/// A FIFO of bytes with a fixed capacity ([`grow`](Self::grow) raises it)
/// and storage allocated as needed.
#[derive(Debug, Clone)]
pub struct ByteRing {
    /// The bytes written so far: a prefix of the allocated storage (its
    /// `len`), which holds every position data or bytes written ahead
    /// occupy; the rest of the allocation is not initialised yet.
    storage: Vec<u8>,
    /// The allocated storage, in bytes: 0 until the first write, then a
    /// power of two (at least `MIN_STORAGE`, at most `capacity`) or `capacity`.
    size: usize,
    capacity: usize,
    /// Offset of the first byte of data in `storage`.
    head: usize,
    /// Bytes of data; invariant `len <= size <= capacity`.
    len: usize,
}

impl ByteRing {
    /// An empty ring that may hold `capacity` bytes (nothing allocated yet).
    pub fn new(capacity: usize) -> Self {
        ByteRing {
            storage: Vec::new(),
            size: 0,
            capacity,
            head: 0,
            len: 0,
        }
    }

    /// Bytes the ring can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of memory the ring holds now.
    pub fn allocated(&self) -> usize {
        self.size
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
        self.capacity - self.len
    }

    /// The storage index of `position` counted from the storage's start,
    /// which is less than twice its size: one subtraction, where a `%`
    /// would divide (tens of cycles, several times per segment).
    #[inline]
    fn wrap(&self, position: usize) -> usize {
        debug_assert!(position < 2 * self.size || position == 0);
        if position >= self.size {
            position - self.size
        } else {
            position
        }
    }

    /// Storage needed to hold `end` bytes from the head.
    fn storage_for(&self, end: usize) -> usize {
        if end <= self.size {
            self.size
        } else {
            end.next_power_of_two().max(MIN_STORAGE).min(self.capacity)
        }
    }

    /// Bytes of memory a `write_ahead(offset, data)` of `len` bytes would
    /// add to the ring's storage (0 if it fits).
    pub fn growth_for(&self, offset: usize, len: usize) -> usize {
        let n = len.min(self.free().saturating_sub(offset));
        if n == 0 {
            return 0;
        }
        self.storage_for(self.len + offset + n) - self.size
    }

    /// Grows the storage to hold `end` bytes from the head, keeping every
    /// byte (data and bytes written ahead) at its distance from the head.
    fn reserve(&mut self, end: usize) {
        let size = self.storage_for(end);
        if size <= self.size {
            return;
        }
        let mut storage = Vec::with_capacity(size);
        storage.extend_from_slice(&self.storage[self.head.min(self.storage.len())..]);
        // Only a ring that has wrapped (and so is initialised all through)
        // has bytes before the head that are still ahead of it.
        if self.storage.len() == self.size {
            storage.extend_from_slice(&self.storage[..self.head]);
        }
        self.storage = storage;
        self.size = size;
        self.head = 0;
    }

    /// Writes `data` at position `at` of the storage (`at + data.len()` at
    /// most `size`), initialising what is new: bytes past the written
    /// prefix are appended, and a gap before them (bytes written ahead of
    /// missing ones) is zeroed.
    fn put(&mut self, at: usize, data: &[u8]) {
        if let Some(place) = self.storage.get_mut(at..at + data.len()) {
            // Written before (the usual case once a ring is in use).
            place.copy_from_slice(data);
            return;
        }
        if at > self.storage.len() {
            self.storage.resize(at, 0);
        }
        let inside = data.len().min(self.storage.len() - at);
        self.storage[at..at + inside].copy_from_slice(&data[..inside]);
        self.storage.extend_from_slice(&data[inside..]);
    }

    /// Copies `data` into the ring starting `offset` bytes past the end of
    /// the data, without making it data yet; returns how many bytes fit
    /// (the rest would pass the capacity).
    pub fn write_ahead(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        if n == 0 {
            return 0;
        }
        self.reserve(self.len + offset + n);
        let size = self.size;
        if self.head + self.len + offset + n > size {
            // The bytes reach past the end of the storage and wrap to its
            // start: from now on every position may hold data, so the
            // storage is initialised all through (once, when it first wraps).
            self.storage.resize(size, 0);
        }
        let start = self.wrap(self.head + self.len + offset);
        let first = n.min(size - start);
        self.put(start, &data[..first]);
        if first < n {
            self.put(0, &data[first..n]);
        }
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
        let size = self.size;
        let n = out.len().min(self.len - offset);
        let start = self.wrap(self.head + offset);
        let first = n.min(size - start);
        out[..first].copy_from_slice(&self.storage[start..start + first]);
        out[first..n].copy_from_slice(&self.storage[..n - first]);
        n
    }

    /// The data in place, in order: up to two slices (the second is empty
    /// unless the data wraps past the end of the storage).
    pub fn data_slices(&self) -> (&[u8], &[u8]) {
        if self.len == 0 {
            return (&[], &[]);
        }
        let start = self.head;
        let first = self.len.min(self.size - start);
        (
            &self.storage[start..start + first],
            &self.storage[..self.len - first],
        )
    }

    /// Up to `max` bytes of the free space after the data, in place, to
    /// write and then [`commit`](Self::commit): two slices, the second
    /// non-empty only where the space wraps. What they hold before the
    /// caller writes is unspecified (old bytes or zeros). Not for a ring
    /// holding bytes written ahead (they would be overwritten).
    pub fn space_mut(&mut self, max: usize) -> (&mut [u8], &mut [u8]) {
        let n = max.min(self.free());
        if n == 0 {
            return (&mut [], &mut []);
        }
        self.reserve(self.len + n);
        let size = self.size;
        let start = self.wrap(self.head + self.len);
        let first = n.min(size - start);
        // The slices must be initialised: a space that wraps needs the
        // whole storage (as write_ahead does), one that does not needs the
        // prefix up to its end.
        let needed = if first < n { size } else { start + first };
        if self.storage.len() < needed {
            self.storage.resize(needed, 0);
        }
        let (low, high) = self.storage.split_at_mut(start);
        (&mut high[..first], &mut low[..n - first])
    }

    /// Drops `n` bytes from the front (fewer if there are fewer); returns
    /// how many. Bytes written ahead keep their place.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.len -= n;
        // The head advances even when the ring empties: bytes written
        // ahead of the data must stay where `write_ahead` put them.
        self.head = self.wrap(self.head + n);
        n
    }

    /// Copies data from the front into `out` and consumes it; returns how many bytes.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.read_at(0, out);
        self.consume(n)
    }

    /// Raises the capacity to `capacity` bytes (never lowers it); storage
    /// follows as data needs it.
    pub fn grow(&mut self, capacity: usize) {
        self.capacity = self.capacity.max(capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_space_in_place_wrap_like_the_copies() {
        let mut ring = ByteRing::new(8192);
        let (a, b) = ring.space_mut(6000);
        assert_eq!((a.len(), b.len()), (6000, 0));
        a.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
        ring.commit(6000);
        assert_eq!(ring.consume(5000), 5000);
        // 1,000 bytes at 5,000..6,000; 4,000 more wrap past 8,192.
        let (a, b) = ring.space_mut(4000);
        assert_eq!((a.len(), b.len()), (2192, 1808));
        a.fill(0xAA);
        b.fill(0xBB);
        ring.commit(4000);
        let (x, y) = ring.data_slices();
        assert_eq!((x.len(), y.len()), (3192, 1808));
        let mut copy = vec![0u8; 5000];
        assert_eq!(ring.read_at(0, &mut copy), 5000);
        assert_eq!([x, y].concat(), copy, "the view is what a read copies");
        assert_eq!(copy[999], (5999 % 256) as u8);
        assert_eq!((copy[1000], copy[4999]), (0xAA, 0xBB));
        assert_eq!(
            ring.space_mut(10_000).0.len() + ring.space_mut(10_000).1.len(),
            3192
        );
    }

    #[test]
    fn storage_grows_with_use_and_keeps_bytes_in_place() {
        let mut ring = ByteRing::new(64 * 1024);
        assert_eq!(
            (ring.capacity(), ring.allocated(), ring.free()),
            (65536, 0, 65536)
        );
        assert_eq!(ring.read(&mut [0u8; 8]), 0);
        assert_eq!(ring.consume(10), 0);
        assert_eq!(ring.growth_for(0, 3), 4096);
        assert_eq!(ring.write(b"abc"), 3);
        assert_eq!(ring.allocated(), 4096, "the smallest storage");
        // Wrap the head, then write ahead past the storage: it doubles
        // with the data and the bytes ahead in place.
        let filler = vec![7u8; 4000];
        assert_eq!(ring.write(&filler), 4000);
        let mut sink = vec![0u8; 4003];
        assert_eq!(ring.read(&mut sink), 4003);
        assert_eq!(ring.write(b"0123456789"), 10);
        assert_eq!(ring.write_ahead(90, b"later"), 5);
        assert_eq!(ring.growth_for(5000, 10), 8192 - 4096);
        assert_eq!(ring.write_ahead(5000, b"far ahead"), 9);
        assert_eq!(ring.allocated(), 8192);
        assert_eq!(
            ring.write(&[1u8; 90]),
            90,
            "fills in before the bytes ahead"
        );
        ring.commit(5);
        let mut out = vec![0u8; 105];
        assert_eq!(ring.read(&mut out), 105);
        assert_eq!(&out[..10], b"0123456789");
        assert_eq!(&out[100..105], b"later");
        ring.commit(4914);
        let mut out = vec![0u8; 4914];
        assert_eq!(ring.read(&mut out), 4914);
        assert_eq!(&out[4905..], b"far ahead", "kept through the growth");
        assert_eq!(
            ring.growth_for(0, 1_000_000),
            65536 - 8192,
            "at most the capacity"
        );
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

    /// Random writes, writes ahead, commits, reads and peeks against a
    /// model of the logical bytes (data, then what was written ahead), with
    /// small and large capacities so the storage grows, wraps and is
    /// written ahead across its end before it is initialised all through.
    #[test]
    fn matches_a_model_through_growth_and_wraps() {
        let mut rng = crate::rand::Rng::new(42);
        for capacity in [7usize, 100, 5000, 20_000, 70_000] {
            let mut ring = ByteRing::new(capacity);
            // model[i]: the byte `i` positions from the head, if written.
            let mut model: Vec<Option<u8>> = Vec::new();
            let mut len = 0usize;
            for step in 0..20_000u32 {
                let byte = step as u8;
                match rng.below(5) {
                    0 => {
                        let n = rng.below(capacity as u64 / 8 + 2) as usize;
                        let data = vec![byte; n];
                        let wrote = ring.write(&data);
                        assert_eq!(wrote, n.min(capacity - len));
                        model.resize(model.len().max(len + wrote), None);
                        for slot in &mut model[len..len + wrote] {
                            *slot = Some(byte);
                        }
                        len += wrote;
                    }
                    1 => {
                        let offset = rng.below(capacity as u64 / 2 + 1) as usize;
                        let n = rng.below(capacity as u64 / 8 + 2) as usize;
                        let wrote = ring.write_ahead(offset, &vec![byte; n]);
                        let start = len + offset;
                        assert_eq!(wrote, n.min(capacity.saturating_sub(start)));
                        model.resize(model.len().max(start + wrote), None);
                        for slot in &mut model[start..start + wrote] {
                            *slot = Some(byte);
                        }
                    }
                    2 => {
                        // Commit only bytes that were written, as TCP does.
                        let ready = model[len..].iter().take_while(|b| b.is_some()).count();
                        let n = rng.below(ready as u64 + 1) as usize;
                        ring.commit(n);
                        len += n;
                    }
                    3 => {
                        let n = rng.below(capacity as u64 / 4 + 2) as usize;
                        let mut out = vec![0u8; n];
                        let got = ring.read(&mut out);
                        assert_eq!(got, n.min(len));
                        for (k, &b) in out[..got].iter().enumerate() {
                            assert_eq!(Some(b), model[k], "step {step}, byte {k}");
                        }
                        model.drain(..got);
                        len -= got;
                    }
                    _ => {
                        let offset = rng.below(len as u64 + 1) as usize;
                        let mut out = vec![0u8; rng.below(100) as usize];
                        let got = ring.read_at(offset, &mut out);
                        for (k, &b) in out[..got].iter().enumerate() {
                            assert_eq!(Some(b), model[offset + k], "step {step}");
                        }
                    }
                }
                assert_eq!(ring.len(), len);
                assert!(ring.allocated() <= capacity);
            }
        }
    }
}
