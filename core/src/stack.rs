//! Stacks: multi-zone clusters created in one action from a template, such as the nine-node
//! MongoDB replica set over Los Angeles, London and Berlin.
//!
//! A stack template says which zones get how many VMs, of which size, on which image, and which
//! containers each VM runs. Planning a stack turns it into VM requests (names, zones, cloud-config
//! that starts the containers), all in one anti-affinity group so no two members share a host.

use crate::resource::{Name, NameError};
use crate::zone::ZoneId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A container a stack's VMs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name, e.g. `mongod`.
    pub name: &'static str,
    /// Image, e.g. `mongo:7.0`.
    pub image: &'static str,
    /// `docker run` options before the image (ports, restart policy).
    pub options: &'static str,
    /// Arguments after the image.
    pub args: &'static str,
}

/// A stack to create in one action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackTemplate {
    /// Key for forms and APIs.
    pub slug: &'static str,
    /// Name shown to people.
    pub name: &'static str,
    /// What it is, in a sentence.
    pub description: &'static str,
    /// The built-in template (image) every member boots.
    pub image: &'static str,
    /// The size code of every member.
    pub size: &'static str,
    /// Zones and how many members each gets.
    pub zones: &'static [(&'static str, u32)],
    /// Whether each member gets a public address.
    pub breakout: bool,
    /// What each member runs.
    pub containers: &'static [ContainerSpec],
    /// How clients reach what the members run together, if they are one service.
    pub connect: Option<Connect>,
    /// The replica set the members form, if they are one: the first member initiates it with
    /// every member's private address once its server answers.
    pub replica_set: Option<ReplicaSet>,
}

/// A MongoDB replica set a stack's members form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaSet {
    /// Its name, e.g. `rs0` (the servers' `--replSet`).
    pub name: &'static str,
    /// The container its server runs in.
    pub container: &'static str,
    /// The port every member serves.
    pub port: u16,
}

/// What stands for the members' addresses in the first member's cloud-config until they are
/// allocated ([`with_members`]).
pub const MEMBERS_PLACEHOLDER: &str = "@MERIDIAN_MEMBERS@";

/// How clients reach a stack's service: a URL over every member's private address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect {
    /// The URL scheme, e.g. `mongodb`.
    pub scheme: &'static str,
    /// The port every member serves.
    pub port: u16,
    /// The query after the hosts, e.g. `replicaSet=rs0`.
    pub query: &'static str,
}

/// The stacks offered.
pub const STACK_TEMPLATES: [StackTemplate; 2] = [
    StackTemplate {
        slug: "mongodb-9",
        name: "MongoDB replica set, 9 nodes",
        description: "Three MongoDB nodes in each of Los Angeles, London and Berlin, one replica set over \
                      your private network, on CoreOS with Docker.",
        image: "coreos-docker",
        size: "s",
        zones: &[("lax1", 3), ("lon1", 3), ("ber1", 3)],
        breakout: false,
        containers: &[ContainerSpec {
            name: "mongod",
            image: "mongo:7.0",
            options: "-d --restart=always --network=host",
            args: "--replSet rs0 --bind_ip_all",
        }],
        connect: Some(Connect {
            scheme: "mongodb",
            port: 27017,
            query: "replicaSet=rs0",
        }),
        replica_set: Some(ReplicaSet {
            name: "rs0",
            container: "mongod",
            port: 27017,
        }),
    },
    StackTemplate {
        slug: "web-3",
        name: "Web tier in three zones",
        description: "One nginx web server in each of New York, London and Singapore, each with a public \
                      address, on CoreOS with Docker.",
        image: "coreos-docker",
        size: "xs",
        zones: &[("nyc1", 1), ("lon1", 1), ("sin1", 1)],
        breakout: true,
        containers: &[ContainerSpec {
            name: "nginx",
            image: "nginx:1.27",
            options: "-d --restart=always -p 80:80 -p 443:443",
            args: "",
        }],
        connect: None,
        replica_set: None,
    },
];

