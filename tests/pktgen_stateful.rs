//! dpstack-pktgen's stateful modes end to end. Over `net_memif` (two
//! processes, no network): 1,000 HTTP clients on kept-alive connections
//! and clients with a connection per request against `dpstack-httpd`,
//! tcp-rr against `dpstack-echo`, and the errors of a refusing port and an
//! address nobody answers, counted and failing the run. Against the kernel
//! (net_tap in a namespace the test creates): 1,000 clients against
//! Debian's nginx, and a server that resets every connection.
#![cfg(feature = "dpdk")]

mod common;

use common::tcp_kernel::{KERNEL_IP, STACK_IP};
use common::{App, Netns};
use std::process::Command;
use std::time::Duration;

/// Waits for `app` (pktgen, which ends by itself) and returns its exit
/// success and JSON summary.
fn finish(app: App) -> (bool, serde_json::Value) {
    let (status, lines) = app.wait_status(Duration::from_secs(60));
    let summary = lines
        .iter()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary in {lines:?}"));
    (
        status.success(),
        serde_json::from_str(summary).expect("JSON summary"),
    )
}

fn pktgen_memif(socket: &str, args: &[&str]) -> App {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dpstack-pktgen"));
    command
        .args(common::memif_backend("client", "1", socket))
        .args(["--ip", "10.67.0.1/24", "--json"])
        .args(args);
    App::spawn(command)
}

fn errors(summary: &serde_json::Value, kind: &str) -> u64 {
    summary["errors_by_kind"][kind].as_u64().unwrap()
}

