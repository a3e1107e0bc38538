//! Two dpstack TCPs against each other over the simulated link.

use super::harness::*;
use crate::tcp::{State, TcpError, TcpHandle};
use crate::time::Duration;

/// Moves `data` from `from` to `to` through the pair, reading as it arrives.
fn transfer(pair: &mut Pair, a_to_b: bool, from: TcpHandle, to: TcpHandle, data: &[u8]) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = pair.now + Duration::from_secs(600);
    while got.len() < data.len() {
        assert!(
            pair.now < deadline,
            "transfer stalled at {} of {}",
            got.len(),
            data.len()
        );
        let (tx, rx) = if a_to_b {
            (&mut pair.a, &mut pair.b)
        } else {
            (&mut pair.b, &mut pair.a)
        };
        if sent < data.len() {
            match tx.send(from, &data[sent..]) {
                Ok(n) => sent += n,
                Err(TcpError::WouldBlock) => {}
                Err(e) => panic!("send: {e}"),
            }
        }
        loop {
            match rx.recv(to, &mut buf) {
                Ok(0) => panic!("early end of stream"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(TcpError::WouldBlock) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        let limit = pair.now + Duration::from_secs(1);
        pair.step(limit);
    }
    got
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n as u64)
        .map(|i| ((i * 2654435761) >> 24) as u8)
        .collect()
}

#[test]
fn handshake_transfer_and_graceful_close() {
    let mut pair = Pair::new(config(), config());
    let (client, server, _) = pair.connected();
    let data = pattern(1_000_000);
    assert_eq!(transfer(&mut pair, true, client, server, &data), data);
    let back = pattern(300_000);
    assert_eq!(transfer(&mut pair, false, server, client, &back), back);

    pair.a.close(pair.now, client).unwrap();
    pair.settle();
    let mut buf = [0u8; 16];
    assert_eq!(pair.b.recv(server, &mut buf), Ok(0), "end of stream");
    assert_eq!(pair.b.state(server), Ok(State::CloseWait));
    pair.b.close(pair.now, server).unwrap();
    pair.settle();
    assert_eq!(pair.b.connection_count(), 0, "LAST-ACK ends in CLOSED");
    assert_eq!(
        pair.a.connection_count(),
        1,
        "the active closer waits in TIME-WAIT"
    );
    pair.run_until(pair.now + Duration::from_secs(3));
    assert_eq!(pair.a.connection_count(), 0, "TIME-WAIT expired");
}
