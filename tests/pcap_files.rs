//! Capture files: frames written come back identical, and tcpdump reads them.

use dpstack::buf::{BufPool, PacketBuf};
use dpstack::device::pcap::{PcapDevice, PcapReader, Recorder};
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::Device;
use dpstack::time::{Duration, Instant};
use dpstack::wire::MacAddr;
use std::path::PathBuf;
use std::process::Command;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("dpstack-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A broadcast Ethernet frame (EtherType 0x88b5) of `len` bytes numbered `i`.
fn frame(i: usize, len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|j| (i * 13 + j) as u8).collect();
    bytes[0..6].copy_from_slice(&[0xff; 6]);
    bytes[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    bytes[12..14].copy_from_slice(&[0x88, 0xb5]);
    bytes
}

#[test]
fn frames_written_read_back_identical_and_tcpdump_reads_them() {
    let dir = TempDir::new("pcap");
    let path = dir.0.join("out.pcap");
    let pool = BufPool::with_defaults();
    let sizes: Vec<usize> = (0..500).map(|i| 60 + (i * 37) % 9000).collect();
    {
        let mut writer =
            PcapDevice::open(None, Some(&path), MacAddr::local_from_seed(1), &pool).unwrap();
        let mut now = Instant::from_millis(1);
        for (i, &len) in sizes.iter().enumerate() {
            let mut buf = writer.alloc_tx(len).unwrap();
            buf.data_mut().copy_from_slice(&frame(i, len));
            let mut burst = vec![buf];
            assert_eq!(writer.transmit(now, &mut burst), 1);
            now += Duration::from_micros(10);
        }
        writer.flush().unwrap();
    }

    let mut reader =
        PcapDevice::open(Some(&path), None, MacAddr::local_from_seed(2), &pool).unwrap();
    let mut got = Vec::new();
    while reader.receive(Instant::ZERO, &mut got, 32) > 0 {}
    assert!(reader.input_exhausted());
    assert_eq!(got.len(), sizes.len());
    for (i, buf) in got.iter().enumerate() {
        assert_eq!(buf.data(), &frame(i, sizes[i])[..], "frame {i}");
    }
    assert_eq!(reader.stats().rx_errors, 0);

    let out = Command::new("tcpdump")
        .args(["-nn", "-e", "-r"])
        .arg(&path)
        .output()
        .expect("tcpdump is installed (setup/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // One line per record; tcpdump hex-dumps unknown payloads on indented lines.
    let records: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .collect();
    assert_eq!(records.len(), sizes.len(), "tcpdump reads every record");
    for (record, len) in records.iter().zip(&sizes) {
        assert!(record.contains("ethertype Unknown (0x88b5)"), "{record}");
        assert!(record.contains(&format!("length {len}")), "{record}");
    }
}

#[test]
fn recorder_captures_both_directions() {
    let dir = TempDir::new("recorder");
    let path = dir.0.join("rec.pcap");
    let pool = BufPool::with_defaults();
    let (a, b) = pipe_pair(&PipeConfig::default(), &pool);
    let mut a = Recorder::create(a, &path).unwrap();
    let mut b = Recorder::create(b, dir.0.join("b.pcap")).unwrap();
    for i in 0..10 {
        let mut buf = a.alloc_tx(100).unwrap();
        buf.data_mut().copy_from_slice(&frame(i, 100));
        assert_eq!(a.transmit(Instant::ZERO, &mut vec![buf]), 1);
    }
    let mut got = Vec::new();
    assert_eq!(b.receive(Instant::ZERO, &mut got, 32), 10);
    assert_eq!(b.transmit(Instant::ZERO, &mut got), 10);
    let mut back = Vec::new();
    assert_eq!(a.receive(Instant::ZERO, &mut back, 32), 10);
    drop((a, b));

    let mut reader = PcapReader::open(&path).unwrap();
    let mut bytes = Vec::new();
    let mut records = 0;
    while reader.next_into(&mut bytes).unwrap().is_some() {
        assert_eq!(bytes, frame(records % 10, 100));
        records += 1;
    }
    assert_eq!(records, 20, "10 sent and 10 received");
}

#[test]
fn corrupt_capture_is_an_error_not_a_panic() {
    let dir = TempDir::new("corrupt");
    let path = dir.0.join("bad.pcap");
    std::fs::write(&path, b"this is not a capture file at all").unwrap();
    let pool = BufPool::with_defaults();
    assert!(PcapDevice::open(Some(&path), None, MacAddr::local_from_seed(3), &pool).is_err());
}