impl StackTemplate {
    /// The template with this slug.
    pub fn find(slug: &str) -> Option<&'static StackTemplate> {
        STACK_TEMPLATES.iter().find(|t| t.slug == slug)
    }

    /// The URL clients connect with, over the members' private `addresses` (in member order);
    /// `None` for a stack that is no one service, or while a member has no address yet.
    pub fn connection_string(&self, addresses: &[Option<String>]) -> Option<String> {
        let connect = self.connect?;
        if addresses.is_empty() {
            return None;
        }
        let hosts: Option<Vec<String>> = addresses
            .iter()
            .map(|a| a.as_ref().map(|a| format!("{a}:{}", connect.port)))
            .collect();
        Some(format!(
            "{}://{}/?{}",
            connect.scheme,
            hosts?.join(","),
            connect.query
        ))
    }

    /// How many VMs it makes.
    pub fn size_in_vms(&self) -> u32 {
        self.zones.iter().map(|(_, n)| n).sum()
    }

    /// The cloud-config member `index` (in plan order) boots with: [`StackTemplate::cloud_config`],
    /// and for the first member of a replica set, initiating the set over every member
    /// ([`MEMBERS_PLACEHOLDER`] until their addresses are known), again every 5 s until the set
    /// answers. Written without `: ` so that YAML reads each command as one string.
    pub fn member_cloud_config(&self, index: usize) -> String {
        let mut config = self.cloud_config();
        if let (Some(set), 0) = (self.replica_set, index) {
            let shell = format!("docker exec {} mongosh --quiet --eval", set.container);
            // Until the set answers: the other members may boot later than this one, and
            // `rs.initiate` fails while any of them does not answer.
            config.push_str(&format!(
                "  - sh -c 'until {shell} \"rs.status().ok\" >/dev/null 2>&1 || {shell} \"rs.initiate({{_id:\\\"{}\\\",members:[{MEMBERS_PLACEHOLDER}]}})\"; do sleep 5; done'\n",
                set.name
            ));
        }
        config
    }

    /// The cloud-config every member boots with: start the containers with Docker.
    pub fn cloud_config(&self) -> String {
        let mut config = String::from("#cloud-config\nruncmd:\n");
        for c in self.containers {
            let args = if c.args.is_empty() {
                String::new()
            } else {
                format!(" {}", c.args)
            };
            config.push_str(&format!(
                "  - docker run {} --name {} {}{args}\n",
                c.options, c.name, c.image
            ));
        }
        config
    }
}

/// One VM of a planned stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackMember {
    /// Its name, e.g. `rs0-lax1-2`.
    pub name: String,
    /// Its zone.
    pub zone: ZoneId,
}

/// Why a stack could not be planned.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum StackError {
    /// No such template.
    #[error("Choose one of the stacks offered.")]
    UnknownTemplate,
    /// The stack's name is not a valid name.
    #[error("{0}")]
    Name(#[from] NameError),
    /// Member names would be too long.
    #[error("Choose a shorter name: member names add the zone and a number.")]
    NameTooLong,
}

/// The members of a stack called `name` made from `template`: `<name>-<zone>-<n>`.
pub fn plan(template: &StackTemplate, name: &str) -> Result<Vec<StackMember>, StackError> {
    let name = Name::parse(name)?;
    let mut members = Vec::new();
    for (zone, count) in template.zones {
        let zone = ZoneId::parse(zone).map_err(|_| StackError::UnknownTemplate)?;
        for n in 1..=*count {
            let member = format!("{}-{zone}-{n}", name.as_str());
            Name::parse(&member).map_err(|_| StackError::NameTooLong)?;
            members.push(StackMember { name: member, zone });
        }
    }
    Ok(members)
}

/// A container as a VM reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Container {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// `starting` (its VM has not booted yet), `running` or `exited`.
    pub state: String,
}

/// `user_data` with the replica set's members (their private `addresses`, in plan order) in place
/// of [`MEMBERS_PLACEHOLDER`]: `{_id:0,host:\"10.0.0.2:27017\"},…` (quotes escaped for the
/// double-quoted shell word they sit in). Unchanged without the placeholder.
pub fn with_members(user_data: &str, set: &ReplicaSet, addresses: &[String]) -> String {
    let members: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| format!("{{_id:{i},host:\\\"{address}:{}\\\"}}", set.port))
        .collect();
    user_data.replace(MEMBERS_PLACEHOLDER, &members.join(","))
}

