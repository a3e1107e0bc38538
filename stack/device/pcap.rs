//! Capture files: a reader and writer for the classic pcap format, a device
//! that receives frames from one file and transmits them into another, and a
//! [`Recorder`] that writes everything any device sends and receives.
//!
//! Files are written with nanosecond timestamps (magic `0xa1b23c4d`), link
//! type Ethernet; both microsecond and nanosecond files, in either byte
//! order, are read. A record longer than [`MAX_RECORD`] is an error, so a
//! corrupt file cannot make the reader allocate without bound.

use super::{Capabilities, Device, Offloads};
use crate::buf::{BufPool, PacketBuf, PoolBuf};
use crate::stats::DeviceStats;
use crate::time::Instant;
use crate::wire::MacAddr;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// Link type of Ethernet frames in a pcap file.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest record the reader accepts, in bytes.
pub const MAX_RECORD: u32 = 262_144;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// The 16-byte record header for a frame of `len` bytes, in the writer's format.
fn record_header(timestamp_ns: u64, len: usize) -> io::Result<[u8; 16]> {
    let len = u32::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_RECORD)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large for pcap"))?;
    let mut header = [0u8; 16];
    header[0..4].copy_from_slice(&((timestamp_ns / 1_000_000_000) as u32).to_le_bytes());
    header[4..8].copy_from_slice(&((timestamp_ns % 1_000_000_000) as u32).to_le_bytes());
    header[8..12].copy_from_slice(&len.to_le_bytes());
    header[12..16].copy_from_slice(&len.to_le_bytes());
    Ok(header)
}

/// Appends one encoded record (header and frame) to `out`.
fn encode_record(out: &mut Vec<u8>, timestamp_ns: u64, frame: &[u8]) -> io::Result<()> {
    out.extend_from_slice(&record_header(timestamp_ns, frame.len())?);
    out.extend_from_slice(frame);
    Ok(())
}

/// Writes frames to a pcap stream.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the file header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        PcapWriter::new(BufWriter::new(File::create(path)?))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        header[16..20].copy_from_slice(&MAX_RECORD.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Appends one frame stamped `timestamp_ns` nanoseconds since the Unix epoch.
    pub fn write_frame(&mut self, timestamp_ns: u64, frame: &[u8]) -> io::Result<()> {
        self.out
            .write_all(&record_header(timestamp_ns, frame.len())?)?;
        self.out.write_all(frame)
    }

    /// Appends records already encoded with [`encode_record`].
    fn write_raw(&mut self, records: &[u8]) -> io::Result<()> {
        self.out.write_all(records)
    }

    /// Flushes buffered records to the underlying stream.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One record's header, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapRecord {
    /// Capture time in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Bytes captured (what was read into the buffer).
    pub captured_len: usize,
    /// Length of the frame on the wire (may exceed `captured_len`).
    pub original_len: usize,
}

/// Reads frames from a pcap stream.
pub struct PcapReader<R: Read> {
    input: R,
    big_endian: bool,
    nanos: bool,
    link_type: u32,
}

impl PcapReader<BufReader<File>> {
    /// Opens the file at `path` and checks its header.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        PcapReader::new(BufReader::new(File::open(path)?))
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header from `input`.
    pub fn new(mut input: R) -> io::Result<Self> {
        let mut header = [0u8; 24];
        input.read_exact(&mut header)?;
        let magic_le = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default());
        let (big_endian, nanos) = match magic_le {
            MAGIC_MICROS => (false, false),
            MAGIC_NANOS => (false, true),
            m if m.swap_bytes() == MAGIC_MICROS => (true, false),
            m if m.swap_bytes() == MAGIC_NANOS => (true, true),
            _ => return Err(invalid("not a pcap file (bad magic)")),
        };
        let mut reader = PcapReader {
            input,
            big_endian,
            nanos,
            link_type: 0,
        };
        reader.link_type = reader.u32_at(&header, 20);
        Ok(reader)
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> u32 {
        let mut word = [0u8; 4];
        word.copy_from_slice(&bytes[at..at + 4]);
        if self.big_endian {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        }
    }

