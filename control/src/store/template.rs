//! Tenant template rows.

use super::Store;
use super::audit::WriteExt;
use sqlx::Row;

/// A stored tenant template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The built-in template's id it is based on.
    pub base: String,
    /// Cloud-config.
    pub user_data: String,
}

impl Store {
    /// Adds a template; a duplicate name fails on the UNIQUE constraint.
    pub async fn template_insert(
        &self,
        tenant_id: &str,
        t: &TemplateRow,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO templates (id, tenant_id, name, base, user_data, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(tenant_id)
        .bind(&t.name)
        .bind(&t.base)
        .bind(&t.user_data)
        .bind(now)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// The tenant's templates by name.
    pub async fn template_list(&self, tenant_id: &str) -> Result<Vec<TemplateRow>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT id, name, base, user_data FROM templates WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant_id)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| {
                Ok(TemplateRow {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    base: row.try_get("base")?,
                    user_data: row.try_get("user_data")?,
                })
            })
            .collect()
    }

    /// Deletes one of the tenant's templates; false if there is no such template of theirs.
    pub async fn template_delete(&self, tenant_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM templates WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute_write(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl From<TemplateRow> for meridian_core::view::Template {
    fn from(row: TemplateRow) -> Self {
        let base_name = row
            .base
            .parse()
            .ok()
            .and_then(meridian_core::resource::BuiltinTemplate::find)
            .map_or_else(|| row.base.clone(), |b| b.name.to_owned());
        Self {
            id: super::id_of(&row.id),
            name: row.name,
            base: row.base,
            base_name,
            user_data: row.user_data,
        }
    }
}
