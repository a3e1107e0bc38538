//! A packetdrill-like runner: text scripts of segments on the wire, socket
//! calls and their results, run against one stack with a manual clock.

pub mod frames;
pub mod parse;
pub mod run;

/// Parses and runs one script.
pub fn run_script(text: &str) -> Result<(), String> {
    let script = parse::parse(text)?;
    run::run(&script)
}
