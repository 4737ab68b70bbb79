//! Host agents' hosts against a real database (SQLite, and PostgreSQL in the second pass): the
//! registration's token, version and checks, the staff's view with its drain switch, and placement
//! that skips a drained host. No agent runs here: the lab tests (`agent/tests/lab.rs`) drive real
//! ones.

use meridian_control::driver::agent::AgentDriver;
use meridian_control::host::RegisterRefusal;
use meridian_control::testing::{TestDb, as_new_staff, as_user};
use meridian_control::{Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::agent_api::{
    API_VERSION, PeerSample, ProbeReport, Registration, RegistrationAnswer, host_token,
};
use meridian_core::id::HostId;
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;
use uuid::Uuid;

const SECRET: &[u8] = b"the lab's agent secret, 32 bytes!";

struct World {
    _db: TestDb,
    control: Control,
}

async fn world() -> World {
    let db = TestDb::fresh().await;
    let driver = Arc::new(AgentDriver::new(db.store.clone(), SECRET.into()));
    let control = Control::new(db.store.clone(), driver)
        .await
        .unwrap()
        .with_agent_secret(SECRET.into());
    World { _db: db, control }
}

fn registration(host_id: Uuid, name: &str, zone: &str) -> Registration {
    Registration {
        api_version: API_VERSION,
        host_id,
        name: name.to_owned(),
        zone: zone.to_owned(),
        vcpus: 8,
        memory_mib: 16 * 1024,
        disk_gib: 200,
        accelerator: "tcg".to_owned(),
        accelerator_reason: "KVM present but the guest did not boot under it".to_owned(),
        endpoint: "http://10.254.0.11:7100".to_owned(),
        image: "meridian-initramfs".to_owned(),
        underlay: None,
    }
}

impl World {
    async fn register(&self, registration: &Registration) -> Result<RegistrationAnswer, RegisterRefusal> {
        let token = host_token(SECRET, registration.host_id);
        self.control.host_register(&token, registration).await
    }

    /// The owner of a new tenant, signed in.
    async fn tenant(&self) -> OpContext {
        let signup = Signup::parse("Globex", "ops@globex.example", "a long enough secret").unwrap();
        let account = self
            .control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap();
        as_user(&account)
    }

    /// The links the backbone's controller is told are cut.
    async fn cut_links(&self) -> Vec<String> {
        let controller = host_token(SECRET, meridian_core::agent_api::BACKBONE_CONTROLLER);
        self.control.backbone_intent(&controller).await.unwrap().cut
    }

    async fn staff(&self, email: &str, role: &str) -> OpContext {
        as_new_staff(&self.control, email, role).await.1
    }
}

#[tokio::test]
async fn a_host_registers_with_its_own_token_and_version_only() {
    let w = world().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let lon = registration(a, "lon1-lab", "lon1");

    let other_hosts_token = host_token(SECRET, b);
    assert!(matches!(
        w.control.host_register(&other_hosts_token, &lon).await,
        Err(RegisterRefusal::Unauthorized)
    ));
    assert!(matches!(
        w.control.host_register("", &lon).await,
        Err(RegisterRefusal::Unauthorized)
    ));
    let mut newer = lon.clone();
    newer.api_version = API_VERSION + 1;
    assert!(matches!(w.register(&newer).await, Err(RegisterRefusal::Version(v)) if v == API_VERSION + 1));
    let mut nowhere = lon.clone();
    nowhere.zone = "atlantis1".to_owned();
    assert!(matches!(
        w.register(&nowhere).await,
        Err(RegisterRefusal::Invalid(_))
    ));
    let mut smuggled = lon.clone();
    smuggled.name = "lon1\nINFO forged log line".to_owned();
    assert!(matches!(
        w.register(&smuggled).await,
        Err(RegisterRefusal::Invalid(_))
    ));
    let admin = w.staff("admin@meridian.example", "admin").await;
    assert!(
        w.control.agent_hosts_view(&admin).await.unwrap().is_empty(),
        "refusals record nothing"
    );

    w.register(&lon).await.unwrap();
    // A heartbeat is the same registration again: still one host.
    w.register(&lon).await.unwrap();
    let hosts = w.control.agent_hosts_view(&admin).await.unwrap();
    assert_eq!(hosts.len(), 1);
    let host = &hosts[0];
    assert_eq!(
        (host.id, host.name.as_str(), host.zone.as_str()),
        (HostId(a), "lon1-lab", "lon1")
    );
    assert!(host.answering && !host.draining);
    assert_eq!(host.accelerator, "tcg");
    assert_eq!(host.vcpus, (8, 0));

    // A host does not move between zones, and two hosts do not share a name.
    let mut moved = lon.clone();
    moved.zone = "hkg1".to_owned();
    assert!(matches!(
        w.register(&moved).await,
        Err(RegisterRefusal::Invalid(_))
    ));
    assert!(matches!(
        w.register(&registration(b, "lon1-lab", "lon1")).await,
        Err(RegisterRefusal::Invalid(_))
    ));

    // Without an agent secret, no agent registers at all.
    let closed = Control::new(
        w.control_store(),
        Arc::new(AgentDriver::new(w.control_store(), SECRET.into())),
    )
    .await
    .unwrap();
    assert!(matches!(
        closed.host_register(&host_token(SECRET, a), &lon).await,
        Err(RegisterRefusal::NoAgents)
    ));
}

impl World {
    fn control_store(&self) -> meridian_control::Store {
        self.control.store().clone()
    }
}

#[tokio::test]
async fn admins_drain_a_host_and_placement_skips_it() {
    let w = world().await;
    let host = Uuid::new_v4();
    w.register(&registration(host, "ber1-lab", "ber1")).await.unwrap();
    let support = w.staff("support@meridian.example", "support").await;
    let admin = w.staff("admin@meridian.example", "admin").await;

    assert!(matches!(
        w.control.host_drain(&support, HostId(host), true).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.control.host_drain(&admin, HostId(Uuid::new_v4()), true).await,
        Err(Error::NotFound)
    ));
    let owner = w.tenant().await;
    assert!(matches!(
        w.control.host_drain(&owner, HostId(host), true).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.control.agent_hosts_view(&owner).await,
        Err(Error::NotFound)
    ));

    w.control.host_drain(&admin, HostId(host), true).await.unwrap();
    assert!(w.control.agent_hosts_view(&support).await.unwrap()[0].draining);

    // The zone's only host is drained: a new VM finds no host, and nothing is reserved.
    let vdc = w.control.vdc_create(&owner, "main", "ber1").await.unwrap().id;
    let create = VmCreate::parse(&VmCreateForm {
        name: "web".into(),
        zone: "ber1".into(),
        template: "debian-12".into(),
        size: "xs".into(),
        ..VmCreateForm::default()
    })
    .unwrap();
    let started = w.control.vm_create(&owner, vdc, create).await.unwrap();
    w.control.job_drain("test-worker").await.unwrap();
    let job = w.control.job_view(&owner, started.job_id.into()).await.unwrap();
    assert_eq!(job.state, "failed", "{job:?}");
    assert_eq!(job.failed_step.as_deref(), Some("place"), "{job:?}");
    assert_eq!(w.control.agent_hosts_view(&admin).await.unwrap()[0].vcpus, (8, 0));
    let broken = w.control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");

    w.control.host_drain(&admin, HostId(host), false).await.unwrap();
    assert!(!w.control.agent_hosts_view(&admin).await.unwrap()[0].draining);
}

#[tokio::test]
async fn hosts_learn_their_peers_and_their_probes_label_the_edges_they_measure() {
    let w = world().await;
    let (lon, nyc, hkg) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let with_underlay = |id, name: &str, zone: &str, underlay: &str| Registration {
        underlay: Some(underlay.to_owned()),
        ..registration(id, name, zone)
    };
    assert!(
        w.register(&with_underlay(lon, "lon1-lab", "lon1", "10.200.4.11"))
            .await
            .unwrap()
            .peers
            .is_empty()
    );
    w.register(&with_underlay(hkg, "hkg1-lab", "hkg1", "10.200.14.11"))
        .await
        .unwrap();
    let answer = w
        .register(&with_underlay(nyc, "nyc1-lab", "nyc1", "10.200.11.11"))
        .await
        .unwrap();
    let mut peers: Vec<_> = answer
        .peers
        .iter()
        .map(|p| (p.zone.as_str(), p.underlay.as_str()))
        .collect();
    peers.sort();
    assert_eq!(peers, [("hkg1", "10.200.14.11"), ("lon1", "10.200.4.11")]);

    let sample = |host_id, rtt_ms| PeerSample {
        host_id,
        rtt_ms: Some(rtt_ms),
        jitter_ms: 0.4,
        loss: 0.0,
        routers: Some(2),
    };
    // London–New York is one edge (its fibre limit is 54.6 ms); London–Hong Kong is a path of five.
    let report = ProbeReport {
        host_id: lon,
        samples: vec![sample(nyc, 69.0), sample(hkg, 210.0)],
    };
    assert!(matches!(
        w.control.host_probes(&host_token(SECRET, nyc), &report).await,
        Err(RegisterRefusal::Unauthorized)
    ));
    assert_eq!(
        w.control
            .host_probes(&host_token(SECRET, lon), &report)
            .await
            .unwrap(),
        1
    );
    w.control.probe_tick(meridian_control::now_ms()).await.unwrap();
    let owner = w.tenant().await;
    let map = w.control.map_view(&owner).await.unwrap();
    let edge = |key: &str| map.edges.iter().find(|e| e.edge == key).cloned().unwrap();
    let measured = edge("lon1-nyc1");
    assert_eq!(
        (measured.source.as_str(), measured.rtt_ms, measured.jitter_ms),
        ("measured", Some(69.0), Some(0.4))
    );
    assert_eq!(
        edge("lax1-hkg1").source,
        "simulated",
        "an edge no agent measured stays the model's"
    );

    // Faster than light is an error, shown as such, never as the edge's latency.
    let report = ProbeReport {
        host_id: nyc,
        samples: vec![sample(lon, 20.0)],
    };
    w.control
        .host_probes(&host_token(SECRET, nyc), &report)
        .await
        .unwrap();
    w.control
        .probe_tick(meridian_control::now_ms() + 1)
        .await
        .unwrap();
    let map = w.control.map_view(&owner).await.unwrap();
    let flagged = map.edges.iter().find(|e| e.edge == "lon1-nyc1").unwrap();
    assert_eq!(flagged.source, "implausible");

    // Answers that crossed a third router went another way (the edge is cut): they measured the
    // detour, not the edge, which keeps its last measurement.
    let detour = ProbeReport {
        host_id: nyc,
        samples: vec![PeerSample {
            routers: Some(5),
            ..sample(lon, 140.0)
        }],
    };
    assert_eq!(
        w.control
            .host_probes(&host_token(SECRET, nyc), &detour)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn admins_cut_a_backbone_link_and_only_the_backbone_controller_reads_it() {
    let w = world().await;
    let admin = w.staff("ops@meridian.example", "admin").await;
    let support = w.staff("help@meridian.example", "support").await;
    assert!(w.cut_links().await.is_empty());

    assert!(matches!(
        w.control.backbone_link_set(&support, "lon1-nyc1", true).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.control.backbone_link_set(&admin, "lon1-atlantis", true).await,
        Err(Error::NotFound)
    ));
    w.control
        .backbone_link_set(&admin, "lon1-nyc1", true)
        .await
        .unwrap();
    // Again: still cut, once.
    w.control
        .backbone_link_set(&admin, "lon1-nyc1", true)
        .await
        .unwrap();
    assert_eq!(w.cut_links().await, ["lon1-nyc1"]);
    let links = w.control.backbone_links_view(&support).await.unwrap();
    assert_eq!(links.len(), 24);
    let cut: Vec<_> = links
        .iter()
        .filter(|l| l.cut_at.is_some())
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(cut, ["London – New York"]);

    // A host's token, or none, reads nothing.
    for token in [host_token(SECRET, Uuid::new_v4()), String::new()] {
        assert!(matches!(
            w.control.backbone_intent(&token).await,
            Err(RegisterRefusal::Unauthorized)
        ));
    }
    // A tenant sees no staff view.
    let owner = w.tenant().await;
    assert!(matches!(
        w.control.backbone_links_view(&owner).await,
        Err(Error::NotFound)
    ));

    w.control
        .backbone_link_set(&admin, "lon1-nyc1", false)
        .await
        .unwrap();
    assert!(w.cut_links().await.is_empty());
    assert!(matches!(
        w.control.backbone_link_set(&admin, "lon1-nyc1", false).await,
        Err(Error::NotFound)
    ));
}
