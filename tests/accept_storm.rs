//! The accept storm: 1,000 clients connect at once to dpstack-echo's
//! edge-triggered reactor and each gets its message echoed. The classic
//! bug it guards against is an ET listener accepting one connection per
//! wake-up and stalling the rest. Two stacks over `pipe` (the reactor's
//! own code, in process), and the Linux kernel through a TAP in a
//! namespace the test creates (the dpstack-echo binary).

mod common;
#[path = "../apps/echo_reactor.rs"]
#[allow(dead_code)]
mod echo_reactor;

use dpstack::device::pipe::PipeConfig;
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLOUT};
use dpstack::runtime::{pipe_stacks, Stack, StackConfig};
use dpstack::socket::{Errno, Fd, SockOpt, SockType};
use dpstack::time::{Clock, Duration, ManualClock};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

const CLIENTS: usize = 1000;
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);

/// Small buffers: 2,000 connections in one process.
fn small_buffers<D: Device, C: Clock>(stack: &mut Stack<D, C>, fd: Fd) {
    stack.setsockopt(fd, SockOpt::RcvBuf(16 * 1024)).unwrap();
    stack.setsockopt(fd, SockOpt::SndBuf(16 * 1024)).unwrap();
}

#[test]
fn a_thousand_clients_at_once_over_pipe_all_echoed() {
    let clock = ManualClock::new();
    let (mut clients, mut server) = pipe_stacks(
        StackConfig::seeded(A_IP, 24, 1),
        StackConfig::seeded(B_IP, 24, 2),
        clock.clone(),
        &PipeConfig {
            queue_len: 8192,
            ..PipeConfig::default()
        },
    );

    let epfd = server.epoll_create().unwrap();
    let mut reactor = echo_reactor::Reactor::new(epfd, EPOLLET);
    let listener = server.socket(SockType::Stream).unwrap();
    small_buffers(&mut server, listener);
    server.bind(listener, SocketAddrV4::new(B_IP, 7)).unwrap();
    server.listen(listener, 1024).unwrap();
    reactor.watch(&mut server, listener, EPOLLIN).unwrap();
    reactor.listeners.push(listener);

    // Every client connects at once, then writes as soon as it may.
    let client_ep = clients.epoll_create().unwrap();
    let mut pending: HashMap<Fd, (Vec<u8>, Vec<u8>)> = HashMap::new();
    for i in 0..CLIENTS {
        let fd = clients.socket(SockType::Stream).unwrap();
        small_buffers(&mut clients, fd);
        assert_eq!(
            clients.connect(fd, SocketAddrV4::new(B_IP, 7)),
            Err(Errno::EINPROGRESS)
        );
        let event = EpollEvent {
            events: EPOLLOUT | EPOLLIN | EPOLLET,
            data: fd as u64,
        };
        clients.epoll_ctl(client_ep, CtlOp::Add, fd, event).unwrap();
        pending.insert(
            fd,
            (format!("hello from client {i}\n").into_bytes(), Vec::new()),
        );
    }
    let mut sent: HashMap<Fd, bool> = HashMap::new();
    let mut done = 0;
    let mut events = vec![EpollEvent::default(); 512];
    let mut buf = [0u8; 256];
    let start = clock.now();
    while done < CLIENTS {
        assert!(
            clock.now().saturating_duration_since(start) < Duration::from_secs(60),
            "stalled: {done} of {CLIENTS} echoed, {} accepted",
            reactor.counts.tcp_accepted
        );
        clock.advance(Duration::from_micros(20));
        let n = server
            .epoll_wait(epfd, &mut events, Some(Duration::ZERO))
            .unwrap();
        reactor.dispatch(&mut server, &events[..n]);
        let n = clients
            .epoll_wait(client_ep, &mut events, Some(Duration::ZERO))
            .unwrap();
        for event in &events[..n] {
            let fd = event.data as Fd;
            let Some((message, echoed)) = pending.get_mut(&fd) else {
                continue;
            };
            if !sent.get(&fd).copied().unwrap_or(false) && event.events & EPOLLOUT != 0 {
                assert_eq!(clients.send(fd, message, 0), Ok(message.len()));
                sent.insert(fd, true);
            }
            while let Ok(k) = clients.recv(fd, &mut buf, 0) {
                if k == 0 {
                    break;
                }
                echoed.extend_from_slice(&buf[..k]);
            }
            if !echoed.is_empty() && echoed.len() == message.len() {
                assert_eq!(echoed, message);
                clients.close(fd).unwrap();
                pending.remove(&fd);
                done += 1;
            }
        }
    }
    assert_eq!(reactor.counts.tcp_accepted, CLIENTS as u64);
    println!(
        "{CLIENTS} clients echoed in {:.3} s of virtual time",
        clock.now().saturating_duration_since(start).as_secs_f64()
    );
}

/// 1,000 kernel clients at once through a TAP in a namespace against
/// `dpstack-echo --trigger <trigger>`; all must be echoed.
fn kernel_storm(trigger: &str, tap: &str) {
    let ns = common::Netns::create("storm");
    let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-echo"));
    command.args([
        "--backend",
        "tap",
        "--tap",
        tap,
        "--ip",
        "10.77.0.2/24",
        "--mac",
        common::STACK_MAC,
        "--tcp-port",
        "7",
        "--trigger",
        trigger,
        "--json",
    ]);
    let mut app = common::App::spawn(command);
    app.wait_ready(std::time::Duration::from_secs(20));
    ns.run(&["ip", "addr", "add", "10.77.0.1/24", "dev", tap]);
    ns.run(&["ip", "link", "set", tap, "up"]);
    let echoed = common::kernel_echo_clients(&ns, "10.77.0.2:7", CLIENTS);
    let summary = app.terminate();
    assert_eq!(
        echoed, CLIENTS,
        "every kernel client got its echo ({trigger}): {summary}"
    );
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    assert_eq!(json["tcp_accepted"], CLIENTS as u64, "{summary}");
}

#[test]
fn a_thousand_kernel_clients_at_once_over_tap_all_echoed() {
    kernel_storm("et", "dpsstorm");
}

#[test]
fn a_thousand_kernel_clients_at_once_all_echoed_by_async_tasks() {
    kernel_storm("async", "dpsstorma");
}
