//! The outbox worker: lease due pushes, encrypt and sign each for its subscription, POST it to
//! the push service, and settle the row by the answer.

use super::vapid;
use crate::db::push::{OutboxPush, SubscriptionKeys};
use crate::Db;
use std::time::Duration;
use tracing::{debug, info, warn};
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency,
    VapidSignatureBuilder, WebPushMessageBuilder,
};

/// Pushes leased at once.
const BATCH: i64 = 32;
/// A leased push belongs to its worker this long (more than one request's timeout), then it
/// is due again: a worker that died mid-send does not strand it.
const LEASE_MS: i64 = 30_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// With nothing queued, look again this often anyway (another node may have queued).
const IDLE_POLL: Duration = Duration::from_secs(5);
/// Transient failures back off 1 s, 2 s, 4 s … up to this.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// After this many attempts a push is dropped (its TTL has long run out by then).
const MAX_ATTEMPTS: i64 = 16;

#[derive(Clone, Debug)]
pub struct Settings {
    /// The VAPID `sub` claim: how a push service reaches the operator.
    pub contact: String,
}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The push service accepted it.
    Delivered,
    /// 404/410: the subscription expired or was revoked.
    Gone,
    /// 429, 5xx, a network error or a timeout: try again (after at least this long).
    Retry(Option<Duration>),
    /// Refused for good (400, 401, 403, 413, an unusable subscription): drop the push.
    Refused(String),
}

