//! 駐車場 (issue 17) screens.

pub mod city;
pub mod lender;
