//! dpstack-pktgen's command-line values: address, port and MAC ranges,
//! frame sizes and rates. Whatever parses must be usable: ranges not
//! empty, sizes within the frame bounds, rates finite and positive.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../apps/pktgen/spec.rs"]
mod spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(range) = spec::ip_range(text) {
        assert!(range.first <= range.last && range.len() >= 1);
    }
    if let Ok(range) = spec::port_range(text) {
        assert!(range.first <= range.last && range.len() >= 1);
    }
    if let Ok(range) = spec::mac_range(text) {
        assert!(range.first <= range.last && range.last < 1 << 48);
    }
    if let Ok(sizes) = spec::Sizes::parse(text) {
        let bounds = spec::MIN_FRAME..=spec::MAX_FRAME;
        assert!(bounds.contains(&sizes.max()));
        for n in 0..64 {
            assert!(bounds.contains(&sizes.nth(n)));
        }
        assert!(sizes.mean().is_finite());
    }
    match spec::Rate::parse(text) {
        Ok(spec::Rate::Pps(value)) | Ok(spec::Rate::Bps(value)) => {
            assert!(
                value.is_finite() && value > 0.0,
                "rate {value} from {text:?}"
            );
        }
        _ => {}
    }
});
