//! The Toeplitz hash that NICs use for receive-side scaling (RSS), in
//! software: the same value the hardware computes, so the stack can choose
//! ephemeral ports whose replies the NIC steers to the opening core, and
//! steer frames itself on ports without RSS.
//!
//! The hash of an input bit string is the XOR, over every set input bit `i`,
//! of the 32-bit window of the key that starts at bit `i`. A table per input
//! byte position turns that into one lookup and one XOR per input byte.

use std::net::Ipv4Addr;

/// Bytes of an RSS key (what NICs of the ixgbe/i40e/mlx5 families take).
pub const KEY_LEN: usize = 40;

/// Bytes of the IPv4 4-tuple input: source and destination address, then
/// source and destination port, all in network order.
const INPUT_LEN: usize = 12;

/// A key of 0x6d5a repeated: its 32-bit windows repeat every 16 bits, so
/// swapping the two addresses (32 bits apart) or the two ports (16 bits
/// apart) leaves the hash unchanged, and both directions of a flow land on
/// one queue (Woo and Park, "Scalable TCP session monitoring with
/// symmetric receive-side scaling").
pub const SYMMETRIC_KEY: [u8; KEY_LEN] = {
    let mut key = [0u8; KEY_LEN];
    let mut i = 0;
    while i < KEY_LEN {
        key[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    key
};

/// The key of Microsoft's RSS verification suite, which many NICs also use
/// as their default; the tests check the published hashes with it.
pub const MICROSOFT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// A Toeplitz hasher for IPv4 inputs with one key: 12 tables of 256
/// words (12 KiB), built once.
#[derive(Clone)]
pub struct Toeplitz {
    key: [u8; KEY_LEN],
    /// `table[i][b]`: the hash contribution of byte value `b` at input byte `i`.
    table: Box<[[u32; 256]; INPUT_LEN]>,
}

impl std::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toeplitz").field("key", &self.key).finish()
    }
}

impl PartialEq for Toeplitz {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Toeplitz {
    /// A hasher with `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let mut table = Box::new([[0u32; 256]; INPUT_LEN]);
        for (position, row) in table.iter_mut().enumerate() {
            // The windows for the 8 bits of this input byte, most significant first.
            let windows: [u32; 8] = std::array::from_fn(|bit| window(key, position * 8 + bit));
            for (value, slot) in row.iter_mut().enumerate() {
                *slot = windows
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| value & (0x80 >> bit) != 0)
                    .fold(0, |hash, (_, w)| hash ^ w);
            }
        }
        Toeplitz { key: *key, table }
    }

    /// The key.
    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The hash of an IPv4 TCP or UDP flow as a NIC computes it for a frame
    /// from `src` to `dst` (RSS's `NONFRAG_IPV4_TCP/UDP` types).
    pub fn hash_ports(&self, src: Ipv4Addr, dst: Ipv4Addr, src_port: u16, dst_port: u16) -> u32 {
        let mut input = [0u8; INPUT_LEN];
        input[..4].copy_from_slice(&src.octets());
        input[4..8].copy_from_slice(&dst.octets());
        input[8..10].copy_from_slice(&src_port.to_be_bytes());
        input[10..].copy_from_slice(&dst_port.to_be_bytes());
        self.hash_bytes(&input)
    }

    /// The hash of an IPv4 address pair (RSS's `IPV4`/`FRAG_IPV4` types:
    /// fragments and protocols without ports).
    pub fn hash_addresses(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
        let mut input = [0u8; 8];
        input[..4].copy_from_slice(&src.octets());
        input[4..].copy_from_slice(&dst.octets());
        self.hash_bytes(&input)
    }

    /// The hash of up to 12 input bytes (longer inputs hash their first 12).
    pub fn hash_bytes(&self, input: &[u8]) -> u32 {
        input
            .iter()
            .zip(self.table.iter())
            .fold(0, |hash, (&byte, row)| hash ^ row[usize::from(byte)])
    }
}

