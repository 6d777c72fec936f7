//! The async adapter: reqwest on tokio.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use callhook::{AddressPolicy, Outgoing, Registry};

use crate::attempted::Attempted;
use crate::guard::{self, NotResolved, Refused};
use crate::limits::{RESPONSE_READ_LIMIT, RESPONSE_START_LIMIT};
use crate::options::Options;
use crate::{trace, Error};

/// Sends prepared deliveries with reqwest (async, on tokio): the registry's
/// address policy applied to every resolved address and to IP literals,
/// no proxy, no redirect, the service's timeout, the certificates of its
/// [`Options`]; every result mapped to an [`Attempted`].
///
/// One sender serves every registry a host loads: its client is built for
/// the address policy of the registry it is given, and built again only
/// when that policy changes (a reload), so connections are reused in
/// between. Clone it freely: clones share the client.
///
/// # Examples
///
/// ```no_run
/// # async fn run(registry: &callhook::Registry, outgoing: &callhook::Outgoing) -> Result<(), callhook_send::Error> {
/// use callhook_send::{AsyncSender, Options};
///
/// let sender = AsyncSender::new(Options::new())?;
/// let attempted = sender.send(registry, outgoing).await?;
/// println!("{:?}", attempted.status());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncSender {
    options: Arc<Options>,
    current: Arc<Mutex<Built>>,
}

struct Built {
    policy: AddressPolicy,
    client: reqwest::Client,
}

impl std::fmt::Debug for AsyncSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSender")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl AsyncSender {
    /// A sender with these certificates.
    ///
    /// # Errors
    ///
    /// A root certificate or client certificate that cannot be read
    /// ([`Error::Certificate`]), or a client reqwest cannot build
    /// ([`Error::Client`]).
    pub fn new(options: Options) -> Result<AsyncSender, Error> {
        // Built now, so bad certificates are found before the first send;
        // the strictest policy until a registry says otherwise.
        let policy = AddressPolicy::new();
        let client = build(&options, &policy)?;
        Ok(AsyncSender {
            options: Arc::new(options),
            current: Arc::new(Mutex::new(Built { policy, client })),
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
    /// `outgoing.service` ([`Error::Registry`]), or the client could not be
    /// built for a new address policy ([`Error::Client`]). A refusal, a
    /// failure or any answer is an [`Attempted`].
    pub async fn send(&self, registry: &Registry, outgoing: &Outgoing) -> Result<Attempted, Error> {
        let timeout = registry.request_timeout(&outgoing.service)?;
        let policy = registry.address_policy();
        if let Err(refused) = guard::check_literal(policy, outgoing.request.uri()) {
            trace::refused(outgoing, &refused);
            return Ok(Attempted::address_refused());
        }
        let client = self.client_for(policy)?;
        let started = Instant::now();
        let Ok(mut request) = reqwest::Request::try_from(outgoing.request.clone()) else {
            // A compiled service's URL is absolute; a request reqwest
            // cannot take is a failure to send, never sent.
            let attempted = Attempted::transport_error("request failed", started.elapsed());
            trace::attempted(outgoing, &attempted);
            return Ok(attempted);
        };
        *request.timeout_mut() = Some(timeout);
        let attempted = match client.execute(request).await {
            Ok(mut response) => {
                let status = response.status();
                let headers = std::mem::take(response.headers_mut());
                let start = read_start(&mut response).await;
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

    /// The client for `policy`: the current one, or one built for it.
    fn client_for(&self, policy: &AddressPolicy) -> Result<reqwest::Client, Error> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.policy != *policy {
            let client = build(&self.options, policy)?;
            *current = Built {
                policy: policy.clone(),
                client,
            };
        }
        Ok(current.client.clone())
    }
}

/// Reads the response's start, and drains the rest up to the read limit
/// so the connection can be reused. An error while reading keeps what came:
/// the status is the answer.
async fn read_start(response: &mut reqwest::Response) -> Vec<u8> {
    let mut start = Vec::new();
    let mut read = 0usize;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = RESPONSE_START_LIMIT.saturating_sub(start.len());
        start.extend_from_slice(&chunk[..chunk.len().min(room)]);
        read = read.saturating_add(chunk.len());
        if read >= RESPONSE_READ_LIMIT {
            break;
        }
    }
    start
}

/// The fixed words for a failure, or the refusal inside it.
fn classify(error: &reqwest::Error) -> Result<&'static str, &Refused> {
    if let Some(refused) = guard::find_refused(error) {
        return Err(refused);
    }
    if error.is_timeout() {
        return Ok("timed out");
    }
    if guard::find::<NotResolved>(error).is_some() {
        return Ok("name not resolved");
    }
    if let Some(words) = guard::chain_words(error) {
        return Ok(words);
    }
    Ok(if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    })
}

fn build(options: &Options, policy: &AddressPolicy) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        // A proxy would resolve the name itself, past the check: the
        // environment's proxy variables are ignored.
        .no_proxy()
        // A 3xx is the answer, never a new target.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded(Arc::new(policy.clone()))))
        .use_rustls_tls();
    for pem in &options.roots {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::Certificate(format!("a root certificate cannot be read: {e}")))?;
        if certificates.is_empty() {
            return Err(Error::Certificate(
                "a root certificate's PEM holds no `CERTIFICATE`".to_owned(),
            ));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some(identity) = &options.identity {
        let mut pem = identity.chain.clone();
        pem.push(b'\n');
        pem.extend_from_slice(&identity.key);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            Error::Certificate(format!("the client certificate cannot be read: {e}"))
        })?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| Error::Client(e.to_string()))
}

/// A resolver that refuses a name one of whose addresses the policy
/// refuses.
struct Guarded(Arc<AddressPolicy>);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.0);
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(NotResolved)?;
            let allowed = guard::check_all(&policy, resolved)?;
            if allowed.is_empty() {
                return Err(NotResolved(std::io::Error::from(std::io::ErrorKind::NotFound)).into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}
