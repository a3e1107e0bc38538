//! Helpers shared by the whole-stack tests: network namespaces (through
//! `setup/netns.sh`, removed on drop), EAL memory arguments, and apps run as
//! child processes inside a namespace.
#![allow(dead_code)]

pub mod multicore;
mod netns;
pub mod raw;
pub mod tcp_kernel;

pub use netns::Netns;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// EAL memory arguments: `--in-memory` on hugepages when some are free;
/// otherwise (or when `DPSTACK_TEST_NO_HUGE` is set, which CI uses to test
/// this path) `--no-huge` with a warning. `--no-huge` cannot be combined
/// with `--in-memory`, so it comes with `--no-shconf` and a unique
/// `--file-prefix` to keep parallel processes apart.
pub fn eal_memory_args() -> Vec<String> {
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    if free > 0 && std::env::var_os("DPSTACK_TEST_NO_HUGE").is_none() {
        vec!["--in-memory".into()]
    } else {
        eprintln!(
            "warning: running DPDK with --no-huge (no free hugepages, or DPSTACK_TEST_NO_HUGE set)"
        );
        let prefix = format!("dpstest{}", std::process::id());
        [
            "--no-huge",
            "--no-shconf",
            "-m",
            "512",
            "--file-prefix",
            &prefix,
        ]
        .map(String::from)
        .to_vec()
    }
}

/// The `--eal` string for a `net_memif` port in `role` (`server` or
/// `client`) on `socket`, on the EAL lcores `lcores` (`-l`).
pub fn memif_eal(role: &str, lcores: &str, socket: &str) -> String {
    let mut eal = format!("-l {lcores} --no-pci --vdev=net_memif0,role={role},socket={socket}");
    for arg in eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    // Distinct file prefixes when EAL falls back to --no-huge.
    eal.replace(
        "--file-prefix dpstest",
        &format!("--file-prefix dpstest{role}"),
    )
}

/// `--backend dpdk --eal ...` arguments for a `net_memif` port ([`memif_eal`]).
pub fn memif_backend(role: &str, lcores: &str, socket: &str) -> Vec<String> {
    vec![
        "--backend".into(),
        "dpdk".into(),
        "--eal".into(),
        memif_eal(role, lcores, socket),
    ]
}

/// `--backend dpdk --eal ...` arguments for a `net_tap` vdev named `ifname`.
pub fn net_tap_backend(ifname: &str) -> Vec<String> {
    net_tap_backend_on(ifname, "0")
}

/// As [`net_tap_backend`], on the EAL lcores `lcores` (`-l`): one queue
/// pair, and one stack, per lcore.
pub fn net_tap_backend_on(ifname: &str, lcores: &str) -> Vec<String> {
    let mut eal = format!("-l {lcores} --no-pci --vdev=net_tap0,iface={ifname}");
    for arg in eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    vec!["--backend".into(), "dpdk".into(), "--eal".into(), eal]
}

/// An app running as a child process, its stdout read line by line.
pub struct App {
    child: Child,
    lines: Receiver<String>,
    pub output: Vec<String>,
}

impl App {
    /// Starts `command` with piped stdout (stderr inherited for diagnosis).
    pub fn spawn(mut command: Command) -> App {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("app starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        App {
            child,
            lines,
            output: Vec::new(),
        }
    }

    /// Waits for the `dpstack: ready` line and returns it.
    pub fn wait_ready(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.output.push(line.clone());
                    if line.starts_with("dpstack: ready ") {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!(
            "app not ready within {timeout:?}; output so far: {:?}",
            self.output
        );
    }

    /// The app's process ID (`ip netns exec` execs it, so it is the app's own).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for a stdout line that `wanted` accepts.
    pub fn wait_line(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.output.push(line.clone());
                    if wanted(&line) {
                        return Some(line);
                    }
                }
                Err(_) => break,
            }
        }
        None
    }

    /// Sends SIGTERM (by PID), waits for a clean exit, and returns the last
    /// stdout line (the summary).
    pub fn terminate(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("app ignored SIGTERM for 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.output.extend(self.lines.iter());
        assert!(
            status.success(),
            "app exited with {status}; output: {:?}",
            self.output
        );
        self.output.last().cloned().expect("app printed a summary")
    }
}

impl App {
    /// Waits (up to `timeout`) for the app to exit by itself, checks it
    /// succeeded, and returns every stdout line after the ready line.
    pub fn wait_exit(self, timeout: Duration) -> Vec<String> {
        let (status, lines) = self.wait_status(timeout);
        assert!(
            status.success(),
            "app exited with {status}; output: {lines:?}"
        );
        lines
    }

