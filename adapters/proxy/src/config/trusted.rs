//! `trusted_addresses`: the peers (a TLS terminator, a load balancer) whose
//! `X-Forwarded-Proto` the gateway believes.

use std::net::IpAddr;

/// One address or CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// `10.0.0.0/8`, `192.168.1.5`, `::1`, `fd00::/8`; `None` when it is none of these (or the
    /// address has bits set past the prefix, which is usually a typo).
    pub fn parse(s: &str) -> Option<Self> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip.parse().ok()?;
        let max: u32 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok()?
            }
            Some(_) => return None,
            None => u8::try_from(max).ok()?,
        };
        if u32::from(prefix) > max {
            return None;
        }
        let shift = max - u32::from(prefix);
        let host_bits =
            if shift >= 128 { addr_bits(addr) } else { addr_bits(addr) & ((1u128 << shift) - 1) };
        (host_bits == 0).then_some(Self { addr, prefix })
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.prefix);
        let (a, b) = (addr_bits(ip), addr_bits(self.addr));
        shift >= 128 || (a >> shift) == (b >> shift)
    }
}

fn addr_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::IpBlock;

    #[test]
    fn blocks() {
        let b = IpBlock::parse("10.0.0.0/8").unwrap();
        assert!(b.contains("10.1.2.3".parse().unwrap()));
        assert!(b.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!b.contains("11.0.0.1".parse().unwrap()));
        assert!(!b.contains("::1".parse().unwrap()));
        let one = IpBlock::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(IpBlock::parse("::/0").unwrap().contains("2001:db8::1".parse().unwrap()));
        assert!(IpBlock::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "x", "10.0.0.0/-1", "::1/129"] {
            assert!(IpBlock::parse(bad).is_none(), "{bad}");
        }
    }
}
