//! The Internet checksum (RFC 1071), vectorized. The sum is byte-order
//! independent (RFC 1071 2(B)): words are added in the machine's order
//! into wide lanes that cannot overflow (no carries to track, so the adds
//! vectorize) and the folded result is swapped to network order once.
//! Every TCP segment is summed twice (emit, parse) over its whole payload,
//! so this is on the bulk path.

use std::net::{IpAddr, Ipv4Addr};

/// The ones'-complement sum of `data` (zero-padded to even length) as a
/// 16-bit value in host order of the network-order words: the same
/// result as `smoltcp::wire::checksum::data`, not complemented.
pub fn data(data: &[u8]) -> u16 {
    // The one unsafe call: into the AVX2 build of the same safe code,
    // after checking the CPU has AVX2 (the result is cached by std).
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { data_avx2(data) };
        }
    }
    sum_words(data)
}

/// [`pseudo_header`] between IPv4 addresses: on every segment, so the
/// words are added in registers, without a buffer.
#[inline(always)]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, upper_len: usize) -> u16 {
    let (src, dst) = (u32::from(src), u32::from(dst));
    let sum = u64::from(src >> 16)
        + u64::from(src & 0xffff)
        + u64::from(dst >> 16)
        + u64::from(dst & 0xffff)
        + u64::from(protocol)
        + (upper_len as u64 & 0xffff);
    let folded = (sum & 0xffff) + (sum >> 16);
    ((folded & 0xffff) + (folded >> 16)) as u16
}

/// The ones'-complement sum, not complemented, of the pseudo-header of
/// `upper_len` bytes of protocol `protocol` from `src` to `dst`: RFC 793's
/// for IPv4, RFC 8200 8.1's for IPv6. Both addresses are of one family
/// (mixed ones sum as IPv6 with the IPv4 address mapped).
#[inline(always)]
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, upper_len: usize) -> u16 {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => pseudo_header_v4(src, dst, protocol, upper_len),
        (src, dst) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let mut block = [0u8; 40];
            block[..16].copy_from_slice(&v6(src).octets());
            block[16..32].copy_from_slice(&v6(dst).octets());
            block[32..36].copy_from_slice(&(upper_len as u32).to_be_bytes());
            block[39] = protocol;
            sum_words(&block)
        }
    }
}

/// Adds two ones'-complement sums (RFC 1071).
#[inline]
pub fn add_sums(a: u16, b: u16) -> u16 {
    let sum = u32::from(a) + u32::from(b);
    ((sum & 0xffff) + (sum >> 16)) as u16
}

/// Completes in software the checksums a frame asked a device to fill in
/// (`request`), for a device that cannot: the IPv4 header checksum (its
/// field holds 0), and the TCP or UDP checksum, whose field holds the
/// pseudo-header's sum, so summing the segment as it stands and
/// complementing gives the checksum. Frames too short for the headers
/// named are left alone.
pub fn complete_offloaded(frame: &mut [u8], request: crate::buf::TxChecksums) {
    let (l2, l3) = (usize::from(request.l2_len), usize::from(request.l3_len));
    let Some(ip) = frame.get_mut(l2..) else {
        return;
    };
    if request.ip && ip.len() >= l3 {
        ip[10..12].fill(0);
        let sum = !data(&ip[..l3]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    let field = if request.tcp {
        16
    } else if request.udp {
        6
    } else {
        return;
    };
    let total = ip
        .get(2..4)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let Some(segment) = ip.get_mut(l3..total.max(l3)) else {
        return;
    };
    if segment.len() < field + 2 {
        return;
    }
    let mut sum = !data(segment);
    if request.udp && sum == 0 {
        // An all-zero result is sent as all ones (RFC 768).
        sum = 0xffff;
    }
    segment[field..field + 2].copy_from_slice(&sum.to_be_bytes());
}

/// The checksum with AVX2, 128 bytes a turn in four accumulators.
///
/// Each 16-bit word `w` is biased to the signed `w - 32768` (its top bit
/// flipped), so `vpmaddwd` against ones adds pairs of words into 32-bit
/// lanes in one instruction, where widening them first would take a
/// shuffle per half register (the previous loop, port-5 bound at two
/// cycles per 32 bytes; this one takes about one). The bias, 32768 per
/// word, is added back once at the end.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn data_avx2(data: &[u8]) -> u16 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi16,
        _mm256_setzero_si256, _mm256_storeu_si256, _mm256_xor_si256,
    };
    // A lane gains at most 65,536 in magnitude per block, so it stays
    // within an i32 for 32,767 blocks; pieces of 1 MiB (8,192 blocks) are
    // summed into the 64-bit total one at a time.
    const PIECE: usize = 1 << 20;
    /// The first 32 bytes of `at` as eight sums of two biased words.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn biased_pairs(at: &[u8]) -> __m256i {
        assert!(at.len() >= 32);
        // SAFETY: `at` holds at least 32 bytes; the load is unaligned.
        let words = unsafe { _mm256_loadu_si256(at.as_ptr().cast::<__m256i>()) };
        _mm256_madd_epi16(
            _mm256_xor_si256(words, _mm256_set1_epi16(i16::MIN)),
            _mm256_set1_epi16(1),
        )
    }
    if data.len() < 128 {
        // Too short for the main loop: the widening sum has less to set up.
        return sum_words(data);
    }
    let mut total: u64 = 0;
    for piece in data.chunks(PIECE) {
        let mut lanes = [_mm256_setzero_si256(); 4];
        let mut blocks = piece.chunks_exact(128);
        for block in &mut blocks {
            for (k, lane) in lanes.iter_mut().enumerate() {
                *lane = _mm256_add_epi32(*lane, biased_pairs(&block[32 * k..]));
            }
        }
        let mut rows = blocks.remainder().chunks_exact(32);
        for row in &mut rows {
            lanes[0] = _mm256_add_epi32(lanes[0], biased_pairs(row));
        }
        let sum = _mm256_add_epi32(
            _mm256_add_epi32(lanes[0], lanes[1]),
            _mm256_add_epi32(lanes[2], lanes[3]),
        );
        let mut spilled = [0i32; 8];
        // SAFETY: `spilled` is 32 bytes; the store is unaligned.
        unsafe { _mm256_storeu_si256(spilled.as_mut_ptr().cast::<__m256i>(), sum) };
        let words = (piece.len() - rows.remainder().len()) / 2;
        let biased: i64 = spilled.iter().map(|&lane| i64::from(lane)).sum();
        // The words' true sum: non-negative once the bias is back.
        total += (biased + 32_768 * words as i64) as u64;
        total += sum_tail(rows.remainder());
    }
    fold(total)
}

