//! Screens and their parts.

pub mod ack;
pub mod ack_inbox;
pub mod banners;
pub mod composer;
pub mod home;
pub mod kept_screen;
pub mod lock;
pub mod new_message;
pub mod parking;
pub mod passkeys;
pub mod portal;
pub mod post;
pub mod record;
pub mod register;
pub mod room;
pub mod search;
pub mod session;
pub mod settings;
pub mod signout;
pub mod templates;
pub mod widgets;
