//! Settings read from the environment (and `.env`); every variable is listed in `.env.example`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// An existing PostgreSQL server; without it Trellis runs its own cluster.
    pub database_url: Option<String>,
    pub bind: SocketAddr,
    /// The address people use: links in e-mail and calendars, and the Origin check.
    pub public_url: String,
    /// Whether `public_url` was given rather than derived from the bind address.
    pub public_url_explicit: bool,
    pub data_dir: PathBuf,
    pub pg_bin: Option<PathBuf>,
    /// The organisation's time zone.
    pub time_zone: Tz,
    pub smtp_url: Option<String>,
    /// The sender of Trellis's e-mail.
    pub smtp_from: String,
    /// How often the scheduler runs a pass; `None` switches it off on this instance.
    pub scheduler_interval: Option<Duration>,
    /// This instance's name on the admin scheduler page.
    pub instance: String,
    pub log_format: LogFormat,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    /// Proxies whose `X-Forwarded-For` is believed; nobody else's is.
    pub trusted_proxies: Vec<IpAddr>,
    /// A client that has not sent a request's headers within this time is disconnected, so
    /// that slow senders cannot hold connections open without end.
    pub header_timeout: Duration,
    /// Requests one API token may make per minute (a fixed window kept in PostgreSQL, so
    /// it holds across instances); past it the API answers 429.
    pub api_rate_limit: u32,
    /// At most this many bytes of computed values (scorecards) are kept in memory
    /// (`TRELLIS_CACHE_MB`; 0 keeps none).
    pub cache_bytes: u64,
    /// Single sign-on with an OpenID provider, when configured (`TRELLIS_OIDC_*`).
    pub oidc: Option<OidcConfig>,
    /// The headless Chromium that prints reports to PDF (`TRELLIS_CHROMIUM`; by default
    /// `/usr/bin/chromium` when it exists). Without one, reports are printed by the browser.
    pub chromium: Option<PathBuf>,
    /// Routes that exist only for the tests (a handler that panics); never from the
    /// environment.
    pub test_routes: bool,
}

/// The OpenID provider: where to discover it, Trellis's client there, the button's label and
/// the e-mail domains whose people it signs in.
#[derive(Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub label: String,
    /// Lowercase, without `@`.
    pub domains: Vec<String>,
}

impl std::fmt::Debug for OidcConfig {
    // The secret stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("label", &self.label)
            .field("domains", &self.domains)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Whether the provider serves `email`'s domain.
    pub fn serves(&self, email: &str) -> bool {
        domain_of(email).is_some_and(|d| self.domains.contains(&d))
    }
}

