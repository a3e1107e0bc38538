//! TCP (RFC 9293), sans-IO: connections are driven by segments
//! ([`TcpSockets::input`]), time ([`TcpSockets::on_timers`]) and calls,
//! and their output is pulled by the interface
//! ([`TcpSockets::drain_output`]). Split as the Linux kernel splits it:
//! [`input`] (segment arrival), [`output`] (what to send), [`timers`]
//! (expiry), [`congestion`] (the window's reaction to ACKs and losses),
//! [`rtt`] (the retransmission timeout), [`recovery`] (SACK loss
//! recovery), [`listen`] (SYN and accept
//! queues), and [`sockets`] (the table and the calls).
//!
//! Building blocks: [`segment`] validation with named failures, [`emit`]
//! for outgoing segments, [`seq`] arithmetic, [`isn`] (RFC 6528), and the
//! out-of-order [`assembler`]; buffers are `buf::ByteRing`s and timers sit
//! on the stack's `timer::TimerWheel`.

pub mod assembler;
pub mod config;
pub mod congestion;
pub mod emit;
pub mod error;
pub mod icmp;
pub mod input;
pub mod isn;
pub mod listen;
pub mod listing;
pub mod output;
pub mod pair_map;
pub mod rack;
pub mod recovery;
pub mod rtt;
pub mod sack;
pub mod segment;
pub mod seq;
pub mod sockets;
pub mod state;
pub mod syncookie;
pub mod tcb;
pub mod time_wait;
pub mod timers;

pub use config::TcpConfig;
pub use error::TcpError;
pub use sockets::{Readiness, TcpHandle, TcpSockets};
pub use state::State;
pub use tcb::{Keepalive, TcpOptions};

#[cfg(test)]
mod tests;
