//! Behaviour beyond the state diagram: retransmission and its backoff,
//! windows (zero window, persist probes, updates), out-of-order arrival,
//! PAWS, TIME-WAIT reuse, listen queues, delayed ACKs, Nagle, options.

use super::harness::*;
use super::script::*;
use crate::tcp::emit::OptionsOut;
use crate::tcp::segment::flags::*;
use crate::tcp::{State, TcpConfig, TcpError};
use crate::time::Duration;
use std::net::SocketAddr;

const P: u32 = PEER_ISS + 1;

#[test]
fn retransmission_backs_off_until_etimedout() {
    // The retransmission timer alone (tail loss probes are tested apart).
    let config = TcpConfig {
        max_retries: 4,
        tail_loss_probes: false,
        ..script_config()
    };
    let mut s = Script::new(config);
    let (_, conn) = s.established_passive();
    s.tcp.send(conn, b"hello").unwrap();
    let first = s.sent_one();
    assert_eq!(first.data, b"hello");
    let mut intervals = Vec::new();
    let mut last = s.now;
    for _ in 0..4 {
        let mut sent = s.run_until_output(Duration::from_secs(100));
        assert_eq!(sent.len(), 1, "one retransmission");
        let again = sent.remove(0);
        assert_eq!(
            (again.seq, again.data.as_slice()),
            (s.iss + 1, &b"hello"[..])
        );
        intervals.push(s.now.saturating_duration_since(last).as_nanos() / 1_000_000);
        last = s.now;
    }
    // The handshake measured an RTT of zero: the RTO sits at its 200 ms
    // floor, doubled at each expiry.
    assert_eq!(intervals, [200, 400, 800, 1600]);
    assert!(s.run_until_output(Duration::from_secs(100)).is_empty());
    assert_eq!(s.state(conn), State::Closed);
    assert_eq!(s.tcp.send(conn, b"x"), Err(TcpError::TimedOut));
    let stats = s.tcp.stats();
    assert_eq!(
        (stats.rto_expirations, stats.timeouts, stats.tx_retransmits),
        (4, 1, 4)
    );
}

#[test]
fn syn_retransmits_then_connect_times_out() {
    let config = TcpConfig {
        syn_retries: 2,
        ..script_config()
    };
    let mut s = Script::new(config);
    let conn = s.syn_sent();
    for expected_gap in [1000, 2000] {
        let before = s.now;
        let sent = s.run_until_output(Duration::from_secs(100));
        assert_eq!(sent[0].flags, SYN);
        assert_eq!(
            s.now.saturating_duration_since(before).as_nanos() / 1_000_000,
            expected_gap
        );
    }
    assert!(s.run_until_output(Duration::from_secs(100)).is_empty());
    assert_eq!(s.tcp.recv(conn, &mut [0u8; 1]), Err(TcpError::TimedOut));
}

#[test]
fn zero_window_then_persist_probes_then_window_update() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    // The peer acknowledges the first bytes but closes its window.
    s.tcp.send(conn, &[7u8; 100]).unwrap();
    s.sent_one();
    s.inject_with(ACK, P, s.iss + 101, 0, OptionsOut::default(), b"");
    s.tcp.send(conn, &[8u8; 50]).unwrap();
    s.sent_none();
    // Persist timer: probes after one RTO (200 ms), then backed off, without data.
    for expected_gap in [200, 400] {
        let before = s.now;
        let mut sent = s.run_until_output(Duration::from_secs(100));
        assert_eq!(sent.len(), 1);
        let probe = sent.remove(0);
        assert_eq!(
            s.now.saturating_duration_since(before).as_nanos() / 1_000_000,
            expected_gap
        );
        assert_eq!(
            (probe.seq, probe.data.len()),
            (s.iss + 100, 0),
            "an old sequence number"
        );
        s.inject_with(ACK, P, s.iss + 101, 0, OptionsOut::default(), b"");
        s.sent_none();
    }
    assert_eq!(s.tcp.stats().window_probes, 2);
    // The window opens: the held data leaves at once.
    s.inject_with(ACK, P, s.iss + 101, 1000, OptionsOut::default(), b"");
    let data = s.sent_one();
    assert_eq!((data.seq, data.data.len()), (s.iss + 101, 50));
}

#[test]
fn out_of_order_data_is_held_and_delivered_when_the_hole_fills() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(ACK, P + 5, s.iss + 1, b"fghij");
    let dup = s.sent_one();
    assert_eq!(dup.ack, P, "an immediate duplicate ACK");
    s.inject(ACK, P + 15, s.iss + 1, b"pqrst");
    assert_eq!(s.sent_one().ack, P);
    let mut buf = [0u8; 32];
    assert_eq!(s.tcp.recv(conn, &mut buf), Err(TcpError::WouldBlock));
    s.inject(ACK, P, s.iss + 1, b"abcde");
    assert_eq!(
        s.sent_one().ack,
        P + 10,
        "the first hole filled: ACK at once"
    );
    s.inject(ACK, P + 10, s.iss + 1, b"klmno");
    assert_eq!(s.sent_one().ack, P + 20);
    assert_eq!(s.tcp.recv(conn, &mut buf), Ok(20));
    assert_eq!(&buf[..20], b"abcdefghijklmnopqrst");
    assert_eq!(s.tcp.stats().rx_out_of_order, 2);
}

#[test]
fn delayed_ack_waits_for_a_second_segment_or_the_timer() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(ACK, P, s.iss + 1, b"one");
    s.sent_none();
    s.advance(Duration::from_millis(39));
    s.sent_none();
    s.advance(Duration::from_millis(1));
    assert_eq!(s.sent_one().ack, P + 3, "after 40 ms");
    // Two full-sized segments are acknowledged at once.
    let full = vec![1u8; 536];
    s.inject(ACK, P + 3, s.iss + 1, &full);
    s.sent_none();
    s.inject(ACK, P + 539, s.iss + 1, &full);
    assert_eq!(s.sent_one().ack, P + 1075);
    let _ = conn;
}

#[test]
fn nagle_holds_small_segments_while_data_is_unacknowledged() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.send(conn, b"a").unwrap();
    assert_eq!(s.sent_one().data, b"a", "nothing in flight: sent");
    s.tcp.send(conn, b"b").unwrap();
    s.tcp.send(conn, b"c").unwrap();
    s.sent_none();
    s.inject(ACK, P, s.iss + 2, b"");
    assert_eq!(s.sent_one().data, b"bc", "coalesced after the ACK");
    s.tcp.set_nodelay(conn, true).unwrap();
    s.tcp.send(conn, b"d").unwrap();
    assert_eq!(s.sent_one().data, b"d", "TCP_NODELAY sends at once");
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp() {
    let mut s = Script::new(script_config());
    let listener = s.listen();
    let ts = |val| OptionsOut {
        timestamps: Some((val, 0)),
        ..OptionsOut::default()
    };
    s.inject_with(SYN, PEER_ISS, 0, PEER_WINDOW, ts(500), b"");
    let syn_ack = s.sent_one();
    assert!(syn_ack.timestamps.is_some(), "timestamps negotiated");
    assert_eq!(
        syn_ack.timestamps.unwrap().1,
        500,
        "our TSecr echoes the peer"
    );
    assert_eq!(
        syn_ack.window_scale, None,
        "no scaling: the peer did not offer it"
    );
    s.iss = syn_ack.seq;
    s.inject_with(ACK, P, s.iss + 1, PEER_WINDOW, ts(600), b"");
    let (conn, _) = s.tcp.accept(listener).unwrap();
    s.inject_with(ACK, P, s.iss + 1, PEER_WINDOW, ts(700), b"new");
    s.advance(Duration::from_millis(40));
    assert_eq!(s.sent_one().ack, P + 3);
    // An old duplicate with an earlier TSval is dropped and acknowledged.
    s.inject_with(ACK, P + 3, s.iss + 1, PEER_WINDOW, ts(650), b"old");
    let ack = s.sent_one();
    assert_eq!(ack.ack, P + 3, "the old segment's data was not taken");
    assert_eq!(s.tcp.stats().rx_paws_dropped, 1);
    assert_eq!(s.tcp.recv_queued(conn), Ok(3));
}

