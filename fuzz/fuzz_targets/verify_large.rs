//! Receiver-side verification at large sizes: `signing::verify_twilio` with
//! thousands of form parameters (up to and past `FORM_PARAMETERS`), long URLs
//! and bodies, on every port and query shape, and `signing::verify_standard`
//! with hundreds of signature candidates (past `SIGNATURES`). A small
//! input says how large; the target expands it, so libFuzzer reaches sizes
//! its byte budget never would. A panic, a hang (the work once grew with the
//! square of the parameters) or a huge allocation is a bug; so is a request
//! signed by `twilio_signature` or `SigningKey::sign` that is refused within
//! the limits, or one accepted without its signature or past a limit.
//!
//! Input, at fixed offsets (missing bytes read as zero):
//! - byte 0, flags: bit 0 repeated names (else distinct), bit 1 a JSON body
//!   signed through `bodySHA256` (bit 2: with a wrong hash), bit 3 a
//!   tampered signature, bit 4 a token one byte too short, bits 5-7 the URL
//!   shape (no port, `:443`, `:8443`, `:8443` signed without it, an empty
//!   `?`, an empty `?` signed without it, a trailing `&`, a long query);
//! - bytes 1-2: the number of parameters, little-endian (0 to 65,535);
//! - byte 3: the number of `webhook-signature` candidates (0 to 255);
//! - bytes 4-11: a seed, little-endian;
//! - the rest: material that names, values and bodies are cut from (lossy
//!   UTF-8).
#![no_main]

use callhook::limits::{
    FORM_PARAMETERS, SHORTEST_TWILIO_TOKEN, SIGNATURES, TWILIO_BODY_BYTES, TWILIO_URL_BYTES,
};
use callhook::signing::{
    body_sha256, twilio_signature, verify_standard, verify_twilio, SigningKey, TOLERANCE_SECONDS,
};
use chrono::{DateTime, TimeDelta};
use http::header::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_614_265_330;
const TOKEN: &str = "f3a9c1e07b5d48a2c6e19b0d7f4a8e25";

/// xorshift64*: the same expansion for the same input, so a crash
/// reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// Up to `max` characters of `material`, from a random place.
    fn cut<'a>(&mut self, material: &'a [char], max: usize) -> impl Iterator<Item = char> + 'a {
        let start = self.below(material.len());
        let len = self.below(max + 1);
        material.iter().skip(start).take(len).copied()
    }
}

fuzz_target!(|data: &[u8]| {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let count = usize::from(u16::from_le_bytes([byte(1), byte(2)]));
    let candidates = usize::from(byte(3));
    let mut seed = [0u8; 8];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = byte(4 + i);
    }
    let mut rng = Rng(u64::from_le_bytes(seed) | 1);
    let material: Vec<char> = String::from_utf8_lossy(data.get(12..).unwrap_or_default())
        .chars()
        .collect();

    twilio(flags, count, &material, &mut rng);
    standard(candidates, count, &material, &mut rng);
});

