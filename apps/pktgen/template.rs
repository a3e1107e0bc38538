//! Per-flow frame templates prepared before the run, so that building a
//! frame is one 60-byte copy and a handful of stores.
//!
//! Each template holds a flow's first 60 bytes (the smallest frame) with
//! every per-frame field zero: lengths, IPv4 identification, checksums,
//! sequence number and timestamp. Beside it are the ones' complement sums
//! of the fixed words of the IPv4 header and of the transport checksum, so
//! a frame's checksums are those sums plus its own fields (incremental,
//! RFC 1624), folded once. The frames are byte for byte what
//! [`write_frame`] writes; a test checks it.

use crate::builder::{
    words32, words64, write_frame, FlowMode, FlowSpec, FlowWalker, Probe, PROBE_MAGIC,
};
use crate::spec::{Mode, MIN_FRAME};
use dpstack::buf::PacketBuf;
use dpstack::rand::Rng;

/// Flows above this count are not prepared (64 bytes each, 4 MiB in all):
/// frames are then written field by field.
pub const MAX_TEMPLATE_FLOWS: u64 = 65_536;

/// Modes as constants, so each gets its own frame-writing loop.
const UDP: u8 = 0;
const SYN: u8 = 1;
const ICMP: u8 = 2;

/// One flow's prepared frame start and partial checksums.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct FlowTemplate {
    /// The first 60 bytes of the frame, per-frame fields zero.
    head: [u8; MIN_FRAME],
    /// Folded sum of the IPv4 header's fixed words.
    ip_sum: u16,
    /// Folded sum of the transport checksum's fixed words (pseudo-header
    /// without its length, ports, fixed header words, the probe's magic).
    l4_sum: u16,
}

/// The prepared frames of one worker's flows, walked like the
/// [`FlowWalker`] they were made from: in order (`incr`) or drawn uniformly
/// (`random`: every combination of fields equally likely, as when each
/// field is drawn on its own).
pub struct FrameTemplates {
    mode: Mode,
    flows: Vec<FlowTemplate>,
    next: usize,
    random: Option<Rng>,
}

/// `acc` folded to 16 bits (ones' complement addition of its carries).
/// Two folds suffice below 2^32; every sum here is a few dozen words.
#[inline(always)]
fn fold(acc: u64) -> u16 {
    debug_assert!(acc < 1 << 32);
    let acc = (acc & 0xffff) + (acc >> 16);
    ((acc & 0xffff) + (acc >> 16)) as u16
}

impl FrameTemplates {
    /// Templates for every flow `walker` produces in one cycle, for
    /// `mode` (not replay) and worker `queue`; `None` when there are more
    /// than [`MAX_TEMPLATE_FLOWS`]. `random` draws flows uniformly.
    pub fn prepare(
        mode: Mode,
        walker: &mut FlowWalker,
        queue: u8,
        random: Option<Rng>,
    ) -> Option<FrameTemplates> {
        let count = walker.cycle_len();
        if count > MAX_TEMPLATE_FLOWS || mode == Mode::Replay || walker.is_ipv6() {
            return None;
        }
        let flows = (0..count)
            .map(|_| Self::template(mode, &walker.next_in_order(), queue))
            .collect();
        Some(FrameTemplates {
            mode,
            flows,
            next: 0,
            random,
        })
    }

