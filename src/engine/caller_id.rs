//! Whose number is calling, as far as the signalling can be believed (RFC 3325 §9.1).
//!
//! Anyone can write any number into From, and any P-Asserted-Identity too; only a
//! trusted element (the company's trunk or PBX, configured as `[sip] trusted` networks)
//! asserts an identity it has checked. So the number is *verified* only when the INVITE
//! came from a trusted source: then P-Asserted-Identity when present, else From. From any
//! other source it is kept as text for the CDR and nothing is looked up by it.

use ipnet::IpNet;
use std::net::IpAddr;
use zvonar_models::PhoneNumber;

/// The caller as the engine treats it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The number as written in the header the decision used (P-Asserted-Identity from a
    /// trusted source, else From), for the CDR's `caller_raw`.
    pub raw: String,
    /// The number in E.164, only when it came from a trusted source and normalises; the
    /// robot finds the caller's premises and account by it and puts it on tickets.
    pub verified: Option<PhoneNumber>,
    /// Whether the INVITE came from a trusted source.
    pub trusted_source: bool,
}

/// Whether `source` lies in one of the `trusted` networks (CIDR). IPv4-mapped IPv6
/// addresses (`::ffff:10.0.0.1`) are matched as the IPv4 address; an unknown source is
/// never trusted.
pub fn is_trusted(source: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    let Some(ip) = source else {
        return false;
    };
    let ip = ip.to_canonical();
    trusted.iter().any(|n| n.contains(&ip))
}

/// Decides the caller's identity from the From user part, the P-Asserted-Identity user
/// part (if any) and the INVITE's source address (RFC 3325 §9.1: the asserted identity is
/// used only from trusted elements).
pub fn identify(
    from_user: &str,
    asserted: Option<&str>,
    source: Option<IpAddr>,
    trusted: &[IpNet],
) -> CallerIdentity {
    let trusted_source = is_trusted(source, trusted);
    if trusted_source {
        let raw = asserted.unwrap_or(from_user).to_string();
        let verified = PhoneNumber::parse_ru(&raw).ok();
        CallerIdentity {
            raw,
            verified,
            trusted_source,
        }
    } else {
        CallerIdentity {
            raw: from_user.to_string(),
            verified: None,
            trusted_source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn cidr_matching() {
        let t = nets(&["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]);
        assert!(is_trusted(ip("127.0.0.1"), &t));
        assert!(!is_trusted(ip("127.0.0.2"), &t));
        assert!(is_trusted(ip("10.255.1.2"), &t));
        assert!(!is_trusted(ip("11.0.0.1"), &t));
        assert!(is_trusted(ip("::ffff:10.1.2.3"), &t));
        assert!(is_trusted(ip("2001:db8:1::5"), &t));
        assert!(!is_trusted(ip("2001:db9::5"), &t));
        assert!(!is_trusted(None, &t));
        assert!(!is_trusted(ip("127.0.0.1"), &[]));
    }

    #[test]
    fn trusted_source_uses_asserted_identity_else_from() {
        let t = nets(&["10.0.0.0/8"]);
        let c = identify("anonymous", Some("+79161234567"), ip("10.0.0.5"), &t);
        assert_eq!(c.raw, "+79161234567");
        assert_eq!(
            c.verified.as_ref().map(PhoneNumber::as_e164),
            Some("+79161234567")
        );
        let c = identify("89161234567", None, ip("10.0.0.5"), &t);
        assert_eq!(
            c.verified.as_ref().map(PhoneNumber::as_e164),
            Some("+79161234567")
        );
        assert!(c.trusted_source);
        // A trusted source with a number that does not normalise: kept raw, unverified.
        let c = identify("anonymous", None, ip("10.0.0.5"), &t);
        assert_eq!((c.raw.as_str(), c.verified), ("anonymous", None));
    }

    #[test]
    fn untrusted_source_is_never_verified() {
        let t = nets(&["10.0.0.0/8"]);
        // A spoofed From, and a P-Asserted-Identity the caller wrote itself: both ignored.
        let c = identify("+79161234567", Some("+79031112233"), ip("198.51.100.7"), &t);
        assert_eq!(c.raw, "+79161234567");
        assert_eq!(c.verified, None);
        assert!(!c.trusted_source);
        let c = identify("+79161234567", None, None, &t);
        assert_eq!(c.verified, None);
    }
}
