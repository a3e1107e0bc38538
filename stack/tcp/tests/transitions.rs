//! One test per transition of the RFC 9293 state diagram (figure 5), each
//! reached through real handshakes with explicit time, then RSTs in every
//! state. Transition names follow the figure: `from_to_on_event`.

use super::script::*;
use crate::tcp::segment::flags::*;
use crate::tcp::{State, TcpError};
use crate::time::Duration;

const P: u32 = PEER_ISS + 1;

#[test]
fn closed_to_listen_on_listen() {
    let mut s = Script::new(script_config());
    s.listen();
    s.sent_none();
}

#[test]
fn rst_and_stray_ack_to_a_listener() {
    let mut s = Script::new(script_config());
    let listener = s.listen();
    s.inject(RST, PEER_ISS, 0, b"");
    s.sent_none();
    s.inject(ACK, PEER_ISS, 777, b"");
    let rst = s.sent_one();
    assert_eq!(
        (rst.flags, rst.seq),
        (RST, 777),
        "an ACK with no connection is reset"
    );
    assert_eq!(s.tcp.state(listener), Ok(State::Listen));
}

#[test]
fn listen_to_syn_received_on_syn() {
    let mut s = Script::new(script_config());
    s.syn_received();
    assert_eq!(s.tcp.connection_count(), 1, "the half-open connection");
}

#[test]
fn syn_received_to_established_on_ack_of_syn() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    assert_eq!(s.state(conn), State::Established);
    assert_eq!(s.tcp.stats().established, 1);
}

#[test]
fn syn_received_to_listen_on_rst() {
    let mut s = Script::new(script_config());
    let listener = s.syn_received();
    s.inject(RST, P, 0, b"");
    s.sent_none();
    assert_eq!(
        s.tcp.connection_count(),
        0,
        "the half-open connection is gone"
    );
    assert_eq!(s.tcp.state(listener), Ok(State::Listen));
    assert_eq!(s.tcp.accept(listener), Err(TcpError::WouldBlock));
}

#[test]
fn syn_received_bad_ack_gets_a_reset() {
    let mut s = Script::new(script_config());
    s.syn_received();
    s.inject(ACK, P, s.iss.wrapping_add(5000), b"");
    let rst = s.sent_one();
    assert_eq!((rst.flags, rst.seq), (RST, s.iss.wrapping_add(5000)));
}

#[test]
fn closed_to_syn_sent_on_connect() {
    let mut s = Script::new(script_config());
    s.syn_sent();
}

#[test]
fn syn_sent_to_established_on_syn_ack() {
    let mut s = Script::new(script_config());
    s.established_active();
}

#[test]
fn syn_sent_to_syn_received_on_syn_then_established() {
    // Simultaneous open (RFC 9293 figure 8), from one side.
    let mut s = Script::new(script_config());
    let conn = s.syn_sent();
    s.inject(SYN, PEER_ISS, 0, b"");
    assert_eq!(s.state(conn), State::SynReceived);
    let syn_ack = s.sent_one();
    assert_eq!(
        (syn_ack.flags, syn_ack.seq, syn_ack.ack),
        (SYN | ACK, s.iss, P)
    );
    s.inject(SYN | ACK, PEER_ISS, s.iss + 1, b"");
    // The peer's SYN-ACK repeats its SYN: answered by a challenge ACK.
    s.inject(ACK, P, s.iss + 1, b"");
    assert_eq!(s.state(conn), State::Established);
}

#[test]
fn syn_sent_to_closed_on_close() {
    let mut s = Script::new(script_config());
    let conn = s.syn_sent();
    s.tcp.close(s.now, conn).unwrap();
    s.sent_none();
    assert_eq!(s.tcp.connection_count(), 0);
    assert_eq!(s.tcp.state(conn), Err(TcpError::BadHandle));
}

#[test]
fn listen_to_closed_on_close() {
    let mut s = Script::new(script_config());
    let listener = s.listen();
    s.tcp.close(s.now, listener).unwrap();
    s.inject(SYN, PEER_ISS, 0, b"");
    let rst = s.sent_one();
    assert_eq!(rst.flags, RST | ACK, "the port is closed again");
}