    fn template(mode: Mode, flow: &crate::builder::Flow, queue: u8) -> FlowTemplate {
        let mut head = [0u8; MIN_FRAME];
        let protocol = match mode {
            Mode::TcpSyn => 6u8,
            Mode::Icmp => 1,
            _ => 17,
        };
        let (src, dst) = (u32::from(flow.src_ip), u32::from(flow.dst_ip));
        head[0..6].copy_from_slice(&flow.dst_mac.0);
        head[6..12].copy_from_slice(&flow.src_mac.0);
        head[12..14].copy_from_slice(&[0x08, 0x00]);
        head[14] = 0x45;
        head[22] = 64;
        head[23] = protocol;
        head[26..30].copy_from_slice(&src.to_be_bytes());
        head[30..34].copy_from_slice(&dst.to_be_bytes());
        let ip_sum = 0x4500 + (64 << 8 | u64::from(protocol)) + words32(src) + words32(dst);
        let pseudo = words32(src) + words32(dst) + u64::from(protocol);
        let l4_sum = match mode {
            Mode::TcpSyn => {
                let (offset_flags, window) = (5u16 << 12 | 0x02, 65_535u16);
                head[34..36].copy_from_slice(&flow.src_port.to_be_bytes());
                head[36..38].copy_from_slice(&flow.dst_port.to_be_bytes());
                head[46..48].copy_from_slice(&offset_flags.to_be_bytes());
                head[48..50].copy_from_slice(&window.to_be_bytes());
                pseudo
                    + u64::from(flow.src_port)
                    + u64::from(flow.dst_port)
                    + u64::from(offset_flags)
                    + u64::from(window)
            }
            Mode::Icmp => {
                head[34] = 8;
                head[38..40].copy_from_slice(&u16::from(queue).to_be_bytes());
                0x0800 + u64::from(queue)
            }
            _ => {
                let magic_queue = u16::from(PROBE_MAGIC) << 8 | u16::from(queue);
                head[34..36].copy_from_slice(&flow.src_port.to_be_bytes());
                head[36..38].copy_from_slice(&flow.dst_port.to_be_bytes());
                head[42..44].copy_from_slice(&magic_queue.to_be_bytes());
                pseudo
                    + u64::from(flow.src_port)
                    + u64::from(flow.dst_port)
                    + u64::from(magic_queue)
            }
        };
        FlowTemplate {
            head,
            ip_sum: fold(ip_sum),
            l4_sum: fold(l4_sum),
        }
    }

    /// Writes the next flow's frame into `frame` (at least 60 bytes), as
    /// [`write_frame`] would for this probe
    /// (whose `queue` must be the one the templates were made for).
    pub fn write_next(&mut self, frame: &mut [u8], probe: &Probe) {
        match self.mode {
            Mode::TcpSyn => self.write_as::<SYN>(frame, probe),
            Mode::Icmp => self.write_as::<ICMP>(frame, probe),
            _ => self.write_as::<UDP>(frame, probe),
        }
    }

    /// Writes one frame per buffer of `bufs`, for probes numbered from
    /// `first.seq` (identification likewise); the timestamp is
    /// `first.timestamp` for all, or read from `clock` per frame.
    pub fn write_burst<B: PacketBuf>(
        &mut self,
        bufs: &mut [B],
        first: &Probe,
        clock: Option<&dyn Fn() -> u64>,
    ) {
        // One loop per mode, so the mode is not dispatched per frame.
        match self.mode {
            Mode::TcpSyn => self.burst_as::<SYN, B>(bufs, first, clock),
            Mode::Icmp => self.burst_as::<ICMP, B>(bufs, first, clock),
            _ => self.burst_as::<UDP, B>(bufs, first, clock),
        }
    }

    #[inline(always)]
    fn burst_as<const MODE: u8, B: PacketBuf>(
        &mut self,
        bufs: &mut [B],
        first: &Probe,
        clock: Option<&dyn Fn() -> u64>,
    ) {
        let mut probe = *first;
        for buf in bufs {
            if let Some(clock) = clock {
                probe.timestamp = clock();
            }
            self.write_as::<MODE>(buf.data_mut(), &probe);
            probe.seq = probe.seq.wrapping_add(1);
            probe.ident = probe.ident.wrapping_add(1);
        }
    }

