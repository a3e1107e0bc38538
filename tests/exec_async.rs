//! async/await on the stack: servers and clients written as straight-line
//! code over two stacks on a pipe (one thread: the client's runtime also
//! turns the server's).

use dpstack::device::pipe::PipeConfig;
use dpstack::exec::{sleep, Runtime, TcpListener, TcpStream, UdpSocket};
use dpstack::runtime::{pipe_stacks, StackConfig};
use dpstack::socket::Errno;
use dpstack::time::{Duration, MonotonicClock};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn runtimes() -> (Runtime, Runtime) {
    let (server, client) = pipe_stacks(
        StackConfig::seeded(SERVER, 24, 1),
        StackConfig::seeded(CLIENT, 24, 2),
        MonotonicClock::new(),
        &PipeConfig::default(),
    );
    (Runtime::new(server).unwrap(), Runtime::new(client).unwrap())
}

/// An echo server: a task per connection, reading and writing back until
/// the peer closes.
fn spawn_echo_server(server: &Runtime, port: u16) {
    let handle = server.handle();
    let listener = TcpListener::bind(&handle, SocketAddrV4::new(SERVER, port), 1024).unwrap();
    let spawner = handle.clone();
    handle.spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            spawner.spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => stream.write_all(&buf[..n]).await.unwrap(),
                    }
                }
            });
        }
    });
}

#[test]
fn a_hundred_connections_echo_ten_messages_each() {
    let (server_rt, mut client_rt) = runtimes();
    spawn_echo_server(&server_rt, 7);
    let client = client_rt.handle();
    client.spawn_runtime(server_rt);
    let done = Rc::new(Cell::new(0));
    for i in 0..100u32 {
        let (client, done) = (client.clone(), done.clone());
        client.clone().spawn(async move {
            let mut stream = TcpStream::connect(&client, SocketAddrV4::new(SERVER, 7))
                .await
                .unwrap();
            for round in 0..10u32 {
                let message = format!("connection {i} round {round}");
                stream.write_all(message.as_bytes()).await.unwrap();
                let mut echoed = vec![0u8; message.len()];
                stream.read_exact(&mut echoed).await.unwrap();
                assert_eq!(echoed, message.as_bytes());
            }
            stream.close().await.unwrap();
            done.set(done.get() + 1);
        });
    }
    let finished = done.clone();
    client_rt.block_on(async move {
        while finished.get() < 100 {
            sleep(&client, Duration::from_millis(1)).await;
        }
    });
    assert_eq!(done.get(), 100);
}

#[test]
fn udp_datagrams_echo() {
    let (server_rt, mut client_rt) = runtimes();
    let server = server_rt.handle();
    let socket = UdpSocket::bind(&server, SocketAddrV4::new(SERVER, 9)).unwrap();
    server.spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            socket.send_to(&buf[..n], from).await.unwrap();
        }
    });
    let client = client_rt.handle();
    client.spawn_runtime(server_rt);
    let got = client_rt.block_on(async move {
        let socket = UdpSocket::bind(&client, SocketAddrV4::new(CLIENT, 0)).unwrap();
        let mut got = Vec::new();
        for size in [0usize, 1, 100, 1472, 8000] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            socket
                .send_to(&payload, SocketAddrV4::new(SERVER, 9))
                .await
                .unwrap();
            let mut buf = [0u8; 9000];
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, SocketAddrV4::new(SERVER, 9).into());
            assert_eq!(n, payload.len());
            assert!(buf[..n] == payload[..], "datagram of {size} bytes changed");
            got.push(n);
        }
        got
    });
    assert_eq!(got, [0, 1, 100, 1472, 8000]);
}

#[test]
fn a_refused_connect_reports_econnrefused_and_sleep_keeps_the_stacks_clock() {
    let (server_rt, mut client_rt) = runtimes();
    let client = client_rt.handle();
    client.spawn_runtime(server_rt);
    let (refused, slept) = client_rt.block_on(async move {
        let refused = TcpStream::connect(&client, SocketAddrV4::new(SERVER, 4444))
            .await
            .err();
        let start = client.now();
        sleep(&client, Duration::from_millis(30)).await;
        (refused, client.now().saturating_duration_since(start))
    });
    assert_eq!(refused, Some(Errno::ECONNREFUSED));
    assert!(slept >= Duration::from_millis(30), "{slept:?}");
}

#[test]
fn idle_tasks_are_not_polled() {
    // A thousand connections whose readers wait: turns of the runtime
    // poll nothing while nothing arrives, however many tasks exist.
    let (server_rt, mut client_rt) = runtimes();
    spawn_echo_server(&server_rt, 7);
    let client = client_rt.handle();
    client.spawn_runtime(server_rt);
    let connected = Rc::new(Cell::new(0));
    for _ in 0..1000 {
        let (client, connected) = (client.clone(), connected.clone());
        client.clone().spawn(async move {
            let mut stream = TcpStream::connect(&client, SocketAddrV4::new(SERVER, 7))
                .await
                .unwrap();
            connected.set(connected.get() + 1);
            let mut buf = [0u8; 16];
            // Nothing is ever sent: this read waits for good.
            let _ = stream.read(&mut buf).await;
        });
    }
    let waiting = connected.clone();
    let ticker = client.clone();
    client_rt.block_on(async move {
        while waiting.get() < 1000 {
            sleep(&ticker, Duration::from_millis(1)).await;
        }
    });
    // Let the last handshakes' ACKs and window updates settle.
    for _ in 0..200 {
        client_rt.turn(Duration::ZERO);
    }
    let before = client_rt.task_polls();
    for _ in 0..100 {
        client_rt.turn(Duration::ZERO);
    }
    let polled = client_rt.task_polls() - before;
    // The task that turns the server's runtime yields every turn: one
    // poll per turn is that task; the 1,000 waiting readers are not polled.
    assert_eq!(
        polled, 100,
        "only the task turning the server's runtime, once a turn"
    );
}