    /// The file's link type (1 for Ethernet).
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Reads the next record into `frame` (replacing its contents); `None` at
    /// a clean end of file. A truncated record or an oversized length is an error.
    pub fn next_into(&mut self, frame: &mut Vec<u8>) -> io::Result<Option<PcapRecord>> {
        let mut header = [0u8; 16];
        match self.input.read(&mut header[..1])? {
            0 => return Ok(None),
            _ => self.input.read_exact(&mut header[1..])?,
        }
        let seconds = u64::from(self.u32_at(&header, 0));
        let fraction = u64::from(self.u32_at(&header, 4));
        let captured = self.u32_at(&header, 8);
        let original = self.u32_at(&header, 12);
        if captured > MAX_RECORD {
            return Err(invalid("pcap record longer than the largest accepted"));
        }
        frame.resize(captured as usize, 0);
        self.input.read_exact(frame)?;
        let fraction_ns = if self.nanos {
            fraction
        } else {
            fraction * 1_000
        };
        Ok(Some(PcapRecord {
            timestamp_ns: seconds * 1_000_000_000 + fraction_ns,
            captured_len: captured as usize,
            original_len: original as usize,
        }))
    }
}

/// Maps the runtime's `now` to wall-clock nanoseconds for capture timestamps:
/// the wall clock at the first frame plus the runtime time elapsed since.
struct Stamper {
    origin: Option<(Instant, u64)>,
}

impl Stamper {
    fn new() -> Self {
        Stamper { origin: None }
    }

    fn stamp(&mut self, now: Instant) -> u64 {
        let (at, wall) = *self.origin.get_or_insert_with(|| {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            (now, wall)
        });
        wall + (now - at).as_nanos()
    }
}

/// A device whose received frames come from a pcap file and whose
/// transmitted frames go to another. Either side may be absent: receive then
/// yields nothing, and transmit discards (counted as sent).
pub struct PcapDevice {
    pool: BufPool,
    reader: Option<PcapReader<BufReader<File>>>,
    writer: Option<PcapWriter<BufWriter<File>>>,
    scratch: Vec<u8>,
    stamper: Stamper,
    mac: MacAddr,
    mtu: usize,
    stats: DeviceStats,
    exhausted: bool,
}

impl PcapDevice {
    /// Opens `rx_from` for reading and creates `tx_to` for writing.
    pub fn open(
        rx_from: Option<&Path>,
        tx_to: Option<&Path>,
        mac: MacAddr,
        pool: &BufPool,
    ) -> io::Result<Self> {
        let reader = rx_from.map(PcapReader::open).transpose()?;
        if let Some(reader) = &reader {
            if reader.link_type() != LINKTYPE_ETHERNET {
                return Err(invalid("pcap link type is not Ethernet"));
            }
        }
        Ok(PcapDevice {
            pool: pool.clone(),
            reader,
            writer: tx_to.map(PcapWriter::create).transpose()?,
            scratch: Vec::new(),
            stamper: Stamper::new(),
            mac,
            mtu: 9000,
            stats: DeviceStats::default(),
            exhausted: false,
        })
    }

    /// True once every frame of the input file has been received.
    pub fn input_exhausted(&self) -> bool {
        self.exhausted || self.reader.is_none()
    }

    /// Flushes the output file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().map_or(Ok(()), PcapWriter::flush)
    }
}

impl Device for PcapDevice {
    type Buf = PoolBuf;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mac: self.mac,
            mtu: self.mtu,
            rx_queues: 1,
            tx_queues: 1,
            offloads: Offloads::default(),
            name: "pcap".to_string(),
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<PoolBuf> {
        self.pool.alloc(len)
    }

