//! Deterministic TCP tests: a two-peer simulator whose clock jumps to the
//! next deadline, and a scripted peer that injects hand-built segments and
//! checks what comes back (packetdrill style).

mod behaviour;
mod harness;
mod peers;
mod script;
mod transitions;
