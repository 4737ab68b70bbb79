//! Autoscaling group rows: the group, its members and its events.

use super::audit::WriteExt;
use super::{Store, Tx};

/// A group as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ScalingGroupRow {
    /// Id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// The user whose rights its members are made with.
    pub created_by: String,
    /// Name.
    pub name: String,
    /// Members' template.
    pub template: String,
    /// Members' size code.
    pub size: String,
    /// Members' cloud-config.
    pub user_data: Option<String>,
    /// Members get public addresses (0 or 1).
    pub breakout: i64,
    /// Zone ids, comma-separated.
    pub zones: String,
    /// Fewest members.
    pub min_size: i64,
    /// Most members.
    pub max_size: i64,
    /// Wanted members.
    pub desired: i64,
    /// `cpu` or `network`.
    pub metric: String,
    /// The target value.
    pub target: i64,
    /// Seconds to hold after a change.
    pub cooldown_secs: i64,
    /// A new member's grace, in seconds.
    pub grace_secs: i64,
    /// The simulated load its members follow (CPU %).
    pub sim_cpu: Option<i64>,
    /// When it last changed its desired size (Unix ms).
    pub last_scaled_at: Option<i64>,
    /// When a server last acted on it (Unix ms): claimed by compare and set.
    pub acted_at: i64,
    /// How many members it has made (the next is `<name>-<members_made + 1>`).
    pub members_made: i64,
    /// Being deleted (1): its members are destroyed, then the row.
    pub deleting: i64,
    /// Created (Unix ms).
    pub created_at: i64,
}

const COLUMNS: &str = "id, tenant_id, created_by, name, template, size, user_data, breakout, zones, min_size, \
     max_size, desired, metric, target, cooldown_secs, grace_secs, sim_cpu, last_scaled_at, acted_at, \
     members_made, deleting, created_at";

/// Events kept per group.
const EVENTS_KEPT: i64 = 200;
/// How long an actor may hold a group (a crashed one's lease runs out).
const LEASE_MS: i64 = 30_000;