fn twilio(flags: u8, count: usize, material: &[char], rng: &mut Rng) {
    let repeated = flags & 1 != 0;
    let json = flags & 2 != 0;
    let wrong_hash = flags & 4 != 0;
    let tamper = flags & 8 != 0;
    let short = flags & 16 != 0;
    let shape = flags >> 5;

    let params: Vec<(String, String)> = (0..count)
        .map(|i| {
            let name = if repeated {
                format!("P{}", rng.below(4))
            } else {
                let mut name: String = rng.cut(material, 8).collect();
                name.push_str(&i.to_string());
                name
            };
            let mut value: String = rng.cut(material, 24).collect();
            value.push_str(&rng.below(1000).to_string());
            (name, value)
        })
        .collect();

    let body: Vec<u8> = if json {
        let piece: String = rng.cut(material, 256).collect();
        piece.repeat(count.min(4096)).into_bytes()
    } else {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish()
            .into_bytes()
    };

    // (received, signed)
    let (mut url, mut signed) = match shape {
        0 => ("https://a.example.com/hook?x=1".to_owned(), None),
        1 => ("https://a.example.com:443/hook?x=1".to_owned(), None),
        2 => ("https://a.example.com:8443/hook?x=1".to_owned(), None),
        3 => (
            "https://a.example.com:8443/hook?x=1".to_owned(),
            Some("https://a.example.com/hook?x=1".to_owned()),
        ),
        4 => ("http://a.example.com/hook?".to_owned(), None),
        5 => (
            "http://a.example.com:8080/hook?".to_owned(),
            Some("http://a.example.com/hook".to_owned()),
        ),
        6 => ("https://a.example.com/hook?x=1&".to_owned(), None),
        _ => {
            // A query past `TWILIO_URL_BYTES` from 4,100 parameters on, while
            // they are still under `FORM_PARAMETERS`.
            let pad = "q".repeat((count * 4).min(80_000));
            (format!("https://a.example.com/hook?pad={pad}"), None)
        }
    };
    if json {
        let hash = if wrong_hash {
            body_sha256(b"another body")
        } else {
            body_sha256(&body)
        };
        for url in std::iter::once(&mut url).chain(signed.as_mut()) {
            let base = url.strip_suffix('?').unwrap_or(url).to_owned();
            let separator = if base.contains('?') { '&' } else { '?' };
            *url = format!("{base}{separator}bodySHA256={hash}");
        }
    }
    let token = if short {
        &TOKEN[..SHORTEST_TWILIO_TOKEN - 1]
    } else {
        TOKEN
    };
    let signed_params: &[(String, String)] = if json { &[] } else { &params };
    let mut signature = twilio_signature(token, signed.as_deref().unwrap_or(&url), signed_params);
    if tamper {
        signature.replace_range(0..1, if signature.starts_with('A') { "B" } else { "A" });
    }

    let result = verify_twilio(token, &url, &params, &body, &signature);
    let bytes: usize = params.iter().map(|(n, v)| n.len() + v.len()).sum();
    let over = params.len() > FORM_PARAMETERS
        || url.len() > TWILIO_URL_BYTES
        || body.len() > TWILIO_BODY_BYTES
        || bytes > TWILIO_BODY_BYTES;
    match &result {
        Ok(()) => {
            assert!(
                !over,
                "accepted past a limit: {} parameters, URL {} bytes",
                params.len(),
                url.len()
            );
            assert!(!short, "accepted a short token");
            assert!(!tamper, "accepted a tampered signature");
            assert!(!(json && wrong_hash), "accepted a wrong `bodySHA256`");
        }
        Err(e) => {
            let refused_for_cause = over || short || tamper || (json && wrong_hash);
            assert!(
                refused_for_cause,
                "its own signature refused (shape {shape}, {} parameters): {e}",
                params.len()
            );
        }
    }
}

fn standard(candidates: usize, count: usize, material: &[char], rng: &mut Rng) {
    let key = SigningKey::new(SECRET).unwrap();
    let piece: String = rng.cut(material, 64).collect();
    let body = piece.repeat(count.min(16_384)).into_bytes();
    let id = format!("msg_{}", rng.next());
    let own = key.sign(&id, NOW, &body);
    // The real signature at one place among the candidates, or nowhere.
    let place = rng.below(candidates + 1);
    let list: Vec<String> = (0..candidates)
        .map(|i| {
            if i == place {
                own.clone()
            } else {
                // Receivers read the header as visible ASCII; spaces split
                // it into more candidates.
                let junk: String = rng
                    .cut(material, 44)
                    .filter(|c| c.is_ascii_graphic() || *c == ' ')
                    .collect();
                format!("v1,{junk}")
            }
        })
        .collect();
    let Ok(value) = HeaderValue::try_from(list.join(" ")) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::try_from(id.as_str()).unwrap());
    headers.insert("webhook-timestamp", HeaderValue::from(NOW));
    headers.insert("webhook-signature", value);
    let now = DateTime::from_timestamp(NOW, 0).unwrap();
    let result = verify_standard(
        std::slice::from_ref(&key),
        &headers,
        &body,
        now,
        TimeDelta::seconds(TOLERANCE_SECONDS),
    );
    // A candidate may hold spaces from the material, so count what the
    // verifier sees.
    let seen = list.join(" ").split(' ').count();
    let included = place < candidates;
    if seen > SIGNATURES {
        assert!(result.is_err(), "{seen} candidates accepted");
    } else if included {
        result.unwrap_or_else(|e| panic!("its own signature among {seen} refused: {e}"));
    } else if result.is_ok() {
        // Accepted without the real one: only if the material forged it.
        let joined = list.join(" ");
        assert!(
            joined.split(' ').any(|c| c == own),
            "accepted without a signature"
        );
    }
}
