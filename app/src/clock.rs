//! The server's clock as this device knows it, for every time written into a document
//! (posts, edits, pins, read markers): a phone whose clock runs fast would otherwise have its
//! posts refused as dated in the future. Measured from the `Date` header of every API answer
//! (see [`ClockOffset::measure`]) and kept in local storage, so an offline start dates by the
//! last known offset.

use crate::util::{local_get, local_set};
use renraku_sync::clock::ClockOffset;
use std::cell::Cell;

const KEY: &str = "renraku.clock_offset";

thread_local! {
    static OFFSET: Cell<Option<ClockOffset>> = const { Cell::new(None) };
}

fn offset() -> ClockOffset {
    OFFSET.with(|o| match o.get() {
        Some(offset) => offset,
        None => {
            let kept = local_get(KEY)
                .and_then(|s| s.parse().ok())
                .map(ClockOffset)
                .unwrap_or_default();
            o.set(Some(kept));
            kept
        }
    })
}

/// Now, by the server's clock as last measured (by the device's before any measurement).
pub fn server_now_ms() -> i64 {
    offset().server_time(crate::util::now_ms())
}

/// Learns from one answer: the device's clock when the request left and when the answer
/// arrived, and the answer's `Date` header.
pub fn observe(sent_ms: i64, received_ms: i64, date_header: &str) {
    let server_ms = js_sys::Date::parse(date_header);
    if !server_ms.is_finite() {
        return;
    }
    let Some(measured) = ClockOffset::measure(sent_ms, received_ms, server_ms as i64) else {
        return;
    };
    if measured != offset() {
        OFFSET.with(|o| o.set(Some(measured)));
        local_set(KEY, &measured.0.to_string());
    }
}
