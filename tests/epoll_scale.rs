//! 10,000 concurrent TCP connections through one epoll on each side (two
//! stacks over `pipe`): every connection exchanges 10 messages with the
//! edge-triggered echo reactor, and all complete.

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

const CONNECTIONS: usize = 10_000;
const MESSAGES: usize = 10;
/// Connections opening at once (the listener's backlog bounds the rest).
const WAVE: usize = 1_000;
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 6, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 6, 0, 2);

fn small_buffers<D: Device, C: Clock>(stack: &mut Stack<D, C>, fd: Fd) {
    stack.setsockopt(fd, SockOpt::RcvBuf(4096)).unwrap();
    stack.setsockopt(fd, SockOpt::SndBuf(4096)).unwrap();
}

/// One client: which message it is on, and what came back of it.
struct Client {
    message: usize,
    sent: bool,
    echoed: Vec<u8>,
}

fn message(fd: Fd, n: usize) -> Vec<u8> {
    format!("connection {fd} message {n}\n").into_bytes()
}

#[test]
fn ten_thousand_connections_ten_messages_each() {
    let clock = ManualClock::new();
    let (mut clients, mut server) = pipe_stacks(
        StackConfig::seeded(A_IP, 24, 1),
        StackConfig::seeded(B_IP, 24, 2),
        clock.clone(),
        &PipeConfig {
            queue_len: 16_384,
            ..PipeConfig::default()
        },
    );

    let epfd = server.epoll_create().unwrap();
    let mut reactor = echo_reactor::Reactor::new(epfd, EPOLLET);
    let listener = server.socket(SockType::Stream).unwrap();
    small_buffers(&mut server, listener);
    server.bind(listener, SocketAddrV4::new(B_IP, 7)).unwrap();
    server.listen(listener, 4096).unwrap();
    reactor.watch(&mut server, listener, EPOLLIN).unwrap();
    reactor.listeners.push(listener);

    let client_ep = clients.epoll_create().unwrap();
    let mut active: HashMap<Fd, Client> = HashMap::new();
    let (mut opened, mut finished) = (0, 0);
    let mut events = vec![EpollEvent::default(); 1024];
    let mut buf = [0u8; 512];
    let start = clock.now();
    while finished < CONNECTIONS {
        assert!(
            clock.now().saturating_duration_since(start) < Duration::from_secs(600),
            "stalled: {finished} finished, {} open",
            active.len()
        );
        while opened < CONNECTIONS && active.len() < WAVE {
            let fd = clients.socket(SockType::Stream).unwrap();
            small_buffers(&mut clients, fd);
            assert_eq!(
                clients.connect(fd, SocketAddrV4::new(B_IP, 7)),
                Err(Errno::EINPROGRESS)
            );
            let event = EpollEvent {
                events: EPOLLIN | EPOLLOUT | EPOLLET,
                data: fd as u64,
            };
            clients.epoll_ctl(client_ep, CtlOp::Add, fd, event).unwrap();
            active.insert(
                fd,
                Client {
                    message: 0,
                    sent: false,
                    echoed: Vec::new(),
                },
            );
            opened += 1;
        }
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
            let Some(client) = active.get_mut(&fd) else {
                continue;
            };
            loop {
                let expected = message(fd, client.message);
                if !client.sent {
                    match clients.send(fd, &expected, 0) {
                        Ok(k) => {
                            assert_eq!(k, expected.len());
                            client.sent = true;
                        }
                        Err(Errno::EAGAIN) => break,
                        Err(e) => panic!("send: {e}"),
                    }
                }
                match clients.recv(fd, &mut buf, 0) {
                    Ok(0) => panic!("the server closed early"),
                    Ok(k) => client.echoed.extend_from_slice(&buf[..k]),
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("recv: {e}"),
                }
                if client.echoed.len() < expected.len() {
                    continue;
                }
                assert_eq!(client.echoed, expected, "echo of connection {fd}");
                client.echoed.clear();
                client.sent = false;
                client.message += 1;
                if client.message == MESSAGES {
                    clients.close(fd).unwrap();
                    active.remove(&fd);
                    finished += 1;
                    break;
                }
            }
        }
    }
    assert_eq!(reactor.counts.tcp_accepted, CONNECTIONS as u64);
    println!(
        "{CONNECTIONS} connections x {MESSAGES} messages in {:.3} s of virtual time",
        clock.now().saturating_duration_since(start).as_secs_f64()
    );
}