#[test]
fn time_wait_is_reused_by_a_newer_syn() {
    let mut s = Script::new(script_config());
    let (listener, conn) = s.established_passive();
    // The peer closes first; we close; the peer's last ACK leaves us in... LAST-ACK.
    // For TIME-WAIT on our side we close first.
    s.tcp.close(s.now, conn).unwrap();
    s.sent_one();
    s.inject(FIN | ACK, P, s.iss + 2, b"");
    s.sent_one();
    assert_eq!(s.tcp.connection_count(), 1);
    // An old SYN (sequence not past the old connection's) gets a challenge ACK.
    s.inject(SYN, P - 10, 0, b"");
    assert_eq!(s.sent_one().flags, ACK);
    // A newer SYN takes the pair over and is answered with a SYN-ACK.
    s.inject(SYN, P + 100_000, 0, b"");
    let syn_ack = s.sent_one();
    assert_eq!((syn_ack.flags, syn_ack.ack), (SYN | ACK, P + 100_001));
    s.inject(ACK, P + 100_001, syn_ack.seq + 1, b"");
    let (again, _) = s.tcp.accept(listener).expect("the new incarnation");
    assert_eq!(s.state(again), State::Established);
    assert_eq!(s.tcp.stats().time_wait_reused, 1);
}

#[test]
fn syn_queue_and_accept_queue_are_bounded_by_the_backlog() {
    // Without SYN cookies, as Linux with tcp_syncookies=0.
    let mut s = Script::new(TcpConfig {
        syn_cookies: false,
        ..script_config()
    });
    let options = s.options();
    let listener = s.tcp.listen(s.us, 2, options, B_IP, false).unwrap();
    let client = |port: u16| SocketAddr::new(A_IP.into(), port);
    for port in [1, 2, 3] {
        let syn = craft(
            client(port),
            s.us,
            SYN,
            PEER_ISS,
            0,
            65_535,
            OptionsOut::default(),
            b"",
        );
        deliver(&mut s.tcp, s.now, &syn);
    }
    let syn_acks = s.sent();
    assert_eq!(syn_acks.len(), 2, "the third SYN is dropped");
    assert_eq!(s.tcp.stats().syn_queue_overflow, 1);
    // Both complete: the accept queue holds two.
    for (port, syn_ack) in [1u16, 2].iter().zip(&syn_acks) {
        let ack = craft(
            client(*port),
            s.us,
            ACK,
            P,
            syn_ack.seq + 1,
            65_535,
            OptionsOut::default(),
            b"",
        );
        deliver(&mut s.tcp, s.now, &ack);
    }
    // A third handshake completes while the accept queue is full: its final ACK is dropped.
    let syn = craft(
        client(3),
        s.us,
        SYN,
        PEER_ISS,
        0,
        65_535,
        OptionsOut::default(),
        b"",
    );
    deliver(&mut s.tcp, s.now, &syn);
    assert!(s.sent().is_empty(), "SYN dropped: the accept queue is full");
    assert_eq!(s.tcp.stats().syn_queue_overflow, 2);
    assert!(s.tcp.accept(listener).is_ok());
    assert!(s.tcp.accept(listener).is_ok());
    assert_eq!(s.tcp.accept(listener), Err(TcpError::WouldBlock));
}

#[test]
fn mss_and_window_scale_are_negotiated_from_the_syn() {
    let mut s = Script::new(TcpConfig {
        max_mss: 1000,
        ..script_config()
    });
    let listener = s.listen();
    let options = OptionsOut {
        mss: Some(1460),
        window_scale: Some(7),
        ..OptionsOut::default()
    };
    s.inject_with(SYN, PEER_ISS, 0, 512, options, b"");
    let syn_ack = s.sent_one();
    assert_eq!(
        syn_ack.window_scale,
        Some(3),
        "256 KiB buffer needs shift 3"
    );
    s.inject_with(ACK, P, syn_ack.seq + 1, 512, OptionsOut::default(), b"");
    let (conn, _) = s.tcp.accept(listener).unwrap();
    let tcb = s.tcp.tcb_of(conn).unwrap();
    assert_eq!(tcb.mss, 1000, "our MTU's MSS clamps the peer's");
    assert_eq!(
        tcb.snd_wnd,
        512 << 7,
        "the peer's window scaled by its shift"
    );
    s.tcp.send(conn, &vec![0u8; 3000]).unwrap();
    let sent = s.sent();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|seg| seg.data.len() <= 1000));
}

#[test]
fn simultaneous_open_and_simultaneous_close_between_two_stacks() {
    let mut pair = Pair::new(config(), config());
    let a_addr = SocketAddr::new(A_IP.into(), 5000);
    let b_addr = SocketAddr::new(B_IP.into(), 6000);
    let opts = crate::tcp::TcpOptions::from_config(&config());
    let a = pair.a.connect(pair.now, b_addr, 5000, opts, A_IP).unwrap();
    let b = pair.b.connect(pair.now, a_addr, 6000, opts, B_IP).unwrap();
    // Both SYNs cross: deliver them before either side sees a SYN-ACK.
    let syn_a = drain(&mut pair.a, pair.now);
    let syn_b = drain(&mut pair.b, pair.now);
    deliver(&mut pair.b, pair.now, &syn_a[0]);
    deliver(&mut pair.a, pair.now, &syn_b[0]);
    assert_eq!(pair.a.state(a), Ok(State::SynReceived));
    assert_eq!(pair.b.state(b), Ok(State::SynReceived));
    pair.settle();
    assert_eq!(pair.a.state(a), Ok(State::Established));
    assert_eq!(pair.b.state(b), Ok(State::Established));
    pair.a.send(a, b"ping").unwrap();
    pair.settle();
    let mut buf = [0u8; 8];
    assert_eq!(pair.b.recv(b, &mut buf), Ok(4));
    // Both close at once: the FINs cross.
    pair.a.shutdown(pair.now, a).unwrap();
    pair.b.shutdown(pair.now, b).unwrap();
    let fin_a = drain(&mut pair.a, pair.now);
    let fin_b = drain(&mut pair.b, pair.now);
    for fin in &fin_a {
        deliver(&mut pair.b, pair.now, fin);
    }
    for fin in &fin_b {
        deliver(&mut pair.a, pair.now, fin);
    }
    assert_eq!(pair.a.state(a), Ok(State::Closing));
    assert_eq!(pair.b.state(b), Ok(State::Closing));
    pair.settle();
    assert_eq!(pair.a.state(a), Ok(State::TimeWait));
    assert_eq!(pair.b.state(b), Ok(State::TimeWait));
}

