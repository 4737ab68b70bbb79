//! VM samples: a VM's CPU and network per minute of the last hour and per hour of the last day,
//! kept as two small rings per VM (see the `vm_samples` migration).

use super::{Store, Tx};

/// Which ring: a row per minute (60 of them) or per hour (24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleSpan {
    /// One row per minute of the last hour.
    Minute,
    /// One row per hour of the last day.
    Hour,
}

impl SampleSpan {
    /// Length of one row's period, in ms.
    pub const fn period_ms(self) -> i64 {
        match self {
            SampleSpan::Minute => 60_000,
            SampleSpan::Hour => 3_600_000,
        }
    }

    /// How many rows the ring holds.
    pub const fn slots(self) -> i64 {
        match self {
            SampleSpan::Minute => 60,
            SampleSpan::Hour => 24,
        }
    }

    /// Its name in the `span` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SampleSpan::Minute => "minute",
            SampleSpan::Hour => "hour",
        }
    }
}

/// What a VM did over part of one period, added to that period's row.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct VmSampleRow {
    /// Start of the period (a whole minute or hour, UTC).
    pub start_ms: i64,
    /// Seconds of the period measured (the VM ran).
    pub seconds: i64,
    /// CPU time used, all vCPUs, in ms.
    pub cpu_ms: i64,
    /// CPU time the VM's vCPUs could have used over those seconds, in ms.
    pub capacity_ms: i64,
    /// Bytes received.
    pub received: i64,
    /// Bytes sent.
    pub sent: i64,
}

impl Store {
    /// VM `vm_id`'s `span` rows for periods starting at or after `since`, oldest first: at most
    /// one ring's worth.
    pub async fn vm_samples(
        &self,
        vm_id: &str,
        span: SampleSpan,
        since: i64,
    ) -> Result<Vec<VmSampleRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT start_ms, seconds, cpu_ms, capacity_ms, received, sent FROM vm_samples \
             WHERE vm_id = $1 AND span = $2 AND start_ms >= $3 ORDER BY start_ms",
        )
        .bind(vm_id)
        .bind(span.as_str())
        .bind(since)
        .fetch_all(self.pool())
        .await
    }

    /// Forgets VM `vm_id`'s samples and counter readings (it is destroyed).
    pub(crate) async fn vm_samples_delete(tx: &mut Tx, vm_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM vm_samples WHERE vm_id = $1")
            .bind(vm_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM vm_traffic_counters WHERE vm_id = $1")
            .bind(vm_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
