//! What a sender is built with: certificates.

use std::fmt;

/// How a sender's TLS is set up: extra root certificates (for receivers
/// whose certificate a private authority signed) added to Mozilla's, and a
/// client certificate (for receivers that require one).
///
/// Its `Debug` shows how many certificates it holds, never the key.
///
/// # Examples
///
/// ```no_run
/// use callhook_send::Options;
///
/// let options = Options::new()
///     .root_certificate_pem(std::fs::read("ca.pem")?)
///     .client_certificate_pem(std::fs::read("client.pem")?, std::fs::read("client.key")?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Options {
    pub(crate) roots: Vec<Vec<u8>>,
    pub(crate) identity: Option<Identity>,
}

/// A client certificate chain and its private key, both PEM.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) chain: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

impl Options {
    /// No extra roots, no client certificate.
    #[must_use]
    pub fn new() -> Options {
        Options::default()
    }

    /// Adds the root certificates in `pem` (one or more) to Mozilla's.
    /// Read when the sender is built.
    #[must_use]
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Options {
        self.roots.push(pem.into());
        self
    }

    /// Presents the client certificate `chain` (PEM, the leaf first) with
    /// its private `key` (PEM: PKCS#8, PKCS#1 or SEC1) to receivers that
    /// ask for one. Read when the sender is built.
    #[must_use]
    pub fn client_certificate_pem(
        mut self,
        chain: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Options {
        self.identity = Some(Identity {
            chain: chain.into(),
            key: key.into(),
        });
        self
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("root_certificates", &self.roots.len())
            .field("client_certificate", &self.identity.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let options = Options::new()
            .root_certificate_pem("root")
            .client_certificate_pem("chain", "-----BEGIN PRIVATE KEY-----secret");
        let shown = format!("{options:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("root_certificates: 1"), "{shown}");
    }
}
