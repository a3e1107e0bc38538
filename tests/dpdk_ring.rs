//! DPDK without a NIC: EAL with `--no-pci` (and `--in-memory`, or `--no-huge`), two `net_ring` ports
//! wired back to back plus a `net_null` vdev; frames cross intact.
//! One test per file: EAL initialises once per process.
#![cfg(feature = "dpdk")]

mod common;

use dpstack::buf::PacketBuf;
use dpstack::device::dpdk::DpdkDevice;
use dpstack::device::Device;
use dpstack::dpdk::{ring_port_pair, DpdkError, Eal, Mbuf, Mempool, Port, PortConfig};
use dpstack::time::Instant;

const FRAMES: usize = 10_000;

/// Frame `i`: a length between 60 and 1514 and bytes that depend on `i`.
fn frame_bytes(i: usize, out: &mut Vec<u8>) {
    let len = 60 + (i * 7919) % (1514 - 60 + 1);
    out.clear();
    out.extend((0..len).map(|j| ((i * 31 + j * 17) ^ (j >> 3)) as u8));
    out[..4].copy_from_slice(&(i as u32).to_be_bytes());
}

#[test]
fn net_ring_pair_carries_ten_thousand_frames_intact() {
    let mut args: Vec<String> = ["-l", "0", "--no-pci", "--vdev=net_null0"]
        .map(String::from)
        .to_vec();
    args.extend(common::eal_memory_args());
    let eal = Eal::init(&args).expect("EAL initialises without PCI");
    assert_eq!(
        Eal::init(&args).unwrap_err().code,
        libc::EALREADY,
        "a second init in the same process is refused"
    );
    let pool = Mempool::new(&eal, 4095, 64, Mempool::DEFAULT_DATA_ROOM, -1).expect("mempool");
    let (a_id, b_id) = ring_port_pair(&eal, 1024).expect("ring ports");
    let null_id = eal
        .port_by_name("net_null0")
        .expect("net_null0 vdev exists");
    assert_eq!(eal.port_count(), 3);

    let config = PortConfig::default();
    let port_a = Port::start(&eal, a_id, &config, &pool).expect("port a starts");
    let port_b = Port::start(&eal, b_id, &config, &pool).expect("port b starts");
    let port_null = Port::start(&eal, null_id, &config, &pool).expect("null port starts");
    let mut a = DpdkDevice::new(&port_a, 0).unwrap();
    let mut b = DpdkDevice::new(&port_b, 0).unwrap();
    let busy: DpdkError = DpdkDevice::new(&port_a, 0)
        .err()
        .expect("queue already claimed");
    assert_eq!(busy.code, libc::EBUSY);
    assert!(port_a.link().expect("link status").up);
    assert!(a.capabilities().name.starts_with("dpdk:"));

    let mut expected = Vec::new();
    let mut outgoing = Vec::new();
    let mut incoming = Vec::new();
    let (mut sent, mut received) = (0usize, 0usize);
    let mut idle_rounds = 0;
    while received < FRAMES && idle_rounds < 10_000 {
        while sent < FRAMES && outgoing.len() < 32 {
            frame_bytes(sent, &mut expected);
            let mut mbuf = a.alloc_tx(expected.len()).expect("mbuf");
            mbuf.data_mut().copy_from_slice(&expected);
            outgoing.push(mbuf);
            sent += 1;
        }
        a.transmit(Instant::ZERO, &mut outgoing);
        incoming.clear();
        let got = b.receive(Instant::ZERO, &mut incoming, 32);
        idle_rounds = if got == 0 { idle_rounds + 1 } else { 0 };
        for mbuf in &incoming {
            frame_bytes(received, &mut expected);
            assert_eq!(mbuf.data(), &expected[..], "frame {received} differs");
            received += 1;
        }
    }
    assert_eq!(received, FRAMES, "every frame arrives, in order");
    assert_eq!(a.stats().tx_packets, FRAMES as u64);
    assert_eq!(b.stats().rx_packets, FRAMES as u64);
    let hw = port_b.stats().expect("port stats");
    assert_eq!(hw.ipackets, FRAMES as u64);

    // A checksum-offload request lands in the mbuf's flags and header
    // lengths, as a NIC reads them.
    let request = dpstack::buf::TxChecksums {
        ip: true,
        tcp: true,
        udp: false,
        l2_len: 14,
        l3_len: 20,
    };
    let mut mbuf = a.alloc_tx(60).expect("mbuf");
    assert_eq!(mbuf.tx_checksums(), dpstack::buf::TxChecksums::default());
    assert!(mbuf.request_tx_checksums(request));
    assert_eq!(mbuf.tx_checksums(), request);
    let udp = dpstack::buf::TxChecksums {
        ip: false,
        tcp: false,
        udp: true,
        ..request
    };
    let mut other = a.alloc_tx(60).expect("mbuf");
    assert!(other.request_tx_checksums(udp));
    assert_eq!(other.tx_checksums(), udp);
    drop((mbuf, other));

    // net_null swallows frames and reports them sent.
    let mut null = DpdkDevice::new(&port_null, 0).unwrap();
    let mut burst: Vec<_> = (0..8).map(|_| null.alloc_tx(64).unwrap()).collect();
    assert_eq!(null.transmit(Instant::ZERO, &mut burst), 8);
    assert!(!port_null.xstats().expect("xstats").is_empty());

    // Bulk allocation: each buffer holds the length asked for; a length no
    // mbuf can hold gets none.
    let mut bulk = Vec::new();
    assert_eq!(a.alloc_tx_burst(100, 80, &mut bulk), 80);
    assert!(bulk.iter().all(|m| m.len() == 100));
    assert_eq!(a.alloc_tx_burst(70_000, 4, &mut bulk), 0);
    assert_eq!(bulk.len(), 80);

    // A full ring takes part of a burst: the rest stays in order, and only
    // what was taken is counted.
    let before = a.stats();
    let mut flood: Vec<_> = (0..1100u32)
        .map(|i| {
            let mut mbuf = a.alloc_tx(60 + (i % 3) as usize).expect("mbuf");
            mbuf.data_mut()[..4].copy_from_slice(&i.to_be_bytes());
            mbuf
        })
        .collect();
    let taken = a.transmit(Instant::ZERO, &mut flood);
    assert!((1000..1100).contains(&taken), "ring of 1024 took {taken}");
    assert_eq!(flood.len(), 1100 - taken);
    assert_eq!(flood[0].data()[..4], (taken as u32).to_be_bytes());
    let sent_bytes: u64 = (0..taken as u64).map(|i| 60 + i % 3).sum();
    assert_eq!(a.stats().tx_packets - before.tx_packets, taken as u64);
    assert_eq!(a.stats().tx_bytes - before.tx_bytes, sent_bytes);
    let mut drained = Vec::new();
    while b.receive(Instant::ZERO, &mut drained, 32) > 0 {}
    assert_eq!(drained.len(), taken);
    assert_eq!(
        drained[taken - 1].data()[..4],
        (taken as u32 - 1).to_be_bytes()
    );

    // Freeing a burst: mbufs of one pool go back in one inline put, and a
    // burst that mixes pools (the slow path from the first foreign mbuf)
    // returns each to its own.
    let other = Mempool::new(&eal, 511, 32, Mempool::DEFAULT_DATA_ROOM, -1).expect("mempool");
    let (pool_before, other_before) = (pool.in_use(), other.in_use());
    let mut mixed = Vec::new();
    for i in 0..96 {
        let from = if i % 5 == 3 { &other } else { &pool };
        mixed.push(from.alloc().expect("mbuf"));
    }
    let from_other = (0..96).filter(|i| i % 5 == 3).count() as u32;
    assert_eq!(other.in_use() - other_before, from_other);
    Mbuf::free_all(&mut mixed);
    assert!(mixed.is_empty());
    assert_eq!((pool.in_use(), other.in_use()), (pool_before, other_before));
    let mut one_pool = Vec::new();
    assert!(pool.alloc_bulk(&mut one_pool, 64));
    Mbuf::free_all(&mut one_pool);
    assert_eq!(pool.in_use(), pool_before);

    drop((a, b, null, incoming, outgoing, bulk, flood, drained));
    assert_eq!(pool.in_use(), 0, "no mbuf leaked");
    assert_eq!(other.in_use(), 0, "no mbuf leaked");
}