    /// Waits (up to `timeout`) for the app to exit by itself, whatever its
    /// exit status; returns the status and the lines printed since the
    /// last wait.
    pub fn wait_status(mut self, timeout: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                self.output.extend(self.lines.try_iter());
                panic!("app still running after {timeout:?}: {:?}", self.output);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let start = self.output.len();
        self.output.extend(self.lines.iter());
        (status, self.output[start..].to_vec())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The kernel-interop check both TAP backends share: dpstack-linkcheck runs
/// on `backend_args` in a fresh namespace with interface `ifname`; the kernel
/// side is addressed after the ready line and pings an address on the subnet
/// (sending ARP requests dpstack must receive); the kernel must count every
/// probe frame dpstack sent as received.
pub fn linkcheck_against_kernel(purpose: &str, ifname: &str, backend_args: &[String]) {
    let ns = Netns::create(purpose);
    let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-linkcheck"));
    command.args(backend_args).args([
        "--send",
        "20",
        "--interval-ms",
        "100",
        "--duration",
        "30",
        "--json",
    ]);
    let mut app = App::spawn(command);
    let ready = app.wait_ready(Duration::from_secs(20));
    assert!(ready.contains(" on "), "{ready}");

    ns.run(&["ip", "addr", "add", "10.77.0.1/24", "dev", ifname]);
    ns.run(&["ip", "link", "set", ifname, "up"]);
    // Nothing answers at 10.77.0.2 yet, so the kernel keeps asking by ARP.
    ns.run_unchecked(&["ping", "-c", "2", "-i", "0.5", "-W", "1", "10.77.0.2"]);
    // Probes take 2 s from the ready line; let the last ones land.
    std::thread::sleep(Duration::from_millis(800));
    let (kernel_rx, _) = ns.link_packets(ifname);

    let summary = app.terminate();
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    let arp_seen = json["rx_by_ethertype"]["0x0806"].as_u64().unwrap_or(0);
    assert!(
        arp_seen >= 1,
        "no ARP request from the kernel reached dpstack: {summary}"
    );
    let sent = json["tx_packets"].as_u64().expect("tx_packets");
    assert!(
        sent >= 10,
        "most probes go out once the link is up: {summary}"
    );
    assert_eq!(
        kernel_rx, sent,
        "the kernel counts exactly the frames dpstack sent: {summary}"
    );
}

/// Runs `f` on a thread that has joined the network namespace `ns` (a
/// thread's namespace is its own), so kernel sockets it opens live there.
pub fn in_netns<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/var/run/netns/{}", ns.name);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = std::fs::File::open(&path).expect("namespace file exists");
                use std::os::unix::io::AsRawFd;
                // SAFETY: setns on an open namespace fd affects only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("netns thread")
    })
}

/// `clients` kernel TCP clients at once (one thread each, inside `ns`),
/// each connecting to `address`, sending a line and reading its echo;
/// how many got their own line back.
pub fn kernel_echo_clients(ns: &Netns, address: &str, clients: usize) -> usize {
    use std::io::{Read, Write};
    // Room for the sockets in this process.
    let limit = libc::rlimit {
        rlim_cur: 8192,
        rlim_max: 8192,
    };
    // SAFETY: setrlimit reads the struct it is given.
    unsafe {
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    in_netns(ns, || {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..clients)
                .map(|i| {
                    std::thread::Builder::new()
                        .stack_size(128 * 1024)
                        .spawn_scoped(scope, move || {
                            let mut stream = std::net::TcpStream::connect(address).ok()?;
                            stream
                                .set_read_timeout(Some(Duration::from_secs(20)))
                                .ok()?;
                            let message = format!("hello from kernel client {i}\n");
                            stream.write_all(message.as_bytes()).ok()?;
                            let mut reply = vec![0u8; message.len()];
                            stream.read_exact(&mut reply).ok()?;
                            Some(reply == message.as_bytes())
                        })
                        .expect("thread starts")
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().ok().flatten() == Some(true))
                .filter(|ok| *ok)
                .count()
        })
    })
}

