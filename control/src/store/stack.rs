//! Stack rows.

use super::audit::WriteExt;
use super::{Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stack as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    /// Stack id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// Name, also the prefix of its VMs' names.
    pub name: String,
    /// The stack template's slug.
    pub template: String,
    /// `deploying`, `ready`, `failed`, `deleting` or `deleted`.
    pub state: String,
    /// Created (Unix ms): when the stopwatch starts.
    pub created_at: i64,
    /// When its last VM came up (Unix ms): the measured spin-up ends here.
    pub ready_at: Option<i64>,
    /// The VDCs it created, to remove with it.
    pub made_vdcs: Vec<String>,
}

fn stack_from_row(row: &AnyRow) -> Result<StackRow, sqlx::Error> {
    let made: String = row.try_get("made_vdcs")?;
    Ok(StackRow {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        template: row.try_get("template")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
        ready_at: row.try_get("ready_at")?,
        made_vdcs: made.split_whitespace().map(str::to_owned).collect(),
    })
}

impl Store {
    /// Inserts a stack inside the transaction that accepts its VMs.
    pub(crate) async fn stack_insert(tx: &mut Tx, stack: &StackRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO stacks (id, tenant_id, name, template, state, created_at, made_vdcs) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&stack.id)
        .bind(&stack.tenant_id)
        .bind(&stack.name)
        .bind(&stack.template)
        .bind(&stack.state)
        .bind(stack.created_at)
        .bind(stack.made_vdcs.join(" "))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The tenant's stacks that are not deleted, newest first.
    pub async fn stack_list(&self, tenant_id: &str) -> Result<Vec<StackRow>, sqlx::Error> {
        sqlx::query(
            "SELECT * FROM stacks WHERE tenant_id = $1 AND state <> 'deleted' ORDER BY created_at DESC",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(stack_from_row)
        .collect()
    }

    /// One of the tenant's stacks (deleted ones included, for their history).
    pub async fn stack_get(&self, tenant_id: &str, id: &str) -> Result<Option<StackRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM stacks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(stack_from_row)
            .transpose()
    }

    /// Moves a stack from `from` to `to` (recording `ready_at` if given); false if it was not in
    /// `from` any more.
    pub async fn stack_set_state(
        &self,
        id: &str,
        from: &str,
        to: &str,
        ready_at: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE stacks SET state = $1, ready_at = COALESCE($2, ready_at) WHERE id = $3 AND state = $4",
        )
        .bind(to)
        .bind(ready_at)
        .bind(id)
        .bind(from)
        .execute_write(self)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The stack's VMs, destroyed ones included.
    pub async fn stack_vms(&self, stack_id: &str) -> Result<Vec<super::vm::VmRow>, sqlx::Error> {
        let mut tx = self.begin_read().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM vms WHERE stack_id = $1 ORDER BY name")
            .bind(stack_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut vms = Self::vm_by_ids_tx(&mut tx, &ids).await?;
        tx.commit().await?;
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(vms)
    }

    /// Deletes a VDC a stack made, with the records of the stack's destroyed VMs in it and their
    /// jobs, if nothing else is left in it; false (nothing deleted) otherwise. Usage and the audit
    /// log keep the history; anything else in the VDC (the tenant's own VMs, destroyed or not)
    /// keeps the VDC.
    pub async fn vdc_delete_if_empty(
        &self,
        tenant_id: &str,
        stack_id: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM vms WHERE vdc_id = $1 AND tenant_id = $2 \
             AND (stack_id IS NULL OR stack_id <> $3 OR state <> 'destroyed')",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(stack_id)
        .fetch_one(&mut *tx)
        .await?;
        if others > 0 {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM jobs WHERE target_id IN (SELECT id FROM vms WHERE vdc_id = $1 AND tenant_id = $2 AND stack_id = $3)",
            "DELETE FROM vms WHERE vdc_id = $1 AND tenant_id = $2 AND stack_id = $3",
        ] {
            sqlx::query(sql)
                .bind(id)
                .bind(tenant_id)
                .bind(stack_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM vdcs WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl From<StackRow> for meridian_core::view::Stack {
    fn from(row: StackRow) -> Self {
        Self {
            id: super::id_of(&row.id),
            name: row.name,
            template: row.template,
            state: row.state,
            created_at: row.created_at,
            ready_at: row.ready_at,
        }
    }
}
