//! The sign-in bundle's entry point (a device that remembers nobody yet); see `lib.rs`.

fn main() {
    renraku_app::start_signin();
}
