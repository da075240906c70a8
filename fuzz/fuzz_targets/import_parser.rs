//! The `renraku import` parser on arbitrary bytes: it must refuse with an error that names a
//! place, or return a data set that survives a round trip through the format (`export`
//! writes what `parse` reads).
#![no_main]

use libfuzzer_sys::fuzz_target;
use renraku_server::import_export::parse;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(dataset) => {
            let written = serde_json::to_vec(&dataset).expect("a data set serializes");
            let again = parse(&written).expect("a written data set parses");
            assert_eq!(again, dataset);
        }
        Err(e) => assert!(
            !e.path.is_empty() && !e.message.is_empty(),
            "an import error names no place: {e:?}"
        ),
    }
});
