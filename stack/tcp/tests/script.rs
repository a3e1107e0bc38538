//! A scripted peer: one dpstack TCP, segments injected by hand, output checked.
