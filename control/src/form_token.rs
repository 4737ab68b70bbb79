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

    /// The seal on a refused plain form's error as it travels in the page's address (`__path`,
    /// `__err`, sent at `at_s`): proof that this server wrote it, so a link cannot put words of
    /// its own into the page's alert. (The MAC input starts with a line no session id has.)
    pub fn form_error_seal(&self, at_s: u64, path: &str, error: &str) -> String {
        form_token::form_token(&self.api_master, &form_error_input(at_s, path, error))
    }

    /// Whether `seal` is [`Control::form_error_seal`] of these (compared in constant time).
    pub fn form_error_seal_valid(&self, at_s: u64, path: &str, error: &str, seal: &str) -> bool {
        form_token::form_token_valid(&self.api_master, &form_error_input(at_s, path, error), seal)
    }
}

fn form_error_input(at_s: u64, path: &str, error: &str) -> String {
    format!("form error\n{at_s}\n{path}\n{error}")
}