/// The lowercase domain of an e-mail address.
pub fn domain_of(email: &str) -> Option<String> {
    let (_, domain) = email.rsplit_once('@')?;
    let domain = domain.trim().to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// `TRELLIS_OIDC_*`: all four of issuer, client id, secret and domains, or none of them.
fn oidc_from(get: &impl Fn(&str) -> Option<String>) -> Result<Option<OidcConfig>, ConfigError> {
    let issuer = get("TRELLIS_OIDC_ISSUER");
    let client_id = get("TRELLIS_OIDC_CLIENT_ID");
    let client_secret = get("TRELLIS_OIDC_CLIENT_SECRET");
    let domains = get("TRELLIS_OIDC_DOMAINS");
    if issuer.is_none() && client_id.is_none() && client_secret.is_none() && domains.is_none() {
        return Ok(None);
    }
    let missing = |name: &'static str| ConfigError {
        name,
        value: String::new(),
        expected: "single sign-on needs TRELLIS_OIDC_ISSUER, TRELLIS_OIDC_CLIENT_ID, \
                   TRELLIS_OIDC_CLIENT_SECRET and TRELLIS_OIDC_DOMAINS together",
    };
    let issuer = issuer.ok_or_else(|| missing("TRELLIS_OIDC_ISSUER"))?;
    if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
        || issuer.len() <= "https://".len()
        || issuer.chars().any(char::is_whitespace)
    {
        return Err(ConfigError {
            name: "TRELLIS_OIDC_ISSUER",
            value: issuer,
            expected: "it must be the provider's issuer URL, like https://login.example.com/realms/staff",
        });
    }
    let client_id = client_id.ok_or_else(|| missing("TRELLIS_OIDC_CLIENT_ID"))?;
    let client_secret = client_secret.ok_or_else(|| missing("TRELLIS_OIDC_CLIENT_SECRET"))?;
    let list = domains.ok_or_else(|| missing("TRELLIS_OIDC_DOMAINS"))?;
    let mut domains = Vec::new();
    for part in list.split(',') {
        let domain = part.trim().trim_start_matches('@').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.contains('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !valid {
            return Err(ConfigError {
                name: "TRELLIS_OIDC_DOMAINS",
                value: list.clone(),
                expected: "it must be a comma-separated list of e-mail domains like example.com",
            });
        }
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(Some(OidcConfig {
        issuer: issuer.trim_end_matches('/').to_string(),
        client_id,
        client_secret,
        label: get("TRELLIS_OIDC_LABEL").unwrap_or_else(|| "single sign-on".into()),
        domains,
    }))
}

#[derive(Debug, thiserror::Error)]
#[error("{name} is {value:?}, but {expected}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    expected: &'static str,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bind: SocketAddr = parse(
            get("TRELLIS_BIND"),
            "TRELLIS_BIND",
            "127.0.0.1:8080",
            "an address like 127.0.0.1:8080",
        )?;
        let (public_url, public_url_explicit) = match get("TRELLIS_PUBLIC_URL") {
            Some(url) => {
                let url = url.trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.len() <= "https://".len()
                {
                    return Err(ConfigError {
                        name: "TRELLIS_PUBLIC_URL",
                        value: url,
                        expected: "it must be an http:// or https:// address",
                    });
                }
                (url, true)
            }
            None => (derive_public_url(bind), false),
        };
        let time_zone: Tz = match get("TRELLIS_TIME_ZONE") {
            None => Tz::UTC,
            Some(value) => value.parse().map_err(|_| ConfigError {
                name: "TRELLIS_TIME_ZONE",
                value,
                expected: "it must be an IANA time zone such as Europe/Berlin or UTC",
            })?,
        };
        let log_format = match get("TRELLIS_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "TRELLIS_LOG_FORMAT",
                    value: other.to_string(),
                    expected: "it must be text or json",
                });
            }
        };
        let idle_minutes: u64 = parse(
            get("TRELLIS_SESSION_IDLE_MINUTES"),
            "TRELLIS_SESSION_IDLE_MINUTES",
            "60",
            "a whole number of minutes",
        )?;
        let absolute_hours: u64 = parse(
            get("TRELLIS_SESSION_MAX_HOURS"),
            "TRELLIS_SESSION_MAX_HOURS",
            "12",
            "a whole number of hours",
        )?;
        let trusted_proxies = match get("TRELLIS_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|part| part.trim().parse::<IpAddr>())
                .collect::<Result<_, _>>()
                .map_err(|_| ConfigError {
                    name: "TRELLIS_TRUSTED_PROXIES",
                    value: list.clone(),
                    expected: "it must be a comma-separated list of IP addresses",
                })?,
        };
        let scheduler_seconds: u64 = parse(
            get("TRELLIS_SCHEDULER_SECONDS"),
            "TRELLIS_SCHEDULER_SECONDS",
            "60",
            "a whole number of seconds (0 switches the scheduler off)",
        )?;
        let header_seconds: u64 = parse(
            get("TRELLIS_HEADER_TIMEOUT_SECONDS"),
            "TRELLIS_HEADER_TIMEOUT_SECONDS",
            "10",
            "a whole number of seconds",
        )?;
        let api_rate_limit: u32 = parse(
            get("TRELLIS_API_RATE_LIMIT"),
            "TRELLIS_API_RATE_LIMIT",
            "600",
            "a whole number of requests per minute",
        )?;
        let cache_mb: u64 = parse(
            get("TRELLIS_CACHE_MB"),
            "TRELLIS_CACHE_MB",
            "32",
            "a whole number of megabytes (0 keeps no cache)",
        )?;
        let smtp_from = get("SMTP_FROM").unwrap_or_else(|| "Trellis <trellis@localhost>".into());
        if smtp_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError {
                name: "SMTP_FROM",
                value: smtp_from,
                expected: "it must be an address like Trellis <trellis@example.com>",
            });
        }
        let instance = get("TRELLIS_INSTANCE").unwrap_or_else(default_instance);
        let oidc = oidc_from(&get)?;
        Ok(Config {
            database_url: get("DATABASE_URL"),
            bind,
            public_url,
            public_url_explicit,
            data_dir: PathBuf::from(get("TRELLIS_DATA_DIR").unwrap_or_else(|| "./data".into())),
            pg_bin: get("TRELLIS_PG_BIN").map(PathBuf::from),
            chromium: match get("TRELLIS_CHROMIUM") {
                Some(path) if path.is_empty() || path == "off" => None,
                Some(path) => Some(PathBuf::from(path)),
                None => ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|p| p.exists()),
            },
            time_zone,
            smtp_url: get("SMTP_URL"),
            smtp_from,
            scheduler_interval: (scheduler_seconds > 0)
                .then(|| Duration::from_secs(scheduler_seconds)),
            instance,
            log_format,
            session_idle: Duration::from_secs(idle_minutes.max(1) * 60),
            session_absolute: Duration::from_secs(absolute_hours.max(1) * 3600),
            trusted_proxies,
            header_timeout: Duration::from_secs(header_seconds.max(1)),
            api_rate_limit: api_rate_limit.max(1),
            cache_bytes: cache_mb.saturating_mul(1024 * 1024),
            oidc,
            test_routes: false,
        })
    }

    /// Cookies carry `Secure` when people reach Trellis over TLS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The origins a browser may post from: the public URL's, and, when that was derived
    /// from a loopback bind address, its `localhost` twin.
    pub fn allowed_origins(&self) -> Vec<String> {
        let mut origins = vec![origin_of(&self.public_url)];
        if !self.public_url_explicit && self.bind.ip().is_loopback() {
            origins.push(format!("http://localhost:{}", self.bind.port()));
        }
        origins
    }
}

