//! The app bundle's entry point; everything is in the library (`lib.rs`).

fn main() {
    renraku_app::start();
}
