//! Two dpstack stacks over an in-memory pipe, with a manual clock: UDP both
//! ways (fragmented datagrams included), and exact accounting of every
//! datagram under 10% injected loss.

use dpstack::buf::BufPool;
use dpstack::device::fault::{FaultConfig, FaultDevice, FaultProfile};
use dpstack::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use dpstack::device::Device;
use dpstack::runtime::{Stack, StackConfig};
use dpstack::time::{Duration, ManualClock};
use dpstack::udp::UdpError;
use dpstack::wire::Ipv4Cidr;
use std::net::{Ipv4Addr, SocketAddrV4};

const A_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 2);

fn config(ip: Ipv4Addr, seed: u64) -> StackConfig {
    StackConfig {
        seed: Some(seed),
        ..StackConfig::new(Ipv4Cidr {
            addr: ip,
            prefix_len: 24,
        })
    }
}

fn pump<D1: Device, D2: Device>(
    a: &mut Stack<D1, ManualClock>,
    b: &mut Stack<D2, ManualClock>,
    clock: &ManualClock,
) {
    for _ in 0..4 {
        clock.advance(Duration::from_micros(20));
        a.poll();
        b.poll();
    }
}

#[test]
fn udp_both_ways_with_fragmented_datagrams() {
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(
        &PipeConfig {
            queue_len: 4096,
            ..PipeConfig::default()
        },
        &pool,
    );
    let clock = ManualClock::new();
    let mut a = Stack::new(pa, clock.clone(), config(A_IP, 1));
    let mut b = Stack::new(pb, clock.clone(), config(B_IP, 2));
    let sa = a.udp_open();
    let sb = b.udp_open();
    b.udp_bind(sb, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    a.udp_connect(sa, SocketAddrV4::new(B_IP, 7)).unwrap();

    let mut buf = vec![0u8; 70_000];
    for len in [0usize, 1, 1472, 1473, 8000, 65_507] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
        a.udp_send_to(sa, &data, None).unwrap();
        pump(&mut a, &mut b, &clock);
        let (n, from) = b.udp_recv_from(sb, &mut buf).expect("arrived at b");
        assert_eq!(&buf[..n], &data[..], "{len} bytes a -> b");
        b.udp_send_to(sb, &buf[..n], Some(from)).unwrap();
        pump(&mut a, &mut b, &clock);
        let (n, _) = a.udp_recv_from(sa, &mut buf).expect("echo arrived at a");
        assert_eq!(&buf[..n], &data[..], "{len} bytes b -> a");
    }
    assert_eq!(a.udp_recv_from(sa, &mut buf), Err(UdpError::WouldBlock));
    let stats = b.stats();
    assert_eq!(stats.ipv4.frag_reassembled, 3);
    assert_eq!(stats.arp.replies_sent, 1, "a resolved b once");
}

#[test]
fn ten_percent_loss_every_datagram_accounted_for() {
    const DATAGRAMS: u64 = 20_000;
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(&PipeConfig::default(), &pool);
    let lossy = FaultConfig {
        seed: 42,
        tx: FaultProfile {
            loss: 0.10,
            ..FaultProfile::default()
        },
        rx: FaultProfile::default(),
    };
    let pa = FaultDevice::new(pa, lossy).unwrap();
    let clock = ManualClock::new();
    let mut a = Stack::new(pa, clock.clone(), config(A_IP, 3));
    let mut b: Stack<PipeDevice, _> = Stack::new(pb, clock.clone(), config(B_IP, 4));
    // Static neighbours: every frame on the lossy link is then one datagram.
    let (a_mac, b_mac) = (a.device().capabilities().mac, b.device().capabilities().mac);
    a.interface().arp_cache().insert_static(B_IP, b_mac);
    b.interface().arp_cache().insert_static(A_IP, a_mac);
    let gratuitous_lost = a.device().tx_fault_stats().lost;

    let sa = a.udp_open();
    let sb = b.udp_open();
    b.udp_bind(sb, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))
        .unwrap();
    let mut received = 0u64;
    let mut buf = [0u8; 2048];
    for i in 0..DATAGRAMS {
        a.udp_send_to(
            sa,
            &i.to_be_bytes(),
            Some(SocketAddrV4::new(B_IP, 9).into()),
        )
        .unwrap();
        clock.advance(Duration::from_micros(10));
        a.poll();
        b.poll();
        while let Ok((n, _)) = b.udp_recv_from(sb, &mut buf) {
            assert_eq!(n, 8);
            received += 1;
        }
    }
    let (sa_stats, sb_stats) = (a.stats(), b.stats());
    let lost = a.device().tx_fault_stats().lost - gratuitous_lost;
    assert_eq!(
        sa_stats.udp.tx_datagrams, DATAGRAMS,
        "every datagram left a"
    );
    assert_eq!(
        sb_stats.udp.rx_datagrams, received,
        "b's counter matches what the socket gave"
    );
    assert_eq!(
        received + lost,
        DATAGRAMS,
        "each datagram was either delivered or lost on the link"
    );
    let loss = lost as f64 / DATAGRAMS as f64;
    assert!((0.09..=0.11).contains(&loss), "loss {loss}");
}
