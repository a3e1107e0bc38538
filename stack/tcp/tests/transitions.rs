//! One test per transition of the RFC 9293 state diagram.