/// The 32 key bits starting at bit `start` (bits past the key read as 0;
/// a 12-byte input needs windows up to bit 95 + 31, within 40 bytes).
fn window(key: &[u8; KEY_LEN], start: usize) -> u32 {
    let byte = start / 8;
    let mut wide = 0u64;
    for k in 0..5 {
        wide = (wide << 8) | u64::from(key.get(byte + k).copied().unwrap_or(0));
    }
    // 40 bits loaded; drop the leading `start % 8` bits and keep 32.
    (wide >> (8 - start % 8)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microsoft's "Verifying the RSS hash calculation" IPv4 vectors:
    /// (source, source port, destination, destination port, hash of the
    /// addresses, hash with the ports).
    const VECTORS: [(&str, u16, &str, u16, u32, u32); 5] = [
        (
            "66.9.149.187",
            2794,
            "161.142.100.80",
            1766,
            0x323e_8fc2,
            0x51cc_c178,
        ),
        (
            "199.92.111.2",
            14230,
            "65.69.140.83",
            4739,
            0xd718_262a,
            0xc626_b0ea,
        ),
        (
            "24.19.198.95",
            12898,
            "12.22.207.184",
            38024,
            0xd2d0_a5de,
            0x5c2b_394a,
        ),
        (
            "38.27.205.30",
            48228,
            "209.142.163.6",
            2217,
            0x8298_9176,
            0xafc7_327f,
        ),
        (
            "153.39.163.191",
            44251,
            "202.188.127.2",
            1303,
            0x5d18_09c5,
            0x10e8_28a2,
        ),
    ];

    #[test]
    fn matches_the_published_rss_verification_vectors() {
        let hasher = Toeplitz::new(&MICROSOFT_KEY);
        for (src, sport, dst, dport, two, four) in VECTORS {
            let (src, dst) = (src.parse().unwrap(), dst.parse().unwrap());
            assert_eq!(hasher.hash_addresses(src, dst), two, "{src} -> {dst}");
            assert_eq!(
                hasher.hash_ports(src, dst, sport, dport),
                four,
                "{src}:{sport} -> {dst}:{dport}"
            );
        }
    }

    #[test]
    fn table_agrees_with_the_bit_by_bit_definition() {
        // The definition, one input bit at a time.
        fn slow(key: &[u8; KEY_LEN], input: &[u8]) -> u32 {
            let mut hash = 0;
            for (i, byte) in input.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        hash ^= window(key, i * 8 + bit);
                    }
                }
            }
            hash
        }
        let mut rng = crate::rand::Rng::new(7);
        for key in [SYMMETRIC_KEY, MICROSOFT_KEY] {
            let hasher = Toeplitz::new(&key);
            for _ in 0..2_000 {
                let input: [u8; INPUT_LEN] = std::array::from_fn(|_| rng.next_u64() as u8);
                assert_eq!(hasher.hash_bytes(&input), slow(&key, &input));
            }
        }
    }

    #[test]
    fn the_symmetric_key_hashes_both_directions_alike() {
        let hasher = Toeplitz::new(&SYMMETRIC_KEY);
        let mut rng = crate::rand::Rng::new(11);
        for _ in 0..10_000 {
            let a = Ipv4Addr::from(rng.next_u64() as u32);
            let b = Ipv4Addr::from(rng.next_u64() as u32);
            let (p, q) = (rng.next_u64() as u16, rng.next_u64() as u16);
            assert_eq!(hasher.hash_ports(a, b, p, q), hasher.hash_ports(b, a, q, p));
            assert_eq!(hasher.hash_addresses(a, b), hasher.hash_addresses(b, a));
        }
        // The Microsoft key is not symmetric: the property is the key's.
        let plain = Toeplitz::new(&MICROSOFT_KEY);
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        assert_ne!(
            plain.hash_ports(a, b, 1000, 80),
            plain.hash_ports(b, a, 80, 1000)
        );
    }
}
