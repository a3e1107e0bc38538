//! `dpstack-httpd --idle-timeout`: against kernel clients over TAP in a
//! namespace the test creates and removes, a client that connects and
//! stays silent is closed after the timeout, while one that keeps asking
//! on its keep-alive connection is served throughout.

mod common;

use common::tcp_kernel::{start, STACK_IP};
use common::{in_netns, Netns};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const IFNAME: &str = "dpsidletap";

#[test]
fn httpd_closes_silent_connections_and_keeps_busy_ones() {
    let ns = Netns::create("httpdidle");
    let backend = [
        "--backend".to_string(),
        "tap".into(),
        "--tap".into(),
        IFNAME.into(),
    ];
    let httpd = start(
        &ns,
        IFNAME,
        &backend,
        env!("CARGO_BIN_EXE_dpstack-httpd"),
        &["--listen-port", "80", "--idle-timeout", "1", "--json"],
    );
    let (silent_closed_after, busy_replies) = in_netns(&ns, || {
        let address = format!("{STACK_IP}:80");
        let silent = std::thread::spawn({
            let address = address.clone();
            move || {
                let mut stream = TcpStream::connect(&address).expect("connects");
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let started = Instant::now();
                let mut byte = [0u8; 1];
                // The server's FIN: end of stream, no data.
                let n = stream.read(&mut byte).expect("closed, not timed out");
                assert_eq!(n, 0, "nothing but the close");
                started.elapsed()
            }
        });
        let mut busy = TcpStream::connect(&address).expect("connects");
        busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: dpstack\r\n\r\n";
        let mut replies = 0;
        // Four seconds of a request every 400 ms on one connection.
        for _ in 0..10 {
            busy.write_all(request).expect("still open");
            let mut reply = vec![0u8; 4096];
            let mut got = 0;
            while !reply[..got].ends_with(b"</p>\n") {
                let n = busy.read(&mut reply[got..]).expect("a reply");
                assert!(n > 0, "the busy connection was closed");
                got += n;
            }
            replies += 1;
            std::thread::sleep(Duration::from_millis(400));
        }
        (silent.join().expect("silent client"), replies)
    });
    let summary = httpd.terminate();
    println!(
        "idle timeout 1 s: the silent client was closed after {:.2} s; the busy one got {busy_replies} replies; {summary}",
        silent_closed_after.as_secs_f64()
    );
    assert!(
        silent_closed_after >= Duration::from_millis(900)
            && silent_closed_after < Duration::from_secs(3),
        "closed about a second after connecting: {silent_closed_after:?}"
    );
    assert_eq!(busy_replies, 10);
    let json: serde_json::Value = serde_json::from_str(&summary).expect("JSON summary");
    assert_eq!(json["idle_closed"], 1, "{summary}");
}
