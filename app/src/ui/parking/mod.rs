//! 駐車場 (issue 17): parking spaces lent to visiting staff (`docs/parking.md`).
//!
//! The staff side: `staff.rs` (the screen, `/{m}/parking?room=…`), `nearby.rs` (the
//! patient's home and the spaces around it, on the map and as a list), `book.rs` (booking a
//! space in a few taps) and `mine.rs` (my bookings of a day, and home's entry). The city's
//! screens are in `city/` (`/{m}/parking/city/…`), a lender's in `lender.rs`.

mod book;
pub mod city;
pub mod lender;
mod mine;
pub(crate) mod nearby;
mod staff;

pub use mine::ParkingEntry;
pub use staff::ParkingScreen;
