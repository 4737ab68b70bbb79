//! What the server's metrics read from the database now and then (rather than count as it
//! happens): the job queue by state and the live sessions. Both are read through indexes.

use crate::store::now_ms;
use crate::{Control, Error};

impl Control {
    /// Live jobs per state (`queued`, `running`, `unwinding`; zero included) and unexpired
    /// sessions.
    pub async fn metrics_sample(&self) -> Result<(Vec<(&'static str, u64)>, u64), Error> {
        let counts = self.store.job_count_live_by_state().await?;
        let jobs = ["queued", "running", "unwinding"]
            .into_iter()
            .map(|state| {
                let n = counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
                (state, u64::try_from(n).unwrap_or(0))
            })
            .collect();
        let sessions = self.store.session_count_live(now_ms()).await?;
        Ok((jobs, u64::try_from(sessions).unwrap_or(0)))
    }
}