#[test]
fn half_close_lets_data_flow_the_other_way() {
    let mut pair = Pair::new(config(), config());
    let (client, server, _) = pair.connected();
    pair.a.send(client, b"request").unwrap();
    pair.a.shutdown(pair.now, client).unwrap();
    pair.settle();
    let mut buf = [0u8; 64];
    assert_eq!(pair.b.recv(server, &mut buf), Ok(7));
    assert_eq!(
        pair.b.recv(server, &mut buf),
        Ok(0),
        "the client is done sending"
    );
    assert_eq!(pair.a.state(client), Ok(State::FinWait2));
    // The server still sends, and the client still receives.
    for _ in 0..10 {
        pair.b.send(server, &[9u8; 1000]).unwrap();
        pair.settle();
    }
    let mut total = 0;
    while let Ok(n) = pair.a.recv(client, &mut buf) {
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, 10_000);
    assert_eq!(pair.a.send(client, b"x"), Err(TcpError::BrokenPipe));
    pair.b.close(pair.now, server).unwrap();
    pair.settle();
    assert_eq!(pair.a.state(client), Ok(State::TimeWait));
}

#[test]
fn loss_of_a_segment_is_repaired_by_fast_retransmit() {
    let mut pair = Pair::new(config(), config());
    let (client, server, _) = pair.connected();
    let mut count = 0;
    pair.drop = Box::new(move |from_a, s| {
        if from_a && !s.seg().payload.is_empty() {
            count += 1;
            return count == 3;
        }
        false
    });
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    pair.a.send(client, &data).unwrap();
    pair.run_until(pair.now + Duration::from_millis(100));
    let mut got = vec![0u8; 200_000];
    let n = pair.b.recv(server, &mut got).unwrap();
    assert_eq!(
        &got[..n],
        &data[..],
        "repaired within 100 ms: no timeout needed"
    );
    let stats = pair.a.stats();
    assert_eq!((stats.fast_retransmits, stats.rto_expirations), (1, 0));
}

#[test]
fn syn_ack_is_retransmitted_with_backoff_then_the_half_open_is_dropped() {
    let mut s = Script::new(TcpConfig {
        synack_retries: 2,
        ..script_config()
    });
    let listener = s.syn_received();
    for expected_gap in [1000, 2000] {
        let before = s.now;
        let sent = s.run_until_output(Duration::from_secs(100));
        assert_eq!((sent.len(), sent[0].flags), (1, SYN | ACK));
        assert_eq!(
            s.now.saturating_duration_since(before).as_nanos() / 1_000_000,
            expected_gap
        );
    }
    assert!(
        s.run_until_output(Duration::from_secs(100)).is_empty(),
        "no RST: silently dropped"
    );
    assert_eq!(s.tcp.connection_count(), 0);
    assert_eq!(
        s.tcp.state(listener),
        Ok(State::Listen),
        "the listener is untouched"
    );
}

#[test]
fn calls_fail_with_the_errno_linux_gives() {
    let mut s = Script::new(script_config());
    let (listener, conn) = s.established_passive();
    let options = s.options();
    assert_eq!(
        s.tcp.listen(s.us, 4, options, B_IP, false),
        Err(TcpError::AddrInUse)
    );
    assert_eq!(
        s.tcp.connect(s.now, s.peer, 80, options, B_IP),
        Err(TcpError::AddrInUse),
        "the 4-tuple is taken"
    );
    assert_eq!(s.tcp.send(listener, b"x"), Err(TcpError::NotConnected));
    assert_eq!(
        s.tcp.recv(listener, &mut [0u8; 4]),
        Err(TcpError::NotConnected)
    );
    assert_eq!(s.tcp.accept(conn), Err(TcpError::InvalidState));
    assert_eq!(s.tcp.recv(conn, &mut [0u8; 4]), Err(TcpError::WouldBlock));
    let other = s
        .tcp
        .listen(SocketAddr::new(B_IP.into(), 0), 4, options, B_IP, false)
        .expect("port 0: an ephemeral port");
    assert!(s.tcp.local_addr(other).unwrap().port() >= 32_768);
    assert_eq!(
        s.tcp
            .listen(SocketAddr::new(A_IP.into(), 81), 4, options, B_IP, false),
        Err(TcpError::AddrNotAvailable),
        "not our address"
    );
    s.tcp.close(s.now, conn).unwrap();
    assert_eq!(
        s.tcp.send(conn, b"x"),
        Err(TcpError::BadHandle),
        "closed handle"
    );
    assert_eq!(s.tcp.close(s.now, conn), Err(TcpError::BadHandle));
}

#[test]
fn abort_resets_the_peer() {
    let mut pair = Pair::new(config(), config());
    let (client, server, _) = pair.connected();
    pair.a.abort(pair.now, client).unwrap();
    pair.settle();
    assert_eq!(pair.a.connection_count(), 0, "gone at once, no TIME-WAIT");
    assert_eq!(
        pair.b.recv(server, &mut [0u8; 4]),
        Err(TcpError::ConnectionReset)
    );
    assert_eq!(pair.b.stats().resets_received, 1);
}

#[test]
fn close_with_unread_data_resets_instead_of_fin() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(ACK, P, s.iss + 1, b"unread");
    s.tcp.close(s.now, conn).unwrap();
    let rst = s
        .sent()
        .into_iter()
        .find(|seg| seg.flags & RST != 0)
        .expect("a reset");
    assert_eq!(rst.seq, s.iss + 1);
    assert_eq!(s.tcp.connection_count(), 0);
}

#[test]
fn a_window_too_small_for_sws_avoidance_is_used_after_the_override_timeout() {
    // The peer's window shrank to 100 bytes and the update that reopens it
    // was lost: without the override timer nothing would ever be sent.
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.set_nodelay(conn, true).unwrap();
    s.tcp.send(conn, &[1u8; 2000]).unwrap();
    assert_eq!(
        s.sent().iter().map(|seg| seg.data.len()).sum::<usize>(),
        2000
    );
    s.inject_with(ACK, P, s.iss + 2001, 100, OptionsOut::default(), b"");
    s.tcp.send(conn, &[2u8; 1000]).unwrap();
    s.sent_none();
    let sent = s.run_until_output(Duration::from_secs(10));
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].seq, sent[0].data.len()), (s.iss + 2001, 100));
    // Its ACK carries the reopened window: the rest follows.
    s.inject_with(ACK, P, s.iss + 2101, 65_535, OptionsOut::default(), b"");
    assert_eq!(
        s.sent().iter().map(|seg| seg.data.len()).sum::<usize>(),
        900
    );
}

