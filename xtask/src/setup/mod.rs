//! `cargo xtask setup`: installs what is missing, and is safe to run again. Running the
//! server needs only a few of these; the tests need all of them.

pub(crate) mod node;
mod python;
mod rust;
mod system;

use crate::util::{secs, step};
use anyhow::Result;
use std::time::Instant;

pub use rust::wasm_bindgen_bin;

/// One thing to install when it is missing.
type Install = (&'static str, fn() -> Result<()>);

const RUST_COMPONENTS: Install = ("Rust components", rust::ensure_rust_components);
const WASM_TARGET: Install = ("wasm32 target", rust::ensure_wasm_target);
const OPENSSL: Install = (
    "OpenSSL headers (webauthn-rs, ece)",
    system::ensure_openssl_dev,
);
const WASM_BINDGEN: Install = ("wasm-bindgen-cli", rust::ensure_wasm_bindgen);
const NODE_PACKAGES: Install = ("npm packages for tests/node", node::ensure_node_packages);
const PYTHON_PACKAGES: Install = (
    "Python packages for tests/python (FHIR validator)",
    python::ensure_python_packages,
);
const CHROMIUM: Install = ("Chromium for the browser tests", system::ensure_chromium);
const PDF_FONT: Install = ("a Japanese font for PDF export", system::ensure_pdf_font);
const PDFTOTEXT: Install = ("pdftotext for the PDF tests", system::ensure_pdftotext);
const CLUSTER_TOOLS: Install = (
    "nginx and nats-server for the cluster tests",
    system::ensure_cluster_tools,
);

/// Everything: what `setup`, `test` and `bench-app` need.
pub fn everything() -> Result<()> {
    install(&[
        RUST_COMPONENTS,
        WASM_TARGET,
        OPENSSL,
        WASM_BINDGEN,
        NODE_PACKAGES,
        PYTHON_PACKAGES,
        CHROMIUM,
        PDF_FONT,
        PDFTOTEXT,
        CLUSTER_TOOLS,
    ])
}

/// What building the app and the server needs, for `run`: not rustfmt and clippy, the npm
/// packages, Chromium or its fonts, which only the checks and tests use (on a fresh machine
/// Chromium and the fonts alone are most of the install time).
pub fn for_running() -> Result<()> {
    install(&[WASM_TARGET, OPENSSL, WASM_BINDGEN, PDF_FONT])
}

fn install(steps: &[Install]) -> Result<()> {
    let started = Instant::now();
    for (what, ensure) in steps {
        step(&format!("setup: {what}"));
        ensure()?;
    }
    println!("setup done in {}", secs(started));
    Ok(())
}
