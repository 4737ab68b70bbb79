//! One module per page.

pub mod login;
pub mod not_built;
pub mod not_found;
pub mod overview;
pub mod settings;
pub mod signup;