/// `count` UDP echoes through `socket` (connected to an echo server), one
/// at a time, of random sizes: every `large_every`-th up to 65,507 bytes
/// (fragmented), the others within one 1,500-byte frame. How many came
/// back; each that did is checked byte for byte.
pub fn udp_echoes(socket: &std::net::UdpSocket, count: u32, large_every: u32) -> usize {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut echoed = 0;
    let mut reply = vec![0u8; 65_536];
    for i in 0..count {
        let len = if i % large_every == 0 {
            next() % 65_508
        } else {
            next() % 1_453
        } as usize;
        let fill = next();
        let datagram: Vec<u8> = (0..len)
            .map(|j| (fill >> (j % 8 * 8)) as u8 ^ (j / 8) as u8 ^ i as u8)
            .collect();
        socket.send(&datagram).unwrap();
        if let Ok(n) = socket.recv(&mut reply) {
            assert_eq!(&reply[..n], &datagram[..], "datagram {i} ({len} bytes)");
            echoed += 1;
        }
    }
    echoed
}

/// 1 MB written to a kernel TCP connection to `address` (an echo server)
/// while it is read back on the same connection: true if it came back
/// whole and the same.
pub fn tcp_echo_1mb(address: &str) -> bool {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("TCP echo port");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = data.clone();
    let feeder = std::thread::spawn(move || writer.write_all(&sent));
    let mut echoed = vec![0u8; data.len()];
    let whole = stream.read_exact(&mut echoed).is_ok();
    feeder.join().unwrap().unwrap();
    whole && echoed == data
}

/// The MAC dpstack uses in the kernel-interop tests.
pub const STACK_MAC: &str = "02:dd:00:00:00:02";

/// The whole L2/L3 acceptance against the Linux kernel on one backend:
/// ping, fragmented ping, the kernel's neighbour entry, 10,000 UDP echoes
/// of random sizes up to 65,507 bytes, and ECONNREFUSED from a closed port.
pub fn l3_against_kernel(purpose: &str, ifname: &str, backend_args: &[String]) {
    use std::net::UdpSocket;

    let ns = Netns::create(purpose);
    let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-echo"));
    command.args(backend_args).args([
        "--ip",
        "10.78.0.2/24",
        "--mac",
        STACK_MAC,
        "--udp-port",
        "7",
        "--tcp-port",
        "7",
        "--json",
    ]);
    let mut app = App::spawn(command);
    let ready = app.wait_ready(Duration::from_secs(20));
    assert!(
        ready.starts_with("dpstack: ready 10.78.0.2/24 on "),
        "{ready}"
    );
    ns.run(&["ip", "addr", "add", "10.78.0.1/24", "dev", ifname]);
    ns.run(&["ip", "link", "set", ifname, "up"]);

    let ping = ns.run(&["ping", "-c", "20", "-i", "0.05", "-W", "2", "10.78.0.2"]);
    assert!(
        ping.contains("20 packets transmitted, 20 received"),
        "{ping}"
    );
    let big = ns.run(&[
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-s",
        "8000",
        "-W",
        "2",
        "10.78.0.2",
    ]);
    assert!(big.contains("3 packets transmitted, 3 received"), "{big}");
    let neigh = ns.run(&["ip", "neigh", "show", "10.78.0.2", "dev", ifname]);
    assert!(neigh.contains(STACK_MAC), "kernel neighbour table: {neigh}");

    let (lost, refused) = in_netns(&ns, || {
        let socket = UdpSocket::bind("10.78.0.1:0").unwrap();
        socket.connect("10.78.0.2:7").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let lost = 10_000 - udp_echoes(&socket, 10_000, 1);
        let mut reply = vec![0u8; 65_536];
        // TCP echo: 1 MB written while reading it back on the same connection.
        assert!(tcp_echo_1mb("10.78.0.2:7"), "TCP echo came back whole");
        // No TCP listener on dpstack's port 80: the kernel's connect gets a RST.
        let tcp = std::net::TcpStream::connect_timeout(
            &"10.78.0.2:80".parse().unwrap(),
            Duration::from_secs(3),
        );
        assert_eq!(
            tcp.map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "connect to a closed dpstack port"
        );
        let closed = UdpSocket::bind("10.78.0.1:0").unwrap();
        closed.connect("10.78.0.2:9").unwrap();
        closed
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        closed.send(b"anyone there?").unwrap();
        let refused = closed.recv(&mut reply).map_err(|e| e.kind());
        (lost, refused)
    });
    assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused));

    let summary = app.terminate();
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    assert_eq!(
        lost, 0,
        "datagrams lost (ping-pong cannot overflow a socket buffer): {summary}"
    );
    assert_eq!(json["echoed"], 10_000, "{summary}");
    assert_eq!(json["tcp_echoed_bytes"], 1_000_000, "{summary}");
    assert!(
        json["udp"]["rx_no_port"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(
        json["icmp"]["tx_dest_unreachable"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(
        json["ipv4"]["frag_reassembled"].as_u64().unwrap() >= 3,
        "{summary}"
    );
}