    fn receive(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>, max: usize) -> usize {
        let Some(reader) = self.reader.as_mut() else {
            return 0;
        };
        let mut taken = 0;
        while taken < max && !self.exhausted {
            match reader.next_into(&mut self.scratch) {
                Ok(Some(_)) => match self.pool.alloc(self.scratch.len()) {
                    Some(mut buf) => {
                        buf.data_mut().copy_from_slice(&self.scratch);
                        self.stats.count_rx(buf.len());
                        batch.push(buf);
                        taken += 1;
                    }
                    None => self.stats.rx_dropped += 1,
                },
                Ok(None) => self.exhausted = true,
                Err(_) => {
                    self.stats.rx_errors += 1;
                    self.exhausted = true;
                }
            }
        }
        taken
    }

    fn transmit(&mut self, now: Instant, batch: &mut Vec<PoolBuf>) -> usize {
        let taken = batch.len();
        let stamp = self.stamper.stamp(now);
        for buf in batch.drain(..) {
            let written = match self.writer.as_mut() {
                Some(writer) => writer.write_frame(stamp, buf.data()),
                None => Ok(()),
            };
            match written {
                Ok(()) => self.stats.count_tx(buf.len()),
                Err(_) => self.stats.tx_errors += 1,
            }
        }
        taken
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

impl Drop for PcapDevice {
    fn drop(&mut self) {
        // Nowhere to report a failure from drop; callers who care call flush().
        let _ = self.flush();
    }
}

/// Wraps any device and writes every frame it receives and every frame it
/// transmits to a pcap file, for Wireshark.
pub struct Recorder<D: Device> {
    inner: D,
    writer: PcapWriter<BufWriter<File>>,
    stamper: Stamper,
    write_errors: u64,
    /// Encoded records of the transmit burst in flight, reused across calls.
    staged: Vec<u8>,
    /// End offset in `staged` of each staged record.
    staged_ends: Vec<usize>,
}

impl<D: Device> Recorder<D> {
    /// Records `inner`'s traffic into a new file at `path`.
    pub fn create(inner: D, path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Recorder {
            inner,
            writer: PcapWriter::create(path)?,
            stamper: Stamper::new(),
            write_errors: 0,
            staged: Vec::new(),
            staged_ends: Vec::new(),
        })
    }

    /// Frames that could not be written to the file.
    pub fn write_errors(&self) -> u64 {
        self.write_errors
    }

    /// Flushes the capture file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn record_received(&mut self, now: Instant, frames: &[D::Buf]) {
        let stamp = self.stamper.stamp(now);
        for frame in frames {
            if self.writer.write_frame(stamp, frame.data()).is_err() {
                self.write_errors += 1;
            }
        }
    }
}

impl<D: Device> Device for Recorder<D> {
    type Buf = D::Buf;

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn alloc_tx(&mut self, len: usize) -> Option<D::Buf> {
        self.inner.alloc_tx(len)
    }

    fn alloc_tx_burst(&mut self, len: usize, count: usize, out: &mut Vec<D::Buf>) -> usize {
        self.inner.alloc_tx_burst(len, count, out)
    }

    fn release(&mut self, bufs: &mut Vec<D::Buf>) {
        self.inner.release(bufs);
    }

    fn receive(&mut self, now: Instant, batch: &mut Vec<D::Buf>, max: usize) -> usize {
        let before = batch.len();
        let got = self.inner.receive(now, batch, max);
        self.record_received(now, &batch[before..]);
        got
    }

