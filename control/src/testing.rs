//! Fresh databases for tests, on the engine the test run asks for.
//!
//! `MERIDIAN_TEST_DATABASE_URL` selects it: unset or `sqlite:` gives a new SQLite file in a temp
//! directory; a `postgres://` URL to a server gives a new, uniquely named database on it. The test
//! command runs the whole suite once per engine.

use crate::store::{Backend, Store};
use sqlx::Connection;

/// A migrated store on a database no other test uses. Keep it alive for the test's duration.
pub struct TestDb {
    /// The store over the fresh database.
    pub store: Store,
    /// Its URL, for tests that start a server process on it.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates and migrates a fresh database.
    ///
    /// # Panics
    /// When the database cannot be created: a test cannot run without one.
    pub async fn fresh() -> Self {
        let requested = std::env::var("MERIDIAN_TEST_DATABASE_URL").unwrap_or_default();
        let (url, dir) = match Backend::from_url(&requested) {
            Ok(Backend::Postgres) => (postgres_database(&requested).await, None),
            _ => {
                let dir = tempfile::tempdir().expect("temp dir for a test database");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, Some(dir))
            }
        };
        let store = Store::connect(&url).await.expect("connect to the test database");
        store.migrate().await.expect("migrate the test database");
        Self {
            store,
            url,
            _dir: dir,
        }
    }
}