#[test]
fn after_a_timeout_a_small_retransmission_is_not_held_by_sws_avoidance() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.send(conn, &[3u8; 56]).unwrap();
    s.sent_one();
    // The peer's ACK of the 56 bytes, and its window update, are lost;
    // its last word was a 56-byte window.
    s.inject_with(ACK, P, s.iss + 1, 56, OptionsOut::default(), b"");
    s.tcp.send(conn, &[4u8; 10_000]).unwrap();
    let sent = s.run_until_output(Duration::from_secs(10));
    assert_eq!(
        (sent.len(), sent[0].seq, sent[0].data.len()),
        (1, s.iss + 1, 56)
    );
}

#[test]
fn keepalive_probes_a_silent_peer_then_times_out() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    let keepalive = crate::tcp::Keepalive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(1),
        count: 3,
    };
    let start = s.now;
    s.tcp.set_keepalive(s.now, conn, Some(keepalive)).unwrap();
    // An answered probe restarts the idle period.
    let probe = s.run_until_output(Duration::from_secs(20));
    assert_eq!(
        (probe.len(), probe[0].seq, probe[0].data.len()),
        (1, s.iss, 0)
    );
    assert_eq!(
        s.now.saturating_duration_since(start),
        Duration::from_secs(10)
    );
    s.inject(ACK, P, s.iss + 1, b"");
    let restarted = s.now;
    for _ in 0..3 {
        assert_eq!(s.run_until_output(Duration::from_secs(20)).len(), 1);
    }
    assert_eq!(
        s.now.saturating_duration_since(restarted),
        Duration::from_secs(12),
        "idle, then two intervals"
    );
    s.advance(Duration::from_millis(999));
    assert_eq!(s.state(conn), State::Established);
    s.advance(Duration::from_millis(1));
    let reset = s.sent_one();
    assert_eq!(
        reset.flags & RST,
        RST,
        "a RST at idle + interval x count, as Linux"
    );
    assert_eq!(s.state(conn), State::Closed);
    assert_eq!(s.tcp.recv(conn, &mut [0u8; 4]), Err(TcpError::TimedOut));
    let stats = s.tcp.stats();
    assert_eq!((stats.keepalive_probes, stats.keepalive_timeouts), (4, 1));
}

#[test]
fn keepalive_stays_quiet_while_the_peer_talks() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    let keepalive = crate::tcp::Keepalive {
        idle: Duration::from_secs(5),
        interval: Duration::from_secs(1),
        count: 2,
    };
    s.tcp.set_keepalive(s.now, conn, Some(keepalive)).unwrap();
    let mut seq = P;
    for _ in 0..10 {
        s.advance(Duration::from_secs(4));
        s.inject(ACK | PSH, seq, s.iss + 1, b"hi");
        seq += 2;
        let sent = s.run_until_output(Duration::from_millis(100));
        assert!(
            sent.iter().all(|seg| seg.seq == s.iss + 1),
            "ACKs only, no probe"
        );
    }
    assert_eq!(s.state(conn), State::Established);
    assert_eq!(s.tcp.stats().keepalive_probes, 0);
}

#[test]
fn challenge_acks_are_rate_limited_stack_wide() {
    let mut s = Script::new(TcpConfig {
        challenge_acks_per_sec: 100,
        ..script_config()
    });
    let (_, conn) = s.established_passive();
    // A blind attacker's in-window RSTs: each asks for a challenge ACK.
    for i in 0..500 {
        s.inject(RST, P + 1 + i, 0, b"");
    }
    let sent = s.sent();
    assert_eq!(sent.len(), 1, "ACKs of one connection coalesce: {sent:?}");
    let stats = s.tcp.stats();
    assert_eq!(
        (stats.tx_challenge_acks, stats.challenge_acks_limited),
        (10, 490),
        "a burst of rate / 10, then nothing until tokens come back"
    );
    s.advance(Duration::from_secs(1));
    s.inject(RST, P + 7, 0, b"");
    assert_eq!(s.sent().len(), 1, "tokens refilled");
    assert_eq!(s.state(conn), State::Established);
}

#[test]
fn an_ack_older_than_the_window_is_a_blind_injection() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    // Our first byte is iss + 1; an ACK 100,000 below it is older than the
    // peer's largest window (65,535) could explain.
    s.inject(ACK, P, s.iss.wrapping_sub(100_000), b"injected");
    let challenge = s.sent_one();
    assert_eq!(
        (challenge.flags, challenge.ack),
        (ACK, P),
        "challenged, data refused"
    );
    assert_eq!(s.tcp.recv_queued(conn), Ok(0));
    assert_eq!(s.tcp.stats().rx_ack_too_old, 1);
    // An ACK within the window is fine.
    s.inject(ACK, P, s.iss.wrapping_sub(1000), b"genuine");
    assert_eq!(s.tcp.recv_queued(conn), Ok(7));
}

#[test]
fn sack_blocks_report_the_latest_arrival_first_and_duplicates_as_dsack() {
    let mut s = Script::new(script_config());
    let listener = s.listen();
    let syn_options = OptionsOut {
        sack_permitted: true,
        ..OptionsOut::default()
    };
    s.inject_with(SYN, PEER_ISS, 0, PEER_WINDOW, syn_options, b"");
    let syn_ack = s.sent_one();
    s.iss = syn_ack.seq;
    s.inject(ACK, P, s.iss + 1, b"");
    let (conn, _) = s.tcp.accept(listener).unwrap();
    let sacks = |s: &mut Script| {
        let seg = drain(&mut s.tcp, s.now).pop().expect("an ACK");
        let parsed = seg.seg();
        parsed
            .options
            .sack_blocks
            .iter()
            .flatten()
            .map(|(l, r)| (l.0.wrapping_sub(P), r.0.wrapping_sub(P)))
            .collect::<Vec<_>>()
    };
    s.inject(ACK, P + 10, s.iss + 1, &[1u8; 10]);
    assert_eq!(sacks(&mut s), vec![(10, 20)]);
    s.inject(ACK, P + 30, s.iss + 1, &[1u8; 10]);
    assert_eq!(sacks(&mut s), vec![(30, 40), (10, 20)], "the latest first");
    s.inject(ACK, P, s.iss + 1, &[1u8; 10]);
    assert_eq!(
        sacks(&mut s),
        vec![(30, 40)],
        "the first hole filled: 0-20 in order"
    );
    // A segment that arrives twice is reported as D-SACK (RFC 2883).
    s.inject(ACK, P, s.iss + 1, &[1u8; 10]);
    assert_eq!(sacks(&mut s), vec![(0, 10), (30, 40)]);
    assert_eq!(s.tcp.recv_queued(conn), Ok(20));
}

#[test]
fn connection_and_buffer_memory_limits_refuse_cleanly() {
    let mut s = Script::new(TcpConfig {
        max_connections: 2,
        ..script_config()
    });
    let options = s.options();
    let listener = s.tcp.listen(s.us, 8, options, B_IP, false).unwrap();
    let client = |port: u16| SocketAddr::new(A_IP.into(), port);
    for port in [1, 2, 3] {
        let syn = craft(
            client(port),
            s.us,
            SYN,
            PEER_ISS,
            0,
            65_535,
            OptionsOut::default(),
            b"",
        );
        deliver(&mut s.tcp, s.now, &syn);
    }
    assert_eq!(s.sent().len(), 2, "the third SYN is over the limit");
    assert_eq!(s.tcp.stats().connection_limit_drops, 1);
    assert_eq!(
        s.tcp
            .connect(s.now, SocketAddr::new(A_IP.into(), 9), 0, options, B_IP),
        Err(TcpError::NoBuffers)
    );
    assert_eq!(
        s.tcp.buffer_memory(),
        0,
        "half-open connections hold no rings until data comes"
    );
    let _ = listener;
}

