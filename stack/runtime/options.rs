//! The network options every dpstack app takes (one clap struct, flattened
//! into each app's own arguments).

use crate::wire::{Ipv4Cidr, MacAddr};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// EAL arguments used when `--eal` is not given: one lcore, no PCI scan,
/// no files in /var/run, and a TAP vdev named `dps0`.
pub const DEFAULT_EAL: &str = "-l 0 --in-memory --no-pci --vdev=net_tap0,iface=dps0";

/// Which device an app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A DPDK port (a NIC bound to vfio-pci, or a vdev given in `--eal`).
    Dpdk,
    /// A Linux TAP interface through /dev/net/tun, without DPDK.
    Tap,
    /// Capture files: frames received come from `--pcap-in`, frames sent go to `--pcap-out`.
    Pcap,
}

/// Who moves frames to their core when an app runs on several lcores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SteeringChoice {
    /// The NIC's RSS when the port takes the symmetric key and a
    /// redirection table, the stack otherwise.
    Auto,
    /// The NIC's RSS; refused when the port cannot be programmed.
    Hardware,
    /// The stack, even when the NIC could steer.
    Software,
}

/// The network options shared by all apps (architecture guide, section 8).
#[derive(Debug, Clone, clap::Args)]
pub struct NetOptions {
    /// Device backend.
    #[arg(long, value_enum, default_value_t = Backend::Dpdk)]
    pub backend: Backend,
    /// EAL arguments for the dpdk backend, separated by spaces.
    #[arg(long, default_value = DEFAULT_EAL, allow_hyphen_values = true)]
    pub eal: String,
    /// DPDK port id for the dpdk backend.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// TAP interface name for the tap backend.
    #[arg(long, default_value = "dps0")]
    pub tap: String,
    /// pcap backend: read received frames from this capture.
    #[arg(long)]
    pub pcap_in: Option<PathBuf>,
    /// pcap backend: write transmitted frames to this capture.
    #[arg(long)]
    pub pcap_out: Option<PathBuf>,
    /// The stack's address and prefix length, e.g. 10.0.0.2/24.
    #[arg(long)]
    pub ip: Option<Ipv4Cidr>,
    /// Default route.
    #[arg(long)]
    pub gateway: Option<Ipv4Addr>,
    /// Our IPv6 address and on-link prefix, ADDR/LEN (IPv6 stays off
    /// without it): neighbour discovery and ICMPv6 echo on it and on the
    /// link-local address of our MAC.
    #[arg(long)]
    pub ip6: Option<crate::wire::Ipv6Cidr>,
    /// IPv6 default router: link-local, or inside the --ip6 prefix.
    #[arg(long)]
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// Take the IPv6 default router from router advertisements (when no
    /// --gateway6 is given).
    #[arg(long)]
    pub accept_ra: bool,
    /// The stack's MAC address (default: the device's).
    #[arg(long)]
    pub mac: Option<MacAddr>,
    /// Record every frame sent and received to this pcap file.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// Stop after this many seconds (0: run until SIGINT/SIGTERM).
    #[arg(long, default_value_t = 0.0, value_parser = parse_duration)]
    pub duration: f64,
    /// Print the exit summary as one line of JSON.
    #[arg(long)]
    pub json: bool,
    /// Drop this fraction of received frames (the fault layer, for tests).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_rx_loss: f64,
    /// Drop this fraction of sent frames (the fault layer, for tests).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_tx_loss: f64,
    /// Seed of the fault layer's random choices.
    #[arg(long, default_value_t = 1)]
    pub fault_seed: u64,
    /// With several lcores: who steers each flow to its core.
    #[arg(long, value_enum, default_value_t = SteeringChoice::Auto)]
    pub steering: SteeringChoice,
    /// Unix socket serving live telemetry (`dpstack-stat` reads it):
    /// `auto` is /run/dpstack/dpstack-PID.sock, `none` serves nothing.
    #[arg(long, default_value = "auto")]
    pub telemetry_socket: String,
    /// The kernel exception path: frames the stack does not consume go to
    /// a TAP of this name that the kernel owns with the stack's MAC and
    /// address, and the kernel's frames leave through the port (one lcore).
    #[arg(long)]
    pub kernel_tap: Option<String>,
    /// With --kernel-tap: a TCP/UDP port whose traffic always goes to the
    /// kernel, even where a dpstack socket has the port (repeatable).
    #[arg(long = "kernel-port")]
    pub kernel_ports: Vec<u16>,
}

fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("'{text}' is not a probability within [0, 1]")),
    }
}