async fn postgres_database(server_url: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("meridian_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(server_url)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    admin.close().await.ok();
    let (base, _) = server_url
        .rsplit_once('/')
        .expect("a PostgreSQL URL ends with /DATABASE");
    format!("{base}/{name}")
}

/// The context of the user an account belongs to, as a server would build it after log-in.
pub fn as_user(account: &crate::account::Account) -> crate::OpContext {
    crate::OpContext::new(
        crate::Actor::User {
            user_id: account.user_id,
            tenant_id: account.tenant_id,
            role: account.role,
        },
        "test",
    )
}

/// A new staff member of `role` (`support`, `admin`), signed in: their session's auth and context.
///
/// # Panics
/// When the control plane refuses: a test cannot go on.
pub async fn as_new_staff(
    control: &crate::Control,
    email: &str,
    role: &str,
) -> (crate::session_store::StaffAuth, crate::OpContext) {
    let staff = control
        .staff_create(email, "staff secret phrase", role)
        .await
        .expect("staff account made");
    let auth = crate::session_store::StaffAuth {
        staff_id: staff.id,
        signed_in_at: 0,
        inspecting: None,
    };
    let actor = control.actor_for_staff_session(&auth).await.expect("staff actor");
    (auth, crate::OpContext::new(actor, "s"))
}

impl TestDb {
    /// Tenants with nothing in them but a name and a sign-up time, as `(name, created_at)`: the
    /// staff list's paging and sorting need many, and a sign-up each would hash a password each.
    ///
    /// # Panics
    /// When the database refuses: a test cannot go on.
    pub async fn tenants_insert_bare(&self, tenants: &[(String, i64)]) {
        let mut writer = self.store.writer().await.expect("writer");
        for (name, created_at) in tenants {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(name)
                .bind(created_at)
                .execute(&mut *writer)
                .await
                .expect("tenant inserted");
        }
    }

    /// Seeds a fleet for scale benchmarks the way the control plane leaves it, many rows to a
    /// statement: `tenants` tenants, each with a VDC and subnet in Frankfurt and New York and
    /// `vms_per_tenant` running VMs (size xs) spread over the two, metered since `metered_since`.
    /// Returns the tenants' ids.
    ///
    /// # Panics
    /// When the database refuses: a benchmark cannot go on.
    pub async fn seed_fleet(&self, tenants: usize, vms_per_tenant: usize, metered_since: i64) -> Vec<String> {
        let now = crate::store::now_ms();
        let ids: Vec<String> = (0..tenants).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let zones = ["fra1", "nyc1"];
        let mut tenant_rows = Vec::new();
        let mut vdc_rows = Vec::new();
        let mut subnet_rows = Vec::new();
        let mut vm_rows = Vec::new();
        for (t, tenant) in ids.iter().enumerate() {
            tenant_rows.push(vec![tenant.clone(), format!("Fleet {t:05}")]);
            let mut vdcs = Vec::new();
            for (z, zone) in zones.iter().enumerate() {
                let vdc = uuid::Uuid::new_v4().to_string();
                vdc_rows.push(vec![
                    vdc.clone(),
                    tenant.clone(),
                    format!("{zone}-main"),
                    (*zone).to_owned(),
                ]);
                subnet_rows.push(vec![tenant.clone(), (*zone).to_owned(), format!("10.0.{z}.0/24")]);
                vdcs.push(vdc);
            }
            for n in 0..vms_per_tenant {
                let z = n % zones.len();
                vm_rows.push(vec![
                    uuid::Uuid::new_v4().to_string(),
                    tenant.clone(),
                    vdcs[z].clone(),
                    format!("node-{n}"),
                    zones[z].to_owned(),
                    format!("10.0.{z}.{}", 10 + n / zones.len()),
                ]);
            }
        }
        let mut writer = self.store.writer().await.expect("writer");
        let tables = [
            (
                "INSERT INTO tenants (id, name, created_at) VALUES ",
                &tenant_rows,
                "$T",
            ),
            (
                "INSERT INTO vdcs (id, tenant_id, name, zone, created_at) VALUES ",
                &vdc_rows,
                "$T",
            ),
            (
                "INSERT INTO subnets (tenant_id, zone, cidr, created_at) VALUES ",
                &subnet_rows,
                "$T",
            ),
            (
                "INSERT INTO vms (id, tenant_id, vdc_id, name, zone, private_ip, template, vcpus, memory_mib, \
                 disk_gib, state, breakout, dedicated, quota_reserved, image, metered_until, created_at, updated_at) VALUES ",
                &vm_rows,
                "'debian-12', 1, 512, 10, 'running', 0, 0, 1, 'debian-12', $M, $T, $T",
            ),
        ];
        for (insert, rows, fixed) in tables {
            let columns = rows.first().map_or(0, Vec::len);
            for chunk in rows.chunks(crate::store::MAX_BINDS / columns.max(1)) {
                let mut sql = String::from(insert);
                let mut n = 0;
                for (i, _) in chunk.iter().enumerate() {
                    let binds: Vec<String> = (0..columns)
                        .map(|_| {
                            n += 1;
                            format!("${n}")
                        })
                        .collect();
                    let fixed = fixed
                        .replace("$T", &now.to_string())
                        .replace("$M", &metered_since.to_string());
                    sql.push_str(&format!(
                        "{}({}, {fixed})",
                        if i > 0 { ", " } else { "" },
                        binds.join(", ")
                    ));
                }
                let mut query = sqlx::query(&sql);
                for row in chunk {
                    for value in row {
                        query = query.bind(value);
                    }
                }
                query.execute(&mut *writer).await.expect("fleet seeded");
            }
        }
        ids
    }

    /// Starts metering `vm` (every VM, with None) at `at`, stops metering the others and forgets
    /// the usage recorded so far, so a test controls every metered second.
    ///
    /// # Panics
    /// When the database refuses: a test cannot go on.
    pub async fn meter_from(&self, vm: Option<&str>, at: i64) {
        let sql = match vm {
            Some(_) => "UPDATE vms SET metered_until = CASE WHEN id = $1 THEN $2 ELSE NULL END",
            None => "UPDATE vms SET metered_until = $2 WHERE $1 = ''",
        };
        sqlx::query(sql)
            .bind(vm.unwrap_or(""))
            .bind(at)
            .execute(&mut *self.store.writer().await.expect("writer"))
            .await
            .expect("metering clock set");
        for table in ["usage_records", "usage_days"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *self.store.writer().await.expect("writer"))
                .await
                .expect("usage forgotten");
        }
    }
}

/// A VM's stored row, whoever's it is: what tests check that no view shows (its host, its
/// image, a resize's pending size).
///
/// # Panics
/// When the database fails or there is no such VM.
#[cfg(feature = "testing")]
pub async fn vm_row(control: &crate::Control, vm_id: impl std::fmt::Display) -> crate::store::vm::VmRow {
    let mut rows = control
        .store()
        .vm_by_ids(&[vm_id.to_string()])
        .await
        .expect("read the VM row");
    rows.pop().expect("the VM row exists")
}

/// A stack's stored row in its tenant: the VDCs it made, which no view shows.
///
/// # Panics
/// When the database fails or there is no such stack.
#[cfg(feature = "testing")]
pub async fn stack_row(
    control: &crate::Control,
    tenant: impl std::fmt::Display,
    stack_id: impl std::fmt::Display,
) -> crate::store::stack::StackRow {
    control
        .store()
        .stack_get(&tenant.to_string(), &stack_id.to_string())
        .await
        .expect("read the stack row")
        .expect("the stack row exists")
}
