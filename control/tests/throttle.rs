//! Throttling of password guesses and sign-ups against budgets every server shares (SQLite, or
//! PostgreSQL when the test run selects it).

use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::throttle::{PASSWORD_CHANGE, PER_ACCOUNT, PER_PAIR, SIGNUP};

const SECRET: &str = "a long enough secret";

async fn control_on(store: meridian_control::Store) -> Control {
    let driver = std::sync::Arc::new(meridian_control::driver::simulated::SimulatedDriver::new(
        meridian_control::driver::simulated::SimTiming::instant(),
        1,
    ));
    Control::new(store, driver).await.expect("a control plane")
}

/// An anonymous request from `address`.
fn from(address: &str) -> OpContext {
    OpContext {
        client: Some(address.to_owned()),
        ..OpContext::anonymous("test")
    }
}

async fn setup() -> (TestDb, Control) {
    let db = TestDb::fresh().await;
    let control = control_on(db.store.clone()).await;
    control
        .account_signup(
            &OpContext::anonymous("test"),
            Signup::parse("Acme", "ops@acme.io", SECRET).expect("a valid sign-up"),
        )
        .await
        .expect("the owner signs up");
    (db, control)
}

fn throttled<T: std::fmt::Debug>(result: Result<T, Error>) -> u64 {
    match result {
        Err(Error::Throttled { retry_after_s }) => retry_after_s,
        other => panic!("expected a throttled attempt, got {other:?}"),
    }
}

#[tokio::test]
async fn an_attacker_spending_an_accounts_budget_at_one_address_does_not_lock_its_owner_out() {
    let (_db, control) = setup().await;
    for _ in 0..PER_PAIR.limit {
        let guess = control
            .account_login(&from("203.0.113.9"), "ops@acme.io", "a wrong guess")
            .await;
        assert!(matches!(guess, Err(Error::BadCredentials)), "{guess:?}");
    }
    let wait = throttled(
        control
            .account_login(&from("203.0.113.9"), "ops@acme.io", SECRET)
            .await,
    );
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    // Anyone else on that account, from elsewhere, is not held by it: its owner logs in.
    control
        .account_login(&from("198.51.100.7"), "OPS@acme.io", SECRET)
        .await
        .expect("the owner at another address logs in");
}

#[tokio::test]
async fn guessers_on_many_addresses_stop_at_the_accounts_budget_and_its_known_device_still_logs_in() {
    let (_db, control) = setup().await;
    let home = control
        .account_login_on_device(&from("198.51.100.7"), "ops@acme.io", SECRET, None)
        .await
        .unwrap();
    for i in 0..PER_ACCOUNT.limit {
        let address = format!("203.0.{}.{}", i / 200, i % 200 + 1);
        let guess = control
            .account_login(&from(&address), "ops@acme.io", "a wrong guess")
            .await;
        assert!(matches!(guess, Err(Error::BadCredentials)), "{guess:?}");
    }
    throttled(
        control
            .account_login(&from("192.0.2.50"), "ops@acme.io", SECRET)
            .await,
    );
    // A token from another browser, altered, or for another account proves nothing.
    for token in [
        home.device_token.replacen("d1.", "d1.0", 1),
        "d1.0123456789abcdef0123456789abcdef.1.AAAA".to_owned(),
    ] {
        throttled(
            control
                .account_login_on_device(&from("192.0.2.50"), "ops@acme.io", SECRET, Some(&token))
                .await,
        );
    }
    // The browser that logged in before does, from anywhere, and gets a fresh token.
    let again = control
        .account_login_on_device(
            &from("192.0.2.50"),
            "ops@acme.io",
            SECRET,
            Some(&home.device_token),
        )
        .await
        .expect("a known device logs in");
    assert_eq!(again.account, home.account);
    // The device's own budget still stops a thief who took the cookie and guesses.
    for _ in 0..PER_PAIR.limit {
        let guess = control
            .account_login_on_device(
                &from("192.0.2.51"),
                "ops@acme.io",
                "a wrong guess",
                Some(&again.device_token),
            )
            .await;
        assert!(matches!(guess, Err(Error::BadCredentials)), "{guess:?}");
    }
    throttled(
        control
            .account_login_on_device(
                &from("192.0.2.51"),
                "ops@acme.io",
                SECRET,
                Some(&again.device_token),
            )
            .await,
    );
}

