//! Account actions against a real database (SQLite, or PostgreSQL when the test run selects it).

use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Control, Error, OpContext};
use meridian_core::Signup;

fn anon() -> OpContext {
    OpContext::anonymous("test")
}

async fn setup() -> (TestDb, Control) {
    let db = TestDb::fresh().await;
    let driver = std::sync::Arc::new(meridian_control::driver::simulated::SimulatedDriver::new(
        meridian_control::driver::simulated::SimTiming::instant(),
        1,
    ));
    let control = Control::new(db.store.clone(), driver).await.unwrap();
    (db, control)
}

fn signup(tenant: &str, email: &str) -> Signup {
    Signup::parse(tenant, email, "a long enough secret").unwrap()
}

#[tokio::test]
async fn signup_creates_an_owner_who_can_log_in() {
    let (_db, control) = setup().await;
    let account = control
        .account_signup(&anon(), signup("Acme", "Ops@Acme.io"))
        .await
        .unwrap();
    assert_eq!(account.tenant_name, "Acme");
    assert_eq!(account.email, "ops@acme.io");
    assert_eq!(account.role, meridian_core::Role::Owner);

    let logged_in = control
        .account_login(&anon(), "ops@acme.io", "a long enough secret")
        .await
        .unwrap();
    assert_eq!(logged_in, account);
    assert_eq!(control.account_view(&as_user(&account)).await.unwrap(), account);
}

#[tokio::test]
async fn duplicate_email_is_refused_and_creates_no_tenant() {
    let (db, control) = setup().await;
    control
        .account_signup(&anon(), signup("Acme", "ops@acme.io"))
        .await
        .unwrap();
    let error = control
        .account_signup(&anon(), signup("Other", "OPS@acme.io"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Conflict {
                field: Some("email"),
                ..
            }
        ),
        "{error:?}"
    );
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(&db_pool(&db).await)
        .await
        .unwrap();
    assert_eq!(tenants, 1, "the failed sign-up must not leave a tenant behind");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_the_same_way() {
    let (_db, control) = setup().await;
    control
        .account_signup(&anon(), signup("Acme", "ops@acme.io"))
        .await
        .unwrap();
    let wrong = control
        .account_login(&anon(), "ops@acme.io", "not the secret at all")
        .await
        .unwrap_err();
    let unknown = control
        .account_login(&anon(), "who@acme.io", "a long enough secret")
        .await
        .unwrap_err();
    let garbage = control
        .account_login(&anon(), "not an email", "x")
        .await
        .unwrap_err();
    for error in [wrong, unknown, garbage] {
        assert!(matches!(error, Error::BadCredentials), "{error:?}");
        assert_eq!(error.to_string(), "Wrong e-mail or password.");
    }
}

#[tokio::test]
async fn password_change_checks_the_current_password_and_ends_other_sessions() {
    let (db, control) = setup().await;
    let account = control
        .account_signup(&anon(), signup("Acme", "ops@acme.io"))
        .await
        .unwrap();
    let ctx = as_user(&account);
    let far = meridian_control::store::now_ms() + 3_600_000;
    let uid = Some(account.user_id);
    assert!(db.store.session_insert("mine", uid, "{}", far).await.unwrap());
    assert!(db.store.session_insert("laptop", uid, "{}", far).await.unwrap());

    let error = control
        .account_password_change(&ctx, "wrong current pw", "short", Some("mine"), true)
        .await
        .unwrap_err();
    let Error::Invalid(fields) = error else {
        panic!("expected field errors")
    };
    assert!(fields.get("current_password").is_some() && fields.get("new_password").is_some());
    assert!(
        control
            .account_login(&anon(), "ops@acme.io", "a long enough secret")
            .await
            .is_ok()
    );

    control
        .account_password_change(
            &ctx,
            "a long enough secret",
            "an even longer new secret",
            Some("mine"),
            false,
        )
        .await
        .unwrap();
    assert!(
        control
            .account_login(&anon(), "ops@acme.io", "a long enough secret")
            .await
            .is_err()
    );
    assert!(
        control
            .account_login(&anon(), "ops@acme.io", "an even longer new secret")
            .await
            .is_ok()
    );
    let now = meridian_control::store::now_ms();
    assert_eq!(
        db.store
            .session_count_for_user(account.user_id, now)
            .await
            .unwrap(),
        1
    );
    assert!(db.store.session_load("mine", now).await.unwrap().is_some());
}

#[tokio::test]
async fn anonymous_cannot_view_an_account() {
    let (_db, control) = setup().await;
    assert!(matches!(
        control.account_view(&anon()).await,
        Err(Error::Unauthenticated)
    ));
}

async fn db_pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

#[tokio::test]
async fn an_idempotency_key_is_claimed_once_replays_its_answer_and_is_forgotten_after_a_day() {
    use meridian_control::store::idempotency::{IDEMPOTENCY_KEEP_MS, IdempotencyClaim};
    let (db, control) = setup().await;
    let account = control
        .account_signup(&anon(), signup("Retry Co", "ops@retry.io"))
        .await
        .unwrap();
    let ctx = as_user(&account);
    let tenant = account.tenant_id.to_string();

    // Many requests racing with one key: exactly one runs, the others are told it is in flight.
    let claims: Vec<IdempotencyClaim> = futures_util::future::join_all((0..12).map(|_| {
        let control = control.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            control
                .idempotency_claim(&ctx, "key-1", "POST /vms a")
                .await
                .unwrap()
        })
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    let fresh = claims.iter().filter(|c| **c == IdempotencyClaim::Fresh).count();
    assert_eq!(fresh, 1, "{claims:?}");
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, IdempotencyClaim::Fresh | IdempotencyClaim::InFlight))
    );
    assert_eq!(
        control
            .idempotency_claim(&ctx, "key-1", "POST /vms b")
            .await
            .unwrap(),
        IdempotencyClaim::Mismatch
    );
    control
        .idempotency_finish(&ctx, "key-1", Some((202, "{\"vm\":1}")))
        .await
        .unwrap();
    assert_eq!(
        control
            .idempotency_claim(&ctx, "key-1", "POST /vms a")
            .await
            .unwrap(),
        IdempotencyClaim::Replay {
            status: 202,
            body: "{\"vm\":1}".into()
        }
    );
    // A failed request lets its key go; a kept answer stays until it is a day old.
    assert_eq!(
        control.idempotency_claim(&ctx, "key-2", "x").await.unwrap(),
        IdempotencyClaim::Fresh
    );
    control.idempotency_finish(&ctx, "key-2", None).await.unwrap();
    assert_eq!(
        control.idempotency_claim(&ctx, "key-2", "y").await.unwrap(),
        IdempotencyClaim::Fresh
    );
    let later = meridian_control::store::now_ms() + IDEMPOTENCY_KEEP_MS + 1;
    assert_eq!(
        db.store
            .idempotency_claim(
                (&tenant, &account.user_id.to_string()),
                "key-1",
                "POST /vms b",
                later
            )
            .await
            .unwrap(),
        IdempotencyClaim::Fresh
    );
    assert!(matches!(
        control.idempotency_claim(&ctx, "", "x").await,
        Err(Error::Invalid(_))
    ));
}

