//! Sales demo mode: a believable demo tenant (VDCs in Europe, the US and Asia, running VMs, a
//! breakout, weeks of traffic and billing history), one-click log-in, and a reset that puts it
//! back in seconds without touching anyone else. Off unless the server runs with `--demo`.

use crate::account::Account;
use crate::context::OpContext;
use crate::metering::HOUR_MS;
use crate::{Actor, Control, Error};
use meridian_core::resource::{VmCreate, VmCreateForm};
use meridian_core::{Email, Signup};

/// The demo tenant's owner.
pub const DEMO_EMAIL: &str = "demo@northwind.example";

/// The demo tenant's name.
pub const DEMO_TENANT: &str = "Northwind Traders (demo)";

/// How far back the demo's traffic and billing history reaches.
const HISTORY_DAYS: i64 = 14;

/// The demo's VDCs: `(name, zone)`.
const VDCS: [(&str, &str); 4] = [
    ("london", "lon1"),
    ("frankfurt", "fra1"),
    ("new-york", "nyc1"),
    ("hong-kong", "hkg1"),
];

/// The demo's VMs: `(name, zone, size, breakout)`.
const VMS: [(&str, &str, &str, bool); 6] = [
    ("web-lon-1", "lon1", "s", true),
    ("api-fra-1", "fra1", "s", false),
    ("db-fra-1", "fra1", "m", false),
    ("web-nyc-1", "nyc1", "s", true),
    ("api-nyc-1", "nyc1", "xs", false),
    ("cache-hkg-1", "hkg1", "xs", false),
];

impl Control {
    /// Turns demo mode on (the server's `--demo`).
    pub fn with_demo(mut self, on: bool) -> Self {
        self.demo = on;
        self
    }

    /// Whether demo mode is on.
    pub fn demo_enabled(&self) -> bool {
        self.demo
    }

    /// Whether this account is the demo tenant's (and demo mode is on).
    pub fn account_is_demo(&self, account: &Account) -> bool {
        self.demo && account.email == DEMO_EMAIL
    }