#[test]
fn the_buffer_memory_cap_counts_storage_in_use() {
    // 8 KiB for all: rings start at 4 KiB. c1's two rings reach the cap;
    // then c2 (connected before) can neither send nor receive, and no new
    // connection is admitted, until c1 is gone.
    let small = TcpConfig {
        max_buffer_memory: 8 * 1024,
        ..config()
    };
    let mut pair = Pair::new(small, config());
    let (c1, s1, listener) = pair.connected();
    let options = crate::tcp::TcpOptions::from_config(pair.a.config());
    let c2 = pair
        .a
        .connect(pair.now, SocketAddr::new(B_IP.into(), 80), 0, options, A_IP)
        .expect("idle connections hold no buffers");
    pair.settle();
    let (s2, _) = pair.b.accept(listener).unwrap();
    assert_eq!(pair.a.buffer_memory(), 0);
    assert_eq!(pair.a.send(c1, &[1u8; 100]), Ok(100));
    assert_eq!(
        pair.a.buffer_memory(),
        4096,
        "c1's send ring, at its smallest"
    );
    pair.b.send(s1, b"to c1").unwrap();
    pair.settle();
    let mut buf = [0u8; 16];
    assert_eq!(pair.a.recv(c1, &mut buf), Ok(5));
    assert_eq!(pair.a.buffer_memory(), 8192, "and its receive ring");
    assert_eq!(pair.a.send(c2, &[2u8; 100]), Err(TcpError::NoBuffers));
    assert_eq!(
        pair.a
            .connect(pair.now, SocketAddr::new(B_IP.into(), 80), 0, options, A_IP),
        Err(TcpError::NoBuffers),
        "no new connection at the cap"
    );
    // Data for c2 would need a receive ring: dropped and counted.
    pair.b.send(s2, b"hello").unwrap();
    pair.settle();
    assert_eq!(pair.a.recv(c2, &mut buf), Err(TcpError::WouldBlock));
    assert!(pair.a.stats().buffer_memory_drops >= 2);
    // c1 goes: its rings are freed, c2 gets its own, B's resend arrives.
    pair.a.abort(pair.now, c1).unwrap();
    pair.settle();
    assert_eq!(pair.a.buffer_memory(), 0);
    assert_eq!(pair.a.send(c2, &[2u8; 100]), Ok(100));
    pair.run_until(pair.now + Duration::from_secs(3));
    assert_eq!(pair.a.recv(c2, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
}

#[test]
fn time_wait_gives_its_buffers_back() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(ACK, P, s.iss + 1, b"hi");
    s.sent();
    assert_eq!(s.tcp.recv(conn, &mut [0u8; 4]), Ok(2));
    assert!(s.tcp.buffer_memory() > 0, "the receive ring holds memory");
    s.tcp.close(s.now, conn).unwrap();
    s.sent_one();
    s.inject(FIN | ACK, P + 2, s.iss + 2, b"");
    s.sent_one();
    assert_eq!(s.tcp.connection_count(), 1, "in TIME-WAIT");
    assert_eq!(s.tcp.buffer_memory(), 0, "without buffers");
}

#[test]
fn a_syn_flood_is_answered_with_cookies_and_a_real_client_gets_in() {
    let mut s = Script::new(script_config());
    let options = s.options();
    let listener = s.tcp.listen(s.us, 4, options, B_IP, false).unwrap();
    // 20,000 spoofed SYNs: four fill the SYN queue, the rest get cookies.
    let mut rng = crate::rand::Rng::new(99);
    for _ in 0..20_000 {
        let spoofed = SocketAddr::new(
            std::net::Ipv4Addr::from(0x0a00_0000 | (rng.next_u64() as u32 & 0x00ff_ffff)).into(),
            1024 + (rng.next_u64() % 60_000) as u16,
        );
        let syn = craft(
            spoofed,
            s.us,
            SYN,
            rng.next_u64() as u32,
            0,
            65_535,
            OptionsOut::default(),
            b"",
        );
        deliver(&mut s.tcp, s.now, &syn);
        s.sent();
    }
    assert_eq!(
        s.tcp.connection_count(),
        4,
        "only the SYN queue holds state"
    );
    assert!(s.tcp.stats().syn_cookies_sent >= 19_990);
    // A real client, with timestamps, window scaling and SACK.
    let syn_options = OptionsOut {
        mss: Some(1460),
        window_scale: Some(7),
        timestamps: Some((4242, 0)),
        sack_permitted: true,
        ..OptionsOut::default()
    };
    s.inject_with(SYN, PEER_ISS, 0, 65_535, syn_options, b"");
    let syn_ack = s.sent_one();
    assert_eq!((syn_ack.flags, syn_ack.ack), (SYN | ACK, P));
    let echoed = syn_ack.timestamps.expect("timestamps carry the options").0;
    let ack_options = OptionsOut {
        timestamps: Some((4243, echoed)),
        ..OptionsOut::default()
    };
    s.iss = syn_ack.seq;
    s.inject_with(ACK | PSH, P, s.iss + 1, 512, ack_options, b"GET /");
    let (conn, from) = s
        .tcp
        .accept(listener)
        .expect("the cookie made the connection");
    assert_eq!(from, s.peer);
    let tcb = s.tcp.tcb_of(conn).unwrap();
    assert_eq!((tcb.snd_wscale, tcb.sack_ok, tcb.mss), (7, true, 1448));
    assert_eq!(
        tcb.snd_wnd,
        512 << 7,
        "the peer's shift came back through the timestamp"
    );
    assert_eq!(
        s.tcp.recv_queued(conn),
        Ok(5),
        "data on the final ACK is kept"
    );
    assert_eq!(s.tcp.stats().syn_cookies_accepted, 1);
    // A forged ACK (wrong cookie) gets a reset, not a connection.
    let forged = craft(
        SocketAddr::new(A_IP.into(), 50_000),
        s.us,
        ACK,
        5_000,
        12_345,
        512,
        OptionsOut::default(),
        b"",
    );
    deliver(&mut s.tcp, s.now, &forged);
    let rst = s
        .sent()
        .into_iter()
        .find(|seg| seg.flags & RST != 0)
        .expect("a reset");
    assert_eq!(rst.seq, 12_345);
    assert_eq!(s.tcp.stats().syn_cookies_invalid, 1);
}

#[test]
fn sack_repairs_several_holes_in_one_recovery() {
    // SACK alone: no tail loss probe to add a retransmission.
    let no_tlp = || TcpConfig {
        tail_loss_probes: false,
        ..config()
    };
    let mut pair = Pair::new(no_tlp(), no_tlp());
    let (client, server, _) = pair.connected();
    assert!(
        pair.a.tcb_of(client).unwrap().sack_ok,
        "SACK negotiated between two stacks"
    );
    let mut count = 0;
    pair.drop = Box::new(move |from_a, s| {
        if from_a && !s.seg().payload.is_empty() {
            count += 1;
            return count == 3 || count == 6 || count == 9;
        }
        false
    });
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    pair.a.send(client, &data).unwrap();
    pair.run_until(pair.now + Duration::from_millis(100));
    let mut got = vec![0u8; 200_000];
    let n = pair.b.recv(server, &mut got).unwrap();
    assert_eq!(&got[..n], &data[..]);
    let stats = pair.a.stats();
    assert_eq!(stats.rto_expirations, 0, "no timeout");
    assert_eq!(stats.fast_retransmits, 1, "one recovery");
    assert_eq!(stats.tx_retransmits, 3, "exactly the three lost segments");
}

#[test]
fn a_lost_tail_is_repaired_by_a_probe_before_the_timeout() {
    // The peer is dpstack, whose delayed ACK is 40 ms: that is all the
    // probe timeout needs to allow for (the default, 200 ms, is RFC 8985's
    // worst case, which puts a one-segment probe at the RTO's time).
    let allowing_40_ms = || TcpConfig {
        tlp_delayed_ack_allowance: Duration::from_millis(40),
        ..config()
    };
    let mut pair = Pair::new(allowing_40_ms(), config());
    let (client, server, _) = pair.connected();
    pair.a.set_nodelay(client, true).unwrap();
    // Warm the RTT estimate with a few exchanges.
    for _ in 0..3 {
        pair.a.send(client, b"warm").unwrap();
        pair.run_until(pair.now + Duration::from_millis(50));
        pair.b.recv(server, &mut [0u8; 64]).unwrap();
    }
    // Five segments; the last one, the tail, is lost: no duplicate ACK follows.
    let mut count = 0;
    pair.drop = Box::new(move |from_a, s| {
        if from_a && !s.seg().payload.is_empty() {
            count += 1;
            return count == 5;
        }
        false
    });
    let before = pair.a.stats().tail_loss_probes;
    let data = vec![7u8; 5 * 1448];
    pair.a.send(client, &data).unwrap();
    pair.run_until(pair.now + Duration::from_millis(150));
    let mut got = vec![0u8; 10_000];
    let stats = pair.a.stats();
    assert_eq!(
        pair.b.recv(server, &mut got),
        Ok(data.len()),
        "repaired within 150 ms: {stats:?}"
    );
    let stats = pair.a.stats();
    assert_eq!(
        (stats.tail_loss_probes - before, stats.rto_expirations),
        (1, 0)
    );
}

#[test]
fn a_lost_retransmission_is_found_by_sack_and_sent_again() {
    let no_tlp = || TcpConfig {
        tail_loss_probes: false,
        ..config()
    };
    let mut pair = Pair::new(no_tlp(), no_tlp());
    let (client, server, _) = pair.connected();
    // The third data segment is lost, and so is its first retransmission.
    let mut seen_third = 0;
    let mut third_seq = None;
    pair.drop = Box::new(move |from_a, s| {
        let seg = s.seg();
        if !from_a || seg.payload.is_empty() {
            return false;
        }
        if third_seq.is_none() {
            seen_third += 1;
            if seen_third == 3 {
                third_seq = Some(seg.seq);
                return true;
            }
            return false;
        }
        if Some(seg.seq) == third_seq && seen_third < 5 {
            seen_third += 2;
            return true;
        }
        false
    });
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let got = deliver_within(&mut pair, client, server, &data, Duration::from_millis(150));
    assert!(
        got == data,
        "all delivered within 150 ms: no timeout needed"
    );
    let stats = pair.a.stats();
    assert_eq!((stats.lost_retransmits, stats.rto_expirations), (1, 0));
}

/// Sends `data` from A and runs the pair until B has read it all or
/// `limit` has passed; returns what B read.
fn deliver_within(
    pair: &mut Pair,
    client: crate::tcp::TcpHandle,
    server: crate::tcp::TcpHandle,
    data: &[u8],
    limit: Duration,
) -> Vec<u8> {
    let deadline = pair.now + limit;
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < data.len() && pair.now < deadline {
        if sent < data.len() {
            sent += pair.a.send(client, &data[sent..]).unwrap_or(0);
        }
        while let Ok(n) = pair.b.recv(server, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let step = pair.now + Duration::from_millis(1);
        pair.step(step);
    }
    got
}

/// A drop rule losing A's `n`th data segments (first transmissions and
/// retransmissions counted alike), 1-based.
fn drop_data_segments(lost: &'static [u32]) -> DropRule {
    let mut count = 0;
    Box::new(move |from_a, s| {
        if from_a && !s.seg().payload.is_empty() {
            count += 1;
            return lost.contains(&count);
        }
        false
    })
}

#[test]
fn a_lost_tail_after_a_hole_is_rescued_without_a_timeout() {
    // Ten segments, the third and the last lost: SACK shows the third
    // lost, but nothing is sent after the tenth to show it missing.
    let no_tlp = || TcpConfig {
        tail_loss_probes: false,
        ..config()
    };
    let mut pair = Pair::new(no_tlp(), no_tlp());
    let (client, server, _) = pair.connected();
    pair.drop = drop_data_segments(&[3, 10]);
    let data: Vec<u8> = (0..10 * 1448u32).map(|i| (i % 251) as u8).collect();
    let got = deliver_within(&mut pair, client, server, &data, Duration::from_millis(150));
    assert!(got == data, "delivered within 150 ms, no timeout");
    let stats = pair.a.stats();
    assert_eq!(
        (
            stats.fast_retransmits,
            stats.rescue_retransmits,
            stats.tx_retransmits,
            stats.rto_expirations
        ),
        (1, 1, 2, 0),
        "one recovery: the hole, then the rescued tail"
    );
}

#[test]
fn one_sack_after_a_lost_segment_repairs_it_by_time_before_any_probe() {
    // Two segments, the first lost: one duplicate ACK, too few for a fast
    // retransmit. RACK (RFC 8985 6.2) sees the second delivered and the
    // first, sent before it, still missing a reordering window later: the
    // recovery starts then, before the tail loss probe would have gone.
    let mut pair = Pair::new(config(), config());
    let (client, server, _) = pair.connected();
    pair.a.set_nodelay(client, true).unwrap();
    for _ in 0..3 {
        pair.a.send(client, b"warm").unwrap();
        pair.run_until(pair.now + Duration::from_millis(50));
        pair.b.recv(server, &mut [0u8; 64]).unwrap();
    }
    pair.drop = drop_data_segments(&[1]);
    let data: Vec<u8> = (0..2 * 1448u32).map(|i| (i % 249) as u8).collect();
    let before = pair.a.stats();
    let got = deliver_within(&mut pair, client, server, &data, Duration::from_millis(150));
    assert!(got == data, "delivered within 150 ms, no timeout");
    let stats = pair.a.stats();
    assert_eq!(
        (
            stats.tail_loss_probes - before.tail_loss_probes,
            stats.fast_retransmits - before.fast_retransmits,
            stats.rto_expirations
        ),
        (0, 1, 0),
        "a recovery started by time, no probe"
    );
}

#[test]
fn connect_takes_over_its_own_time_wait_so_ports_never_run_out() {
    // More connections than ephemeral ports, the client closing first each
    // time: every port ends in TIME-WAIT on the client, and new connects
    // take those pairs over (timestamps on) instead of failing.
    let mut pair = Pair::new(config(), config());
    let opts = crate::tcp::TcpOptions::from_config(pair.a.config());
    let listener = pair
        .b
        .listen(SocketAddr::new(B_IP.into(), 80), 64, opts, B_IP, false)
        .unwrap();
    let span = usize::from(crate::udp::EPHEMERAL_LAST - crate::udp::EPHEMERAL_FIRST) + 1;
    for i in 0..span + 2_000 {
        let client = pair
            .a
            .connect(pair.now, SocketAddr::new(B_IP.into(), 80), 0, opts, A_IP)
            .unwrap_or_else(|e| panic!("connect {i}: {e:?}"));
        pair.settle();
        let (server, _) = pair.b.accept(listener).expect("accepted");
        pair.a.close(pair.now, client).unwrap();
        pair.settle();
        pair.b.close(pair.now, server).unwrap();
        pair.settle();
        pair.log.clear();
    }
    let stats = pair.a.stats();
    assert!(
        stats.time_wait_reused >= 2_000,
        "pairs in TIME-WAIT were taken over: {}",
        stats.time_wait_reused
    );
    assert_eq!(pair.b.connection_count(), 0);
}

/// Closes an established connection (timestamps on) from our side first and
/// takes the peer's FIN: the pair is left in TIME-WAIT, as a record.
fn orphan_in_time_wait(s: &mut Script, ts: impl Fn(u32) -> OptionsOut) {
    let listener = s.listen();
    s.inject_with(SYN, PEER_ISS, 0, PEER_WINDOW, ts(500), b"");
    s.iss = s.sent_one().seq;
    s.inject_with(ACK, P, s.iss + 1, PEER_WINDOW, ts(600), b"");
    let (conn, _) = s.tcp.accept(listener).unwrap();
    s.tcp.close(s.now, conn).unwrap();
    assert_eq!(s.sent_one().flags, FIN | ACK);
    s.inject_with(FIN | ACK, P, s.iss + 2, PEER_WINDOW, ts(700), b"");
    let ack = s.sent_one();
    assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, s.iss + 2, P + 1));
    assert_eq!(ack.timestamps.map(|(_, ecr)| ecr), Some(700));
    assert_eq!(s.tcp.connection_count(), 1, "the pair is held");
    assert_eq!(s.tcp.time_wait_count(), 1, "as a TIME-WAIT record");
}