fn parse_duration(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(secs),
        _ => Err(format!("'{text}' is not a number of seconds >= 0")),
    }
}

impl NetOptions {
    /// The EAL arguments, split on whitespace.
    pub fn eal_args(&self) -> Vec<&str> {
        self.eal.split_whitespace().collect()
    }

    /// The stack configuration these options describe; `--ip` is required.
    pub fn stack_config(&self) -> Result<super::StackConfig, &'static str> {
        let ip = self.ip.ok_or("--ip A.B.C.D/LEN is required")?;
        if let Some(gateway) = self.gateway {
            if !ip.contains(gateway) {
                return Err("--gateway must be inside the --ip subnet");
            }
        }
        if let Some(gateway6) = self.gateway6 {
            let ip6 = self.ip6.ok_or("--gateway6 needs --ip6")?;
            if !gateway6.is_unicast_link_local() && !ip6.contains(gateway6) {
                return Err("--gateway6 must be link-local or inside the --ip6 prefix");
            }
        }
        if self.accept_ra && self.ip6.is_none() {
            return Err("--accept-ra needs --ip6");
        }
        Ok(super::StackConfig {
            gateway: self.gateway,
            ip6: self.ip6,
            gateway6: self.gateway6,
            accept_ra: self.accept_ra,
            mac: self.mac,
            ..super::StackConfig::new(ip)
        })
    }

    /// Checks option combinations clap cannot: the pcap backend needs a
    /// file to read or write.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.backend == Backend::Pcap && self.pcap_in.is_none() && self.pcap_out.is_none() {
            return Err("--backend pcap needs --pcap-in FILE and/or --pcap-out FILE");
        }
        Ok(())
    }

    /// `--duration` as a span, `None` for "until stopped".
    pub fn run_for(&self) -> Option<std::time::Duration> {
        (self.duration > 0.0).then(|| std::time::Duration::from_secs_f64(self.duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct App {
        #[command(flatten)]
        net: NetOptions,
    }

    #[test]
    fn defaults_follow_the_cli_contract() {
        let app = App::try_parse_from(["app"]).unwrap();
        assert_eq!(app.net.backend, Backend::Dpdk);
        assert_eq!(app.net.eal, DEFAULT_EAL);
        assert_eq!(app.net.tap, "dps0");
        assert_eq!(app.net.run_for(), None);
        assert_eq!(app.net.eal_args()[0], "-l");
    }

    #[test]
    fn parses_every_option() {
        let app = App::try_parse_from([
            "app",
            "--backend",
            "tap",
            "--tap",
            "t1",
            "--ip",
            "10.0.0.2/24",
            "--gateway",
            "10.0.0.1",
            "--mac",
            "02:00:00:00:00:09",
            "--pcap",
            "x.pcap",
            "--duration",
            "1.5",
            "--json",
            "--eal",
            "-l 1 --no-pci",
        ])
        .unwrap();
        assert_eq!(app.net.backend, Backend::Tap);
        assert_eq!(app.net.ip.unwrap().prefix_len, 24);
        assert_eq!(
            app.net.run_for(),
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(app.net.eal_args(), ["-l", "1", "--no-pci"]);
        assert!(app.net.json);
    }

    #[test]
    fn ipv6_options_are_checked_together() {
        let config = |args: &[&str]| {
            let mut all = vec!["app", "--ip", "10.0.0.2/24"];
            all.extend_from_slice(args);
            App::try_parse_from(all).unwrap().net.stack_config()
        };
        let ok = config(&[
            "--ip6",
            "fd00::2/64",
            "--gateway6",
            "fe80::1",
            "--accept-ra",
        ])
        .unwrap();
        assert_eq!(ok.ip6.unwrap().prefix_len, 64);
        assert_eq!(ok.gateway6, Some("fe80::1".parse().unwrap()));
        assert!(ok.accept_ra);
        assert!(config(&["--ip6", "fd00::2/64", "--gateway6", "fd00::1"]).is_ok());
        assert!(config(&["--ip6", "fd00::2/64", "--gateway6", "fd01::1"]).is_err());
        assert!(config(&["--gateway6", "fe80::1"]).is_err());
        assert!(config(&["--accept-ra"]).is_err());
        assert!(App::try_parse_from(["app", "--ip6", "ff02::1/64"]).is_err());
    }

    #[test]
    fn rejects_bad_values_with_clear_errors() {
        for args in [
            &["app", "--ip", "10.0.0.2"][..],
            &["app", "--mac", "zz"],
            &["app", "--duration", "-1"],
            &["app", "--backend", "xdp"],
        ] {
            assert!(App::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
