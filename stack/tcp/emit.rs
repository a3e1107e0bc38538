//! TCP segments as sent: a [`SegmentOut`] describes one (header fields,
//! options, and where its payload lies in the send buffer) and writes it
//! straight into a transmit frame, checksum included.

use super::segment::HEADER_LEN;
use super::seq::SeqNumber;
use crate::buf::ByteRing;
use crate::wire::checksum::{pseudo_header, pseudo_header_v4};
use crate::wire::ipv6::next_header;
use std::net::SocketAddr;

/// Options on an outgoing segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptionsOut {
    /// MSS to announce (SYN and SYN-ACK only), in bytes.
    pub mss: Option<u16>,
    /// Window scale shift to announce (SYN and SYN-ACK only).
    pub window_scale: Option<u8>,
    /// Timestamps (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// SACK permitted (SYN and SYN-ACK only, RFC 2018).
    pub sack_permitted: bool,
    /// SACK blocks (left, right), the first `sack_count` of them.
    pub sack_blocks: [(SeqNumber, SeqNumber); 4],
    /// How many SACK blocks to send.
    pub sack_count: u8,
}

impl OptionsOut {
    /// Bytes the options take, padded to a multiple of four.
    pub fn len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4; // NOP + 3
        }
        if self.timestamps.is_some() {
            n += 12; // NOP NOP + 10
        }
        if self.sack_permitted {
            n += 4; // NOP NOP + 2
        }
        if self.sack_count > 0 {
            n += 4 + 8 * usize::from(self.sack_count); // NOP NOP + 2 + 8 per block
        }
        n
    }

    /// True when no option is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self, out: &mut [u8]) {
        let mut at = 0;
        if let Some(mss) = self.mss {
            out[at..at + 4].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
            at += 4;
        }
        if let Some(shift) = self.window_scale {
            out[at..at + 4].copy_from_slice(&[1, 3, 3, shift]);
            at += 4;
        }
        if let Some((val, ecr)) = self.timestamps {
            out[at..at + 4].copy_from_slice(&[1, 1, 8, 10]);
            out[at + 4..at + 8].copy_from_slice(&val.to_be_bytes());
            out[at + 8..at + 12].copy_from_slice(&ecr.to_be_bytes());
            at += 12;
        }
        if self.sack_permitted {
            out[at..at + 4].copy_from_slice(&[1, 1, 4, 2]);
            at += 4;
        }
        if self.sack_count > 0 {
            let count = usize::from(self.sack_count);
            out[at..at + 4].copy_from_slice(&[1, 1, 5, 2 + 8 * count as u8]);
            at += 4;
            for (left, right) in &self.sack_blocks[..count] {
                out[at..at + 4].copy_from_slice(&left.0.to_be_bytes());
                out[at + 4..at + 8].copy_from_slice(&right.0.to_be_bytes());
                at += 8;
            }
        }
    }
}

/// Where an outgoing segment's data comes from.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// No data.
    None,
    /// `len` bytes of a send buffer starting `offset` bytes in.
    Ring {
        /// The send buffer.
        ring: &'a ByteRing,
        /// Offset of the first byte.
        offset: usize,
        /// Bytes to send.
        len: usize,
    },
}

impl Payload<'_> {
    /// Bytes of data.
    pub fn len(&self) -> usize {
        match self {
            Payload::None => 0,
            Payload::Ring { len, .. } => *len,
        }
    }

    /// True when the segment carries no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One segment to transmit.
#[derive(Debug, Clone, Copy)]
pub struct SegmentOut<'a> {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// Sequence number of the first byte (or of the SYN/FIN).
    pub seq: SeqNumber,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: SeqNumber,
    /// Control bits (`segment::flags`).
    pub flags: u8,
    /// Window field as sent (already scaled down).
    pub window: u16,
    /// Options.
    pub options: OptionsOut,
    /// Data.
    pub payload: Payload<'a>,
}

