//! The admin bundle's entry point (`/{municipality}/admin/…`); see `lib.rs`.

fn main() {
    renraku_app::start_admin();
}
