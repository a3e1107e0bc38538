//! dpstack-echo's `--trigger async`: the same echo as the epoll reactor,
//! written as async/await tasks on `dpstack::exec` (a task per accepted
//! connection, one for UDP), with the same summary figures.

use dpstack::device::Device;
use dpstack::exec::{Runtime, TcpListener, UdpSocket};
use dpstack::runtime::{Core, CoreSummary, Stack};
use dpstack::socket::Fd;
use dpstack::time::{Duration, MonotonicClock};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Default)]
struct Counts {
    echoed: u64,
    echoed_bytes: u64,
    socket_errors: u64,
    tcp_accepted: u64,
    tcp_echoed_bytes: u64,
    tcp_closed: u64,
    tcp_failed: u64,
}

/// Runs the echo on `stack` (its listeners and UDP socket already made)
/// until the core is told to stop.
pub fn run<D: Device>(
    core: &Core,
    stack: Stack<D, MonotonicClock>,
    listeners: Vec<Fd>,
    udp: Option<Fd>,
    figures: &[&'static str],
) -> Result<CoreSummary, String> {
    let mut runtime = Runtime::new(stack).map_err(|e| e.to_string())?;
    let handle = runtime.handle();
    let counts = Rc::new(RefCell::new(Counts::default()));
    for fd in listeners {
        let listener = TcpListener::from_fd(&handle, fd).map_err(|e| e.to_string())?;
        let (spawner, counts) = (handle.clone(), counts.clone());
        handle.spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    counts.borrow_mut().socket_errors += 1;
                    continue;
                };
                counts.borrow_mut().tcp_accepted += 1;
                let counts = counts.clone();
                spawner.spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match stream.read(&mut buf).await {
                            Ok(0) => {
                                counts.borrow_mut().tcp_closed += 1;
                                return;
                            }
                            Ok(n) => n,
                            Err(_) => {
                                counts.borrow_mut().tcp_failed += 1;
                                return;
                            }
                        };
                        if stream.write_all(&buf[..n]).await.is_err() {
                            counts.borrow_mut().tcp_failed += 1;
                            return;
                        }
                        counts.borrow_mut().tcp_echoed_bytes += n as u64;
                    }
                });
            }
        });
    }
    if let Some(fd) = udp {
        let socket = UdpSocket::from_fd(&handle, fd).map_err(|e| e.to_string())?;
        let counts = counts.clone();
        handle.spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((n, from)) => match socket.send_to(&buf[..n], from).await {
                        Ok(_) => {
                            let mut c = counts.borrow_mut();
                            c.echoed += 1;
                            c.echoed_bytes += n as u64;
                        }
                        Err(_) => counts.borrow_mut().socket_errors += 1,
                    },
                    Err(_) => counts.borrow_mut().socket_errors += 1,
                }
            }
        });
    }
    while core.control().keep_running() {
        // The timeout keeps the stop flag checked while idle.
        runtime.turn(Duration::from_millis(50));
    }
    let c = counts.borrow();
    let values = [
        c.echoed,
        c.echoed_bytes,
        c.socket_errors,
        c.tcp_accepted,
        c.tcp_echoed_bytes,
        c.tcp_closed,
        c.tcp_failed,
    ];
    Ok(CoreSummary::of_counts(handle.stats(), figures, &values))
}