/// The containers a cloud-config starts with `docker run` (what a booted CoreOS VM would run):
/// `(name, image)` in order. Lines that are not `docker run` are ignored.
pub fn containers_in_cloud_config(user_data: &str) -> Vec<(String, String)> {
    // Options of `docker run` that take a separate value.
    const WITH_VALUE: [&str; 8] = [
        "-p",
        "-e",
        "-v",
        "--name",
        "--network",
        "--restart",
        "-w",
        "--env",
    ];
    let mut found = Vec::new();
    for line in user_data.lines() {
        let Some(rest) = line.split_once("docker run").map(|(_, rest)| rest) else {
            continue;
        };
        let mut tokens = rest.split_whitespace();
        let mut name = None;
        while let Some(token) = tokens.next() {
            if token == "--name" {
                name = tokens.next().map(str::to_owned);
            } else if let Some(value) = token.strip_prefix("--name=") {
                name = Some(value.to_owned());
            } else if WITH_VALUE.contains(&token) {
                tokens.next();
            } else if !token.starts_with('-') {
                let image = token.to_owned();
                found.push((name.take().unwrap_or_else(|| image.clone()), image));
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{BUILTIN_TEMPLATES, SIZES};

    #[test]
    fn the_mongodb_stack_is_nine_nodes_over_three_zones() {
        let template = StackTemplate::find("mongodb-9").unwrap();
        let members = plan(template, "rs0").unwrap();
        assert_eq!(members.len(), 9);
        for zone in ["lax1", "lon1", "ber1"] {
            assert_eq!(
                members.iter().filter(|m| m.zone.as_str() == zone).count(),
                3,
                "{zone}"
            );
        }
        assert_eq!(members[0].name, "rs0-lax1-1");
        assert_eq!(template.size_in_vms(), 9);
    }

    #[test]
    fn every_template_uses_a_real_image_and_size_and_plans_valid_names() {
        for template in &STACK_TEMPLATES {
            assert!(
                BUILTIN_TEMPLATES.iter().any(|b| b.slug == template.image),
                "{}",
                template.slug
            );
            assert!(SIZES.iter().any(|s| s.code == template.size), "{}", template.slug);
            assert_eq!(
                plan(template, "s").unwrap().len(),
                template.size_in_vms() as usize
            );
        }
        assert_eq!(
            plan(StackTemplate::find("web-3").unwrap(), "Bad Name"),
            Err(StackError::Name(NameError::BadCharacter))
        );
        let long = "a".repeat(60);
        assert!(plan(StackTemplate::find("web-3").unwrap(), &long).is_err());
    }

    #[test]
    fn the_replica_set_is_reached_over_every_members_address_once_all_have_one() {
        let mongo = StackTemplate::find("mongodb-9").unwrap();
        let some = |a: &str| Some(a.to_owned());
        assert_eq!(
            mongo
                .connection_string(&[some("10.0.0.2"), some("10.0.1.2")])
                .as_deref(),
            Some("mongodb://10.0.0.2:27017,10.0.1.2:27017/?replicaSet=rs0")
        );
        assert_eq!(mongo.connection_string(&[some("10.0.0.2"), None]), None);
        assert_eq!(mongo.connection_string(&[]), None);
        assert_eq!(
            StackTemplate::find("web-3")
                .unwrap()
                .connection_string(&[some("10.0.0.2")]),
            None
        );
    }

    #[test]
    fn the_first_member_initiates_the_replica_set_over_every_members_address() {
        let template = StackTemplate::find("mongodb-9").unwrap();
        let set = template.replica_set.unwrap();
        let first = template.member_cloud_config(0);
        assert_eq!(
            template.member_cloud_config(1),
            template.cloud_config(),
            "only the first initiates"
        );
        assert!(first.contains(MEMBERS_PLACEHOLDER));
        let addresses = vec![
            "10.16.0.2".to_owned(),
            "10.17.0.2".to_owned(),
            "10.18.0.2".to_owned(),
        ];
        let config = with_members(&first, &set, &addresses);
        let line = config.lines().last().unwrap();
        assert_eq!(
            line,
            r#"  - sh -c 'until docker exec mongod mongosh --quiet --eval "rs.status().ok" >/dev/null 2>&1 || docker exec mongod mongosh --quiet --eval "rs.initiate({_id:\"rs0\",members:[{_id:0,host:\"10.16.0.2:27017\"},{_id:1,host:\"10.17.0.2:27017\"},{_id:2,host:\"10.18.0.2:27017\"}]})"; do sleep 5; done'"#
        );
        // One string to YAML (no `: ` or ` #`), and not a container.
        assert!(!line.contains(": ") && !line.contains(" #"));
        assert_eq!(
            containers_in_cloud_config(&config),
            containers_in_cloud_config(&template.cloud_config())
        );
        assert_eq!(
            with_members("#cloud-config\n", &set, &addresses),
            "#cloud-config\n"
        );
    }

    #[test]
    fn the_cloud_config_starts_the_containers_the_vm_then_reports() {
        let template = StackTemplate::find("mongodb-9").unwrap();
        let config = template.cloud_config();
        assert!(config.starts_with("#cloud-config\n"));
        assert_eq!(
            containers_in_cloud_config(&config),
            [("mongod".to_owned(), "mongo:7.0".to_owned())]
        );
        let web = StackTemplate::find("web-3").unwrap().cloud_config();
        assert_eq!(
            containers_in_cloud_config(&web),
            [("nginx".to_owned(), "nginx:1.27".to_owned())]
        );
        assert!(containers_in_cloud_config("#cloud-config\npackages: [htop]\n").is_empty());
    }
}
