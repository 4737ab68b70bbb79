//! Throttled attempts (log-in, password change, sign-up): one row per budget each one spent.

use super::Store;
use sqlx::Row;

impl Store {
    /// For each `(budget, since)`, how many attempts the budget holds made after `since` (Unix
    /// ms) and when the oldest of them was made; in one statement, in the order asked.
    pub(crate) async fn login_attempt_counts(
        &self,
        budgets: &[(&str, i64)],
    ) -> Result<Vec<(u64, i64)>, sqlx::Error> {
        if budgets.is_empty() {
            return Ok(Vec::new());
        }
        let sql = (0..budgets.len())
            .map(|i| {
                format!(
                    "SELECT budget, COUNT(*) AS n, COALESCE(MIN(at), 0) AS oldest FROM login_attempts \
                     WHERE budget = ${} AND at > ${} GROUP BY budget",
                    2 * i + 1,
                    2 * i + 2
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut query = sqlx::query(&sql);
        for (budget, since) in budgets {
            query = query.bind(*budget).bind(*since);
        }
        let mut found = std::collections::HashMap::new();
        for row in query.fetch_all(self.pool()).await? {
            let budget: String = row.try_get("budget")?;
            let n: i64 = row.try_get("n")?;
            found.insert(
                budget,
                (u64::try_from(n).unwrap_or(0), row.try_get::<i64, _>("oldest")?),
            );
        }
        // A budget with no attempt has no row.
        Ok(budgets
            .iter()
            .map(|(budget, _)| found.get(*budget).copied().unwrap_or((0, 0)))
            .collect())
    }

    /// Records attempt `attempt_id` at `at` against every one of `budgets`, in one statement.
    /// Not through the audit scope: an attempt is counted whatever becomes of the mutation.
    pub(crate) async fn login_attempt_insert(
        &self,
        attempt_id: &str,
        budgets: &[&str],
        at: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO login_attempts (budget, at, attempt_id) VALUES {}",
            super::values_list(budgets.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for budget in budgets {
            query = query.bind(*budget).bind(at).bind(attempt_id);
        }
        query.execute(&mut *self.writer().await?).await?;
        Ok(())
    }

    /// Takes attempt `attempt_id` back from `budgets` (it was refused, or it succeeded), and
    /// with `clear`, forgets every attempt against that budget too (its owner proved who they
    /// are); in one statement.
    pub(crate) async fn login_attempt_delete(
        &self,
        attempt_id: &str,
        budgets: &[&str],
        clear: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "DELETE FROM login_attempts WHERE (attempt_id = $1 AND budget IN ({})) OR budget = $2",
            super::in_list(3, budgets.len())
        );
        // No budget is the empty string (they are SHA-256 hex), so '' clears nothing.
        let mut query = sqlx::query(&sql).bind(attempt_id).bind(clear.unwrap_or(""));
        for budget in budgets {
            query = query.bind(*budget);
        }
        query.execute(&mut *self.writer().await?).await?;
        Ok(())
    }

    /// Forgets attempts made before `before` (Unix ms); returns how many.
    pub async fn login_attempt_delete_expired(&self, before: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM login_attempts WHERE at < $1")
            .bind(before)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