#[tokio::test]
async fn who_acts_follows_every_change_at_once_though_it_is_remembered_between_requests() {
    use meridian_control::Actor;
    let (db, control) = setup().await;
    let owner = control
        .account_signup(&anon(), signup("Memory Co", "owner@memory.io"))
        .await
        .unwrap();
    let token = control
        .user_invite(&as_user(&owner), "member@memory.io", "member")
        .await
        .unwrap();
    let member = control
        .invite_accept(&anon(), &token, "a long enough secret")
        .await
        .unwrap();
    let role = |actor: Actor| match actor {
        Actor::User { role, .. } => Some(role),
        _ => None,
    };
    // Asked twice: the second answer may come from memory, and must be the same.
    for _ in 0..2 {
        let actor = control.actor_for_session(member.user_id).await.unwrap();
        assert_eq!(role(actor), Some(meridian_core::Role::Member));
    }
    control
        .user_role_set(
            &as_user(&owner),
            member.user_id.to_string().parse().unwrap(),
            "viewer",
        )
        .await
        .unwrap();
    let actor = control.actor_for_session(member.user_id).await.unwrap();
    assert_eq!(
        role(actor),
        Some(meridian_core::Role::Viewer),
        "a demotion holds at once"
    );

    // A session read once is gone the moment its user's sessions are ended.
    let store = &db.store;
    let far = meridian_control::store::now_ms() + 3_600_000;
    store
        .session_insert("s-member", Some(member.user_id), "{}", far)
        .await
        .unwrap();
    assert!(store.session_load("s-member", 0).await.unwrap().is_some());
    store.session_delete_for_user(member.user_id, None).await.unwrap();
    assert_eq!(store.session_load("s-member", 0).await.unwrap(), None);

    control
        .user_remove(&as_user(&owner), member.user_id.to_string().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        control.actor_for_session(member.user_id).await.unwrap(),
        Actor::Anonymous,
        "a removed user acts as no one"
    );
    assert!(role(control.actor_for_session(owner.user_id).await.unwrap()).is_some());
    store
        .tenant_suspension_set(&owner.tenant_id.to_string(), Some((1, "unpaid")))
        .await
        .unwrap();
    assert_eq!(
        control.actor_for_session(owner.user_id).await.unwrap(),
        Actor::Anonymous,
        "a suspended tenant's users act as no one"
    );
}

/// `params` signed with `secret` the way CloudStack clients do.
fn signed(params: &[(&str, &str)], secret: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signature = meridian_core::api_key::cloudstack_sign(&all, secret);
    all.push(("signature".into(), signature));
    all
}

