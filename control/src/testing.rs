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
        for table in [
            "usage_records",
            "usage_days",
            "usage_months",
            "traffic_zone_hours",
        ] {
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

/// A value of a seeded row.
enum Seed {
    Text(String),
    Int(i64),
    /// A number column left empty.
    NoInt,
}

impl From<String> for Seed {
    fn from(text: String) -> Self {
        Seed::Text(text)
    }
}

impl From<&str> for Seed {
    fn from(text: &str) -> Self {
        Seed::Text(text.to_owned())
    }
}

impl From<i64> for Seed {
    fn from(n: i64) -> Self {
        Seed::Int(n)
    }
}

/// Inserts `rows` with `insert` (`INSERT INTO t (a, b) VALUES`), then `tail` (an `ON CONFLICT`
/// clause, or nothing), many rows to a statement.
async fn insert_rows(
    store: &Store,
    insert: &str,
    tail: &str,
    rows: Vec<Vec<Seed>>,
) -> Result<(), sqlx::Error> {
    let columns = rows.first().map_or(1, Vec::len);
    let mut writer = store.writer().await?;
    for chunk in rows.chunks(crate::store::MAX_BINDS / columns) {
        let sql = format!(
            "{insert} {} {tail}",
            crate::store::Marks::of_backend(store.backend()).values(1, chunk.len(), columns)
        );
        let mut query = sqlx::query(&sql);
        for value in chunk.iter().flatten() {
            query = match value {
                Seed::Text(text) => query.bind(text.as_str()),
                Seed::Int(n) => query.bind(*n),
                Seed::NoInt => query.bind(None::<i64>),
            };
        }
        query.execute(&mut *writer).await?;
    }
    Ok(())
}

/// Seeds a fleet for scale benchmarks the way the control plane leaves one, many rows to a
/// statement: `tenants` tenants ("Fleet 00000", …), each with a VDC and subnet in Frankfurt and
/// New York and `vms_per_tenant` running VMs (size xs) spread over the two, metered from
/// `metered_since` (None: not metered). Returns the tenants' ids.
///
/// # Errors
/// When the database refuses.
pub async fn seed_fleet(
    store: &Store,
    tenants: usize,
    vms_per_tenant: usize,
    metered_since: Option<i64>,
) -> Result<Vec<String>, sqlx::Error> {
    let now = crate::store::now_ms();
    let ids: Vec<String> = (0..tenants).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let zones = ["fra1", "nyc1"];
    let (mut tenant_rows, mut vdc_rows, mut subnet_rows, mut vm_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, tenant) in ids.iter().enumerate() {
        // Tenants a few seconds apart, oldest first, as sign-ups arrive.
        let created = now - i64::try_from(tenants - t).unwrap_or(0) * 1_000;
        tenant_rows.push(vec![
            tenant.as_str().into(),
            format!("Fleet {t:05}").into(),
            created.into(),
        ]);
        let mut vdcs = Vec::new();
        for (z, zone) in zones.iter().enumerate() {
            let vdc = uuid::Uuid::new_v4().to_string();
            vdc_rows.push(vec![
                vdc.as_str().into(),
                tenant.as_str().into(),
                format!("{zone}-main").into(),
                (*zone).into(),
                created.into(),
            ]);
            subnet_rows.push(vec![
                tenant.as_str().into(),
                (*zone).into(),
                format!("10.0.{z}.0/24").into(),
                created.into(),
            ]);
            vdcs.push(vdc);
        }
        for n in 0..vms_per_tenant {
            let z = n % zones.len();
            vm_rows.push(vec![
                uuid::Uuid::new_v4().to_string().into(),
                tenant.as_str().into(),
                vdcs[z].as_str().into(),
                format!("node-{n}").into(),
                zones[z].into(),
                format!("10.0.{z}.{}", 10 + n / zones.len()).into(),
                "debian-12".into(),
                "debian-12".into(),
                1_i64.into(),
                512_i64.into(),
                10_i64.into(),
                "running".into(),
                0_i64.into(),
                0_i64.into(),
                1_i64.into(),
                metered_since.map_or(Seed::NoInt, Seed::Int),
                created.into(),
                created.into(),
            ]);
        }
    }
    insert_rows(
        store,
        "INSERT INTO tenants (id, name, created_at) VALUES",
        "",
        tenant_rows,
    )
    .await?;
    insert_rows(
        store,
        "INSERT INTO vdcs (id, tenant_id, name, zone, created_at) VALUES",
        "",
        vdc_rows,
    )
    .await?;
    insert_rows(
        store,
        "INSERT INTO subnets (tenant_id, zone, cidr, created_at) VALUES",
        "",
        subnet_rows,
    )
    .await?;
    insert_rows(
        store,
        "INSERT INTO vms (id, tenant_id, vdc_id, name, zone, private_ip, template, image, vcpus, memory_mib, \
         disk_gib, state, breakout, dedicated, quota_reserved, metered_until, created_at, updated_at) VALUES",
        "",
        vm_rows,
    )
    .await?;
    Ok(ids)
}

/// Seeds a month of history for `tenant_id` as the control plane would have written it: every
/// hour of the last `days` days before the current hour metered for each of its VMs (compute,
/// disk, backbone and internet bytes, with the daily sums), `jobs` finished jobs on its VMs and
/// `audit` audit entries.
///
/// # Errors
/// When the database refuses.
pub async fn seed_history(
    store: &Store,
    tenant_id: &str,
    days: i64,
    jobs: usize,
    audit: usize,
) -> Result<(), sqlx::Error> {
    const HOUR: i64 = 3_600_000;
    let now = crate::store::now_ms();
    let vms = store.vm_list(tenant_id).await?;
    let this_hour = now - now.rem_euclid(HOUR);
    // Written as metering writes it, with its daily and monthly sums and traffic per zone.
    let mut writes = crate::store::meter::MeterWrites::default();
    for hour in (1..=days * 24).map(|h| this_hour - h * HOUR) {
        for (n, vm) in vms.iter().enumerate() {
            let size = format!("{}/{}/{}", vm.vcpus, vm.memory_mib, vm.disk_gib);
            let bytes = 1_000_000 + i64::try_from(n).unwrap_or(0) * 7_919 + hour / HOUR % 1_000 * 1_013;
            for (kind, size, quantity) in [
                ("vm_seconds", size.as_str(), 3_600),
                ("disk_gib_seconds", "", vm.disk_gib * 3_600),
                ("bytes_backbone", "", bytes),
                ("bytes_internet", "", bytes / 3),
            ] {
                writes.usage_add(
                    tenant_id,
                    meridian_core::view::MeteredHour {
                        hour_start: hour,
                        kind: kind.to_owned(),
                        resource_id: vm.id.clone(),
                        size: size.to_owned(),
                        zone: vm.zone.clone(),
                        quantity,
                    },
                );
            }
        }
    }
    let mut tx = store.begin_write().await?;
    crate::store::Store::meter_write(&mut tx, &writes).await?;
    tx.commit().await?;
    let span = days * 24 * HOUR;
    let step = |i: usize, of: usize| {
        now - span + span * i64::try_from(i).unwrap_or(0) / i64::try_from(of.max(1)).unwrap_or(1)
    };
    let job_rows = (0..jobs)
        .map(|i| {
            let at = step(i, jobs);
            let vm = &vms[i % vms.len().max(1)];
            vec![
                uuid::Uuid::new_v4().to_string().into(),
                tenant_id.into(),
                if i % 2 == 0 { "vm_stop" } else { "vm_start" }.into(),
                vm.id.as_str().into(),
                "succeeded".into(),
                2_i64.into(),
                at.into(),
                (at + 2_000).into(),
                (at + 2_000).into(),
            ]
        })
        .collect();
    insert_rows(
        store,
        "INSERT INTO jobs (id, tenant_id, kind, target_id, state, step, created_at, updated_at, finished_at) VALUES",
        "",
        job_rows,
    )
    .await?;
    let first_seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(store.pool())
            .await?;
    let audit_rows = (0..audit)
        .map(|i| {
            let vm = &vms[i % vms.len().max(1)];
            vec![
                uuid::Uuid::new_v4().to_string().into(),
                tenant_id.into(),
                (first_seq + 1 + i64::try_from(i).unwrap_or(0)).into(),
                step(i, audit).into(),
                "seeded@fleet.example".into(),
                if i % 2 == 0 { "vm.stop" } else { "vm.start" }.into(),
                vm.id.as_str().into(),
                "ok".into(),
                "127.0.0.1".into(),
                format!("seed-{i}").into(),
            ]
        })
        .collect();
    insert_rows(
        store,
        "INSERT INTO audit_log (id, tenant_id, seq, at, actor, action, target, result, client, request_id) VALUES",
        "",
        audit_rows,
    )
    .await
}