/// The checksum in portable code the compiler vectorizes for whatever the
/// caller is compiled for.
#[inline(always)]
fn sum_words(data: &[u8]) -> u16 {
    // 32-bit words zero-extended into 64-bit sums cannot overflow (below
    // 2^32 words), so there is no carry chain: independent lanes that the
    // compiler turns into vector adds.
    let mut lanes = [0u64; 8];
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(4)) {
            *lane += u64::from(u32::from_ne_bytes(word.try_into().expect("4 bytes")));
        }
    }
    let sum: u64 = lanes.iter().sum();
    fold(sum + sum_tail(blocks.remainder()))
}

/// The sum of fewer than 32 bytes as machine-order 32-bit words, the last
/// zero-padded.
#[inline(always)]
fn sum_tail(rest: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut words = rest.chunks_exact(4);
    for word in &mut words {
        sum += u64::from(u32::from_ne_bytes(word.try_into().expect("4 bytes")));
    }
    // Byte by byte: a copy of a variable length would call memcpy.
    let mut tail = [0u8; 4];
    for (to, &byte) in tail.iter_mut().zip(words.remainder()) {
        *to = byte;
    }
    sum + u64::from(u32::from_ne_bytes(tail))
}

/// Folds a sum of machine-order words to 16 bits in network order.
#[inline(always)]
fn fold(sum: u64) -> u16 {
    // 2^32 and 2^16 are both 1 modulo 2^16 - 1.
    let mut folded = (sum & 0xffff_ffff) + (sum >> 32);
    while folded > 0xffff {
        folded = (folded & 0xffff) + (folded >> 16);
    }
    let folded = folded as u16;
    // Words were read in machine order: bring the sum to network order.
    if cfg!(target_endian = "little") {
        folded.swap_bytes()
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Rng;

    #[test]
    fn pseudo_headers_match_smoltcp_and_rfc_8200() {
        use smoltcp::wire::{checksum as smol, IpProtocol};
        use std::net::Ipv4Addr;
        let (a, b) = (
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(192, 168, 255, 254),
        );
        for len in [0usize, 20, 1480, 65_535] {
            let expected = smol::pseudo_header_v4(&a, &b, IpProtocol::Tcp, len as u32);
            assert_eq!(pseudo_header(a.into(), b.into(), 6, len), expected);
        }
        // IPv6: the 40-byte block of RFC 8200 8.1, summed word by word.
        let (a, b): (std::net::Ipv6Addr, std::net::Ipv6Addr) =
            ("fd00::1".parse().unwrap(), "fe80::ffff:2".parse().unwrap());
        let mut block = Vec::new();
        block.extend_from_slice(&a.octets());
        block.extend_from_slice(&b.octets());
        block.extend_from_slice(&70_000u32.to_be_bytes());
        block.extend_from_slice(&[0, 0, 0, 17]);
        assert_eq!(
            pseudo_header(a.into(), b.into(), 17, 70_000),
            smol::data(&block)
        );
    }

    #[test]
    fn matches_the_word_by_word_sum() {
        let mut rng = Rng::new(3);
        let mut buf = vec![0u8; 2200];
        for len in (0..64).chain([1499, 1500, 1514, 2048, 2099]) {
            for offset in 0..3 {
                for byte in buf.iter_mut() {
                    *byte = rng.next_u64() as u8;
                }
                let slice = &buf[offset..offset + len];
                assert_eq!(
                    data(slice),
                    smoltcp::wire::checksum::data(slice),
                    "length {len}, offset {offset}"
                );
            }
        }
        // All ones: the carries must fold without loss.
        let ones = vec![0xffu8; 4096];
        assert_eq!(data(&ones), smoltcp::wire::checksum::data(&ones));
        assert_eq!(data(&[]), 0);
    }

    /// RFC 1071 word by word in network order, with a 64-bit sum
    /// (smoltcp's 32-bit one wraps past a few megabytes).
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u64 = data
            .chunks(2)
            .map(|pair| u64::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn long_inputs_cross_the_vector_loops_pieces() {
        // Past 1 MiB pieces, with the words at both ends of the bias:
        // 0xffff (the largest lane sums) and 0x0000 (the most negative).
        let len = 3 * (1 << 20) + 7;
        for fill in [0xffu8, 0x00, 0x80, 0x7f] {
            let block = vec![fill; len];
            assert_eq!(data(&block), reference(&block), "{fill:#x}");
        }
        let mut rng = Rng::new(5);
        let block: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(data(&block), reference(&block));
        assert_eq!(sum_words(&block), reference(&block));
        assert_eq!(
            reference(&block[..1500]),
            smoltcp::wire::checksum::data(&block[..1500])
        );
    }
}