#[test]
fn http_and_tcp_rr_over_memif_and_their_errors() {
    let socket = format!("/tmp/dps-test-memif-stateful-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let mut httpd = Command::new(env!("CARGO_BIN_EXE_dpstack-httpd"));
    httpd
        .args(common::memif_backend("server", "0", &socket))
        .args(["--ip", "10.67.0.2/24", "--listen-port", "80"]);
    let mut httpd = App::spawn(httpd);
    httpd.wait_ready(Duration::from_secs(30));

    // 1,000 clients on kept-alive connections: every one connects once
    // and gets answers; bodies are 100 bytes.
    let (ok, keep_alive) = finish(pktgen_memif(
        &socket,
        &[
            "--mode",
            "http",
            "--url",
            "http://10.67.0.2/bytes/100",
            "--clients",
            "1000",
            // Replies late on a loaded machine are latency, not errors.
            "--timeout-ms",
            "10000",
            "--duration",
            "3",
        ],
    ));
    println!("http, 1,000 kept-alive clients over memif: {keep_alive}");
    assert!(ok, "{keep_alive}");
    assert_eq!(keep_alive["errors"], 0);
    assert_eq!(keep_alive["connections"], 1000);
    let requests = keep_alive["requests"].as_u64().unwrap();
    assert!(requests >= 1000, "{keep_alive}");
    assert_eq!(keep_alive["bytes"].as_u64(), Some(requests * 100));
    assert_eq!(keep_alive["latency_us"]["samples"].as_u64(), Some(requests));

    // A connection per request.
    let (ok, per_request) = finish(pktgen_memif(
        &socket,
        &[
            "--mode",
            "http",
            "--url",
            "http://10.67.0.2:80/bytes/10",
            "--clients",
            "50",
            "--new-conn",
            "--timeout-ms",
            "10000",
            "--duration",
            "1",
        ],
    ));
    println!("http, a connection per request: {per_request}");
    assert!(ok, "{per_request}");
    assert_eq!(per_request["errors"], 0);
    let requests = per_request["requests"].as_u64().unwrap();
    let connections = per_request["connections"].as_u64().unwrap();
    assert!(requests >= 100, "{per_request}");
    // Connections still waiting for their reply at the end are counted
    // as connections, not requests.
    assert!(
        (requests..=requests + 50).contains(&connections),
        "{per_request}"
    );

    // Nothing listens on port 81: refused, counted, and the run fails.
    let (ok, refused) = finish(pktgen_memif(
        &socket,
        &[
            "--mode",
            "http",
            "--url",
            "http://10.67.0.2:81/",
            "--clients",
            "10",
            "--duration",
            "1",
        ],
    ));
    println!("refused: {refused}");
    assert!(!ok, "a run with failed requests fails");
    assert_eq!(refused["requests"], 0);
    assert!(errors(&refused, "refused") >= 10, "{refused}");
    assert_eq!(refused["errors"], refused["errors_by_kind"]["refused"]);

    // Nobody has 10.67.0.99: connects time out (or are unreachable once
    // ARP gives up), each within --timeout-ms, and the run ends on time.
    let (ok, silent) = finish(pktgen_memif(
        &socket,
        &[
            "--mode",
            "http",
            "--url",
            "http://10.67.0.99/",
            "--clients",
            "5",
            "--timeout-ms",
            "200",
            "--duration",
            "1.5",
        ],
    ));
    println!("no such host: {silent}");
    assert!(!ok);
    assert_eq!(silent["requests"], 0);
    assert!(
        errors(&silent, "timeout") + errors(&silent, "unreachable") >= 5,
        "{silent}"
    );
    let summary = httpd.terminate();
    assert!(summary.contains("status_errors=0"), "{summary}");

    // tcp-rr against an echo server.
    let _ = std::fs::remove_file(&socket);
    let mut echo = Command::new(env!("CARGO_BIN_EXE_dpstack-echo"));
    echo.args(common::memif_backend("server", "0", &socket))
        .args(["--ip", "10.67.0.2/24", "--tcp-port", "7"]);
    let mut echo = App::spawn(echo);
    echo.wait_ready(Duration::from_secs(30));
    let (ok, rr) = finish(pktgen_memif(
        &socket,
        &[
            "--mode",
            "tcp-rr",
            "--dst-ip",
            "10.67.0.2",
            "--dst-port",
            "7",
            "--request-size",
            "300",
            "--clients",
            "64",
            "--duration",
            "1",
        ],
    ));
    echo.terminate();
    let _ = std::fs::remove_file(&socket);
    println!("tcp-rr: {rr}");
    assert!(ok, "{rr}");
    assert_eq!(rr["errors"], 0);
    assert_eq!(rr["connections"], 64);
    let requests = rr["requests"].as_u64().unwrap();
    assert!(requests >= 64);
    assert_eq!(rr["bytes"].as_u64(), Some(requests * 300));
}

/// A kernel TCP server in `ns` on `port` that resets every connection it
/// accepts (SO_LINGER 0, then close), for up to `seconds`.
fn resetting_server(ns: &Netns, port: u16, seconds: u32) -> std::process::Child {
    let script = format!(
        "import socket, struct, time\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('0.0.0.0', {port}))\n\
         s.listen(1024)\n\
         s.settimeout(0.5)\n\
         end = time.time() + {seconds}\n\
         while time.time() < end:\n\
         \x20   try:\n\
         \x20       c, _ = s.accept()\n\
         \x20   except socket.timeout:\n\
         \x20       continue\n\
         \x20   c.recv(100)\n\
         \x20   c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
         \x20   c.close()\n"
    );
    ns.command("python3")
        .args(["-c", &script])
        .spawn()
        .expect("python3 runs")
}

#[test]
fn http_against_nginx_in_the_kernel_and_a_resetting_server() {
    let ns = Netns::create("pgnginx");
    let dir = std::env::temp_dir().join(format!("dps-nginx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/file"), vec![b'x'; 1000]).unwrap();
    let d = dir.display();
    let config = format!(
        "worker_processes 1;\n\
         daemon off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           keepalive_requests 1000000;\n\
           server {{ listen 8080; root {d}/www; }}\n\
         }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    // nginx's workers run as nobody: the tree must be readable.
    Command::new("chmod")
        .args(["-R", "a+rX", &d.to_string()])
        .status()
        .unwrap();
    let mut nginx = ns
        .command("nginx")
        .args(["-c", &format!("{d}/nginx.conf"), "-p", &d.to_string()])
        .spawn()
        .expect("nginx runs (setup/install-deps.sh installs it)");
    let mut reset = resetting_server(&ns, 9, 30);

    let ifname = "dpspgng0";
    let run = |args: &[&str]| {
        let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-pktgen"));
        command
            .args(common::net_tap_backend(ifname))
            .args([
                "--ip",
                &format!("{STACK_IP}/24"),
                "--mac",
                "02:00:00:00:79:02",
                "--json",
            ])
            .args(args);
        let mut app = App::spawn(command);
        app.wait_ready(Duration::from_secs(20));
        // The TAP exists once the generator is up: give the kernel its
        // side now (ARP retries cover the moment before).
        ns.run(&[
            "ip",
            "addr",
            "replace",
            &format!("{KERNEL_IP}/24"),
            "dev",
            ifname,
        ]);
        ns.run(&["ip", "link", "set", ifname, "up"]);
        finish(app)
    };

    let url = format!("http://{KERNEL_IP}:8080/file");
    // nginx's one worker, busy, lets its accept queue and the TAP's queue
    // overflow now and then: a segment lost there costs a retransmission
    // timeout of a second or more. A late reply is latency, not an error:
    // the timeout is raised from 2 to 10 s. A SYN lost there is resent
    // after 1, then 2, then 4 s; the run lasts 8 s so that a client whose
    // SYN was lost twice still connects on a loaded machine (a clean-clone
    // CI run once saw 964 of the 1,000 connected within 4 s, no error).
    let (ok, summary) = run(&[
        "--mode",
        "http",
        "--url",
        &url,
        "--clients",
        "1000",
        "--timeout-ms",
        "10000",
        "--duration",
        "8",
    ]);
    println!("http, 1,000 clients against nginx: {summary}");
    let (ok_reset, resets) = run(&[
        "--mode",
        "http",
        "--url",
        &format!("http://{KERNEL_IP}:9/"),
        "--clients",
        "4",
        "--duration",
        "3",
    ]);
    println!("against a resetting server: {resets}");
    let _ = nginx.kill();
    let _ = nginx.wait();
    let _ = reset.kill();
    let _ = reset.wait();
    let _ = std::fs::remove_dir_all(&dir);

    assert!(ok, "{summary}");
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["connections"], 1000);
    let requests = summary["requests"].as_u64().unwrap();
    assert!(requests >= 1000, "{summary}");
    assert_eq!(summary["bytes"].as_u64(), Some(requests * 1000));

    assert!(!ok_reset, "{resets}");
    assert_eq!(resets["requests"], 0);
    assert!(
        errors(&resets, "reset") + errors(&resets, "closed") >= 4,
        "{resets}"
    );
    assert_eq!(
        resets["errors"].as_u64(),
        Some(errors(&resets, "reset") + errors(&resets, "closed")),
        "{resets}"
    );
}
