//! TCP (RFC 9293). In place so far: segment validation with named
//! failures ([`segment`]), the CLOSED-state reset for ports nobody listens
//! on (in the interface), sequence-number arithmetic ([`seq`]), initial
//! sequence numbers per RFC 6528 ([`isn`]) and the out-of-order receive
//! record ([`assembler`]); socket buffers are `buf::ByteRing` and timers
//! the stack's `timer::TimerWheel`. The state machine, input, output,
//! timers and congestion control follow (issue 4).

pub mod assembler;
pub mod isn;
pub mod segment;
pub mod seq;