    #[inline(always)]
    fn write_as<const MODE: u8>(&mut self, frame: &mut [u8], probe: &Probe) {
        let index = match &mut self.random {
            None => {
                let index = self.next;
                self.next = if index + 1 == self.flows.len() {
                    0
                } else {
                    index + 1
                };
                index
            }
            Some(rng) => rng.below(self.flows.len() as u64) as usize,
        };
        let template = &self.flows[index];
        let len = frame.len();
        let (head, tail) = frame.split_at_mut(MIN_FRAME);
        head.copy_from_slice(&template.head);
        // Most frames are minimal, with a few bytes of tail: stored directly
        // rather than by a memset call (a byte loop becomes one).
        match tail.len() {
            0 => {}
            4 => tail.copy_from_slice(&[0; 4]),
            _ => tail.fill(0),
        }
        let ip_len = (len - 14) as u16;
        let segment_len = (len - 34) as u16;
        head[16..18].copy_from_slice(&ip_len.to_be_bytes());
        head[18..20].copy_from_slice(&probe.ident.to_be_bytes());
        let ip_sum = u64::from(template.ip_sum) + u64::from(ip_len) + u64::from(probe.ident);
        head[24..26].copy_from_slice(&(!fold(ip_sum)).to_be_bytes());
        let l4_sum = u64::from(template.l4_sum);
        match MODE {
            SYN => {
                let seq = probe.seq as u32;
                head[38..42].copy_from_slice(&seq.to_be_bytes());
                let sum = l4_sum + u64::from(segment_len) + words32(seq);
                head[50..52].copy_from_slice(&(!fold(sum)).to_be_bytes());
            }
            ICMP => {
                let seq16 = probe.seq as u16;
                head[40..42].copy_from_slice(&seq16.to_be_bytes());
                head[42..50].copy_from_slice(&probe.seq.to_be_bytes());
                head[50..58].copy_from_slice(&probe.timestamp.to_be_bytes());
                let sum = l4_sum + u64::from(seq16) + words64(probe.seq) + words64(probe.timestamp);
                head[36..38].copy_from_slice(&(!fold(sum)).to_be_bytes());
            }
            _ => {
                head[38..40].copy_from_slice(&segment_len.to_be_bytes());
                head[44..52].copy_from_slice(&probe.seq.to_be_bytes());
                head[52..60].copy_from_slice(&probe.timestamp.to_be_bytes());
                let sum = l4_sum
                    + 2 * u64::from(segment_len)
                    + words64(probe.seq)
                    + words64(probe.timestamp);
                // UDP sends a computed zero as all ones (RFC 768).
                let checksum = match !fold(sum) {
                    0 => 0xffff,
                    c => c,
                };
                head[40..42].copy_from_slice(&checksum.to_be_bytes());
            }
        }
    }
}

/// Writes generated frames: from prepared templates when the flows fit,
/// field by field otherwise.
pub enum FrameWriter {
    /// Up to [`MAX_TEMPLATE_FLOWS`] flows, prepared.
    Templates(FrameTemplates),
    /// More flows: each frame written from its flow's fields.
    Fields(FlowWalker),
}

impl FrameWriter {
    /// The writer for `mode`'s frames over `flows`, for worker `queue`;
    /// `seed` fixes the random mode's draws.
    pub fn new(mode: Mode, flows: FlowSpec, queue: u8, seed: u64) -> Self {
        let random = (flows.mode == FlowMode::Random).then(|| Rng::new(seed));
        let mut walker = FlowWalker::new(flows, seed);
        match FrameTemplates::prepare(mode, &mut walker, queue, random) {
            Some(templates) => FrameWriter::Templates(templates),
            None => FrameWriter::Fields(walker),
        }
    }

    /// Writes the next flow's frame for `probe` into `frame` (at least 60
    /// bytes): headers, checksums and probe.
    #[inline(always)]
    pub fn write(&mut self, frame: &mut [u8], mode: Mode, probe: &Probe) {
        match self {
            FrameWriter::Templates(templates) => templates.write_next(frame, probe),
            FrameWriter::Fields(walker) => write_frame(frame, mode, &walker.next_flow(), probe),
        }
    }

