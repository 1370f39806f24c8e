//! What a model entry with an `endpoint` says: the servers, how to reach
//! them, and the checks on their addresses (no code goes over plain http
//! beyond the LAN, no credentials in a URL).

use crate::error::{Error, Result};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;

/// Requests one entry may have in flight when the manifest does not say.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Time one request may take when the manifest does not say (a 32B model
/// on a busy server can take minutes per chunk).
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// A model served over an OpenAI-compatible API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// Base URLs (`http://gpu-box.lan:8080/v1`), normalised, in the order
    /// configured; more than one form a pool.
    pub endpoints: Vec<String>,
    /// The server's name for the model (`None`: the one it serves).
    pub remote_model: Option<String>,
    /// Environment variable holding the API key (the key is never stored).
    pub api_key_env: Option<String>,
    /// Requests in flight to this entry, over the whole pool.
    pub max_concurrency: usize,
    /// Time one request may take, in seconds.
    pub timeout_secs: u64,
    /// Extra PEM certificates trusted for https (beside the system roots).
    pub ca_file: Option<PathBuf>,
}

impl RemoteSpec {
    /// A spec with defaults for these endpoints.
    pub fn new(endpoints: Vec<String>) -> RemoteSpec {
        RemoteSpec {
            endpoints,
            remote_model: None,
            api_key_env: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            ca_file: None,
        }
    }
}

pub use crate::config::model_ref::is_endpoint_url;

/// A parsed endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// The API base: `…/v1` (added when the URL has no path).
    pub base: String,
    /// The server root, for llama-server's own routes (`/props`, `/tokenize`).
    pub root: String,
}

/// Checks and normalises an endpoint URL. Credentials in the URL are
/// refused (they would end up in reports and logs): the key belongs in the
/// environment variable `api_key_env` names.
pub fn parse_endpoint(url: &str) -> std::result::Result<Endpoint, String> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL (expected http://HOST:PORT/v1)"))?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // First, before any message that quotes the URL.
    if let Some((_, host)) = authority.rsplit_once('@') {
        // The host is named so the user knows which URL; the user name and
        // password never are (nor a query, which may hold a token too).
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let host = host.split(['?', '#']).next().unwrap_or_default();
        return Err(format!(
            "the endpoint URL {scheme}://…@{host}{path} holds credentials, so it is refused and \
             nothing is sent to it; remove them from the URL and put the key in an environment \
             variable named by the entry's api_key_env (it is then never written anywhere)"
        ));
    }
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "{url:?}: only http and https endpoints are supported"
        ));
    }
    if rest.contains(['?', '#']) {
        return Err(format!("{url:?}: an endpoint has no query or fragment"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unclosed [ in the host"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("{url:?}: {p:?} is not a port number"))?,
        None if scheme == "https" => 443,
        None => 80,
    };
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/v1" } else { path };
    let host_part = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let origin = format!("{scheme}://{host_part}:{port}");
    let root_path = path.strip_suffix("/v1").unwrap_or(path);
    Ok(Endpoint {
        base: format!("{origin}{path}"),
        root: format!("{origin}{root_path}"),
        scheme,
        host,
        port,
    })
}

/// Where plain http may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Loopback: nothing leaves the machine.
    Loopback,
    /// A private, link-local or unique-local address: code crosses the LAN
    /// unencrypted (allowed, with a warning).
    Lan,
    /// Anything else.
    Public,
}

/// How far an address is.
pub fn reach_of(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Reach::Loopback,
        IpAddr::V4(v4) if v4.is_private() || v4.is_link_local() => Reach::Lan,
        // 100.64.0.0/10 (carrier-grade NAT, also VPN overlays such as
        // Tailscale) is not the public internet either.
        IpAddr::V4(v4) if v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64 => Reach::Lan,
        IpAddr::V6(v6) if v6.is_loopback() => Reach::Loopback,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => reach_of(IpAddr::V4(v4)),
            None if (v6.segments()[0] & 0xfe00) == 0xfc00 => Reach::Lan,
            None if (v6.segments()[0] & 0xffc0) == 0xfe80 => Reach::Lan,
            None => Reach::Public,
        },
        IpAddr::V4(_) => Reach::Public,
    }
}

