//! The simulated hardware's own table (`sim_hardware`): what each simulated host holds for a VM.
//!
//! The simulation keeps this state itself, as a real backend keeps it on its hosts; it shares
//! the control plane's database only so that it survives a crash of the control plane and every
//! server process sees the same hardware. The control plane's store never reads it.

use crate::store::Store;
use sqlx::Row;

/// Flags of one simulated VM: disk, powered, network, breakout.
pub type SimFlags = (bool, bool, bool, bool);

/// The simulated hardware's rows, in the database behind `store`.
#[derive(Clone)]
pub struct SimHardware {
    store: Store,
}

impl SimHardware {
    /// The simulated hardware kept in `store`'s database.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Every simulated VM's flags.
    pub async fn list(&self) -> Result<Vec<(String, SimFlags)>, sqlx::Error> {
        let rows = sqlx::query("SELECT vm_id, disk, powered, network, breakout FROM sim_hardware")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let flag = |c: &str| -> Result<bool, sqlx::Error> { Ok(row.try_get::<i64, _>(c)? != 0) };
                Ok((
                    row.try_get("vm_id")?,
                    (
                        flag("disk")?,
                        flag("powered")?,
                        flag("network")?,
                        flag("breakout")?,
                    ),
                ))
            })
            .collect()
    }

    /// Records a simulated VM's flags (all false deletes the row).
    pub async fn set(&self, vm_id: &str, flags: SimFlags) -> Result<(), sqlx::Error> {
        if flags == (false, false, false, false) {
            sqlx::query("DELETE FROM sim_hardware WHERE vm_id = $1")
                .bind(vm_id)
                .execute(&mut *self.store.writer().await?)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO sim_hardware (vm_id, disk, powered, network, breakout) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (vm_id) DO UPDATE SET disk = excluded.disk, powered = excluded.powered, \
             network = excluded.network, breakout = excluded.breakout",
        )
        .bind(vm_id)
        .bind(i64::from(flags.0))
        .bind(i64::from(flags.1))
        .bind(i64::from(flags.2))
        .bind(i64::from(flags.3))
        .execute(&mut *self.store.writer().await?)
        .await?;
        Ok(())
    }

    /// One simulated VM's flags (all false if the hardware holds nothing for it).
    pub async fn get(&self, vm_id: &str) -> Result<SimFlags, sqlx::Error> {
        let row = sqlx::query("SELECT disk, powered, network, breakout FROM sim_hardware WHERE vm_id = $1")
            .bind(vm_id)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(row) = row else {
            return Ok((false, false, false, false));
        };
        let flag = |c: &str| -> Result<bool, sqlx::Error> { Ok(row.try_get::<i64, _>(c)? != 0) };
        Ok((
            flag("disk")?,
            flag("powered")?,
            flag("network")?,
            flag("breakout")?,
        ))
    }
}
