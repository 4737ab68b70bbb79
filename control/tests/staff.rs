//! The staff console against a real database: staff accounts apart from tenants, read-only
//! inspection recorded in the tenant's audit log, suspension, capacity, and the job queue's
//! retry and cancel with unwind.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::session_store::StaffAuth;
use meridian_control::testing::{TestDb, as_new_staff, as_user};
use meridian_control::{Actor, Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::resource::{Quota, QuotaForm};
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;

struct World {
    db: TestDb,
    control: Control,
    owner: OpContext,
    tenant: String,
}

async fn world() -> World {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 3));
    let control = Control::new(db.store.clone(), driver).await.unwrap();
    let signup = Signup::parse("Globex Health", "ops@globex.example", "a long enough secret").unwrap();
    let account = control
        .account_signup(&OpContext::anonymous("t"), signup)
        .await
        .unwrap();
    World {
        db,
        control,
        tenant: account.tenant_id.to_string(),
        owner: as_user(&account),
    }
}

impl World {
    /// A staff member of `role`, signed in (optionally inspecting the tenant).
    async fn staff(&self, email: &str, role: &str, inspecting: bool) -> OpContext {
        let (auth, mut ctx) = as_new_staff(&self.control, email, role).await;
        if inspecting {
            let inspection = self
                .control
                .staff_inspect_start(
                    &ctx,
                    self.tenant.parse().unwrap(),
                    "ticket 4411: VM will not boot",
                )
                .await
                .unwrap();
            let auth = StaffAuth {
                inspecting: Some(inspection),
                ..auth
            };
            ctx = OpContext::new(self.control.actor_for_staff_session(&auth).await.unwrap(), "s");
        }
        ctx
    }

    async fn vm(&self, name: &str) -> String {
        let vdc = match self.control.vdc_list(&self.owner).await.unwrap().first() {
            Some(vdc) => vdc.id.clone(),
            None => {
                self.control
                    .vdc_create(&self.owner, "main", "ber1")
                    .await
                    .unwrap()
                    .id
            }
        };
        let create = VmCreate::parse(&VmCreateForm {
            name: name.into(),
            zone: "ber1".into(),
            template: "debian-12".into(),
            size: "s".into(),
            ..VmCreateForm::default()
        })
        .unwrap();
        let started = self.control.vm_create(&self.owner, vdc, create).await.unwrap();
        started.vm_id.to_string()
    }

    async fn audit(&self) -> Vec<(String, String, String, String)> {
        self.control
            .audit_list(&self.owner, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.actor, row.action, row.target, row.result))
            .collect()
    }
}