fn ts(val: u32) -> OptionsOut {
    OptionsOut {
        timestamps: Some((val, 0)),
        ..OptionsOut::default()
    }
}

#[test]
fn a_closed_connection_in_time_wait_keeps_a_record_not_its_control_block() {
    let mut s = Script::new(script_config());
    orphan_in_time_wait(&mut s, ts);
    // A retransmitted FIN is acknowledged as the control block would, with
    // our TSval moving on and the peer's newest echoed.
    s.advance(Duration::from_millis(1_500));
    s.inject_with(FIN | ACK, P, s.iss + 2, PEER_WINDOW, ts(800), b"");
    let again = s.sent_one();
    assert_eq!((again.flags, again.seq, again.ack), (ACK, s.iss + 2, P + 1));
    assert_eq!(s.tcp.stats().rx_duplicate, 1);
    // It restarted 2 MSL: 1.5 s later the record is still there.
    s.advance(Duration::from_millis(1_500));
    assert_eq!(s.tcp.time_wait_count(), 1);
    s.advance(Duration::from_millis(600));
    assert_eq!(s.tcp.connection_count(), 0, "2 MSL after the last FIN");
    // Gone: a segment for the pair is now reset.
    s.inject(ACK, P + 1, s.iss + 2, b"");
    assert_eq!(s.sent_one().flags, RST);
}

