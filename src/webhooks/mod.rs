//! Outgoing webhooks: admins register endpoints for the events they want; statement triggers
//! (migration 0031) write each event in the transaction of the write it tells of and fan it
//! out to one delivery per endpoint; [`deliver`] signs and sends them as the Standard
//! Webhooks specification says, from that outbox, at least once, with retries and backoff.
//! Organisation-level only: the pages are the admins'.

pub mod deliver;
pub mod pages;
pub mod sign;

use std::net::IpAddr;

use reqwest::Url;

pub use deliver::{deliver_due, run};
pub use pages::routes;

/// The events an endpoint may want, by kind, with what the admin page calls them.
pub const EVENTS: &[(&str, &str)] = &[
    ("kpi_value.reported", "A KPI value reported or corrected"),
    ("kpi_value.disputed", "A KPI value disputed"),
    ("kpi_value.verified", "A KPI value verified"),
    ("finding.raised", "An audit finding raised"),
    (
        "finding.assigned",
        "An audit finding given to the vendor to answer",
    ),
    ("finding.overdue", "An audit finding overdue"),
    ("feedback.shared", "Feedback shared with the vendor"),
    (
        "feedback.acknowledged",
        "Feedback acknowledged by the vendor",
    ),
    ("checkin.logged", "A check-in logged"),
    ("review.completed", "A review completed"),
    (
        "questionnaire.submitted",
        "A questionnaire submitted by the vendor",
    ),
    (
        "contract.notice_approaching",
        "A contract's last day to give notice within 30 days",
    ),
    ("document.expiring", "A vendor's document expiring"),
];

crate::choice!(pub Format {
    Standard = "standard" / "The event as JSON (Standard Webhooks)",
    Chat = "chat" / "A chat message (Slack, Microsoft Teams)",
});

/// The longest endpoint address kept.
pub const MAX_URL: usize = 2000;

/// An endpoint's address as the admin typed it, checked: https, or plain http to this very
/// machine (a receiver on loopback); no credentials in it, no fragment.
pub fn endpoint_url(raw: &str) -> Result<Url, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Enter the endpoint's address, such as https://hooks.example.com/trellis.");
    }
    if raw.len() > MAX_URL {
        return Err("The address is longer than 2,000 characters.");
    }
    let url = Url::parse(raw)
        .map_err(|_| "Enter a whole address, such as https://hooks.example.com/trellis.")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Leave credentials out of the address: every delivery is signed instead.");
    }
    if url.fragment().is_some() {
        return Err("Leave out the part after #: it is never sent.");
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err("The address must start with https://.");
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err("The address needs a host."),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err("Use https: events go out signed, but only https keeps them private."),
    }
}

/// A fresh signing secret: `whsec_` and the base64 of 24 random bytes.
pub fn new_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the system's random source");
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The label of an event kind, or the kind itself for one no longer offered.
pub fn event_label(kind: &str) -> &str {
    EVENTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind, |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback() {
        for good in [
            "https://hooks.example.com/trellis",
            "https://hooks.example.com:8443/a?b=c",
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:8080/",
        ] {
            assert!(endpoint_url(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "hooks.example.com",
            "http://hooks.example.com/",
            "http://10.0.0.5/hook",
            "ftp://hooks.example.com/",
            "javascript:alert(1)",
            "https://user:pass@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "file:///etc/passwd",
        ] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
        assert!(endpoint_url(&format!("https://a.example/{}", "x".repeat(2000))).is_err());
    }

    #[test]
    fn a_secret_is_prefixed_random_base64_of_24_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_") && a.len() == 6 + 32, "{a}");
    }
}