    fn transmit(&mut self, now: Instant, batch: &mut Vec<D::Buf>) -> usize {
        // Frames leave with the device, so encode them first and write only
        // the prefix the device took: the file shows what really went out.
        let stamp = self.stamper.stamp(now);
        self.staged.clear();
        self.staged_ends.clear();
        for frame in batch.iter() {
            if encode_record(&mut self.staged, stamp, frame.data()).is_err() {
                self.write_errors += 1;
            }
            self.staged_ends.push(self.staged.len());
        }
        let sent = self.inner.transmit(now, batch);
        let written = match sent {
            0 => 0,
            n => self.staged_ends.get(n - 1).copied().unwrap_or(0),
        };
        if self.writer.write_raw(&self.staged[..written]).is_err() {
            self.write_errors += 1;
        }
        sent
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn extended_stats(&self) -> Vec<(String, u64)> {
        self.inner.extended_stats()
    }

    fn steering_stats(&self) -> crate::stats::SteeringStats {
        self.inner.steering_stats()
    }

    fn passed_on(&self) -> usize {
        self.inner.passed_on()
    }

    fn stats(&self) -> DeviceStats {
        self.inner.stats()
    }
}

impl<D: Device> Drop for Recorder<D> {
    fn drop(&mut self) {
        let _ = self.writer.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::pipe::{pipe_pair, PipeConfig};

    #[test]
    fn writer_output_reads_back() {
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        writer.write_frame(1_500_000_000_123, b"hello").unwrap();
        writer.write_frame(2_000_000_000_000, b"").unwrap();
        let bytes = writer.out;
        let mut reader = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.link_type(), LINKTYPE_ETHERNET);
        let mut frame = Vec::new();
        let record = reader.next_into(&mut frame).unwrap().unwrap();
        assert_eq!(frame, b"hello");
        assert_eq!(record.timestamp_ns, 1_500_000_000_123);
        assert_eq!(
            reader.next_into(&mut frame).unwrap().unwrap().captured_len,
            0
        );
        assert!(reader.next_into(&mut frame).unwrap().is_none());
    }

    #[test]
    fn reads_big_endian_microsecond_files() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&MAGIC_MICROS.to_be_bytes());
        bytes.extend_from_slice(&[
            0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1,
        ]);
        for word in [7u32, 250, 3, 3] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend_from_slice(b"abc");
        let mut reader = PcapReader::new(&bytes[..]).unwrap();
        let mut frame = Vec::new();
        let record = reader.next_into(&mut frame).unwrap().unwrap();
        assert_eq!(record.timestamp_ns, 7_000_250_000);
        assert_eq!(frame, b"abc");
    }

    #[test]
    fn rejects_bad_magic_oversized_and_truncated_records() {
        assert!(PcapReader::new(&[0u8; 24][..]).is_err());
        assert!(PcapReader::new(&[0u8; 3][..]).is_err());
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        writer.write_frame(0, b"abcdef").unwrap();
        let mut bytes = writer.out;
        let mut truncated = bytes.clone();
        truncated.truncate(bytes.len() - 2);
        let mut frame = Vec::new();
        assert!(PcapReader::new(&truncated[..])
            .unwrap()
            .next_into(&mut frame)
            .is_err());
        bytes[24 + 8..24 + 12].copy_from_slice(&(MAX_RECORD + 1).to_le_bytes());
        assert!(PcapReader::new(&bytes[..])
            .unwrap()
            .next_into(&mut frame)
            .is_err());
    }

    #[test]
    fn recorder_writes_only_frames_the_device_took() {
        let dir = std::env::temp_dir().join(format!("dpstack-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rec.pcap");
        let pool = BufPool::with_defaults();
        let config = PipeConfig {
            queue_len: 2,
            ..PipeConfig::default()
        };
        let (a, mut b) = pipe_pair(&config, &pool);
        let mut recorder = Recorder::create(a, &path).unwrap();
        let mut batch: Vec<PoolBuf> = (0..3u8)
            .map(|i| {
                let mut buf = recorder.alloc_tx(10).unwrap();
                buf.data_mut().fill(i);
                buf
            })
            .collect();
        assert_eq!(recorder.transmit(Instant::ZERO, &mut batch), 2);
        let mut got = Vec::new();
        b.receive(Instant::ZERO, &mut got, 32);
        assert_eq!(recorder.transmit(Instant::ZERO, &mut batch), 1);
        drop(recorder);
        let mut reader = PcapReader::open(&path).unwrap();
        let mut frame = Vec::new();
        let mut firsts = Vec::new();
        while reader.next_into(&mut frame).unwrap().is_some() {
            firsts.push(frame[0]);
        }
        assert_eq!(firsts, [0, 1, 2], "each frame recorded once, in order");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
