//! The commands Meridian answers, as `listApis` describes them, each with the group that runs it.

/// The module that answers a command: the dispatch table in `mod.rs` maps each to its `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Zones, templates, sizes and what the API itself offers (`catalog.rs`).
    Catalog,
    /// Networks (VDCs), public addresses and firewall rules (`network.rs`).
    Network,
    /// VMs and their asynchronous jobs (`compute.rs`).
    Compute,
    /// The account's SSH key pairs (`account.rs`).
    Account,
}

/// What Meridian says it is in `listCapabilities`: the CloudStack API version it follows.
pub(super) const CLOUDSTACK_VERSION: &str = "4.19.0 (Meridian)";

/// One command of the API, as `listApis` describes it.
pub struct Command {
    /// The command's name, as clients send it.
    pub name: &'static str,
    /// Which module answers it.
    pub group: Group,
    /// Whether it answers with a `jobid` to poll.
    pub is_async: bool,
    /// What it does.
    pub description: &'static str,
    /// Its parameters: (name, required, description).
    pub params: &'static [(&'static str, bool, &'static str)],
}

pub(super) const PAGING: [(&str, bool, &str); 2] = [
    ("page", false, "Page number, from 1."),
    ("pagesize", false, "Items per page."),
];

/// Every command Meridian answers. Dispatch (by [`Group`]), `listApis` and the coverage test all
/// read this.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "listZones",
        group: Group::Catalog,
        is_async: false,
        description: "Lists the zones (Meridian's 16 VDC locations).",
        params: &[
            ("id", false, "A zone id."),
            ("available", false, "Only zones taking new resources."),
        ],
    },
    Command {
        name: "listTemplates",
        group: Group::Catalog,
        is_async: false,
        description: "Lists the built-in templates and the account's own.",
        params: &[
            (
                "templatefilter",
                true,
                "featured (built-in), self (your own), executable or all (both).",
            ),
            ("id", false, "A template id."),
            ("zoneid", false, "Lists each template for this zone."),
        ],
    },
    Command {
        name: "listServiceOfferings",
        group: Group::Catalog,
        is_async: false,
        description: "Lists the VM sizes.",
        params: &[("id", false, "A size code, e.g. m.")],
    },
    Command {
        name: "listNetworks",
        group: Group::Network,
        is_async: false,
        description: "Lists your networks: one per VDC, each the private network in its zone.",
        params: &[
            ("id", false, "A network (VDC) id."),
            ("zoneid", false, "Only this zone's."),
        ],
    },
    Command {
        name: "createNetwork",
        group: Group::Network,
        is_async: false,
        description: "Creates a VDC in a zone: your private network there.",
        params: &[
            ("name", true, "A name, like web-eu."),
            ("zoneid", true, "The zone."),
            ("displaytext", false, "Ignored: the name is shown."),
            ("networkofferingid", false, "Ignored: every network is private."),
        ],
    },
    Command {
        name: "deployVirtualMachine",
        group: Group::Compute,
        is_async: true,
        description: "Creates and starts a VM.",
        params: &[
            ("zoneid", true, "The zone."),
            ("serviceofferingid", true, "The size code."),
            ("templateid", true, "The template id."),
            ("name", false, "The VM's name and hostname (made up if absent)."),
            ("displayname", false, "Used as the name when name is absent."),
            (
                "networkids",
                false,
                "The network (VDC) to use; default: your first in the zone.",
            ),
            ("keypair", false, "An SSH key pair name."),
            ("keypairs", false, "SSH key pair names, comma-separated."),
            ("userdata", false, "Cloud-config, base64-encoded."),
        ],
    },
    Command {
        name: "listVirtualMachines",
        group: Group::Compute,
        is_async: false,
        description: "Lists your VMs.",
        params: &[
            ("id", false, "A VM id."),
            ("name", false, "A VM name."),
            ("zoneid", false, "Only this zone's."),
            ("networkid", false, "Only this network's (VDC's)."),
            (
                "state",
                false,
                "Only VMs in this state; Destroyed ones are listed only when asked.",
            ),
        ],
    },
    Command {
        name: "startVirtualMachine",
        group: Group::Compute,
        is_async: true,
        description: "Starts a stopped VM.",
        params: &[("id", true, "The VM id.")],
    },
    Command {
        name: "stopVirtualMachine",
        group: Group::Compute,
        is_async: true,
        description: "Stops a running VM.",
        params: &[("id", true, "The VM id.")],
    },
    Command {
        name: "rebootVirtualMachine",
        group: Group::Compute,
        is_async: true,
        description: "Reboots a running VM.",
        params: &[("id", true, "The VM id.")],
    },
    Command {
        name: "destroyVirtualMachine",
        group: Group::Compute,
        is_async: true,
        description: "Destroys a VM, its disk and its addresses.",
        params: &[
            ("id", true, "The VM id."),
            ("expunge", false, "Ignored: a destroyed VM is always gone."),
        ],
    },
    Command {
        name: "queryAsyncJobResult",
        group: Group::Compute,
        is_async: false,
        description: "The state and result of an asynchronous command.",
        params: &[("jobid", true, "The job id.")],
    },
    Command {
        name: "listAsyncJobs",
        group: Group::Compute,
        is_async: false,
        description: "Lists your recent asynchronous jobs.",
        params: &[],
    },
    Command {
        name: "listPublicIpAddresses",
        group: Group::Network,
        is_async: false,
        description: "Lists your VMs' public addresses (each VM with breakout has one).",
        params: &[
            ("id", false, "An address's id."),
            ("zoneid", false, "Only this zone's."),
            ("ipaddress", false, "Only this address."),
        ],
    },
    Command {
        name: "associateIpAddress",
        group: Group::Network,
        is_async: true,
        description: "Gives a VM a public address (opens its internet breakout). In Meridian an address belongs to one VM: name it with virtualmachineid.",
        params: &[
            ("virtualmachineid", true, "The VM (Meridian: required)."),
            ("zoneid", false, "Checked against the VM's zone."),
            ("networkid", false, "Checked against the VM's network (VDC)."),
        ],
    },
    Command {
        name: "disassociateIpAddress",
        group: Group::Network,
        is_async: true,
        description: "Releases a public address: its VM stays on the private network only.",
        params: &[(
            "id",
            true,
            "The public address's id (from listPublicIpAddresses).",
        )],
    },
    Command {
        name: "createFirewallRule",
        group: Group::Network,
        is_async: true,
        description: "Lets traffic in to the public addresses of the address's zone (Meridian's firewall rules are per zone). Applied at once: the job id is the rule's id, already complete.",
        params: &[
            (
                "ipaddressid",
                true,
                "A public address's id (its VM's id): the rule goes to its zone.",
            ),
            ("protocol", true, "tcp, udp or icmp."),
            ("startport", false, "First port (tcp and udp)."),
            ("endport", false, "Last port (default: startport)."),
            ("cidrlist", false, "Source CIDR (default 0.0.0.0/0); one only."),
        ],
    },
    Command {
        name: "listFirewallRules",
        group: Group::Network,
        is_async: false,
        description: "Lists your firewall rules.",
        params: &[
            ("id", false, "A rule id."),
            ("ipaddressid", false, "Only the rules of this address's zone."),
        ],
    },
    Command {
        name: "listPortForwardingRules",
        group: Group::Network,
        is_async: false,
        description: "Lists port forwarding rules: Meridian has none (a public address reaches its VM directly).",
        params: &[],
    },
    Command {
        name: "listIpForwardingRules",
        group: Group::Network,
        is_async: false,
        description: "Lists static NAT rules: Meridian has none (a public address reaches its VM directly).",
        params: &[],
    },
    Command {
        name: "registerSSHKeyPair",
        group: Group::Account,
        is_async: false,
        description: "Adds an SSH public key.",
        params: &[
            ("name", true, "The key pair's name."),
            ("publickey", true, "The OpenSSH public key."),
        ],
    },
    Command {
        name: "listSSHKeyPairs",
        group: Group::Account,
        is_async: false,
        description: "Lists your SSH key pairs.",
        params: &[("name", false, "Only this one.")],
    },
    Command {
        name: "deleteSSHKeyPair",
        group: Group::Account,
        is_async: false,
        description: "Removes an SSH key pair (VMs that have it keep it).",
        params: &[("name", true, "The key pair's name.")],
    },
    Command {
        name: "listCapabilities",
        group: Group::Catalog,
        is_async: false,
        description: "What this cloud offers.",
        params: &[],
    },
    Command {
        name: "listApis",
        group: Group::Catalog,
        is_async: false,
        description: "Lists these commands.",
        params: &[("name", false, "Only this command.")],
    },
];

impl Command {
    /// Whether the command changes something. Only listings and job queries do not; anything
    /// else counts as a change (a new command is refused a replay until it is listed here).
    pub fn mutates(&self) -> bool {
        !(self.name.starts_with("list") || self.name == "queryAsyncJobResult")
    }
}
