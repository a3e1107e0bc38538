//! TCP segments as received: header and option validation, each failure
//! named so it can be counted (RFC 9293 3.1, 3.2; RFC 7323; RFC 2018).

use super::seq::SeqNumber;
use crate::buf::ChecksumVerdict;
use crate::wire::checksum::pseudo_header;
use crate::wire::ipv6::next_header::TCP as PROTOCOL;
use std::net::IpAddr;

/// Bytes of a TCP header without options.
pub const HEADER_LEN: usize = 20;

/// Control bits.
pub mod flags {
    /// No more data from the sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// The acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// The urgent pointer is significant.
    pub const URG: u8 = 0x20;
}

/// Why a segment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentError {
    /// Shorter than a TCP header.
    Truncated,
    /// Data offset below 5 words, or past the end of the segment.
    BadDataOffset,
    /// Checksum over the pseudo header and segment is wrong.
    BadChecksum,
    /// An option's length is impossible or wrong for its kind.
    BadOptions,
    /// A flag combination no sender may use (SYN with FIN or RST, or none at all).
    BadFlags,
}

/// Options a segment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Maximum segment size (RFC 9293 3.7.1), in bytes.
    pub mss: Option<u16>,
    /// Window scale shift (RFC 7323 2).
    pub window_scale: Option<u8>,
    /// SACK permitted (RFC 2018).
    pub sack_permitted: bool,
    /// Timestamps: (TSval, TSecr) (RFC 7323 3).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks (left, right), at most four.
    pub sack_blocks: [Option<(SeqNumber, SeqNumber)>; 4],
}

/// A validated segment, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first byte (or of the SYN).
    pub seq: SeqNumber,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: SeqNumber,
    /// Control bits (see [`flags`]).
    pub flags: u8,
    /// Window, unscaled as sent.
    pub window: u16,
    /// Parsed options.
    pub options: Options,
    /// Data carried.
    pub payload: &'a [u8],
}

impl Segment<'_> {
    /// True if flag `bit` is set.
    pub fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    /// Sequence space the segment occupies: its data, plus one each for SYN and FIN.
    pub fn len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.has(flags::SYN))
            + u32::from(self.has(flags::FIN))
    }

    /// True when it occupies no sequence space.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Validates and parses the TCP segment `bytes` sent from `src` to `dst`.
pub fn parse(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    bytes: &[u8],
) -> Result<Segment<'_>, SegmentError> {
    parse_checked(src.into(), dst.into(), bytes, ChecksumVerdict::Unknown)
}

/// As [`parse`], for a segment whose checksum the device already checked
/// (`verdict`): a good one is trusted, a bad one refused, an unknown one
/// verified here.
pub fn parse_checked(
    src: IpAddr,
    dst: IpAddr,
    bytes: &[u8],
    verdict: ChecksumVerdict,
) -> Result<Segment<'_>, SegmentError> {
    if bytes.len() < HEADER_LEN {
        return Err(SegmentError::Truncated);
    }
    let offset = usize::from(bytes[12] >> 4) * 4;
    if offset < HEADER_LEN || offset > bytes.len() {
        return Err(SegmentError::BadDataOffset);
    }
    let checksum_ok = match verdict {
        ChecksumVerdict::Good => true,
        ChecksumVerdict::Bad => false,
        ChecksumVerdict::Unknown => {
            let sum = crate::wire::checksum::add_sums(
                pseudo_header(src, dst, PROTOCOL, bytes.len()),
                crate::wire::checksum::data(bytes),
            );
            sum == !0
        }
    };
    if !checksum_ok {
        return Err(SegmentError::BadChecksum);
    }
    let control = bytes[13] & 0x3f;
    let syn = control & flags::SYN != 0;
    if (syn && control & (flags::FIN | flags::RST) != 0)
        || control & (flags::SYN | flags::ACK | flags::RST | flags::FIN) == 0
    {
        return Err(SegmentError::BadFlags);
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok(Segment {
        src_port: u16::from_be_bytes([bytes[0], bytes[1]]),
        dst_port: u16::from_be_bytes([bytes[2], bytes[3]]),
        seq: SeqNumber(word(4)),
        ack: SeqNumber(word(8)),
        flags: control,
        window: u16::from_be_bytes([bytes[14], bytes[15]]),
        options: parse_options(&bytes[HEADER_LEN..offset])?,
        payload: &bytes[offset..],
    })
}

