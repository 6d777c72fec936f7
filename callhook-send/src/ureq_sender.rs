//! The blocking adapter: ureq.

use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use callhook::{AddressPolicy, Outgoing, Registry};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::attempted::Attempted;
use crate::guard::{self, Refused};
use crate::limits::{RESPONSE_READ_LIMIT, RESPONSE_START_LIMIT};
use crate::options::Options;
use crate::{trace, Error};

/// Sends prepared deliveries with ureq (blocking, on the calling thread):
/// the registry's address policy applied to every resolved address and to
/// IP literals, no proxy, no redirect, the service's timeout, the
/// certificates of its [`Options`]; every result mapped to an
/// [`Attempted`].
///
/// One sender serves every registry a host loads: its agent is built for
/// the address policy of the registry it is given, and built again only
/// when that policy changes (a reload), so connections are reused in
/// between. Clone it freely, to other threads too: clones share the agent.
///
/// # Examples
///
/// ```no_run
/// # fn run(registry: &callhook::Registry, outgoing: &callhook::Outgoing) -> Result<(), callhook_send::Error> {
/// use callhook_send::{BlockingSender, Options};
///
/// let sender = BlockingSender::new(Options::new())?;
/// let attempted = sender.send(registry, outgoing)?;
/// println!("{:?}", attempted.status());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BlockingSender {
    tls: TlsConfig,
    current: Arc<Mutex<Built>>,
}

struct Built {
    policy: AddressPolicy,
    agent: ureq::Agent,
}

impl std::fmt::Debug for BlockingSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingSender").finish_non_exhaustive()
    }
}

impl BlockingSender {
    /// A sender with these certificates.
    ///
    /// # Errors
    ///
    /// A root certificate or client certificate that cannot be read
    /// ([`Error::Certificate`]).
    pub fn new(options: Options) -> Result<BlockingSender, Error> {
        let tls = tls_config(&options)?;
        // The strictest policy until a registry says otherwise.
        let policy = AddressPolicy::new();
        let agent = build(&tls, &policy);
        Ok(BlockingSender {
            tls,
            current: Arc::new(Mutex::new(Built { policy, agent })),
        })
    }

    /// Sends `outgoing` (prepared with
    /// [`Registry::prepare`](callhook::Registry::prepare)) under
    /// `registry`'s address policy and its service's timeout, and says how
    /// it went. Reads at most [`RESPONSE_READ_LIMIT`] bytes of the answer
    /// and keeps the first [`RESPONSE_START_LIMIT`].
    ///
    /// # Errors
    ///
    /// Only when no attempt could start: the registry has no service
    /// `outgoing.service` ([`Error::Registry`]). A refusal, a failure or
    /// any answer is an [`Attempted`].
    pub fn send(&self, registry: &Registry, outgoing: &Outgoing) -> Result<Attempted, Error> {
        let timeout = registry.request_timeout(&outgoing.service)?;
        let policy = registry.address_policy();
        if let Err(refused) = guard::check_literal(policy, outgoing.request.uri()) {
            trace::refused(outgoing, &refused);
            return Ok(Attempted::address_refused());
        }
        let agent = self.agent_for(policy);
        let request = agent
            .configure_request(outgoing.request.clone())
            .timeout_global(Some(timeout))
            .build();
        let started = Instant::now();
        let attempted = match agent.run(request) {
            Ok(mut response) => {
                let status = response.status();
                let headers = std::mem::take(response.headers_mut());
                let start = read_start(response.body_mut().as_reader());
                Attempted::response(status, headers, &start, started.elapsed())
            }
            Err(e) => match classify(&e) {
                Ok(words) => Attempted::transport_error(words, started.elapsed()),
                Err(refused) => {
                    trace::refused(outgoing, refused);
                    return Ok(Attempted::address_refused());
                }
            },
        };
        trace::attempted(outgoing, &attempted);
        Ok(attempted)
    }

    /// The agent for `policy`: the current one, or one built for it.
    fn agent_for(&self, policy: &AddressPolicy) -> ureq::Agent {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.policy != *policy {
            *current = Built {
                policy: policy.clone(),
                agent: build(&self.tls, policy),
            };
        }
        current.agent.clone()
    }
}

