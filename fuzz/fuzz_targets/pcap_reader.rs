//! The pcap reader (replay and `--pcap` inputs): any file is read record
//! by record, each record's bytes as long as it says, or refused.
#![no_main]
use dpstack::device::pcap::PcapReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = PcapReader::new(std::io::Cursor::new(data)) else {
        return;
    };
    let mut frame = Vec::new();
    for _ in 0..10_000 {
        match reader.next_into(&mut frame) {
            Ok(Some(record)) => {
                assert_eq!(record.captured_len, frame.len());
                assert!(
                    frame.len() <= data.len(),
                    "no record is larger than the file"
                );
            }
            Ok(None) | Err(_) => break,
        }
    }
});
