//! Helpers the benchmarks share.

#[allow(dead_code)]
pub mod watched;

/// (median, min, max) of `samples`.
#[allow(dead_code)]
pub fn median(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
    )
}

/// Two stacks (`a_ip`/24 and `b_ip`/24) over an in-memory pipe with one
/// TCP connection from `a` to `b`'s `port`, both turned by the calling
/// thread until it is accepted: `(a, b, a's socket, b's socket)`.
#[allow(dead_code)]
pub fn connected_pipe(
    a_ip: std::net::Ipv4Addr,
    b_ip: std::net::Ipv4Addr,
    port: u16,
) -> (
    dpstack::runtime::Stack<dpstack::device::pipe::PipeDevice, dpstack::time::MonotonicClock>,
    dpstack::runtime::Stack<dpstack::device::pipe::PipeDevice, dpstack::time::MonotonicClock>,
    dpstack::socket::Fd,
    dpstack::socket::Fd,
) {
    use dpstack::runtime::{pipe_stacks, StackConfig};
    use dpstack::socket::SockType;
    let (mut a, mut b) = pipe_stacks(
        StackConfig::seeded(a_ip, 24, 1),
        StackConfig::seeded(b_ip, 24, 2),
        dpstack::time::MonotonicClock::new(),
        &dpstack::device::pipe::PipeConfig::default(),
    );
    let server_at = std::net::SocketAddrV4::new(b_ip, port);
    let listener = b.socket(SockType::Stream).unwrap();
    b.bind(listener, server_at).unwrap();
    b.listen(listener, 4).unwrap();
    let client = a.socket(SockType::Stream).unwrap();
    let _ = a.connect(client, server_at);
    let server = loop {
        a.poll();
        b.poll();
        if let Ok((fd, _)) = b.accept(listener) {
            break fd;
        }
    };
    (a, b, client, server)
}

/// User + system CPU time of this process so far, in seconds.
#[allow(dead_code)]
pub fn cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_SELF)
}

/// User + system CPU time of the calling thread so far, in seconds.
#[allow(dead_code)]
pub fn thread_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_THREAD)
}

/// User + system CPU seconds `getrusage(who)` reports.
fn rusage_seconds(who: libc::c_int) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; callers pass
    // RUSAGE_SELF or RUSAGE_THREAD, both valid.
    let usage = unsafe {
        libc::getrusage(who, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