    /// Creates the demo tenant unless it exists: VDCs, VMs (provisioned by the workers like any
    /// other), a firewall rule and a bandwidth alert. Returns whether it created it.
    pub async fn demo_seed(&self) -> Result<bool, Error> {
        let email = Email::parse(DEMO_EMAIL).map_err(Error::internal)?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Ok(false);
        }
        // Nobody logs in with this password: the demo is entered with one click.
        let secret = format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let signup = Signup::parse(DEMO_TENANT, DEMO_EMAIL, &secret).map_err(Error::Invalid)?;
        let account = self
            .account_signup(&OpContext::anonymous("demo-seed"), signup)
            .await?;
        let ctx = OpContext::new(
            Actor::User {
                user_id: account.user_id,
                tenant_id: account.tenant_id,
                role: account.role,
            },
            "demo-seed".to_owned(),
        );
        let mut vdcs = Vec::new();
        for (name, zone) in VDCS {
            vdcs.push(self.vdc_create(&ctx, name, zone).await?);
        }
        let mut creates = Vec::new();
        for (name, zone, size, breakout) in VMS {
            let vdc = vdcs
                .iter()
                .find(|v| v.zone == zone)
                .ok_or_else(|| Error::internal("demo VDC"))?;
            let form = VmCreateForm {
                name: name.to_owned(),
                zone: zone.to_owned(),
                template: if name.starts_with("db") {
                    "debian-12"
                } else {
                    "coreos-docker"
                }
                .to_owned(),
                size: size.to_owned(),
                breakout: if breakout { "on".into() } else { String::new() },
                ..VmCreateForm::default()
            };
            creates.push((vdc.id.clone(), VmCreate::parse(&form).map_err(Error::Invalid)?));
        }
        self.vm_create_many(&ctx, creates).await?;
        let https =
            meridian_core::resource::FirewallRuleCreate::parse("lon1", "tcp", "443", "443", "0.0.0.0/0")
                .map_err(Error::Invalid)?;
        self.firewall_rule_create(&ctx, https).await?;
        self.bandwidth_alert_set(&ctx, Some(80)).await?;
        tracing::info!(tenant.id = %account.tenant_id, "demo tenant seeded");
        Ok(true)
    }

    /// Gives the seeded demo its history once its VMs run: metering as if they had run for the
    /// last two weeks (traffic for the bandwidth page, hours for billing; all simulated), and a
    /// day of latency probes for the map's charts. Waits up to `patience_ms` for the VMs.
    pub async fn demo_history(&self, now: impl Fn() -> i64, patience_ms: u64) -> Result<(), Error> {
        let email = Email::parse(DEMO_EMAIL).map_err(Error::internal)?;
        let Some(user) = self.store.user_by_email(&email).await? else {
            return Ok(());
        };
        let tenant = user.tenant_id.to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(patience_ms);
        loop {
            let vms = self.store.vm_list(&tenant).await?;
            if !vms.is_empty() && vms.iter().all(|vm| vm.state == "running") {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::internal("the demo's VMs did not come up in time"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let start = now();
        self.store
            .vm_backdate_metering(&tenant, start - HISTORY_DAYS * 24 * HOUR_MS)
            .await?;
        // A day at a time: each VM's day is one short transaction, so job claims and clicks never
        // wait long behind the backfill. The last hour a minute at a time, as the meter runs: the
        // VMs' graphs have their minutes.
        for days_ago in (1..HISTORY_DAYS).rev() {
            self.meter_tick(start - days_ago * 24 * HOUR_MS).await?;
        }
        self.meter_tick(start - HOUR_MS).await?;
        for minutes_ago in (0..60).rev() {
            self.meter_tick(start - minutes_ago * 60_000).await?;
        }
        // The last hour every 10 s (as the prober runs), the day before every minute.
        let mut rounds: Vec<i64> = (1..=360).map(|n| start - n * 10_000).collect();
        rounds.extend((61..=24 * 60).map(|n| start - n * 60_000));
        rounds.sort_unstable();
        for at in rounds {
            self.probe_tick(at).await?;
        }
        Ok(())
    }

    /// One-click log-in to the demo tenant; not found unless demo mode is on.
    pub async fn demo_login(&self, ctx: &OpContext) -> Result<Account, Error> {
        if !self.demo {
            return Err(Error::NotFound);
        }
        let email = Email::parse(DEMO_EMAIL).map_err(Error::internal)?;
        let user = match self.store.user_by_email(&email).await? {
            Some(user) => user,
            None => {
                self.demo_seed().await?;
                self.store.user_by_email(&email).await?.ok_or(Error::NotFound)?
            }
        };
        let account = self.account_of(user).await?;
        self.audit_record(ctx, account.tenant_id, "demo.login", DEMO_EMAIL, None)
            .await;
        Ok(account)
    }

    /// Puts the demo tenant back to its seeded state: everything it has is removed (its hosts'
    /// capacity given back) and it is seeded again. Only for the demo tenant, in demo mode.
    pub async fn demo_reset(&self, ctx: &OpContext) -> Result<Account, Error> {
        let (_, tenant, _) = ctx.user()?;
        let current = self.account_view(ctx).await?;
        if !self.account_is_demo(&current) {
            return Err(Error::NotFound);
        }
        if !self.store.tenant_wipe(&tenant.to_string()).await? {
            return Err(Error::Conflict {
                field: None,
                message: "Operations are still running in the demo; reset it once they have finished.".into(),
            });
        }
        self.demo_seed().await?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(error) = this.demo_history(crate::store::now_ms, 600_000).await {
                tracing::warn!(error = ?error, "demo history not written after reset");
            }
        });
        let email = Email::parse(DEMO_EMAIL).map_err(Error::internal)?;
        let user = self.store.user_by_email(&email).await?.ok_or(Error::NotFound)?;
        let account = self.account_of(user).await?;
        self.audit_record(ctx, account.tenant_id, "demo.reset", DEMO_TENANT, None)
            .await;
        Ok(account)
    }
}
