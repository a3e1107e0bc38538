//! Network namespaces for tests and benchmarks (through
//! `setup/netns.sh`): every TAP, veth or DPDK vdev they use lives in one
//! they create, and it is removed (with what runs in it) on drop. Shared
//! by `tests/common` and `benches/side_by_side` (included by path).

use std::path::PathBuf;
use std::process::Command;

/// Path of a script in `setup/`.
pub fn setup_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("setup")
        .join(name)
}

/// A network namespace made for one test or benchmark run; deleted (with
/// what runs in it) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `dps-<purpose>-<pid>-<random>`. Needs root.
    pub fn create(purpose: &str) -> Netns {
        Netns::try_create(purpose).unwrap_or_else(|error| {
            panic!(
                "cannot create a network namespace (these tests need root and iproute2): {error}"
            )
        })
    }

    /// As [`create`](Self::create), or why it failed (for callers that can
    /// go on without one, as a benchmark's contender sitting out).
    pub fn try_create(purpose: &str) -> Result<Netns, String> {
        let out = Command::new(setup_script("netns.sh"))
            .args(["create", purpose])
            .output()
            .map_err(|e| format!("setup/netns.sh: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Netns {
            name: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        })
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `args` inside the namespace and returns stdout; panics on failure.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .command(args[0])
            .args(&args[1..])
            .output()
            .expect("ip netns exec runs");
        assert!(
            out.status.success(),
            "{args:?} failed in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Gives the kernel's `ifname` the IPv6 address `cidr` (`ADDR/LEN`),
    /// usable at once: duplicate address detection off for the interface
    /// (its link-local address included) and for this address.
    pub fn add_ipv6(&self, ifname: &str, cidr: &str) {
        let accept_dad = format!("net.ipv6.conf.{ifname}.accept_dad=0");
        self.run(&["sysctl", "-q", "-w", &accept_dad]);
        self.run(&["ip", "-6", "addr", "add", cidr, "dev", ifname, "nodad"]);
    }

    /// Runs `args` inside the namespace, ignoring failure (e.g. an unanswered ping).
    pub fn run_unchecked(&self, args: &[&str]) {
        let _ = self.command(args[0]).args(&args[1..]).output();
    }

    /// The kernel's RX/TX packet counters of `ifname` in this namespace.
    pub fn link_packets(&self, ifname: &str) -> (u64, u64) {
        let text = self.run(&["ip", "-s", "-j", "link", "show", "dev", ifname]);
        let json: serde_json::Value = serde_json::from_str(&text).expect("ip -j prints JSON");
        let stats = &json[0]["stats64"];
        (
            stats["rx"]["packets"].as_u64().expect("rx packets"),
            stats["tx"]["packets"].as_u64().expect("tx packets"),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(setup_script("netns.sh"))
            .args(["delete", &self.name])
            .status();
    }
}
