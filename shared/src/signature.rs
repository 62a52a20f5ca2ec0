//! Signed requests from Runn's backend, in the manner of Stripe's webhooks: the header
//! `Runn-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC taken over
//! `t + "." + METHOD + "." + path-with-query + "." + raw body` with the shared secret.
//! A missing, malformed, wrong or stale (over five minutes, either way) signature is
//! refused; the comparison is in constant time. Binding the method and path to the
//! signature means a request signed for one account can never be replayed on another's
//! path.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "Runn-Signature";
/// How far a signature's time may be from ours, either way.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a request's signature was refused (each answers 401; the reason goes to the log).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {HEADER} header is missing")]
    Missing,
    #[error("the {HEADER} header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature's time is more than {TOLERANCE_SECS} s from now")]
    Stale,
    #[error("the signature does not match the request")]
    Mismatch,
}

fn mac(secret: &SecretString) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts any key length")
}

fn feed(mac: &mut Hmac<Sha256>, t: i64, method: &str, path_and_query: &str, body: &[u8]) {
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(method.to_ascii_uppercase().as_bytes());
    mac.update(b".");
    mac.update(path_and_query.as_bytes());
    mac.update(b".");
    mac.update(body);
}

/// The time a sender gives a new signature: now, or a second after the last one it gave
/// if that is later. A signed change is accepted once, so two identical requests must
/// never share a signature (a sender that sends the same request twice in one second
/// gives the second the next second; within the tolerance, that is hundreds a second).
pub fn fresh_time() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let t = now.max(last + 1);
        match LAST.compare_exchange_weak(last, t, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return t,
            Err(seen) => last = seen,
        }
    }
}

/// The header value for a request (what Runn's backend sends; the tests and the demo
/// sign with it).
pub fn sign(
    secret: &SecretString,
    t: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    let mut m = mac(secret);
    feed(&mut m, t, method, path_and_query, body);
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

/// A signature that checked out: its time and MAC, which together name the request (a
/// replay carries the same pair).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub t: i64,
    /// The MAC, as lower-case hex however it was sent.
    pub v1: String,
}

impl Verified {
    /// The key a used signature is remembered under.
    pub fn key(&self) -> String {
        format!("{}#{}", self.t, self.v1)
    }
    /// Until when it could be replayed at all (after that it is stale anyway), epoch s.
    pub fn usable_until(&self) -> i64 {
        self.t.saturating_add(TOLERANCE_SECS + 1)
    }
}

/// Checks a request's signature header against the secret, at time `now`.
pub fn verify(
    secret: &SecretString,
    header: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", x)) if t.is_none() => t = x.parse::<i64>().ok(),
            Some(("v1", x)) if v1.is_none() => v1 = hex::decode(x).ok(),
            // Unknown schemes (a future v2) are passed over, as Stripe's are.
            Some((_, _)) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    if now.abs_diff(t) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let mut m = mac(secret);
    feed(&mut m, t, method, path_and_query, body);
    // `verify_slice` compares in constant time.
    m.verify_slice(&v1).map_err(|_| SignatureError::Mismatch)?;
    Ok(Verified {
        t,
        v1: hex::encode(v1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("whsec_test_5f2b")
    }

    #[test]
    fn a_worked_example_signs_and_verifies() {
        let body = br#"{"kinds":["people"]}"#;
        let path = "/accounts/acme/imports";
        let header = sign(&secret(), 1_795_000_000, "post", path, body);
        assert_eq!(
            header,
            sign(&secret(), 1_795_000_000, "POST", path, body),
            "the method is upper-cased"
        );
        assert!(header.starts_with("t=1795000000,v1=") && header.len() == 16 + 64);
        let ok = verify(&secret(), Some(&header), "POST", path, body, 1_795_000_100).unwrap();
        assert_eq!(ok.t, 1_795_000_000);
        // The same MAC in upper case is the same signature: one key for both.
        let upper = header.replace(&ok.v1, &ok.v1.to_uppercase());
        let again = verify(&secret(), Some(&upper), "POST", path, body, 1_795_000_100).unwrap();
        assert_eq!(again.key(), ok.key());
    }

    #[test]
    fn every_way_a_signature_can_be_wrong_is_refused() {
        let body = b"{}";
        let path = "/accounts/acme/imports";
        let now = 1_795_000_000;
        let good = sign(&secret(), now, "POST", path, body);
        let check = |h: Option<&str>, method: &str, p: &str, b: &[u8], at: i64| {
            verify(&secret(), h, method, p, b, at).map(|_| ())
        };
        use SignatureError::*;
        assert_eq!(check(None, "POST", path, body, now), Err(Missing));
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(
                check(Some(bad), "POST", path, body, now),
                Err(Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            check(Some(&good), "POST", path, body, now + 301),
            Err(Stale)
        );
        assert_eq!(
            check(Some(&good), "POST", path, body, now - 301),
            Err(Stale)
        );
        assert_eq!(check(Some(&good), "PUT", path, body, now), Err(Mismatch));
        assert_eq!(
            check(Some(&good), "POST", "/accounts/globex/imports", body, now),
            Err(Mismatch),
            "one account's signature on another's path"
        );
        assert_eq!(check(Some(&good), "POST", path, b"{ }", now), Err(Mismatch));
        let other = sign(&SecretString::from("another"), now, "POST", path, body);
        assert_eq!(check(Some(&other), "POST", path, body, now), Err(Mismatch));
        assert_eq!(
            check(Some(&format!("{good},v2=abc")), "POST", path, body, now),
            Ok(()),
            "unknown schemes are passed over"
        );
    }
}