#[test]
fn a_time_wait_record_refuses_old_duplicates_resets_and_old_syns() {
    let mut s = Script::new(script_config());
    orphan_in_time_wait(&mut s, ts);
    // PAWS: an older TSval is dropped and answered with an ACK.
    s.inject_with(ACK, P + 1, s.iss + 2, PEER_WINDOW, ts(650), b"");
    assert_eq!(s.sent_one().flags, ACK);
    assert_eq!(s.tcp.stats().rx_paws_dropped, 1);
    // RFC 1337: a reset at RCV.NXT does not end TIME-WAIT; one elsewhere
    // in the window is challenged.
    s.inject(RST, P + 1, 0, b"");
    s.sent_none();
    s.inject(RST, P + 10, 0, b"");
    assert_eq!(s.sent_one().flags, ACK, "challenge ACK");
    assert_eq!(s.tcp.time_wait_count(), 1);
    // A SYN with an older timestamp cannot take the pair over: PAWS
    // answers it with an ACK.
    s.inject_with(SYN, P + 100_000, 0, PEER_WINDOW, ts(690), b"");
    assert_eq!(s.sent_one().flags, ACK);
    assert_eq!(s.tcp.stats().rx_paws_dropped, 2);
    assert_eq!(s.tcp.stats().tx_challenge_acks, 1);
    // A newer one can: a SYN-ACK, and the record is gone.
    s.inject_with(SYN, P + 100_000, 0, PEER_WINDOW, ts(900), b"");
    let syn_ack = s.sent_one();
    assert_eq!((syn_ack.flags, syn_ack.ack), (SYN | ACK, P + 100_001));
    assert_eq!(s.tcp.time_wait_count(), 0);
    assert_eq!(s.tcp.connection_count(), 1, "the new incarnation");
    assert_eq!(s.tcp.stats().time_wait_reused, 1);
}

#[test]
fn time_wait_records_count_against_the_connection_limit() {
    let mut s = Script::new(TcpConfig {
        max_connections: 1,
        ..script_config()
    });
    orphan_in_time_wait(&mut s, ts);
    let options = s.options();
    let other = SocketAddr::new(s.peer.ip().to_owned(), 9);
    assert_eq!(
        s.tcp.connect(s.now, other, 0, options, B_IP),
        Err(TcpError::NoBuffers)
    );
}

/// An established connection from the scripted peer with NODELAY and an
/// RTT sample of 10 ms taken; returns it with the next sequence number we
/// send.
fn warmed(s: &mut Script) -> (crate::tcp::sockets::TcpHandle, u32) {
    let (_, conn) = s.established_passive();
    s.tcp.set_nodelay(conn, true).unwrap();
    s.tcp.send(conn, b"a").unwrap();
    assert_eq!(s.sent_one().data, b"a");
    s.advance(Duration::from_millis(10));
    s.inject(ACK, P, s.iss + 2, b"");
    s.sent_none();
    (conn, s.iss + 2)
}

