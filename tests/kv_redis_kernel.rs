//! dpstack-kv against Debian's Redis tools, from the kernel in a namespace
//! the test creates and removes, over DPDK `net_tap`: `redis-cli` round
//! trips every command, `redis-benchmark` runs its tests plain and
//! pipelined with no error, Debian's `redis-server` is benchmarked the
//! same way in the same namespace for comparison, and broken requests get
//! protocol errors.
#![cfg(feature = "dpdk")]

mod common;

use common::tcp_kernel::{start, STACK_IP};
use common::{in_netns, net_tap_backend, Netns};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const IFNAME: &str = "dpskvtap";
const LOOPBACK: &str = "127.0.0.1";

fn redis_cli(ns: &Netns, host: &str, port: &str, args: &[&str]) -> String {
    let out = ns
        .command("redis-cli")
        .args(["-h", host, "-p", port])
        .args(args)
        .output()
        .expect("redis-cli runs (Debian package redis-tools)");
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// `redis-benchmark` with the tests; (requests per second by test, all output).
fn benchmark(ns: &Netns, host: &str, port: &str, pipeline: &str) -> (Vec<(String, f64)>, String) {
    let out = ns
        .command("redis-benchmark")
        .args([
            "-h",
            host,
            "-p",
            port,
            "-t",
            "ping,set,get,incr,mset",
            "-n",
            "100000",
            "-c",
            "50",
        ])
        .args(["-P", pipeline, "-e", "--csv"])
        .output()
        .expect("redis-benchmark runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let rates = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
            Some((fields.first()?.to_string(), fields.get(1)?.parse().ok()?))
        })
        .collect();
    (rates, text)
}

#[test]
fn redis_tools_drive_dpstack_kv_and_redis_server_alike() {
    let ns = Netns::create("kv");
    let kv = start(
        &ns,
        IFNAME,
        &net_tap_backend(IFNAME),
        env!("CARGO_BIN_EXE_dpstack-kv"),
        &["--listen-port", "6379", "--maxmemory", "64000000", "--json"],
    );
    let cli = |args: &[&str]| redis_cli(&ns, STACK_IP, "6379", args);
    for (args, expected) in [
        (&["PING"][..], "PONG"),
        (&["ECHO", "hello"], "hello"),
        (&["SET", "k", "v1"], "OK"),
        (&["GET", "k"], "v1"),
        (&["SET", "k", "v2", "NX"], ""),
        (&["SET", "k", "v3", "XX"], "OK"),
        (&["SET", "fresh", "x", "XX"], ""),
        (&["SET", "t", "1", "EX", "100"], "OK"),
        (&["TTL", "t"], "100"),
        (&["PERSIST", "t"], "1"),
        (&["TTL", "t"], "-1"),
        (&["EXPIRE", "t", "50"], "1"),
        (&["SET", "p", "1", "PX", "100000"], "OK"),
        (&["INCR", "n"], "1"),
        (&["INCRBY", "n", "41"], "42"),
        (&["DECR", "n"], "41"),
        (
            &["INCR", "k"],
            "ERR value is not an integer or out of range",
        ),
        (&["MSET", "a", "1", "b", "2"], "OK"),
        (&["MGET", "a", "b", "missing"], "1\n2"),
        (&["EXISTS", "a", "b", "missing"], "2"),
        (&["DEL", "a", "missing"], "1"),
        (&["DBSIZE"], "5"),
        (&["KEYS", "[bn]"], "b\nn"),
        (&["RANGE", "a", "k"], "b\n2\nk\nv3"),
        (
            &["SCAN", "0", "COUNT", "100", "MATCH", "?"],
            "0\nb\nk\nn\np\nt",
        ),
        (&["CONFIG", "GET", "maxmemory"], "maxmemory\n64000000"),
        (&["CLIENT", "SETNAME", "tester"], "OK"),
        (&["COMMAND"], ""),
        (&["SELECT", "0"], "OK"),
        (
            &["NOSUCH", "x"],
            "ERR unknown command 'NOSUCH', with args beginning with: 'x'",
        ),
        (&["GET"], "ERR wrong number of arguments for 'get' command"),
        (&["FLUSHALL"], "OK"),
        (&["DBSIZE"], "0"),
    ] {
        assert_eq!(cli(args), expected, "redis-cli {args:?}");
    }
    assert!(cli(&["INFO"]).contains("redis_version"));

    // Broken requests: a protocol error, then the server closes.
    let (huge, garbage) = in_netns(&ns, || {
        let ask = |request: &[u8]| {
            let mut s = TcpStream::connect(format!("{STACK_IP}:6379")).expect("connects");
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(request).unwrap();
            let mut reply = Vec::new();
            s.read_to_end(&mut reply).expect("closed after the error");
            String::from_utf8_lossy(&reply).into_owned()
        };
        (ask(b"*1\r\n$99999999999\r\n"), ask(b"*2\r\n:1\r\n"))
    });
    assert!(huge.starts_with("-ERR Protocol error"), "{huge}");
    assert!(garbage.starts_with("-ERR Protocol error"), "{garbage}");

    let (kv_plain, kv_text) = benchmark(&ns, STACK_IP, "6379", "1");
    let (kv_piped, kv_piped_text) = benchmark(&ns, STACK_IP, "6379", "16");
    let summary = kv.terminate();

    // Debian's redis-server on the namespace's loopback (the TAP went with
    // dpstack-kv): the kernel's own TCP with no device in between.
    ns.run(&["ip", "link", "set", "lo", "up"]);
    let mut redis = ns
        .command("redis-server")
        .args([
            "--port",
            "6390",
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server starts (Debian package redis-server)");
    let ready = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        ns.command("redis-cli")
            .args(["-h", LOOPBACK, "-p", "6390", "PING"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
    });
    assert!(ready, "redis-server answers");
    let (redis_plain, _) = benchmark(&ns, LOOPBACK, "6390", "1");
    let (redis_piped, _) = benchmark(&ns, LOOPBACK, "6390", "16");
    let _ = std::process::Command::new("kill")
        .arg(redis.id().to_string())
        .status();
    let _ = redis.wait();

    println!("redis-benchmark -n 100000 -c 50, requests per second (dpstack-kv over DPDK net_tap | redis-server on the namespace's loopback):");
    for (label, ours, theirs) in [
        ("-P 1", &kv_plain, &redis_plain),
        ("-P 16", &kv_piped, &redis_piped),
    ] {
        for (test, rate) in ours {
            let other = theirs
                .iter()
                .find(|(t, _)| t == test)
                .map_or(0.0, |(_, r)| *r);
            println!("  {label} {test}: {rate:.0} | {other:.0}");
        }
    }
    for text in [&kv_text, &kv_piped_text] {
        assert!(
            !text.contains("Error"),
            "redis-benchmark saw errors: {text}"
        );
    }
    assert_eq!(
        kv_plain.len(),
        6,
        "PING_INLINE, PING_MBULK, SET, GET, INCR, MSET: {kv_text}"
    );
    assert_eq!(kv_piped.len(), 6, "{kv_piped_text}");
    let json: serde_json::Value = serde_json::from_str(&summary).expect("JSON summary");
    assert_eq!(json["protocol_errors"], 2, "{summary}");
}
