//! `ip("...")` in line and label filters, as Loki's: a single address, a range
//! `a-b` (inclusive) or a CIDR block `a/n`, IPv4 or IPv6 (never mixed). A label filter
//! checks the label's value; a line filter checks every address-shaped word of the line.

use std::net::IpAddr;

/// An `ip()` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpPattern {
    /// One address.
    Single(IpAddr),
    /// From the first to the second, inclusive.
    Range(IpAddr, IpAddr),
    /// A network and its prefix length.
    Cidr(IpAddr, u8),
}

/// Why an `ip()` pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ip pattern {0:?}: an address, a range a-b or a CIDR block a/n")]
pub struct IpError(pub String);

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

impl IpPattern {
    /// Parses `s`.
    pub fn parse(s: &str) -> Result<Self, IpError> {
        let bad = || IpError(s.to_owned());
        let s = s.trim();
        if let Some((a, b)) = s.split_once('-') {
            let (a, b): (IpAddr, IpAddr) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a.is_ipv4() != b.is_ipv4() || bits(a).0 > bits(b).0 {
                return Err(bad());
            }
            return Ok(Self::Range(a, b));
        }
        if let Some((a, n)) = s.split_once('/') {
            let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
            let n: u8 = n.trim().parse().map_err(|_| bad())?;
            if n > bits(a).1 {
                return Err(bad());
            }
            return Ok(Self::Cidr(a, n));
        }
        s.parse().map(Self::Single).map_err(|_| bad())
    }

    /// Whether `ip` is in the pattern.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (x, width) = bits(ip);
        match *self {
            Self::Single(a) => a == ip,
            Self::Range(a, b) => a.is_ipv4() == ip.is_ipv4() && bits(a).0 <= x && x <= bits(b).0,
            Self::Cidr(a, n) => {
                let (net, w) = bits(a);
                if w != width {
                    return false;
                }
                let shift = u32::from(w - n);
                let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
                (net & mask) == (x & mask)
            }
        }
    }

    /// Whether `value` is an address in the pattern.
    pub fn matches_value(&self, value: &str) -> bool {
        value.trim().parse().is_ok_and(|ip| self.contains(ip))
    }

    /// Whether some address-shaped word of `line` is in the pattern.
    pub fn matches_line(&self, line: &str) -> bool {
        line.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
            .filter(|w| w.len() >= 2)
            .any(|w| {
                // `a.b.c.d:port` is an IPv4 address and a port.
                let v4 = w.contains('.').then(|| w.split(':').next()).flatten();
                self.matches_value(w)
                    || self.matches_value(w.trim_matches(':'))
                    || v4.is_some_and(|v| self.matches_value(v))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loki docs, "Log queries > Matching IP addresses".
    #[test]
    fn addresses_ranges_and_blocks() {
        let p = |s: &str| IpPattern::parse(s).expect(s);
        assert!(p("192.168.4.5").matches_value("192.168.4.5"));
        assert!(!p("192.168.4.5").matches_value("192.168.4.6"));
        let range = p("192.168.4.5-192.168.4.20");
        assert!(range.matches_value("192.168.4.20") && !range.matches_value("192.168.4.21"));
        let block = p("192.168.4.0/24");
        assert!(block.matches_value("192.168.4.255") && !block.matches_value("192.168.5.0"));
        assert!(p("::1").matches_value("::1"));
        assert!(p("2001:db8::/32").matches_value("2001:db8::7"));
        assert!(!p("2001:db8::/32").matches_value("192.168.4.5"));
        assert!(p("0.0.0.0/0").matches_value("8.8.8.8"));
        assert!(block.matches_line("GET / from 192.168.4.7:5555 took 3ms"));
        assert!(!block.matches_line("GET / from 10.0.0.1 took 3ms"));
        assert!(p("::1").matches_line("peer [::1]:80 closed"));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4-::1",
            "1.2.3.9-1.2.3.4",
            "1.2.3.4/33",
            "x",
        ] {
            assert!(IpPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