#[test]
fn a_probe_due_no_sooner_than_the_rto_goes_out_instead_of_it() {
    // RFC 8985 7.2 with the default 200 ms allowance for the peer's delayed
    // ACK: one segment out, PTO = 2 x 10 ms + 200 ms, later than the RTO
    // (200 ms), so the probe takes the RTO's deadline and replaces it.
    let mut s = Script::new(script_config());
    let (conn, seq) = warmed(&mut s);
    s.tcp.send(conn, b"b").unwrap();
    assert_eq!(s.sent_one().seq, seq);
    s.advance(Duration::from_millis(199));
    s.sent_none();
    s.advance(Duration::from_millis(1));
    let probe = s.sent_one();
    assert_eq!((probe.seq, probe.data.as_slice()), (seq, &b"b"[..]));
    let stats = s.tcp.stats();
    assert_eq!((stats.tail_loss_probes, stats.rto_expirations), (1, 0));
    // RFC 8985 7.3: the RTO is re-armed a full RTO after the probe.
    s.advance(Duration::from_millis(199));
    s.sent_none();
    s.advance(Duration::from_millis(1));
    assert_eq!(s.sent_one().seq, seq, "the retransmission timeout");
    assert_eq!(s.tcp.stats().rto_expirations, 1);
}

#[test]
fn the_rto_is_re_armed_a_full_rto_after_an_early_probe() {
    // A peer known to delay ACKs by at most 40 ms: the probe goes at
    // 2 x SRTT + 40 ms, well before the RTO (200 ms) armed when the
    // segment left; after it the RTO must move to a full 200 ms later,
    // not fire at its old deadline.
    let mut s = Script::new(TcpConfig {
        tlp_delayed_ack_allowance: Duration::from_millis(40),
        ..script_config()
    });
    let (conn, seq) = warmed(&mut s);
    let srtt = s.tcp.srtt(conn).unwrap().expect("measured");
    let probe_at = 2 * srtt.as_nanos() + Duration::from_millis(40).as_nanos();
    let probe_ms = probe_at.div_ceil(1_000_000);
    assert!(probe_ms < 100, "probe {probe_ms} ms after sending");
    s.tcp.send(conn, b"b").unwrap();
    s.sent_one();
    s.advance(Duration::from_millis(probe_ms - 1));
    s.sent_none();
    s.advance(Duration::from_millis(1));
    assert_eq!(s.sent_one().seq, seq, "the probe");
    assert_eq!(s.tcp.stats().tail_loss_probes, 1);
    // The old deadline, 200 ms after sending, passes quietly.
    s.advance(Duration::from_millis(199));
    s.sent_none();
    assert_eq!(s.tcp.stats().rto_expirations, 0);
    s.advance(Duration::from_millis(1));
    assert_eq!(s.sent_one().seq, seq, "the RTO, 200 ms after the probe");
    assert_eq!(s.tcp.stats().rto_expirations, 1);
}

#[test]
fn fragmentation_needed_lowers_the_segment_size_and_resends_at_once() {
    use crate::tcp::icmp::IcmpReport;
    use crate::tcp::seq::SeqNumber;
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.set_nodelay(conn, true).unwrap();
    let data = vec![9u8; 3000];
    s.tcp.send(conn, &data).unwrap();
    let sent = s.sent();
    assert_eq!(
        sent[0].data.len(),
        536,
        "the scripted peer sends no MSS: 536"
    );
    let first = s.iss + 1;
    // A forged error quoting a sequence number not in flight changes nothing.
    let forged = IcmpReport::FragmentationNeeded {
        next_hop_mtu: 600,
        quoted_len: 1500,
    };
    s.tcp.icmp_error(
        s.now,
        s.us,
        s.peer,
        SeqNumber(first.wrapping_sub(5000)),
        forged,
    );
    s.sent_none();
    assert_eq!(s.tcp.stats().rx_icmp_ignored, 1);
    // A router with a 560-byte hop refuses the first segment.
    let report = IcmpReport::FragmentationNeeded {
        next_hop_mtu: 560,
        quoted_len: 576,
    };
    s.tcp
        .icmp_error(s.now, s.us, s.peer, SeqNumber(first), report);
    let resent = s.sent();
    assert!(!resent.is_empty(), "resent at once, no timeout");
    assert_eq!(resent[0].seq, first);
    assert!(
        resent.iter().all(|seg| seg.data.len() <= 520),
        "{:?}",
        resent.iter().map(|s| s.data.len()).collect::<Vec<_>>()
    );
    let stats = s.tcp.stats();
    assert_eq!((stats.pmtu_lowered, stats.rto_expirations), (1, 0));
}

#[test]
fn an_unreachable_peer_fails_a_connect_at_once_and_is_a_soft_error_later() {
    use crate::tcp::icmp::IcmpReport;
    use crate::tcp::seq::SeqNumber;
    let mut s = Script::new(script_config());
    let conn = s.syn_sent();
    let refused = IcmpReport::Unreachable(TcpError::ConnectionRefused);
    s.tcp
        .icmp_error(s.now, s.us, s.peer, SeqNumber(s.iss), refused);
    assert_eq!(s.state(conn), State::Closed);
    assert_eq!(
        s.tcp.tcb_of(conn).unwrap().error,
        Some(TcpError::ConnectionRefused)
    );

    // Established: the error is remembered, and reported only if the
    // connection then times out (RFC 1122 4.2.3.9).
    let mut s = Script::new(TcpConfig {
        max_retries: 2,
        ..script_config()
    });
    let (_, conn) = s.established_passive();
    s.tcp.send(conn, b"x").unwrap();
    s.sent_one();
    let unreachable = IcmpReport::Unreachable(TcpError::HostUnreachable);
    s.tcp
        .icmp_error(s.now, s.us, s.peer, SeqNumber(s.iss + 1), unreachable);
    assert_eq!(s.state(conn), State::Established, "soft");
    for _ in 0..100 {
        s.advance(Duration::from_millis(100));
        s.sent();
    }
    assert_eq!(s.state(conn), State::Closed);
    assert_eq!(
        s.tcp.tcb_of(conn).unwrap().error,
        Some(TcpError::HostUnreachable)
    );
}

#[test]
fn a_client_reconnecting_from_the_same_port_takes_over_the_servers_time_wait() {
    // Found by tests/soak_faults.rs: with a random TSval offset per
    // connection, a new incarnation's SYN could carry an older timestamp
    // than the last one's, so the server's TIME-WAIT refused it (PAWS)
    // until the client's SYNs ran out. Offsets are now fixed per 4-tuple,
    // so TSvals keep growing across incarnations.
    let mut pair = Pair::new(config(), config());
    let opts = crate::tcp::TcpOptions::from_config(pair.a.config());
    let listener = pair
        .b
        .listen(SocketAddr::new(B_IP.into(), 80), 16, opts, B_IP, false)
        .unwrap();
    let remote = SocketAddr::new(B_IP.into(), 80);
    for round in 0..20 {
        let client = pair
            .a
            .connect(pair.now, remote, 40_000, opts, A_IP)
            .unwrap();
        pair.settle();
        let (server, _) = pair
            .b
            .accept(listener)
            .unwrap_or_else(|e| panic!("round {round}: the new incarnation was refused: {e}"));
        // The server closes first and keeps the pair in TIME-WAIT.
        pair.b.close(pair.now, server).unwrap();
        pair.settle();
        pair.a.close(pair.now, client).unwrap();
        pair.settle();
        assert_eq!(
            (pair.a.connection_count(), pair.b.time_wait_count()),
            (0, 1)
        );
        pair.now += Duration::from_millis(3);
    }
    assert_eq!(
        pair.b.stats().time_wait_reused,
        19,
        "every SYN took the pair over"
    );
}