/// Reads the response's start, and drains the rest up to the read limit
/// so the connection can be reused. An error while reading keeps what came:
/// the status is the answer.
fn read_start(reader: impl Read) -> Vec<u8> {
    let mut reader = reader.take(u64::try_from(RESPONSE_READ_LIMIT).unwrap_or(u64::MAX));
    let mut start = Vec::new();
    let mut buffer = [0u8; 8192];
    while let Ok(n) = reader.read(&mut buffer) {
        if n == 0 {
            break;
        }
        let room = RESPONSE_START_LIMIT.saturating_sub(start.len());
        start.extend_from_slice(&buffer[..n.min(room)]);
    }
    start
}

/// The fixed words for a failure, or the refusal inside it.
fn classify(error: &ureq::Error) -> Result<&'static str, &Refused> {
    Ok(match error {
        ureq::Error::Other(inner) => {
            if let Some(refused) = guard::find_refused(inner.as_ref()) {
                return Err(refused);
            }
            guard::chain_words(inner.as_ref()).unwrap_or("request failed")
        }
        ureq::Error::Timeout(_) => "timed out",
        ureq::Error::HostNotFound => "name not resolved",
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => {
            "tls handshake failed"
        }
        ureq::Error::Io(io) => guard::chain_words(io).unwrap_or("connection failed"),
        ureq::Error::ConnectionFailed => "connection failed",
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => "invalid response",
        _ => "request failed",
    })
}

/// Mozilla's roots plus the extra ones, and the client certificate.
fn tls_config(options: &Options) -> Result<TlsConfig, Error> {
    let mut tls = TlsConfig::builder();
    if !options.roots.is_empty() {
        // ureq replaces its roots with those it is given: Mozilla's go
        // first, so the extra ones add to them.
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        for pem in &options.roots {
            let before = roots.len();
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(certificate)) => roots.push(certificate),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::Certificate(format!(
                            "a root certificate cannot be read: {e}"
                        )))
                    }
                }
            }
            if roots.len() == before {
                return Err(Error::Certificate(
                    "a root certificate's PEM holds no `CERTIFICATE`".to_owned(),
                ));
            }
        }
        tls = tls.root_certs(RootCerts::from(roots));
    }
    if let Some(identity) = &options.identity {
        let mut chain = Vec::new();
        for item in ureq::tls::parse_pem(&identity.chain) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(certificate)) => chain.push(certificate),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::Certificate(format!(
                        "the client certificate cannot be read: {e}"
                    )))
                }
            }
        }
        if chain.is_empty() {
            return Err(Error::Certificate(
                "the client certificate's PEM holds no `CERTIFICATE`".to_owned(),
            ));
        }
        // The key's text is never shown: the error says only that it failed.
        let key = PrivateKey::from_pem(&identity.key).map_err(|_| {
            Error::Certificate("the client certificate's private key cannot be read".to_owned())
        })?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(tls.build())
}

fn build(tls: &TlsConfig, policy: &AddressPolicy) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        // A proxy would resolve the name itself, past the check: the
        // environment's proxy variables are ignored.
        .proxy(None)
        // A 3xx is the answer, never a new target.
        .max_redirects(0)
        // Every status comes back as a response, for the retry policy.
        .http_status_as_error(false)
        .tls_config(tls.clone())
        .build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        Guarded {
            policy: Arc::new(policy.clone()),
            inner: DefaultResolver::default(),
        },
    )
}

/// A resolver that refuses a name one of whose addresses the policy
/// refuses.
#[derive(Debug)]
struct Guarded {
    policy: Arc<AddressPolicy>,
    inner: DefaultResolver,
}

impl Resolver for Guarded {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = match self.inner.resolve(uri, config, timeout) {
            Ok(resolved) => resolved,
            // A failed lookup is an I/O error from the system's resolver.
            Err(ureq::Error::Io(_)) => return Err(ureq::Error::HostNotFound),
            Err(e) => return Err(e),
        };
        guard::check_all(&self.policy, resolved.iter().copied())
            .map_err(|refused| ureq::Error::Other(Box::new(refused)))?;
        Ok(resolved)
    }
}