fn parse_options(mut bytes: &[u8]) -> Result<Options, SegmentError> {
    let mut options = Options::default();
    while let Some(&kind) = bytes.first() {
        match kind {
            0 => break,
            1 => {
                bytes = &bytes[1..];
                continue;
            }
            _ => {}
        }
        let len = usize::from(*bytes.get(1).ok_or(SegmentError::BadOptions)?);
        if len < 2 || len > bytes.len() {
            return Err(SegmentError::BadOptions);
        }
        let body = &bytes[2..len];
        match (kind, body.len()) {
            (2, 2) => options.mss = Some(u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => options.window_scale = Some(body[0]),
            (4, 0) => options.sack_permitted = true,
            (5, n) if n > 0 && n % 8 == 0 && n <= 32 => {
                for (slot, block) in options.sack_blocks.iter_mut().zip(body.chunks_exact(8)) {
                    let left = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
                    let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                    *slot = Some((SeqNumber(left), SeqNumber(right)));
                }
            }
            (8, 8) => {
                let val = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                let ecr = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                options.timestamps = Some((val, ecr));
            }
            (2..=5 | 8, _) => return Err(SegmentError::BadOptions),
            // Unknown kinds are skipped by their length (RFC 9293 3.2).
            _ => {}
        }
        bytes = &bytes[len..];
    }
    Ok(options)
}

/// Writes a bare segment (no options, no data) with its checksum into
/// `out[..HEADER_LEN]`.
#[allow(clippy::too_many_arguments)]
pub fn write_bare(
    out: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    seq: SeqNumber,
    ack: SeqNumber,
    control: u8,
    window: u16,
) {
    let header = &mut out[..HEADER_LEN];
    header[0..2].copy_from_slice(&src_port.to_be_bytes());
    header[2..4].copy_from_slice(&dst_port.to_be_bytes());
    header[4..8].copy_from_slice(&seq.0.to_be_bytes());
    header[8..12].copy_from_slice(&ack.0.to_be_bytes());
    header[12] = (HEADER_LEN as u8 / 4) << 4;
    header[13] = control;
    header[14..16].copy_from_slice(&window.to_be_bytes());
    header[16..20].fill(0);
    let sum = !crate::wire::checksum::add_sums(
        pseudo_header(src, dst, PROTOCOL, HEADER_LEN),
        crate::wire::checksum::data(header),
    );
    header[16..18].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A segment from A to B with `options` (padded) and `data`, checksummed.
    fn build(control: u8, options: &[u8], data: &[u8]) -> Vec<u8> {
        let padded = options.len().div_ceil(4) * 4;
        let mut s = vec![0u8; HEADER_LEN + padded + data.len()];
        write_bare(
            &mut s,
            A.into(),
            B.into(),
            1234,
            80,
            SeqNumber(100),
            SeqNumber(200),
            control,
            512,
        );
        s[12] = (((HEADER_LEN + padded) / 4) as u8) << 4;
        s[HEADER_LEN..HEADER_LEN + options.len()].copy_from_slice(options);
        s[HEADER_LEN + padded..].copy_from_slice(data);
        refresh(&mut s);
        s
    }

    fn refresh(s: &mut [u8]) {
        s[16..18].fill(0);
        let sum = !crate::wire::checksum::add_sums(
            pseudo_header(A.into(), B.into(), PROTOCOL, s.len()),
            crate::wire::checksum::data(s),
        );
        s[16..18].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn parses_a_syn_with_every_option() {
        let options = [
            2, 4, 0x05, 0xb4, // MSS 1460
            1, 3, 3, 7, // NOP, window scale 7
            4, 2, // SACK permitted
            8, 10, 0, 0, 0, 9, 0, 0, 0, 0, // timestamps 9, 0
            99, 3, 0, // an unknown kind, skipped
            0, // end of options
        ];
        let s = build(flags::SYN, &options, b"");
        let seg = parse(A, B, &s).unwrap();
        assert_eq!(
            (seg.src_port, seg.dst_port, seg.seq, seg.window),
            (1234, 80, SeqNumber(100), 512)
        );
        assert_eq!(seg.options.mss, Some(1460));
        assert_eq!(seg.options.window_scale, Some(7));
        assert!(seg.options.sack_permitted);
        assert_eq!(seg.options.timestamps, Some((9, 0)));
        assert_eq!(seg.len(), 1, "a SYN takes one sequence number");
    }

    #[test]
    fn parses_sack_blocks_and_data() {
        let s = build(flags::ACK, &[1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9], b"hello");
        let seg = parse(A, B, &s).unwrap();
        assert_eq!(
            seg.options.sack_blocks[0],
            Some((SeqNumber(5), SeqNumber(9)))
        );
        assert_eq!(seg.payload, b"hello");
        assert_eq!(seg.len(), 5);
    }

    #[test]
    fn refuses_each_malformed_case() {
        let good = build(flags::ACK, &[], b"data");
        assert_eq!(parse(A, B, &good[..19]), Err(SegmentError::Truncated));
        let mut short_offset = good.clone();
        short_offset[12] = 4 << 4;
        refresh(&mut short_offset);
        assert_eq!(parse(A, B, &short_offset), Err(SegmentError::BadDataOffset));
        let mut long_offset = good.clone();
        long_offset[12] = 15 << 4;
        refresh(&mut long_offset);
        assert_eq!(parse(A, B, &long_offset), Err(SegmentError::BadDataOffset));
        let mut bad_sum = good.clone();
        bad_sum[20] ^= 1;
        assert_eq!(parse(A, B, &bad_sum), Err(SegmentError::BadChecksum));
        for control in [
            flags::SYN | flags::FIN,
            flags::SYN | flags::RST,
            0,
            flags::PSH | flags::URG,
        ] {
            assert_eq!(
                parse(A, B, &build(control, &[], b"")),
                Err(SegmentError::BadFlags),
                "{control:#x}"
            );
        }
        for options in [
            &[2u8, 8, 0, 0][..],
            &[2, 3, 5, 0],
            &[3, 2, 0, 0],
            &[8, 9, 0, 0],
            &[5, 6, 0, 0, 0, 0],
            &[30, 1, 0, 0],
            &[30, 9, 0, 0],
        ] {
            assert_eq!(
                parse(A, B, &build(flags::ACK, options, b"")),
                Err(SegmentError::BadOptions),
                "{options:?}"
            );
        }
    }
}
