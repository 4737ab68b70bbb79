//! Password hashing with argon2id at OWASP's parameters, off the async runtime.
//!
//! A log-in for an unknown address verifies against a dummy hash with the same parameters, so
//! "no such user" takes as long as "wrong password" and timing does not reveal who has an account.

use crate::Error;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use meridian_core::Password;
use std::sync::Arc;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).map_err(Error::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes and verifies passwords; holds the dummy hash used for unknown accounts.
#[derive(Clone)]
pub struct Passwords {
    dummy_hash: Arc<str>,
    /// One hash at a time per core: each takes 19 MiB and a core for tens of milliseconds, so a
    /// burst of log-ins from many addresses queues here instead of exhausting memory and starving
    /// every other request.
    hashing: Arc<tokio::sync::Semaphore>,
}

impl Passwords {
    /// Prepares the hasher, computing the dummy hash once.
    pub async fn new() -> Result<Self, Error> {
        let secret = uuid::Uuid::new_v4().to_string();
        let dummy_hash = hash_blocking(secret).await?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            dummy_hash: dummy_hash.into(),
            hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
        })
    }

    /// A PHC-format hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let _turn = self.hashing.acquire().await.map_err(Error::internal)?;
        hash_blocking(password.expose().to_owned()).await
    }

    /// Whether `password` matches `hash`; with `None`, burns the same time and answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Error> {
        let (hash, known) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let password = password.to_owned();
        let _turn = self.hashing.acquire().await.map_err(Error::internal)?;
        let matches = tokio::task::spawn_blocking(move || -> Result<bool, Error> {
            let parsed = PasswordHash::new(&hash).map_err(Error::internal)?;
            Ok(argon2()?.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(Error::internal)??;
        Ok(known && matches)
    }
}

async fn hash_blocking(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || -> Result<String, Error> {
        let hash = argon2()?
            .hash_password(password.as_bytes())
            .map_err(Error::internal)?;
        Ok(hash.to_string())
    })
    .await
    .map_err(Error::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let passwords = Passwords::new().await.unwrap();
        let password = Password::parse("correct horse battery staple").unwrap();
        let hash = passwords.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(
            passwords
                .verify("correct horse battery staple", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("correct horse battery stapl", Some(&hash))
                .await
                .unwrap()
        );
        // An unknown account never verifies, whatever is typed.
        assert!(
            !passwords
                .verify("correct horse battery staple", None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_same_password_gets_a_different_salt_each_time() {
        let passwords = Passwords::new().await.unwrap();
        let password = Password::parse("correct horse battery staple").unwrap();
        assert_ne!(
            passwords.hash(&password).await.unwrap(),
            passwords.hash(&password).await.unwrap()
        );
    }
}