#[tokio::test]
async fn staff_are_created_apart_from_tenants_and_log_in_on_their_own() {
    let w = world().await;
    let created = w
        .control
        .staff_create("Ana@Meridian.example", "staff secret phrase", "support")
        .await
        .unwrap();
    assert_eq!(created.email, "ana@meridian.example");
    let again = w
        .control
        .staff_create("ana@meridian.example", "staff secret phrase", "admin")
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        Error::Conflict {
            field: Some("email"),
            ..
        }
    ));
    let bad = w.control.staff_create("x", "short", "owner").await.unwrap_err();
    let Error::Invalid(fields) = bad else {
        panic!("{bad:?}")
    };
    assert!(
        fields.get("email").is_some() && fields.get("password").is_some() && fields.get("role").is_some()
    );

    let anon = OpContext::anonymous("t");
    let staff = w
        .control
        .staff_login(&anon, "ana@meridian.example", "staff secret phrase")
        .await
        .unwrap();
    assert_eq!(staff, created);
    assert!(matches!(
        w.control
            .staff_login(&anon, "ana@meridian.example", "wrong")
            .await,
        Err(Error::BadCredentials)
    ));
    // A tenant's password does not open the staff console, nor a staff password the dashboard.
    assert!(matches!(
        w.control
            .staff_login(&anon, "ops@globex.example", "a long enough secret")
            .await,
        Err(Error::BadCredentials)
    ));
    assert!(matches!(
        w.control
            .account_login(&anon, "ana@meridian.example", "staff secret phrase")
            .await,
        Err(Error::BadCredentials)
    ));
    // Tenant users do not see the console at all.
    assert!(matches!(
        w.control.staff_tenants(&w.owner, "", "newest", 0, 0).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.control.capacity_view(&w.owner).await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn an_inspection_reads_the_tenant_refuses_every_change_and_is_in_its_audit_log() {
    let w = world().await;
    let vm = w.vm("db-1").await;
    w.control.job_drain("w").await.unwrap();

    let support = w.staff("sam@meridian.example", "support", false).await;
    // Without an inspection, staff see no tenant's resources.
    assert!(matches!(w.control.vm_list(&support).await, Err(Error::NotFound)));
    let refused = w
        .control
        .staff_inspect_start(&support, w.tenant.parse().unwrap(), "  looking ")
        .await
        .unwrap_err();
    let Error::Invalid(fields) = refused else {
        panic!("{refused:?}")
    };
    assert!(fields.get("reason").is_some());

    let inspector = w.staff("ivy@meridian.example", "support", true).await;
    assert_eq!(w.control.vm_list(&inspector).await.unwrap().len(), 1);
    assert_eq!(
        w.control
            .vm_view(&inspector, vm.parse().unwrap())
            .await
            .unwrap()
            .name,
        "db-1"
    );
    for refusal in [
        w.control
            .vm_stop(&inspector, vm.parse().unwrap())
            .await
            .map(|_| ()),
        w.control.vdc_create(&inspector, "more", "lon1").await.map(|_| ()),
        w.control
            .user_invite(&inspector, "x@globex.example", "member")
            .await
            .map(|_| ()),
        w.control
            .firewall_rule_create(&inspector, rule("ber1", "tcp", "22", "22", "0.0.0.0/0"))
            .await
            .map(|_| ()),
    ] {
        match refusal {
            Err(Error::Forbidden(message)) => assert!(message.contains("read-only"), "{message}"),
            other => panic!("an inspector's change went through: {other:?}"),
        }
    }
    assert_eq!(
        w.control
            .vm_view(&w.owner, vm.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );
    assert_eq!(w.control.vdc_list(&w.owner).await.unwrap().len(), 1);

    let audit = w.audit().await;
    let start = audit
        .iter()
        .find(|(_, action, ..)| action == "support.inspect_start")
        .expect("the inspection is in the tenant's audit log");
    assert_eq!(start.0, "Meridian support ivy@meridian.example");
    assert_eq!(start.2, "ticket 4411: VM will not boot");
    assert!(
        audit
            .iter()
            .any(|(actor, action, _, result)| actor.contains("ivy@")
                && action == "vm.stop"
                && result.starts_with("forbidden"))
    );
}

#[tokio::test]
async fn a_suspended_tenant_is_signed_out_refused_new_resources_and_keeps_its_vms() {
    let w = world().await;
    let vm = w.vm("web-1").await;
    w.control.job_drain("w").await.unwrap();
    let (user_id, ..) = w.owner.user().unwrap();
    assert!(
        w.db.store
            .session_insert("s-1", Some(user_id), "{}", i64::MAX)
            .await
            .unwrap()
    );

    let support = w.staff("sam@meridian.example", "support", false).await;
    assert!(matches!(
        w.control
            .tenant_suspend(
                &support,
                w.tenant.parse().unwrap(),
                "unpaid invoices, ticket 77",
                "Globex Health"
            )
            .await,
        Err(Error::Forbidden(_))
    ));
    let admin = w.staff("ada@meridian.example", "admin", false).await;
    // Every user is logged out: the tenant's name must be typed, or nothing happens.
    let Err(Error::Invalid(fields)) = w
        .control
        .tenant_suspend(
            &admin,
            w.tenant.parse().unwrap(),
            "unpaid invoices, ticket 77",
            "Globex",
        )
        .await
    else {
        panic!("a wrong name is refused on its field")
    };
    assert_eq!(fields.get("confirm_name"), Some("Type Globex Health to confirm."));
    assert_eq!(
        w.control
            .tenant_suspend(
                &admin,
                w.tenant.parse().unwrap(),
                "unpaid invoices, ticket 77",
                "Globex Health"
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(w.db.store.session_load("s-1", 0).await.unwrap(), None);
    assert!(matches!(
        w.control
            .account_login(
                &OpContext::anonymous("t"),
                "ops@globex.example",
                "a long enough secret"
            )
            .await,
        Err(Error::Suspended)
    ));
    assert_eq!(
        w.control.actor_for_session(user_id).await.unwrap(),
        Actor::Anonymous
    );
    // Even a context built before the suspension creates nothing.
    assert!(matches!(
        w.control.vdc_create(&w.owner, "late", "lon1").await,
        Err(Error::Suspended)
    ));
    assert_eq!(w.control.vdc_list(&w.owner).await.unwrap().len(), 1);
    assert_eq!(
        w.control
            .vm_view(&w.owner, vm.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );
    let listed = w
        .control
        .staff_tenants(&admin, "globex", "newest", 0, 0)
        .await
        .unwrap()
        .tenants;
    assert_eq!(listed[0].suspended.as_deref(), Some("unpaid invoices, ticket 77"));

    w.control
        .tenant_unsuspend(&admin, w.tenant.parse().unwrap())
        .await
        .unwrap();
    w.control
        .account_login(
            &OpContext::anonymous("t"),
            "ops@globex.example",
            "a long enough secret",
        )
        .await
        .unwrap();
    let actions: Vec<String> = w.audit().await.into_iter().map(|a| a.1).collect();
    assert!(
        actions.contains(&"tenant.suspend".to_owned()) && actions.contains(&"tenant.unsuspend".to_owned())
    );
}

#[tokio::test]
async fn tenants_are_found_by_name_email_or_id_with_their_totals() {
    let w = world().await;
    w.vm("a-1").await;
    w.control.job_drain("w").await.unwrap();
    let support = w.staff("sam@meridian.example", "support", false).await;
    for query in ["GLOBEX", "ops@globex", w.tenant.as_str(), ""] {
        let found = w
            .control
            .staff_tenants(&support, query, "newest", 0, meridian_control::store::now_ms())
            .await
            .unwrap()
            .tenants;
        assert_eq!(found.len(), 1, "{query}");
        assert_eq!(found[0].name, "Globex Health");
        assert_eq!((found[0].vms, found[0].zones), (1, 1));
        assert_eq!(found[0].owner_email.as_deref(), Some("ops@globex.example"));
    }
    assert!(
        w.control
            .staff_tenants(&support, "initech", "newest", 0, 0)
            .await
            .unwrap()
            .tenants
            .is_empty()
    );
    assert!(
        w.control
            .staff_tenants(&support, "%", "newest", 0, 0)
            .await
            .unwrap()
            .tenants
            .is_empty()
    );
    let detail = w
        .control
        .staff_tenant_view(&support, w.tenant.parse().unwrap(), 0)
        .await
        .unwrap();
    assert_eq!(detail.users.len(), 1);
    assert_eq!(detail.quota.1.vms, 1);
}

#[tokio::test]
async fn capacity_counts_what_the_vms_hold_per_zone() {
    let w = world().await;
    let support = w.staff("sam@meridian.example", "support", false).await;
    let before = w.control.capacity_view(&support).await.unwrap();
    assert_eq!(before.len(), 16, "every zone has hosts");
    w.vm("a-1").await;
    w.control.job_drain("w").await.unwrap();
    let after = w.control.capacity_view(&support).await.unwrap();
    let ber =
        |rows: &[meridian_core::view::ZoneCapacity]| rows.iter().find(|r| r.zone == "ber1").cloned().unwrap();
    let vm = &w.control.vm_list(&w.owner).await.unwrap()[0];
    assert_eq!(ber(&after).vms, 1);
    assert_eq!(ber(&after).vcpus.1 - ber(&before).vcpus.1, vm.vcpus);
    assert_eq!(
        ber(&after).memory_mib.1 - ber(&before).memory_mib.1,
        vm.memory_mib
    );
    assert_eq!(ber(&after).vcpus.0, ber(&before).vcpus.0);
}

#[tokio::test]
async fn an_admin_cancels_a_job_midway_and_it_unwinds_then_retries_it() {
    let w = world().await;
    let vm = w.vm("db-1").await;
    // Three steps in, the admin cancels; the worker stops at the next boundary and undoes them.
    for _ in 0..3 {
        w.control.job_step_one("w").await.unwrap();
    }
    let support = w.staff("sam@meridian.example", "support", false).await;
    let admin = w.staff("ada@meridian.example", "admin", false).await;
    let live = w.control.staff_jobs(&support, "live").await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].vm.1.as_str(), "db-1");
    assert_eq!(live[0].tenant.as_str(), "Globex Health");
    let job = live[0].id.to_string();
    assert!(matches!(
        w.control.staff_job_cancel(&support, job.parse().unwrap()).await,
        Err(Error::Forbidden(_))
    ));
    w.control
        .staff_job_cancel(&admin, job.parse().unwrap())
        .await
        .unwrap();
    assert!(matches!(
        w.control.staff_job_cancel(&admin, job.parse().unwrap()).await,
        Err(Error::Conflict { .. })
    ));
    w.control.job_drain("w").await.unwrap();

    let cancelled = w.control.staff_jobs(&support, "cancelled").await.unwrap();
    assert_eq!(cancelled.len(), 1);
    assert!(
        cancelled[0]
            .error
            .as_deref()
            .unwrap()
            .contains("ada@meridian.example")
    );
    assert!(cancelled[0].step.is_some());
    let row = meridian_control::testing::vm_row(&w.control, &vm).await;
    assert_eq!(row.state, "failed");
    assert_eq!((row.host_id, row.private_ip), (None, None));
    let (_, used) = w.control.quota_view(&w.owner).await.unwrap();
    assert_eq!(used.vms, 0, "the quota reservation was given back");
    assert!(w.control.invariants_check(true).await.unwrap().is_empty());

    // Retried, the create runs again from the start and the VM comes up.
    assert!(matches!(
        w.control.staff_job_retry(&support, job.parse().unwrap()).await,
        Err(Error::Forbidden(_))
    ));
    w.control
        .staff_job_retry(&admin, job.parse().unwrap())
        .await
        .unwrap();
    w.control.job_drain("w").await.unwrap();
    assert_eq!(
        w.control
            .vm_view(&w.owner, vm.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );
    assert!(matches!(
        w.control.staff_job_retry(&admin, job.parse().unwrap()).await,
        Err(Error::Conflict { .. })
    ));
    assert!(w.control.invariants_check(true).await.unwrap().is_empty());
    let actions: Vec<String> = w.audit().await.into_iter().map(|a| a.1).collect();
    assert!(actions.contains(&"job.cancel".to_owned()) && actions.contains(&"job.retry".to_owned()));
}

#[tokio::test]
async fn an_admin_changes_a_quota_but_never_below_what_is_in_use() {
    let w = world().await;
    w.vm("a-1").await;
    w.control.job_drain("w").await.unwrap();
    let admin = w.staff("ada@meridian.example", "admin", false).await;
    let form = |vms: &str| {
        QuotaForm {
            max_vms: vms.into(),
            max_vcpus: "64".into(),
            max_memory_mib: "131072".into(),
            max_public_ips: "4".into(),
        }
        .parse()
        .unwrap()
    };
    let refused = w
        .control
        .staff_quota_set(&admin, w.tenant.parse().unwrap(), form("0"))
        .await
        .unwrap_err();
    let Error::Invalid(fields) = refused else {
        panic!("{refused:?}")
    };
    assert!(fields.get("max_vms").unwrap().contains("1 VMs are in use"));
    w.control
        .staff_quota_set(&admin, w.tenant.parse().unwrap(), form("40"))
        .await
        .unwrap();
    assert_eq!(w.control.quota_view(&w.owner).await.unwrap().0.max_vms, 40);
}

#[tokio::test]
async fn a_destroy_cannot_be_cancelled_and_destroying_a_cancelled_create_ends() {
    let w = world().await;
    let vm = w.vm("db-1").await;
    let support = w.staff("sam@meridian.example", "support", false).await;
    let admin = w.staff("ada@meridian.example", "admin", false).await;
    // A create cancelled half-way leaves a failed VM that holds nothing.
    for _ in 0..3 {
        w.control.job_step_one("w").await.unwrap();
    }
    let create = w.control.staff_jobs(&support, "live").await.unwrap()[0]
        .id
        .to_string();
    w.control
        .staff_job_cancel(&admin, create.parse().unwrap())
        .await
        .unwrap();
    w.control.job_drain("w").await.unwrap();
    assert_eq!(
        w.control
            .vm_view(&w.owner, vm.parse().unwrap())
            .await
            .unwrap()
            .state,
        "failed"
    );
    // Its destroy, past detaching the network, is not cancelled: it runs to its end.
    let destroy = w
        .control
        .vm_destroy(&w.owner, vm.parse().unwrap())
        .await
        .unwrap()
        .job_id
        .to_string();
    for _ in 0..4 {
        w.control.job_step_one("w").await.unwrap();
    }
    let refused = w.control.staff_job_cancel(&admin, destroy.parse().unwrap()).await;
    assert!(
        matches!(&refused, Err(Error::Conflict { message, .. }) if message.contains("destroy")),
        "{refused:?}"
    );
    tokio::time::timeout(std::time::Duration::from_secs(60), w.control.job_drain("w"))
        .await
        .expect("the destroy ends")
        .unwrap();
    assert!(w.control.staff_jobs(&support, "live").await.unwrap().is_empty());
    match w.control.vm_view(&w.owner, vm.parse().unwrap()).await {
        Ok(row) => assert_eq!(row.state, "destroyed"),
        Err(error) => assert!(matches!(error, Error::NotFound), "{error:?}"),
    }
    assert!(w.control.invariants_check(true).await.unwrap().is_empty());
}

#[tokio::test]
async fn staff_actions_by_anyone_else_leave_nothing_in_the_tenants_audit_log() {
    let w = world().await;
    let before = w.audit().await.len();
    let stranger = {
        let signup = Signup::parse("Mallory Ltd", "m@mallory.example", "a long enough secret").unwrap();
        let account = w
            .control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap();
        as_user(&account)
    };
    let fake = "Call support on +1 555 0100 ".repeat(800);
    for ctx in [&stranger, &OpContext::anonymous("anon")] {
        assert!(
            w.control
                .tenant_suspend(ctx, w.tenant.parse().unwrap(), &fake, "Globex Health")
                .await
                .is_err()
        );
        assert!(
            w.control
                .tenant_unsuspend(ctx, w.tenant.parse().unwrap())
                .await
                .is_err()
        );
        // Their free text cannot reach the quota (it is parsed first), so a valid one stands in.
        let quota = Quota::default();
        assert!(
            w.control
                .staff_quota_set(ctx, w.tenant.parse().unwrap(), quota)
                .await
                .is_err()
        );
    }
    assert_eq!(w.audit().await.len(), before, "not the tenant's history");
}

/// A firewall rule for a zone, parsed as every front door parses one.
fn rule(
    zone: &str,
    protocol: &str,
    from: &str,
    to: &str,
    source: &str,
) -> meridian_core::resource::FirewallRuleCreate {
    meridian_core::resource::FirewallRuleCreate::parse(zone, protocol, from, to, source).unwrap()
}

#[tokio::test]
async fn each_backbone_link_says_whose_vms_a_cut_would_slow_and_the_map_names_the_vms() {
    let w = world().await;
    let support = w.staff("sam@meridian.example", "support", false).await;
    let links = w.control.backbone_links_view(&support).await.unwrap();
    assert!(
        links.iter().all(|l| l.tenants_affected == 0 && l.worst.is_none()),
        "no VMs, no impact"
    );
    // Two VMs in London, one in New York, one in Berlin.
    for (name, zone) in [("l-1", "lon1"), ("l-2", "lon1"), ("n-1", "nyc1"), ("b-1", "ber1")] {
        let vdc = match w
            .control
            .vdc_list(&w.owner)
            .await
            .unwrap()
            .iter()
            .find(|v| v.zone == zone)
        {
            Some(vdc) => vdc.id.clone(),
            None => w.control.vdc_create(&w.owner, zone, zone).await.unwrap().id,
        };
        let create = VmCreate::parse(&VmCreateForm {
            name: name.into(),
            zone: zone.into(),
            template: "debian-12".into(),
            size: "xs".into(),
            ..VmCreateForm::default()
        })
        .unwrap();
        w.control.vm_create(&w.owner, vdc, create).await.unwrap();
    }
    w.control.job_drain("w").await.unwrap();
    let links = w.control.backbone_links_view(&support).await.unwrap();
    let link = |key: &str| links.iter().find(|l| l.key == key).unwrap().clone();
    let atlantic = link("lon1-nyc1");
    assert_eq!(atlantic.tenants_affected, 1);
    // London–New York slows: the London and New York VMs, not Berlin's unless its pairs change.
    assert!(atlantic.vms_affected >= 3, "{atlantic:?}");
    let worst = atlantic.worst.expect("a worst pair");
    assert!(worst.contains("→") && worst.contains("ms (+"), "{worst}");
    // A link none of the tenant's routes use changes nothing of theirs.
    let far = links
        .iter()
        .find(|l| l.key.contains("syd1") || l.key.contains("sin1"))
        .unwrap();
    assert_eq!((far.tenants_affected, far.vms_affected), (0, 0), "{far:?}");

    // The tenant's map names its VMs per zone, for the what-if cut's list.
    let map = w.control.map_view(&w.owner).await.unwrap();
    let lon = map.zones.iter().find(|z| z.zone == "lon1").unwrap();
    assert_eq!(lon.names, ["l-1", "l-2"]);
}

/// The staff list of tenants comes a page at a time, newest first or by name, and says whether
/// there is more; a search pages the same way, and an unknown order is refused by field.
#[tokio::test]
async fn the_tenant_list_pages_newest_first_or_by_name() {
    let w = world().await;
    let support = w.staff("sam@meridian.example", "support", false).await;
    let now = meridian_control::store::now_ms();
    // 60 tenants older than Globex Health, a second apart, named out of their order.
    let bare: Vec<(String, i64)> = (0..60)
        .map(|n| (format!("Tenant {:02}", (n * 37) % 60), now - 3_600_000 + n * 1000))
        .collect();
    w.db.tenants_insert_bare(&bare).await;
    let list = |sort: &'static str, page: u32, query: &'static str| {
        let (control, support) = (&w.control, &support);
        async move {
            control
                .staff_tenants(support, query, sort, page, now)
                .await
                .unwrap()
        }
    };

    let first = list("newest", 0, "").await;
    let second = list("newest", 1, "").await;
    assert_eq!((first.tenants.len(), first.more), (50, true));
    assert_eq!((second.tenants.len(), second.more, second.page), (11, false, 1));
    assert_eq!(first.tenants[0].name, "Globex Health", "the newest first");
    let times: Vec<i64> = first
        .tenants
        .iter()
        .chain(&second.tenants)
        .map(|t| t.created_at)
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first across pages"
    );
    let mut ids: Vec<_> = first
        .tenants
        .iter()
        .chain(&second.tenants)
        .map(|t| t.id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 61, "every tenant once");

    let by_name = list("name", 0, "").await;
    let names: Vec<&str> = by_name.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(&names[..3], ["Globex Health", "Tenant 00", "Tenant 01"]);
    assert!(
        names
            .windows(2)
            .all(|w| w[0].to_lowercase() <= w[1].to_lowercase())
    );
    assert_eq!(
        list("name", 1, "").await.tenants.last().unwrap().name,
        "Tenant 59"
    );

    let found = list("name", 0, "tenant 1").await;
    assert_eq!(found.tenants.len(), 10, "Tenant 10 to Tenant 19");
    assert!(!found.more);
    assert!(
        list("newest", 2, "").await.tenants.is_empty(),
        "past the end: an empty page"
    );

    let refused = w
        .control
        .staff_tenants(&support, "", "vms", 0, now)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Invalid(fields) if fields.get("sort").is_some()),
        "{refused:?}"
    );
}