impl Store {
    /// Inserts a group.
    pub(crate) async fn scaling_group_insert(&self, group: &ScalingGroupRow) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO scaling_groups ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
        ))
        .bind(&group.id)
        .bind(&group.tenant_id)
        .bind(&group.created_by)
        .bind(&group.name)
        .bind(&group.template)
        .bind(&group.size)
        .bind(&group.user_data)
        .bind(group.breakout)
        .bind(&group.zones)
        .bind(group.min_size)
        .bind(group.max_size)
        .bind(group.desired)
        .bind(&group.metric)
        .bind(group.target)
        .bind(group.cooldown_secs)
        .bind(group.grace_secs)
        .bind(group.sim_cpu)
        .bind(group.last_scaled_at)
        .bind(group.acted_at)
        .bind(group.members_made)
        .bind(group.deleting)
        .bind(group.created_at)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// A tenant's groups, by name.
    pub(crate) async fn scaling_group_list(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<ScalingGroupRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM scaling_groups WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }

    /// One of a tenant's groups.
    pub(crate) async fn scaling_group_get(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ScalingGroupRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM scaling_groups WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// Every group, for the scaling round.
    pub(crate) async fn scaling_group_all(&self) -> Result<Vec<ScalingGroupRow>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM scaling_groups ORDER BY id"))
            .fetch_all(self.pool())
            .await
    }

    /// One of any tenant's groups, for the scaling round.
    pub(crate) async fn scaling_group_by_id(&self, id: &str) -> Result<Option<ScalingGroupRow>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM scaling_groups WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Takes the lease on group `id` at `now` if no one holds it: its token (when it ends), or
    /// None while another actor holds it.
    pub(crate) async fn scaling_group_lease(&self, id: &str, now: i64) -> Result<Option<i64>, sqlx::Error> {
        let until = now + LEASE_MS;
        let done = sqlx::query("UPDATE scaling_groups SET acted_at = $1 WHERE id = $2 AND acted_at <= $3")
            .bind(until)
            .bind(id)
            .bind(now)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok((done.rows_affected() == 1).then_some(until))
    }

    /// Gives the lease `token` on group `id` back.
    pub(crate) async fn scaling_group_release(
        &self,
        id: &str,
        token: i64,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE scaling_groups SET acted_at = $1 WHERE id = $2 AND acted_at = $3")
            .bind(now.min(token))
            .bind(id)
            .bind(token)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Sets a group's desired size as it scaled, unless it changed meanwhile (being deleted, or
    /// its bounds no longer hold `desired`): whether it did.
    pub(crate) async fn scaling_group_set_desired(
        tx: &mut Tx,
        id: &str,
        desired: i64,
        scaled_at: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE scaling_groups SET desired = $1, last_scaled_at = $2 \
             WHERE id = $3 AND deleting = 0 AND min_size <= $1 AND max_size >= $1",
        )
        .bind(desired)
        .bind(scaled_at)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Changes a group's bounds, desired size, target and simulated load, unless it is being
    /// deleted: whether it did.
    pub(crate) async fn scaling_group_update(&self, group: &ScalingGroupRow) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE scaling_groups SET min_size = $1, max_size = $2, desired = $3, target = $4, sim_cpu = $5 \
             WHERE id = $6 AND tenant_id = $7 AND deleting = 0",
        )
        .bind(group.min_size)
        .bind(group.max_size)
        .bind(group.desired)
        .bind(group.target)
        .bind(group.sim_cpu)
        .bind(&group.id)
        .bind(&group.tenant_id)
        .execute_write(self)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a group as being deleted: no member is wanted any more.
    pub(crate) async fn scaling_group_mark_deleting(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE scaling_groups SET deleting = 1, min_size = 0, desired = 0 WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Deletes a group (its members' rows and events with it).
    pub(crate) async fn scaling_group_delete(&self, tenant_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM scaling_members WHERE group_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM scaling_events WHERE group_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM scaling_groups WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that VM `vm_id` is about to be made as the group's next member: its number; None
    /// when the group is being deleted (or gone).
    pub(crate) async fn scaling_member_insert(
        &self,
        group_id: &str,
        vm_id: &str,
        at: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let counted = sqlx::query(
            "UPDATE scaling_groups SET members_made = members_made + 1 WHERE id = $1 AND deleting = 0",
        )
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
        if counted.rows_affected() != 1 {
            return Ok(None);
        }
        let made: i64 = sqlx::query_scalar("SELECT members_made FROM scaling_groups WHERE id = $1")
            .bind(group_id)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO scaling_members (group_id, vm_id, number, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(group_id)
        .bind(vm_id)
        .bind(made)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(made))
    }

    /// A group's members: `(vm id, joined at)`, oldest (lowest number) first.
    pub(crate) async fn scaling_members(&self, group_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT vm_id, created_at FROM scaling_members WHERE group_id = $1 ORDER BY number")
            .bind(group_id)
            .fetch_all(self.pool())
            .await
    }

    /// Removes a member's row (its VM is gone or going).
    pub(crate) async fn scaling_member_delete(&self, group_id: &str, vm_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM scaling_members WHERE group_id = $1 AND vm_id = $2")
            .bind(group_id)
            .bind(vm_id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Adds an event to a group's history, dropping what is past the last [`EVENTS_KEPT`].
    pub(crate) async fn scaling_event_add(
        tx: &mut Tx,
        group_id: &str,
        at: i64,
        size: i64,
        message: &str,
    ) -> Result<(), sqlx::Error> {
        // The group's counter, not MAX(seq): its row lock orders two writers on PostgreSQL.
        sqlx::query("UPDATE scaling_groups SET events_made = events_made + 1 WHERE id = $1")
            .bind(group_id)
            .execute(&mut **tx)
            .await?;
        let seq: Option<i64> = sqlx::query_scalar("SELECT events_made FROM scaling_groups WHERE id = $1")
            .bind(group_id)
            .fetch_optional(&mut **tx)
            .await?;
        // The group is gone: nothing to tell.
        let Some(seq) = seq else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO scaling_events (group_id, at, seq, size, message) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(group_id)
        .bind(at)
        .bind(seq)
        .bind(size)
        .bind(message)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM scaling_events WHERE group_id = $1 AND seq <= $2")
            .bind(group_id)
            .bind(seq - EVENTS_KEPT)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A group's events, oldest first: `(at, size, message)`.
    pub(crate) async fn scaling_events(
        &self,
        group_id: &str,
    ) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
        sqlx::query_as("SELECT at, size, message FROM scaling_events WHERE group_id = $1 ORDER BY seq")
            .bind(group_id)
            .fetch_all(self.pool())
            .await
    }
}
