//! A bounded queue of datagrams in one byte ring, for socket buffers.
//!
//! Datagrams are stored back to back in a ring of bytes allocated once, with
//! their metadata in a ring of fixed capacity, so queueing and dequeuing
//! never touch the allocator. A datagram may wrap around the end of the ring;
//! readers get it as two slices.

use std::collections::VecDeque;

/// Why a datagram was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// A FIFO of datagrams with metadata `M`, bounded in bytes and in count.
#[derive(Debug)]
pub struct DatagramQueue<M> {
    bytes: Box<[u8]>,
    meta: VecDeque<(M, usize)>,
    /// Offset of the oldest datagram's first byte.
    read: usize,
    /// Bytes held; invariant `used <= bytes.len()`.
    used: usize,
    max_count: usize,
}

impl<M> DatagramQueue<M> {
    /// A queue holding at most `byte_capacity` bytes in at most `max_count` datagrams.
    pub fn new(byte_capacity: usize, max_count: usize) -> Self {
        DatagramQueue {
            bytes: vec![0; byte_capacity].into_boxed_slice(),
            meta: VecDeque::with_capacity(max_count),
            read: 0,
            used: 0,
            max_count,
        }
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when no datagram is queued.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Bytes queued.
    pub fn bytes_used(&self) -> usize {
        self.used
    }

    /// True if a datagram of `len` bytes would be accepted now.
    pub fn has_room_for(&self, len: usize) -> bool {
        self.meta.len() < self.max_count && len <= self.bytes.len() - self.used
    }

    /// Appends a datagram; `QueueFull` (and no change) if it does not fit.
    pub fn push(&mut self, meta: M, data: &[u8]) -> Result<(), QueueFull> {
        if !self.has_room_for(data.len()) {
            return Err(QueueFull);
        }
        let capacity = self.bytes.len();
        if capacity > 0 && !data.is_empty() {
            let write = (self.read + self.used) % capacity;
            let first = data.len().min(capacity - write);
            self.bytes[write..write + first].copy_from_slice(&data[..first]);
            self.bytes[..data.len() - first].copy_from_slice(&data[first..]);
        }
        self.used += data.len();
        self.meta.push_back((meta, data.len()));
        Ok(())
    }

    /// The oldest datagram's metadata and its bytes as two slices (the
    /// second non-empty only when the datagram wraps).
    pub fn front(&self) -> Option<(&M, &[u8], &[u8])> {
        let (meta, len) = self.meta.front()?;
        let capacity = self.bytes.len();
        let first = (*len).min(capacity - self.read);
        Some((
            meta,
            &self.bytes[self.read..self.read + first],
            &self.bytes[..len - first],
        ))
    }

    /// Removes the oldest datagram, copying as much of it as fits into `out`.
    /// Returns its metadata, its full length and the bytes copied.
    pub fn pop_into(&mut self, out: &mut [u8]) -> Option<(M, usize, usize)> {
        let (copied, len) = {
            let (_, head, tail) = self.front()?;
            let n = (head.len() + tail.len()).min(out.len());
            let from_head = n.min(head.len());
            out[..from_head].copy_from_slice(&head[..from_head]);
            out[from_head..n].copy_from_slice(&tail[..n - from_head]);
            (n, head.len() + tail.len())
        };
        let (meta, _) = self.discard_front()?;
        Some((meta, len, copied))
    }

    /// Removes the oldest datagram without reading it.
    pub fn discard_front(&mut self) -> Option<(M, usize)> {
        let (meta, len) = self.meta.pop_front()?;
        self.used -= len;
        self.read = if self.used == 0 {
            0
        } else {
            (self.read + len) % self.bytes.len()
        };
        Some((meta, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_wrap_around() {
        let mut q = DatagramQueue::new(10, 8);
        q.push(1, b"abcdef").unwrap();
        q.push(2, b"gh").unwrap();
        let mut out = [0u8; 16];
        assert_eq!(q.pop_into(&mut out), Some((1, 6, 6)));
        assert_eq!(&out[..6], b"abcdef");
        q.push(3, b"ijklmn").unwrap(); // wraps: 2 bytes at the end, 4 at the start
        let (_, head, tail) = q.front().unwrap();
        assert_eq!((head, tail), (&b"gh"[..], &b""[..]));
        q.discard_front();
        let (meta, head, tail) = q.front().unwrap();
        assert_eq!((*meta, head.len() + tail.len()), (3, 6));
        assert_eq!(q.pop_into(&mut out), Some((3, 6, 6)));
        assert_eq!(&out[..6], b"ijklmn");
        assert!(q.is_empty());
    }

    #[test]
    fn bounds_bytes_and_count_and_keeps_zero_length() {
        let mut q = DatagramQueue::new(8, 2);
        assert_eq!(q.push((), &[0; 9]), Err(QueueFull));
        q.push((), b"").unwrap();
        q.push((), b"12345678").unwrap();
        assert_eq!(q.push((), b""), Err(QueueFull), "count bound");
        let mut out = [0u8; 4];
        assert_eq!(q.pop_into(&mut out), Some(((), 0, 0)));
        assert_eq!(
            q.pop_into(&mut out),
            Some(((), 8, 4)),
            "truncated to the buffer"
        );
        assert_eq!(&out, b"1234");
        assert_eq!(q.pop_into(&mut out), None);
    }
}