#[test]
fn syn_received_to_fin_wait_1_on_close() {
    // Simultaneous open leaves a user-held connection in SYN-RECEIVED.
    let mut s = Script::new(script_config());
    let conn = s.syn_sent();
    s.inject(SYN, PEER_ISS, 0, b"");
    s.sent_one();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.inject(ACK, P, s.iss + 1, b"");
    assert_eq!(s.state(conn), State::FinWait1);
    let fin = s.sent_one();
    assert_eq!((fin.flags, fin.seq), (FIN | ACK, s.iss + 1));
}

#[test]
fn established_to_fin_wait_1_on_close() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    assert_eq!(s.state(conn), State::FinWait1);
    let fin = s.sent_one();
    assert_eq!((fin.flags, fin.seq, fin.ack), (FIN | ACK, s.iss + 1, P));
}

#[test]
fn established_to_close_wait_on_fin() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    assert_eq!(s.state(conn), State::CloseWait);
    let ack = s.sent_one();
    assert_eq!(
        (ack.flags, ack.ack),
        (ACK, P + 1),
        "the FIN is acknowledged at once"
    );
    assert_eq!(s.tcp.recv(conn, &mut [0u8; 8]), Ok(0), "end of stream");
}

#[test]
fn fin_wait_1_to_fin_wait_2_on_ack_of_fin() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent_one();
    s.inject(ACK, P, s.iss + 2, b"");
    assert_eq!(s.state(conn), State::FinWait2);
    s.sent_none();
}

#[test]
fn fin_wait_1_to_closing_on_fin() {
    // Simultaneous close: the peer's FIN crosses ours.
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent_one();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    assert_eq!(s.state(conn), State::Closing);
    let ack = s.sent_one();
    assert_eq!(ack.ack, P + 1);
}

#[test]
fn fin_wait_1_to_time_wait_on_fin_acking_ours() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent_one();
    s.inject(FIN | ACK, P, s.iss + 2, b"");
    assert_eq!(s.state(conn), State::TimeWait);
    assert_eq!(s.sent_one().ack, P + 1);
}

#[test]
fn fin_wait_2_to_time_wait_on_fin() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent_one();
    s.inject(ACK, P, s.iss + 2, b"");
    s.inject(FIN | ACK, P, s.iss + 2, b"");
    assert_eq!(s.state(conn), State::TimeWait);
    assert_eq!(s.sent_one().ack, P + 1);
}

#[test]
fn closing_to_time_wait_on_ack_of_fin() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent_one();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    s.sent_one();
    s.inject(ACK, P + 1, s.iss + 2, b"");
    assert_eq!(s.state(conn), State::TimeWait);
}

#[test]
fn close_wait_to_last_ack_on_close() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    s.sent_one();
    s.tcp.shutdown(s.now, conn).unwrap();
    assert_eq!(s.state(conn), State::LastAck);
    let fin = s.sent_one();
    assert_eq!((fin.flags, fin.seq, fin.ack), (FIN | ACK, s.iss + 1, P + 1));
}

#[test]
fn last_ack_to_closed_on_ack_of_fin() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    s.sent_one();
    s.tcp.close(s.now, conn).unwrap();
    s.sent_one();
    s.inject(ACK, P + 1, s.iss + 2, b"");
    assert_eq!(s.tcp.connection_count(), 0, "closed and released");
}

#[test]
fn time_wait_to_closed_after_two_msl() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.close(s.now, conn).unwrap();
    s.sent_one();
    s.inject(FIN | ACK, P, s.iss + 2, b"");
    s.sent_one();
    assert_eq!(s.tcp.connection_count(), 1, "TIME-WAIT holds the pair");
    s.advance(Duration::from_millis(1_999));
    assert_eq!(s.tcp.connection_count(), 1);
    // A retransmitted FIN is acknowledged again and restarts the wait.
    s.inject(FIN | ACK, P, s.iss + 2, b"");
    assert_eq!(s.sent_one().ack, P + 1);
    s.advance(Duration::from_millis(1_999));
    assert_eq!(s.tcp.connection_count(), 1, "restarted by the FIN");
    s.advance(Duration::from_millis(2));
    assert_eq!(s.tcp.connection_count(), 0, "2 MSL passed");
}