#[tokio::test]
async fn a_signed_request_that_changes_something_is_run_once_and_forgotten_when_expired() {
    let (db, control) = setup().await;
    let account = control
        .account_signup(&anon(), signup("Acme", "ops@acme.io"))
        .await
        .unwrap();
    let made = control
        .api_key_create(&as_user(&account), "script")
        .await
        .unwrap();
    let key = made.key.api_key.as_str();
    let stop = signed(
        &[("apiKey", key), ("command", "stopVirtualMachine"), ("id", "1")],
        &made.secret,
    );
    assert!(control.api_caller_signed(&stop, true).await.is_ok());
    assert!(matches!(
        control.api_caller_signed(&stop, true).await,
        Err(Error::Forbidden(_))
    ));
    // Listings may be repeated as they are.
    let list = signed(&[("apiKey", key), ("command", "listZones")], &made.secret);
    for _ in 0..2 {
        assert!(control.api_caller_signed(&list, false).await.is_ok());
    }
    // A version 3 signature is remembered until its expires time, then forgotten.
    let now = meridian_control::store::now_ms();
    let expires = meridian_core::calendar::format_iso(now + 60_000);
    let start = signed(
        &[
            ("apiKey", key),
            ("command", "startVirtualMachine"),
            ("expires", &expires),
            ("id", "1"),
            ("signatureVersion", "3"),
        ],
        &made.secret,
    );
    assert!(control.api_caller_signed(&start, true).await.is_ok());
    assert!(control.api_caller_signed(&start, true).await.is_err());
    assert_eq!(
        db.store
            .cloudstack_signature_delete_expired(now + 120_000)
            .await
            .unwrap(),
        1,
        "the version 3 signature expired; the unversioned one is kept for a day"
    );
    // Too far ahead is refused like a bad signature.
    let far = signed(
        &[
            ("apiKey", key),
            ("command", "listZones"),
            ("expires", &meridian_core::calendar::format_iso(now + 3_600_000)),
            ("signatureVersion", "3"),
        ],
        &made.secret,
    );
    assert!(matches!(
        control.api_caller_signed(&far, false).await,
        Err(Error::Unauthenticated)
    ));
    // A server that requires expires refuses a signature without it, and takes one with it.
    let strict = control.with_cloudstack_require_expires(true);
    assert!(matches!(
        strict.api_caller_signed(&list, false).await,
        Err(Error::Unauthenticated)
    ));
    let soon = meridian_core::calendar::format_iso(now + 60_000);
    let versioned = signed(
        &[
            ("apiKey", key),
            ("command", "listZones"),
            ("expires", &soon),
            ("signatureVersion", "3"),
        ],
        &made.secret,
    );
    assert!(strict.api_caller_signed(&versioned, false).await.is_ok());
}

#[tokio::test]
async fn a_password_change_revokes_the_users_api_keys_when_asked() {
    let (_db, control) = setup().await;
    let account = control
        .account_signup(&anon(), signup("Acme", "ops@acme.io"))
        .await
        .unwrap();
    let ctx = as_user(&account);
    let kept = control.api_key_create(&ctx, "kept").await.unwrap();
    control
        .account_password_change(&ctx, "a long enough secret", "a second long secret", None, false)
        .await
        .unwrap();
    assert!(control.api_caller_bearer(&kept.secret).await.is_ok());
    control
        .account_password_change(&ctx, "a second long secret", "a third long secret!", None, true)
        .await
        .unwrap();
    assert!(matches!(
        control.api_caller_bearer(&kept.secret).await,
        Err(Error::Unauthenticated)
    ));
    assert!(control.api_key_list(&ctx).await.unwrap().is_empty());
}

/// A session ended while a request that had loaded it is still running (a log-out in another tab,
/// the password changed elsewhere) stays ended when that request saves it afterwards: the store
/// never writes a gone session back, so a slow request cannot undo a log-out.
#[tokio::test]
async fn a_session_ended_during_a_request_stays_ended_when_the_request_saves_it() {
    use std::sync::Arc;
    use tower_sessions::Session;
    let (db, control) = setup().await;
    let store = Arc::new(control.session_store());
    let signed_in = Session::new(None, store.clone(), None);
    signed_in.insert("k", 1).await.unwrap();
    signed_in.save().await.unwrap();
    let id = signed_in.id().expect("created");
    assert!(db.store.session_load(&id.to_string(), 0).await.unwrap().is_some());

    // A request loads the session; meanwhile the session is ended.
    let in_flight = Session::new(Some(id), store.clone(), None);
    assert_eq!(in_flight.get::<i32>("k").await.unwrap(), Some(1));
    Session::new(Some(id), store.clone(), None).flush().await.unwrap();
    assert_eq!(db.store.session_load(&id.to_string(), 0).await.unwrap(), None);

    // The request changes it and saves on its way out: it is not brought back.
    in_flight.insert("k", 2).await.unwrap();
    in_flight.save().await.unwrap();
    assert_eq!(db.store.session_load(&id.to_string(), 0).await.unwrap(), None);
    assert_eq!(
        Session::new(Some(id), store, None).get::<i32>("k").await.unwrap(),
        None
    );
}
