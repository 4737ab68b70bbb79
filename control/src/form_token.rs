//! Form tokens for the pages (see `meridian_core::form_token`): made and checked with this
//! server's master secret.

use crate::Control;
use meridian_core::form_token;

impl Control {
    /// The token a page for the session `session_id` puts in its forms.
    pub fn form_token(&self, session_id: &str) -> String {
        form_token::form_token(&self.api_master, session_id)
    }

    /// Whether `presented` is the session's form token.
    pub fn form_token_valid(&self, session_id: &str, presented: &str) -> bool {
        form_token::form_token_valid(&self.api_master, session_id, presented)
    }
}
