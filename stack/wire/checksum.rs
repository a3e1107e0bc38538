//! The Internet checksum (RFC 1071) over 8 bytes at a time. The sum is
//! byte-order independent (RFC 1071 2(B)): words are added in the
//! machine's order into a 64-bit accumulator and the folded result is
//! swapped to network order once. Several times faster than summing
//! 16-bit words, which matters because every TCP segment is summed twice
//! (emit, parse) over its whole payload.

/// The ones'-complement sum of `data` (zero-padded to even length) as a
/// 16-bit value in host order of the network-order words: the same
/// result as `smoltcp::wire::checksum::data`, not complemented.
pub fn data(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut carry: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
        let (next, overflow) = sum.overflowing_add(word);
        sum = next;
        carry += u64::from(overflow);
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 8];
    tail[..rest.len()].copy_from_slice(rest);
    let (next, overflow) = sum.overflowing_add(u64::from_ne_bytes(tail));
    sum = next;
    carry += u64::from(overflow);
    // Fold the 64-bit sum (plus its carries, each worth 2^64 = 1 mod 2^16-1)
    // to 16 bits.
    let mut folded = (sum & 0xffff_ffff) + (sum >> 32) + carry;
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
}