impl SegmentOut<'_> {
    /// Bytes of the whole segment: header, options and data.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.options.len() + self.payload.len()
    }

    /// Never true: a segment has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the segment into `out` (exactly [`len`](Self::len) bytes)
    /// with its checksum, or with only the pseudo-header's sum in the
    /// checksum field when `pseudo_header_only` (the device completes it).
    pub fn write(&self, out: &mut [u8], pseudo_header_only: bool) {
        let header_len = HEADER_LEN + self.options.len();
        out[0..2].copy_from_slice(&self.local.port().to_be_bytes());
        out[2..4].copy_from_slice(&self.remote.port().to_be_bytes());
        out[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        out[12] = ((header_len / 4) as u8) << 4;
        out[13] = self.flags;
        out[14..16].copy_from_slice(&self.window.to_be_bytes());
        out[16..20].fill(0);
        self.options.write(&mut out[HEADER_LEN..header_len]);
        if let Payload::Ring { ring, offset, len } = self.payload {
            let copied = ring.read_at(offset, &mut out[header_len..header_len + len]);
            debug_assert_eq!(copied, len);
        }
        let total = out.len();
        // Matched by reference: copying two `SocketAddr`s showed per segment.
        let pseudo = match (&self.local, &self.remote) {
            (SocketAddr::V4(local), SocketAddr::V4(remote)) => {
                pseudo_header_v4(*local.ip(), *remote.ip(), next_header::TCP, total)
            }
            (local, remote) => pseudo_header(local.ip(), remote.ip(), next_header::TCP, total),
        };
        let sum = if pseudo_header_only {
            // The device adds the segment to the pseudo-header's sum.
            pseudo
        } else {
            !crate::wire::checksum::add_sums(pseudo, crate::wire::checksum::data(out))
        };
        out[16..18].copy_from_slice(&sum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::segment::{flags, parse};
    use super::*;

    #[test]
    fn written_segments_parse_back() {
        let mut ring = ByteRing::new(64);
        ring.write(b"0123456789");
        let local: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let remote: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let out = SegmentOut {
            local,
            remote,
            seq: SeqNumber(7),
            ack: SeqNumber(9),
            flags: flags::SYN | flags::ACK,
            window: 1234,
            options: OptionsOut {
                mss: Some(1460),
                window_scale: Some(7),
                timestamps: Some((5, 6)),
                sack_permitted: true,
                // 36 option bytes: one block fits beside everything else.
                sack_blocks: [
                    (SeqNumber(100), SeqNumber(200)),
                    (SeqNumber(0), SeqNumber(0)),
                    (SeqNumber(0), SeqNumber(0)),
                    (SeqNumber(0), SeqNumber(0)),
                ],
                sack_count: 1,
            },
            payload: Payload::Ring {
                ring: &ring,
                offset: 2,
                len: 5,
            },
        };
        let mut bytes = vec![0; out.len()];
        out.write(&mut bytes, false);
        let seg = parse(local.ip(), remote.ip(), &bytes).expect("valid");
        assert_eq!(
            (seg.seq, seg.ack, seg.window),
            (SeqNumber(7), SeqNumber(9), 1234)
        );
        assert_eq!(seg.options.mss, Some(1460));
        assert_eq!(seg.options.window_scale, Some(7));
        assert_eq!(seg.options.timestamps, Some((5, 6)));
        assert!(seg.options.sack_permitted);
        assert_eq!(
            &seg.options.sack_blocks[..2],
            &[Some((SeqNumber(100), SeqNumber(200))), None]
        );
        assert_eq!(seg.payload, b"23456");

        // Written for checksum offload, the field holds the pseudo-header's
        // sum; completed as a device would, the segment is the same.
        let mut offloaded = vec![0; out.len()];
        out.write(&mut offloaded, true);
        assert_ne!(offloaded, bytes);
        let mut frame = vec![0u8; 14 + 20];
        frame[14] = 0x45;
        frame[14 + 2..14 + 4].copy_from_slice(&((20 + offloaded.len()) as u16).to_be_bytes());
        frame.extend_from_slice(&offloaded);
        let request = crate::buf::TxChecksums {
            tcp: true,
            l2_len: 14,
            l3_len: 20,
            ..Default::default()
        };
        crate::wire::checksum::complete_offloaded(&mut frame, request);
        assert_eq!(&frame[34..], &bytes[..]);
    }
}