pub async fn run(db: Db, settings: Settings) {
    let mut queued = db.push_notifier().subscribe();
    let vapid = loop {
        match vapid::ensure(&db).await {
            Ok(v) => break v,
            Err(e) => {
                warn!(error = %e, "push worker: VAPID keys unavailable; retrying");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    };
    let signer = match VapidSignatureBuilder::from_base64_no_sub(&vapid.private_key) {
        Ok(s) => s,
        Err(e) => {
            // Stored keys that do not parse cannot heal by retrying: say so loudly, once.
            tracing::error!(error = %e, "push worker: the stored VAPID key does not parse");
            return;
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "push worker: no HTTP client");
            return;
        }
    };
    loop {
        queued.mark_unchanged();
        let leased = match db.lease_pushes(BATCH, LEASE_MS).await {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "push worker: leasing failed");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        let full = leased.len() as i64 == BATCH;
        // Sent concurrently: one slow push service must not hold up the others.
        let sends = leased
            .into_iter()
            .map(|push| settle(&db, &client, &signer, &settings, push));
        futures_util::future::join_all(sends).await;
        if full {
            continue;
        }
        let wait = match db.next_push_due().await {
            Ok(Some(due)) => {
                let ms = (due - crate::db::now_ms()).clamp(0, IDLE_POLL.as_millis() as i64);
                Duration::from_millis(ms as u64)
            }
            _ => IDLE_POLL,
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = queued.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn settle(
    db: &Db,
    client: &reqwest::Client,
    signer: &PartialVapidSignatureBuilder,
    settings: &Settings,
    push: OutboxPush,
) {
    let outcome = send(client, signer, settings, &push).await;
    let result = match &outcome {
        Outcome::Delivered => {
            debug!(push = push.id, "push delivered");
            db.push_done(push.id).await
        }
        Outcome::Gone => {
            info!(
                subscription = push.subscription_id,
                "push subscription gone; removed"
            );
            db.delete_push_subscription(push.subscription_id).await
        }
        Outcome::Refused(why) => {
            warn!(push = push.id, reason = %why, "push refused; dropped");
            db.push_done(push.id).await
        }
        Outcome::Retry(after) => {
            let expired = crate::db::now_ms() > push.created_at + push.ttl_secs * 1000;
            if push.attempts >= MAX_ATTEMPTS || expired {
                warn!(push = push.id, attempts = push.attempts, "push given up");
                db.push_done(push.id).await
            } else {
                let backoff = backoff_ms(push.attempts);
                let hinted = after
                    .map_or(0, |d| d.as_millis() as i64)
                    .min(MAX_BACKOFF_MS);
                debug!(
                    push = push.id,
                    attempts = push.attempts,
                    "push will be retried"
                );
                db.push_retry_at(push.id, crate::db::now_ms() + backoff.max(hinted))
                    .await
            }
        }
    };
    if let Err(e) = result {
        // The lease runs out and the push is tried again: at worst sent twice, never lost.
        warn!(push = push.id, error = %e, "push outcome not recorded");
    }
}

/// 1 s after the first failure, doubling, capped; a little jitter keeps many retries from
/// hitting a recovering push service at once.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    let base = 1000_i64.saturating_mul(1 << exp).min(MAX_BACKOFF_MS);
    base + rand::random::<u16>() as i64 % (base / 10 + 1)
}

/// One attempt: encrypt, sign, POST, classify the answer.
pub async fn send(
    client: &reqwest::Client,
    signer: &PartialVapidSignatureBuilder,
    settings: &Settings,
    push: &OutboxPush,
) -> Outcome {
    let request = match build(signer, settings, &push.subscription, push) {
        Ok(r) => r,
        Err(e) => return Outcome::Refused(e),
    };
    let (uri, headers, body) = request;
    let mut outgoing = client.post(uri).body(body);
    for (name, value) in headers {
        outgoing = outgoing.header(name, value);
    }
    let response = match outgoing.send().await {
        Ok(r) => r,
        Err(e) => {
            debug!(push = push.id, error = %e.without_url(), "push service unreachable");
            return Outcome::Retry(None);
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    classify(status, retry_after)
}

pub fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        404 | 410 => Outcome::Gone,
        429 | 500..=599 => Outcome::Retry(retry_after),
        other => Outcome::Refused(format!("push service answered {other}")),
    }
}

/// A request as our HTTP client sends it: URL, headers, body.
type Request = (String, Vec<(String, Vec<u8>)>, Vec<u8>);

/// The encrypted, signed request for one subscription.
fn build(
    signer: &PartialVapidSignatureBuilder,
    settings: &Settings,
    keys: &SubscriptionKeys,
    push: &OutboxPush,
) -> Result<Request, String> {
    let info = SubscriptionInfo::new(&keys.endpoint, &keys.p256dh, &keys.auth);
    let mut vapid = signer.clone().add_sub_info(&info);
    vapid.add_claim("sub", settings.contact.as_str());
    // RFC 8292: `aud` is the push resource's origin. web-push derives it without the port,
    // which a push service on a non-default port (or a strict verifier) rejects.
    let origin = url::Url::parse(&keys.endpoint)
        .map_err(|_| "the endpoint is not a URL".to_owned())?
        .origin()
        .ascii_serialization();
    vapid.add_claim("aud", origin);
    let signature = vapid.build().map_err(|e| format!("VAPID signature: {e}"))?;
    let mut message = WebPushMessageBuilder::new(&info);
    message.set_payload(ContentEncoding::Aes128Gcm, push.payload.as_bytes());
    message.set_ttl(u32::try_from(push.ttl_secs).unwrap_or(u32::MAX));
    message.set_urgency(match push.urgency.as_str() {
        "very-low" => Urgency::VeryLow,
        "low" => Urgency::Low,
        "high" => Urgency::High,
        _ => Urgency::Normal,
    });
    message.set_topic(push.topic.clone());
    message.set_vapid_signature(signature);
    let message = message.build().map_err(|e| format!("push message: {e}"))?;
    let (parts, body) = web_push::request_builder::build_request::<Vec<u8>>(message).into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Ok((parts.uri.to_string(), headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_rfc_8030_says() {
        assert_eq!(classify(201, None), Outcome::Delivered);
        assert_eq!(classify(410, None), Outcome::Gone);
        assert_eq!(classify(404, None), Outcome::Gone);
        assert_eq!(classify(503, None), Outcome::Retry(None));
        assert_eq!(
            classify(429, Some(Duration::from_secs(3))),
            Outcome::Retry(Some(Duration::from_secs(3)))
        );
        assert!(matches!(classify(413, None), Outcome::Refused(_)));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert!((1000..1200).contains(&backoff_ms(1)));
        assert!((2000..2300).contains(&backoff_ms(2)));
        assert!(backoff_ms(30) <= MAX_BACKOFF_MS + MAX_BACKOFF_MS / 10);
    }
}