    /// Writes one frame per buffer, as [`FrameTemplates::write_burst`].
    pub fn write_burst<B: PacketBuf>(
        &mut self,
        bufs: &mut [B],
        mode: Mode,
        first: &Probe,
        clock: Option<&dyn Fn() -> u64>,
    ) {
        match self {
            FrameWriter::Templates(templates) => templates.write_burst(bufs, first, clock),
            FrameWriter::Fields(walker) => {
                let mut probe = *first;
                for buf in bufs {
                    if let Some(clock) = clock {
                        probe.timestamp = clock();
                    }
                    write_frame(buf.data_mut(), mode, &walker.next_flow(), &probe);
                    probe.seq = probe.seq.wrapping_add(1);
                    probe.ident = probe.ident.wrapping_add(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::tests::spec;

    fn probe(seq: u64, queue: u8) -> Probe {
        Probe {
            queue,
            seq,
            timestamp: seq.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ident: seq.wrapping_mul(7) as u16,
        }
    }

    #[test]
    fn frames_equal_the_field_by_field_writer() {
        for mode in [Mode::Udp, Mode::TcpSyn, Mode::Icmp] {
            for len in [60, 61, 64, 77, 128, 1514, 9018] {
                let spec = spec(FlowMode::Incr);
                let mut walker = FlowWalker::new(spec.clone(), 1);
                let mut reference = FlowWalker::new(spec, 1);
                let mut templates = FrameTemplates::prepare(mode, &mut walker, 3, None).unwrap();
                assert_eq!(templates.flows.len(), 6);
                // Two cycles, over stale bytes as an mbuf would hold.
                for seq in (0..12).map(|i| i * 0x1234_5678_9abc + (i & 1) * u64::MAX / 3) {
                    let probe = probe(seq, 3);
                    let mut expected = vec![0x5a; len];
                    write_frame(&mut expected, mode, &reference.next_flow(), &probe);
                    let mut frame = vec![0xa5; len];
                    templates.write_next(&mut frame, &probe);
                    assert_eq!(frame, expected, "{mode:?} {len} bytes, seq {seq}");
                }
            }
        }
    }

    #[test]
    fn udp_checksum_of_zero_is_sent_as_all_ones() {
        // Find a sequence number whose UDP checksum computes to zero: both
        // writers must send 0xffff for it.
        let spec = spec(FlowMode::Incr);
        let mut walker = FlowWalker::new(spec.clone(), 1);
        let mut templates = FrameTemplates::prepare(Mode::Udp, &mut walker, 0, None).unwrap();
        let flow = FlowWalker::new(spec, 1).next_flow();
        let mut found = false;
        for seq in 0..200_000u64 {
            let probe = Probe {
                queue: 0,
                seq,
                timestamp: 0,
                ident: 0,
            };
            let mut expected = vec![0u8; 60];
            write_frame(&mut expected, Mode::Udp, &flow, &probe);
            if expected[40..42] == [0xff, 0xff] {
                // Walk the templates back to the first flow.
                templates.next = 0;
                let mut frame = vec![0u8; 60];
                templates.write_next(&mut frame, &probe);
                assert_eq!(frame, expected);
                found = true;
                break;
            }
        }
        assert!(found, "no sequence number gave a zero checksum");
    }

    #[test]
    fn random_draws_stay_in_the_prepared_flows_and_are_seeded() {
        let spec = spec(FlowMode::Random);
        let draw = |seed| {
            let mut walker = FlowWalker::new(spec.clone(), 1);
            let mut templates =
                FrameTemplates::prepare(Mode::Udp, &mut walker, 0, Some(Rng::new(seed))).unwrap();
            (0..200)
                .map(|i| {
                    let mut frame = vec![0u8; 60];
                    templates.write_next(&mut frame, &probe(i, 0));
                    (u16::from_be_bytes([frame[34], frame[35]]), frame[29])
                })
                .collect::<Vec<_>>()
        };
        let frames = draw(9);
        assert_eq!(frames, draw(9));
        assert!(frames.iter().all(|(port, _)| (1000..=1002).contains(port)));
        let distinct: std::collections::HashSet<_> = frames.iter().collect();
        assert_eq!(distinct.len(), 6, "every flow is drawn");
    }

    #[test]
    fn too_many_flows_are_not_prepared() {
        let mut wide = spec(FlowMode::Incr);
        wide.src_port = crate::spec::Range {
            first: 0,
            last: 65_535,
        };
        let mut walker = FlowWalker::new(wide, 1);
        assert!(FrameTemplates::prepare(Mode::Udp, &mut walker, 0, None).is_none());
    }
}
