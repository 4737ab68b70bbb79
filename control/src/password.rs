//! Password hashing with argon2id at OWASP's parameters, on low-priority threads of its own.
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
    pool: Arc<HashPool>,
}

/// Threads that do nothing but hash, one per core, at the lowest CPU priority there is (Linux's
/// `SCHED_IDLE`): each hash takes 19 MiB and a core for tens of milliseconds, so a flood of
/// log-ins from many addresses — which no per-address or per-account throttle can tell apart —
/// gets only the CPU that pages leave over, and never slows them. At most `waiting_max` hashes
/// wait for a thread; a log-in beyond that is refused at once ("try again in a few seconds")
/// instead of queueing without end.
struct HashPool {
    jobs: std::sync::mpsc::SyncSender<HashJob>,
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Hashes waiting for a thread, per thread, at most.
const WAITING_PER_THREAD: usize = 8;

/// How long a refused log-in is told to wait before trying again.
const BUSY_RETRY_S: u64 = 5;

/// How long a hash may wait for its thread and run before the asker is refused.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl HashPool {
    fn new(threads: usize, waiting_max: usize) -> Result<Self, Error> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<HashJob>(waiting_max);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    lowest_priority();
                    loop {
                        // The queue ends when the last `Passwords` is dropped; so does the thread.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(Error::internal)?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread; refused at once when too many already wait.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            // The asker may have gone (a client hung up): nothing to tell then.
            let _ = done.send(work());
        });
        match self.jobs.try_send(job) {
            // Pages keeping every core busy leave an idle-priority thread next to nothing: past
            // a limit the asker is told to come back rather than kept waiting.
            Ok(()) => match tokio::time::timeout(HASH_WAIT, result).await {
                Ok(done) => done.map_err(Error::internal),
                Err(_) => {
                    tracing::warn!("password hashing starved: a log-in was refused");
                    Err(Error::Throttled {
                        retry_after_s: BUSY_RETRY_S,
                    })
                }
            },
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                tracing::warn!("password hashing busy: a log-in was refused");
                Err(Error::Throttled {
                    retry_after_s: BUSY_RETRY_S,
                })
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                Err(Error::internal("the password-hashing threads are gone"))
            }
        }
    }
}

/// Puts the calling thread below every other (`SCHED_IDLE`); if the system refuses, it stays
/// as it is and says so.
#[cfg(target_os = "linux")]
fn lowest_priority() {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(error) =
        set_thread_priority_and_policy(thread_native_id(), thread_priority::ThreadPriority::Min, idle)
    {
        tracing::warn!(error = ?error, "password hashing runs at normal priority");
    }
}

/// Elsewhere hashing keeps the normal priority.
#[cfg(not(target_os = "linux"))]
fn lowest_priority() {
    tracing::info!("password hashing runs at normal priority (SCHED_IDLE is Linux's)");
}

impl Passwords {
    /// Prepares the hasher (one low-priority thread per core), computing the dummy hash once.
    pub async fn new() -> Result<Self, Error> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_threads(cores, cores * WAITING_PER_THREAD).await
    }

    /// A hasher with `threads` threads and at most `waiting_max` hashes waiting for one.
    pub async fn with_threads(threads: usize, waiting_max: usize) -> Result<Self, Error> {
        let pool = Arc::new(HashPool::new(threads.max(1), waiting_max)?);
        let secret = uuid::Uuid::new_v4().to_string();
        let dummy_hash = pool.run(move || hash_now(&secret)).await??;
        Ok(Self {
            dummy_hash: dummy_hash.into(),
            pool,
        })
    }

    /// A PHC-format hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let password = password.expose().to_owned();
        self.pool.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash`; with `None`, burns the same time and answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Error> {
        let (hash, known) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let password = password.to_owned();
        let matches = self
            .pool
            .run(move || -> Result<bool, Error> {
                let parsed = PasswordHash::new(&hash).map_err(Error::internal)?;
                Ok(argon2()?.verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await??;
        Ok(known && matches)
    }
}

fn hash_now(password: &str) -> Result<String, Error> {
    let hash = argon2()?
        .hash_password(password.as_bytes())
        .map_err(Error::internal)?;
    Ok(hash.to_string())
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

    #[tokio::test]
    async fn hashes_beyond_the_waiting_limit_are_refused_at_once_and_the_rest_verify() {
        // One thread, one waiting: of eight at once, one or two run, the rest are refused.
        let passwords = Passwords::with_threads(1, 1).await.unwrap();
        let hash = passwords
            .hash(&Password::parse("correct horse battery staple").unwrap())
            .await
            .unwrap();
        // All eight ask before any hash can finish (tens of milliseconds).
        let tries = futures_util::future::join_all(
            (0..8).map(|_| passwords.verify("correct horse battery staple", Some(&hash))),
        )
        .await;
        let mut verified = 0;
        let mut refused = 0;
        for attempt in tries {
            match attempt {
                Ok(true) => verified += 1,
                Err(Error::Throttled { retry_after_s }) => {
                    assert!(retry_after_s > 0);
                    refused += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(
            verified >= 1 && refused >= 6,
            "{verified} verified, {refused} refused"
        );
        assert_eq!(verified + refused, 8);
    }
}