/// Checks that code may be sent to `ep`: https anywhere; plain http to
/// loopback, or with a warning (returned) to the LAN; never to a public
/// address. A host name is checked by every address it resolves to.
pub fn check_reach(ep: &Endpoint) -> Result<Option<String>> {
    if ep.scheme == "https" {
        return Ok(None);
    }
    let addrs: Vec<IpAddr> = match ep.host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::Model(format!(
                    "endpoint {}: cannot resolve {}: {e}; check the host name (or use its address)",
                    ep.base, ep.host
                ))
            })?
            .map(|a| a.ip())
            .collect(),
    };
    let worst = addrs
        .iter()
        .map(|ip| reach_of(*ip))
        .max_by_key(|r| match r {
            Reach::Loopback => 0,
            Reach::Lan => 1,
            Reach::Public => 2,
        })
        .unwrap_or(Reach::Public);
    match worst {
        Reach::Loopback => Ok(None),
        Reach::Lan => Ok(Some(format!(
            "endpoint {} is plain http on the local network: the code under review crosses it \
             unencrypted (use https to avoid that)",
            ep.base
        ))),
        Reach::Public => Err(Error::Model(format!(
            "endpoint {} is plain http to a public address: refused, the code under review would \
             cross the internet unencrypted; use https (with ca_file for a private CA)",
            ep.base
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalised_and_credentials_refused() {
        let e = parse_endpoint("http://gpu-box.lan:8080/v1/").unwrap();
        assert_eq!(e.base, "http://gpu-box.lan:8080/v1");
        assert_eq!(e.root, "http://gpu-box.lan:8080");
        let e = parse_endpoint("HTTP://127.0.0.1:9000").unwrap();
        assert_eq!(e.base, "http://127.0.0.1:9000/v1");
        let e = parse_endpoint("https://llm.corp/openai/v1").unwrap();
        assert_eq!(
            (e.port, e.root.as_str()),
            (443, "https://llm.corp:443/openai")
        );
        let e = parse_endpoint("http://[::1]:8080/v1").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 8080));
        assert_eq!(e.base, "http://[::1]:8080/v1");
        for url in [
            "http://me:s3cret@host:8080/v1",
            "http://me:s3cret@host:8080/v1?x=1",
            "ftp://me:s3cret@host:8080/v1",
        ] {
            let err = parse_endpoint(url).unwrap_err();
            assert!(
                err.contains("api_key_env") && err.contains("host:8080") && !err.contains("s3cret"),
                "{err}"
            );
        }
        for bad in [
            "ftp://h/v1",
            "host:8080",
            "http://:80/v1",
            "http://h:port/v1",
            "http://h/v1?x=1",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_stays_on_the_lan() {
        let reach = |s: &str| reach_of(s.parse().unwrap());
        assert_eq!(reach("127.0.0.1"), Reach::Loopback);
        assert_eq!(reach("::1"), Reach::Loopback);
        for lan in [
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.20",
            "169.254.3.3",
            "100.100.1.1",
            "fd00::5",
            "fe80::1",
        ] {
            assert_eq!(reach(lan), Reach::Lan, "{lan}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(reach(public), Reach::Public, "{public}");
        }
        let lo = parse_endpoint("http://127.0.0.1:1/v1").unwrap();
        assert_eq!(check_reach(&lo).unwrap(), None);
        let lan = parse_endpoint("http://192.168.0.7:8080/v1").unwrap();
        assert!(check_reach(&lan).unwrap().unwrap().contains("unencrypted"));
        let public = parse_endpoint("http://8.8.8.8:8080/v1").unwrap();
        let err = check_reach(&public).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_MODEL);
        assert!(err.to_string().contains("https"), "{err}");
        let tls = parse_endpoint("https://8.8.8.8/v1").unwrap();
        assert_eq!(check_reach(&tls).unwrap(), None);
    }
}