fn parse<T: std::str::FromStr>(
    value: Option<String>,
    name: &'static str,
    default: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_string());
    value.parse().map_err(|_| ConfigError {
        name,
        value,
        expected,
    })
}

pub(crate) fn derive_public_url(bind: SocketAddr) -> String {
    if bind.ip().is_unspecified() {
        format!("http://localhost:{}", bind.port())
    } else {
        format!("http://{bind}")
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}").to_ascii_lowercase()
}

/// The host name and process id, which tell instances apart on the scheduler page.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "trellis".into());
    format!("{host}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = config(&[]).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.time_zone, Tz::UTC);
        assert!(config.database_url.is_none());
        assert!(!config.secure_cookies());
        assert_eq!(config.header_timeout, Duration::from_secs(10));
        assert_eq!(config.api_rate_limit, 600);
        assert_eq!(
            config.allowed_origins(),
            vec!["http://127.0.0.1:8080", "http://localhost:8080"]
        );
    }

    #[test]
    fn an_https_public_url_makes_cookies_secure_and_is_the_only_origin() {
        let config = config(&[("TRELLIS_PUBLIC_URL", "https://Trellis.Example.com/")]).unwrap();
        assert!(config.secure_cookies());
        assert_eq!(
            config.allowed_origins(),
            vec!["https://trellis.example.com"]
        );
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let err = config(&[("TRELLIS_TIME_ZONE", "Mars/Olympus")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TRELLIS_TIME_ZONE") && err.contains("Mars/Olympus"),
            "{err}"
        );
        let err = config(&[("TRELLIS_BIND", "nowhere")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRELLIS_BIND"), "{err}");
        let err = config(&[("TRELLIS_PUBLIC_URL", "ftp://x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRELLIS_PUBLIC_URL"), "{err}");
    }

    #[test]
    fn the_header_timeout_is_read_in_seconds_and_never_switched_off() {
        let three = config(&[("TRELLIS_HEADER_TIMEOUT_SECONDS", "3")]).unwrap();
        assert_eq!(three.header_timeout, Duration::from_secs(3));
        let zero = config(&[("TRELLIS_HEADER_TIMEOUT_SECONDS", "0")]).unwrap();
        assert_eq!(zero.header_timeout, Duration::from_secs(1));
        let err = config(&[("TRELLIS_HEADER_TIMEOUT_SECONDS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRELLIS_HEADER_TIMEOUT_SECONDS"), "{err}");
    }

    #[test]
    fn single_sign_on_needs_its_four_settings_together_and_valid_domains() {
        assert!(config(&[]).unwrap().oidc.is_none());
        let full = [
            ("TRELLIS_OIDC_ISSUER", "https://login.example.com/"),
            ("TRELLIS_OIDC_CLIENT_ID", "trellis"),
            ("TRELLIS_OIDC_CLIENT_SECRET", "s3cret"),
            ("TRELLIS_OIDC_DOMAINS", "Example.com, @vendor.example"),
        ];
        let oidc = config(&full).unwrap().oidc.unwrap();
        assert_eq!(oidc.issuer, "https://login.example.com");
        assert_eq!(oidc.domains, ["example.com", "vendor.example"]);
        assert!(oidc.serves("Ann@EXAMPLE.com") && !oidc.serves("ann@other.example"));
        assert!(!format!("{oidc:?}").contains("s3cret"));
        let err = config(&full[..3]).unwrap_err().to_string();
        assert!(err.contains("TRELLIS_OIDC_DOMAINS"), "{err}");
        let mut bad = full;
        bad[3] = ("TRELLIS_OIDC_DOMAINS", "example.com, not a domain");
        let err = config(&bad).unwrap_err().to_string();
        assert!(err.contains("TRELLIS_OIDC_DOMAINS"), "{err}");
        bad = full;
        bad[0] = ("TRELLIS_OIDC_ISSUER", "login.example.com");
        let err = config(&bad).unwrap_err().to_string();
        assert!(err.contains("TRELLIS_OIDC_ISSUER"), "{err}");
    }

    #[test]
    fn the_organisation_time_zone_is_read() {
        let config = config(&[("TRELLIS_TIME_ZONE", "Europe/Berlin")]).unwrap();
        assert_eq!(config.time_zone, chrono_tz::Europe::Berlin);
    }

    #[test]
    fn the_api_rate_limit_is_read_per_minute_and_never_zero() {
        let low = config(&[("TRELLIS_API_RATE_LIMIT", "5")]).unwrap();
        assert_eq!(low.api_rate_limit, 5);
        let zero = config(&[("TRELLIS_API_RATE_LIMIT", "0")]).unwrap();
        assert_eq!(zero.api_rate_limit, 1);
        let err = config(&[("TRELLIS_API_RATE_LIMIT", "lots")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRELLIS_API_RATE_LIMIT"), "{err}");
    }
}