#[test]
fn rst_in_syn_sent_refuses_the_connection() {
    let mut s = Script::new(script_config());
    let conn = s.syn_sent();
    s.inject(RST | ACK, 0, s.iss + 1, b"");
    assert_eq!(s.state(conn), State::Closed);
    assert_eq!(
        s.tcp.recv(conn, &mut [0u8; 4]),
        Err(TcpError::ConnectionRefused)
    );
    assert_eq!(
        s.tcp.recv(conn, &mut [0u8; 4]),
        Ok(0),
        "the error is told once"
    );
    // A RST whose ACK does not cover our SYN is ignored.
    let other = {
        let options = s.options();
        s.tcp
            .connect(
                s.now,
                std::net::SocketAddr::new(super::harness::A_IP.into(), 9),
                81,
                options,
                super::harness::B_IP,
            )
            .unwrap()
    };
    s.sent();
    let syn_seq = s.tcp.tcb_of(other).unwrap().iss.0;
    let segment = super::harness::craft(
        std::net::SocketAddr::new(super::harness::A_IP.into(), 9),
        std::net::SocketAddr::new(super::harness::B_IP.into(), 81),
        RST | ACK,
        0,
        syn_seq.wrapping_add(100),
        0,
        Default::default(),
        b"",
    );
    super::harness::deliver(&mut s.tcp, s.now, &segment);
    assert_eq!(s.state(other), State::SynSent);
}

#[test]
fn rst_in_synchronized_states_resets() {
    for (name, setup) in [
        ("ESTABLISHED", 0),
        ("FIN-WAIT-1", 1),
        ("FIN-WAIT-2", 2),
        ("CLOSE-WAIT", 3),
    ] {
        let mut s = Script::new(script_config());
        let (_, conn) = s.established_passive();
        let mut peer_seq = P;
        match setup {
            1 => {
                s.tcp.shutdown(s.now, conn).unwrap();
                s.sent();
            }
            2 => {
                s.tcp.shutdown(s.now, conn).unwrap();
                s.sent();
                s.inject(ACK, P, s.iss + 2, b"");
            }
            3 => {
                s.inject(FIN | ACK, P, s.iss + 1, b"");
                s.sent();
                peer_seq += 1;
            }
            _ => {}
        }
        // In the window but not exact: a challenge ACK, nothing else (RFC 5961 3.2).
        s.inject(RST, peer_seq + 10, 0, b"");
        let challenge = s.sent_one();
        assert_eq!((challenge.flags, challenge.ack), (ACK, peer_seq), "{name}");
        assert_ne!(s.state(conn), State::Closed, "{name}");
        s.inject(RST, peer_seq, 0, b"");
        assert_eq!(s.state(conn), State::Closed, "{name}");
        assert_eq!(
            s.tcp.send(conn, b"x"),
            Err(TcpError::ConnectionReset),
            "{name}"
        );
        assert_eq!(s.tcp.send(conn, b"x"), Err(TcpError::BrokenPipe), "{name}");
    }
}

#[test]
fn rst_in_closing_and_last_ack_closes_and_time_wait_ignores_it() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    s.sent();
    assert_eq!(s.state(conn), State::Closing);
    s.inject(RST, P + 1, 0, b"");
    assert_eq!(s.state(conn), State::Closed);

    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(FIN | ACK, P, s.iss + 1, b"");
    s.sent();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent();
    assert_eq!(s.state(conn), State::LastAck);
    s.inject(RST, P + 1, 0, b"");
    assert_eq!(s.state(conn), State::Closed);

    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.tcp.shutdown(s.now, conn).unwrap();
    s.sent();
    s.inject(FIN | ACK, P, s.iss + 2, b"");
    s.sent();
    s.inject(RST, P + 1, 0, b"");
    assert_eq!(s.state(conn), State::TimeWait, "RFC 1337: no assassination");
}

#[test]
fn syn_in_established_gets_a_challenge_ack() {
    let mut s = Script::new(script_config());
    let (_, conn) = s.established_passive();
    s.inject(SYN, P + 100, 0, b"");
    let challenge = s.sent_one();
    assert_eq!((challenge.flags, challenge.ack), (ACK, P));
    assert_eq!(s.state(conn), State::Established);
    assert_eq!(s.tcp.stats().tx_challenge_acks, 1);
}
