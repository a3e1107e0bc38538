//! dpstack's commands in DPDK's telemetry library, so `dpdk-telemetry.py`
//! (and anything speaking its socket protocol) reads a running app:
//! `/dpstack/stats`, `/dpstack/tcp/connections`, `/dpstack/arp`,
//! `/dpstack/cores`. The callbacks run on DPDK's telemetry thread and get
//! their data from the cores through `runtime::telemetry`'s mailboxes.
//!
//! DPDK 22.11's telemetry data is one level deep (a dict or array whose
//! containers hold only scalars), so the stats are a flat dict named
//! `layer/counter`, and each connection or neighbour is an array of
//! strings in a fixed column order (given in the command's help).

use super::sys;
use crate::runtime::telemetry::{ask, total_stats, Answer, Query, ANSWER_TIMEOUT};
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Once;

/// Most entries a DPDK telemetry array holds (`RTE_TEL_MAX_ARRAY_ENTRIES`).
const MAX_ARRAY_ENTRIES: usize = 512;

/// Registers the commands (once per process; before or after EAL init).
pub fn register_commands() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let commands: [(&CStr, sys::telemetry_cb, &CStr); 4] = [
            (
                c"/dpstack/stats",
                Some(stats_command),
                c"dpstack: every layer's counters summed over the cores, as layer/counter",
            ),
            (
                c"/dpstack/tcp/connections",
                Some(connections_command),
                c"dpstack: TCP sockets, each [local, remote, state, recv_q, send_q, rtt_us, cwnd, core]",
            ),
            (
                c"/dpstack/arp",
                Some(arp_command),
                c"dpstack: neighbours, each [ip, mac, state, core]",
            ),
            (
                c"/dpstack/cores",
                Some(cores_command),
                c"dpstack: cores, each [core, lcore, connections, rx_packets, tx_packets]",
            ),
        ];
        for (name, callback, help) in commands {
            // SAFETY: both strings are 'static and NUL-terminated; DPDK
            // copies them, and the callback has the `telemetry_cb` type.
            let rc = unsafe { sys::rte_telemetry_register_cmd(name.as_ptr(), callback, help.as_ptr()) };
            if rc != 0 {
                eprintln!("dpstack: cannot register telemetry command {name:?}: {rc}");
            }
        }
    });
}

/// Adds `rows` (each a list of strings) to `d` as an array of string arrays.
///
/// # Safety
/// `d` is the data DPDK passed to the callback.
unsafe fn string_rows(d: *mut sys::rte_tel_data, rows: impl Iterator<Item = Vec<String>>) -> c_int {
    // SAFETY: `d` is valid per the contract.
    unsafe { sys::rte_tel_data_start_array(d, sys::rte_tel_value_type_RTE_TEL_CONTAINER) };
    for row in rows.take(MAX_ARRAY_ENTRIES) {
        // SAFETY: a fresh container, handed to DPDK (keep = 0: DPDK frees it).
        unsafe {
            let child = sys::rte_tel_data_alloc();
            if child.is_null() {
                break;
            }
            sys::rte_tel_data_start_array(child, sys::rte_tel_value_type_RTE_TEL_STRING_VAL);
            for cell in row {
                let cell = CString::new(cell).unwrap_or_default();
                sys::rte_tel_data_add_array_string(child, cell.as_ptr());
            }
            sys::rte_tel_data_add_array_container(d, child, 0);
        }
    }
    0
}

unsafe extern "C" fn stats_command(
    _cmd: *const c_char,
    _params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    let (total, cores, connections) = total_stats();
    // SAFETY: `d` is the callback's data; names are NUL-terminated and
    // made of letters, digits, '_' and '/' as DPDK requires.
    unsafe {
        sys::rte_tel_data_start_dict(d);
        let add = |name: &str, value: u64| {
            if let Ok(name) = CString::new(name) {
                sys::rte_tel_data_add_dict_u64(d, name.as_ptr(), value);
            }
        };
        add("cores", cores as u64);
        add("connections", connections as u64);
        for (layer, fields) in total.layers() {
            for (field, value) in fields {
                add(&format!("{layer}/{field}"), value);
            }
        }
    }
    0
}

unsafe extern "C" fn connections_command(
    _cmd: *const c_char,
    _params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    let answers = ask(Query::Connections, ANSWER_TIMEOUT);
    let rows = answers.iter().flat_map(|a| match &a.answer {
        Answer::Connections(list) => list
            .iter()
            .map(|c| {
                vec![
                    c.local.to_string(),
                    c.remote.to_string(),
                    c.state.name().to_string(),
                    c.recv_queued.to_string(),
                    c.send_queued.to_string(),
                    c.rtt
                        .map_or("-".into(), |r| (r.as_nanos() / 1_000).to_string()),
                    c.cwnd.to_string(),
                    a.core.to_string(),
                ]
            })
            .collect(),
        _ => Vec::new(),
    });
    // SAFETY: `d` is the callback's data.
    unsafe { string_rows(d, rows) }
}

unsafe extern "C" fn arp_command(
    _cmd: *const c_char,
    _params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    let answers = ask(Query::Arp, ANSWER_TIMEOUT);
    let rows = answers.iter().flat_map(|a| match &a.answer {
        Answer::Arp(list) => list
            .iter()
            .map(|n| {
                vec![
                    n.ip.to_string(),
                    n.mac.map_or("-".into(), |m| m.to_string()),
                    n.state.name().to_string(),
                    a.core.to_string(),
                ]
            })
            .collect(),
        _ => Vec::new(),
    });
    // SAFETY: `d` is the callback's data.
    unsafe { string_rows(d, rows) }
}

unsafe extern "C" fn cores_command(
    _cmd: *const c_char,
    _params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    let answers = ask(Query::Stats, ANSWER_TIMEOUT);
    let rows = answers.iter().filter_map(|a| match &a.answer {
        Answer::Stats(stats, count) => Some(vec![
            a.core.to_string(),
            a.lcore.map_or("-".into(), |l| l.to_string()),
            count.to_string(),
            stats.device.rx_packets.to_string(),
            stats.device.tx_packets.to_string(),
        ]),
        _ => None,
    });
    // SAFETY: `d` is the callback's data.
    unsafe { string_rows(d, rows) }
}
