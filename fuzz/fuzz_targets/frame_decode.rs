//! The `/ws` frame decoder on arbitrary bytes: it must refuse or decode, never panic, and a
//! frame it decodes must encode back to a frame that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use renraku_sync::Frame;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        let again = Frame::decode(&frame.encode()).expect("an encoded frame decodes");
        assert_eq!(again, frame);
    }
    // The client's decoder, which allows larger frames, on the same bytes.
    let _ = Frame::decode_from_server(data);
});