#[tokio::test]
async fn two_control_planes_on_one_database_share_one_budget() {
    let (db, first) = setup().await;
    let other_store = meridian_control::Store::connect(&db.url).await.unwrap();
    let second = control_on(other_store).await;
    for i in 0..PER_PAIR.limit {
        let control = if i % 2 == 0 { &first } else { &second };
        let guess = control
            .account_login(&from("203.0.113.9"), "ops@acme.io", "a wrong guess")
            .await;
        assert!(matches!(guess, Err(Error::BadCredentials)), "{guess:?}");
    }
    throttled(
        first
            .account_login(&from("203.0.113.9"), "ops@acme.io", SECRET)
            .await,
    );
    throttled(
        second
            .account_login(&from("203.0.113.9"), "ops@acme.io", SECRET)
            .await,
    );
}

#[tokio::test]
async fn the_current_password_check_of_a_password_change_is_throttled() {
    let (_db, control) = setup().await;
    let account = control
        .account_login(&from("198.51.100.7"), "ops@acme.io", SECRET)
        .await
        .unwrap();
    let ctx = OpContext {
        client: Some("198.51.100.7".into()),
        ..as_user(&account)
    };
    for _ in 0..PASSWORD_CHANGE.limit {
        let change = control
            .account_password_change(&ctx, "a wrong guess", "a brand new secret", None, false)
            .await;
        assert!(matches!(change, Err(Error::Invalid(_))), "{change:?}");
    }
    throttled(
        control
            .account_password_change(&ctx, SECRET, "a brand new secret", None, false)
            .await,
    );
    control
        .account_login(&from("198.51.100.7"), "ops@acme.io", SECRET)
        .await
        .expect("the password is unchanged");
}

#[tokio::test]
async fn sign_ups_from_one_address_are_throttled() {
    let db = TestDb::fresh().await;
    let control = control_on(db.store.clone()).await;
    for i in 0..SIGNUP.limit {
        let signup = Signup::parse("Acme", &format!("ops{i}@acme.io"), SECRET).unwrap();
        control
            .account_signup(&from("203.0.113.9"), signup)
            .await
            .unwrap();
    }
    let signup = Signup::parse("Acme", "one.more@acme.io", SECRET).unwrap();
    throttled(control.account_signup(&from("203.0.113.9"), signup.clone()).await);
    control
        .account_signup(&from("198.51.100.7"), signup)
        .await
        .expect("another address signs up");
}

#[tokio::test]
async fn a_staff_members_known_device_logs_in_past_guessers_too() {
    let (_db, control) = setup().await;
    control
        .staff_create("ana@meridian.example", SECRET, "admin")
        .await
        .unwrap();
    let (_, token) = control
        .staff_login_on_device(&from("198.51.100.7"), "ana@meridian.example", SECRET, None)
        .await
        .unwrap();
    for i in 0..PER_ACCOUNT.limit {
        let address = format!("203.0.{}.{}", i / 200, i % 200 + 1);
        let guess = control
            .staff_login(&from(&address), "ana@meridian.example", "a wrong guess")
            .await;
        assert!(matches!(guess, Err(Error::BadCredentials)), "{guess:?}");
    }
    throttled(
        control
            .staff_login(&from("192.0.2.50"), "ana@meridian.example", SECRET)
            .await,
    );
    control
        .staff_login_on_device(&from("192.0.2.50"), "ana@meridian.example", SECRET, Some(&token))
        .await
        .expect("the staff member's browser logs in");
}
