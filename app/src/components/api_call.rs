//! "Show the API call": the REST request (`curl`) and the CloudStack command (`cs`) that would do
//! what a create form holds, kept current as the form is filled in.

use leptos::prelude::*;

/// What the VM form's fields (as the browser would submit them, `(name, value)`) come to as a REST
/// request and as a CloudStack command. `vdc_zone` names a VDC's zone, `key_name` an SSH key's
/// name (CloudStack takes key pairs by name).
pub fn vm_create_calls(
    fields: &[(String, String)],
    origin: &str,
    vdc_zone: impl Fn(&str) -> Option<String>,
    key_name: impl Fn(&str) -> Option<String>,
) -> (String, String) {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let keys: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n.starts_with("ssh_key_ids["))
        .map(|(_, v)| v.as_str())
        .collect();
    let (vdc, zone) = match field("vdc_id") {
        Some(value) => match value.strip_prefix("zone:") {
            Some(zone) => (None, Some(zone.to_owned())),
            None => {
                let zone = vdc_zone(&value);
                (Some(value), zone)
            }
        },
        None => (None, None),
    };
    let mut json: Vec<String> = Vec::new();
    let mut push = |key: &str, value: String| json.push(format!("\"{key}\":{value}"));
    match (&vdc, &zone) {
        (Some(vdc), _) => push("vdc_id", json_string(vdc)),
        (None, Some(zone)) => push("zone", json_string(zone)),
        _ => {}
    }
    for name in ["name", "template", "size"] {
        if let Some(value) = field(name) {
            push(name, json_string(&value));
        }
    }
    for flag in ["breakout", "dedicated"] {
        if field(flag).is_some() {
            push(flag, "true".to_owned());
        }
    }
    if let Some(user_data) = field("user_data") {
        push("user_data", json_string(&user_data));
    }
    if !keys.is_empty() {
        let ids: Vec<String> = keys.iter().map(|id| json_string(id)).collect();
        push("ssh_key_ids", format!("[{}]", ids.join(",")));
    }
    if let Some(group) = field("anti_affinity_group") {
        push("anti_affinity_group", json_string(&group));
    }
    if let (Some(ms), Some(of)) = (field("latency_ms"), field("latency_of")) {
        // A number as typed is JSON as it stands only when it parses as one.
        let max = ms
            .parse::<f64>()
            .map_or_else(|_| json_string(&ms), |n| n.to_string());
        let from = match of.strip_prefix("vm:") {
            Some(vm) => format!("\"from_vm\":{}", json_string(vm)),
            None => format!("\"from_zone\":{}", json_string(&of)),
        };
        push("latency", format!("{{\"max_ms\":{max},{from}}}"));
    }
    let curl = format!(
        "curl -s -H \"Authorization: Bearer $MERIDIAN_SECRET\" -H 'Content-Type: application/json' \\\n  -d {} \\\n  {origin}/api/v1/vms",
        shell_quote(&format!("{{{}}}", json.join(",")))
    );
    let mut cs = vec!["cs deployVirtualMachine".to_owned()];
    let mut arg = |key: &str, value: &str| cs.push(format!("{key}={}", shell_quote(value)));
    if let Some(zone) = &zone {
        arg("zoneid", zone);
    }
    if let Some(vdc) = &vdc {
        arg("networkids", vdc);
    }
    for (param, name) in [
        ("templateid", "template"),
        ("serviceofferingid", "size"),
        ("name", "name"),
    ] {
        if let Some(value) = field(name) {
            arg(param, &value);
        }
    }
    let key_names: Vec<String> = keys.iter().filter_map(|id| key_name(id)).collect();
    if !key_names.is_empty() {
        arg("keypairs", &key_names.join(","));
    }
    if field("user_data").is_some() {
        // CloudStack takes the cloud-config base64-encoded: from a file holding the text above.
        cs.push("userdata=\"$(base64 -w0 user-data.yaml)\"".to_owned());
    }
    let mut cs = cs.join(" ");
    if field("breakout").is_some() {
        cs.push_str("\n# then, for its public address: cs associateIpAddress and enableStaticNat");
    }
    (curl, cs)
}

/// What the VDC form's fields come to as a REST request and as a CloudStack command (a VDC is a
/// CloudStack network).
pub fn vdc_create_calls(fields: &[(String, String)], origin: &str) -> (String, String) {
    let field = |name: &str| field_text(fields, name);
    let cs = format!(
        "cs createNetwork name={} zoneid={}",
        shell_quote(&field("name")),
        shell_quote(&field("zone"))
    );
    (rest_post(fields, origin, "/api/v1/vdcs", &["name", "zone"]), cs)
}

/// The SSH key form's calls: REST's `POST /ssh-keys` and CloudStack's `registerSSHKeyPair`.
pub fn ssh_key_calls(fields: &[(String, String)], origin: &str) -> (String, String) {
    let field = |name: &str| field_text(fields, name);
    let cs = format!(
        "cs registerSSHKeyPair name={} publickey={}",
        shell_quote(&field("name")),
        shell_quote(&field("public_key"))
    );
    (
        rest_post(fields, origin, "/api/v1/ssh-keys", &["name", "public_key"]),
        cs,
    )
}

/// A firewall rule form's calls: REST's `POST /firewall-rules`, and CloudStack's
/// `createFirewallRule` on `address` (the id of a public address in the rule's zone; CloudStack
/// puts rules on an address, so without one the second is a shell comment saying so).
pub fn firewall_rule_calls(
    fields: &[(String, String)],
    origin: &str,
    address: Option<&str>,
) -> (String, String) {
    let field = |name: &str| field_text(fields, name);
    // Ports are numbers in the API; what is not a number is shown as typed, for the API to refuse.
    let port = |name: &str| {
        let text = field(name);
        match text.parse::<u32>() {
            Ok(n) => Some(n.to_string()),
            Err(_) if text.is_empty() => None,
            Err(_) => Some(json_string(&text)),
        }
    };
    let mut body = vec![
        format!("\"zone\":{}", json_string(&field("zone"))),
        format!("\"protocol\":{}", json_string(&field("protocol"))),
    ];
    for name in ["port_from", "port_to"] {
        if let Some(value) = port(name) {
            body.push(format!("{}:{value}", json_string(name)));
        }
    }
    body.push(format!("\"source\":{}", json_string(&field("source"))));
    let rest = format!(
        "curl -s -H \"Authorization: Bearer $MERIDIAN_SECRET\" -H 'Content-Type: application/json' \\\n  -d {} \\\n  {origin}/api/v1/firewall-rules",
        shell_quote(&format!("{{{}}}", body.join(",")))
    );
    let cs = match address {
        Some(address) => {
            let mut cs = format!(
                "cs createFirewallRule ipaddressid={} protocol={}",
                shell_quote(address),
                shell_quote(&field("protocol"))
            );
            for (param, name) in [("startport", "port_from"), ("endport", "port_to")] {
                if !field(name).is_empty() {
                    cs.push_str(&format!(" {param}={}", shell_quote(&field(name))));
                }
            }
            cs.push_str(&format!(" cidrlist={}", shell_quote(&field("source"))));
            cs
        }
        None => format!(
            "# CloudStack puts a rule on a public address: give a VM in {} one first (its id is the ipaddressid).",
            field("zone")
        ),
    };
    (rest, cs)
}

/// The template form's call: REST's `POST /templates` (CloudStack's API has no command for a
/// tenant's own templates here: the second is empty).
pub fn template_calls(fields: &[(String, String)], origin: &str) -> (String, String) {
    (
        rest_post(
            fields,
            origin,
            "/api/v1/templates",
            &["name", "base", "user_data"],
        ),
        String::new(),
    )
}

/// The stack form's call: REST's `POST /stacks` (CloudStack's API has no stacks).
pub fn stack_calls(fields: &[(String, String)], origin: &str) -> (String, String) {
    (
        rest_post(fields, origin, "/api/v1/stacks", &["template", "name"]),
        String::new(),
    )
}

/// Field `name`'s value, trimmed (empty when absent).
fn field_text(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// The `curl` POST to `path` of the form's `names` as a JSON object of strings.
fn rest_post(fields: &[(String, String)], origin: &str, path: &str, names: &[&str]) -> String {
    let body: Vec<String> = names
        .iter()
        .map(|name| format!("{}:{}", json_string(name), json_string(&field_text(fields, name))))
        .collect();
    format!(
        "curl -s -H \"Authorization: Bearer $MERIDIAN_SECRET\" -H 'Content-Type: application/json' \\\n  -d {} \\\n  {origin}{path}",
        shell_quote(&format!("{{{}}}", body.join(",")))
    )
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as one word for a POSIX shell: in single quotes, a quote in it closed and reopened.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/,".contains(c))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The fields `names` of the form an event happened in, as the browser would submit them; a name
/// ending in `[]` stands for `name[0]`, `name[1]`, … (a list of checkboxes).
#[cfg(feature = "hydrate")]
pub fn form_fields(event: &leptos::web_sys::Event, names: &[&str]) -> Option<Vec<(String, String)>> {
    use leptos::wasm_bindgen::JsCast;
    let form: leptos::web_sys::HtmlFormElement = event.current_target()?.dyn_into().ok()?;
    let data = leptos::web_sys::FormData::new_with_form(&form).ok()?;
    let mut fields = Vec::new();
    let mut read = |name: String| {
        let value = data.get(&name).as_string();
        if let Some(value) = &value {
            fields.push((name, value.clone()));
        }
        value.is_some()
    };
    for name in names {
        match name.strip_suffix("[]") {
            // Checked boxes are numbered by their place in the list, so some numbers are missing.
            Some(list) => (0..256).for_each(|i| {
                read(format!("{list}[{i}]"));
            }),
            None => {
                read((*name).to_owned());
            }
        }
    }
    Some(fields)
}

/// On the server there is no form to read.
#[cfg(not(feature = "hydrate"))]
pub fn form_fields(_event: &leptos::web_sys::Event, _names: &[&str]) -> Option<Vec<(String, String)>> {
    None
}

/// A form's calls as [`ApiCall`] shows them: `(curl, cs)`, none before anything is typed.
pub type Calls = RwSignal<Option<(String, String)>>;

/// The calls for a form as it is filled in: the signal [`ApiCall`] shows, and the handler for the
/// form's `input` and `change` events that keeps it current (`build` gets the fields `names`
/// and the page's origin).
pub fn live_calls<F>(
    names: &'static [&'static str],
    build: F,
) -> (Calls, impl Fn(leptos::ev::Event) + Copy + 'static)
where
    F: Fn(&[(String, String)], &str) -> (String, String) + Copy + 'static,
{
    let calls = RwSignal::new(None);
    let update = move |ev: leptos::ev::Event| {
        if let Some(fields) = form_fields(&ev, names) {
            let origin = window().location().origin().unwrap_or_default();
            calls.set(Some(build(&fields, &origin)));
        }
    };
    (calls, update)
}

/// The calls, under a disclosure: `calls` gives `(curl, cs)` for what the form holds now.
#[component]
pub fn ApiCall(
    /// The REST request and the CloudStack command, or None before anything is filled in.
    calls: Signal<Option<(String, String)>>,
) -> impl IntoView {
    view! {
        <details class="api-call card">
            <summary>"Show the API call"</summary>
            {move || match calls.get() {
                Some((curl, cs)) => view! {
                    <p>"The REST request (with an API key's secret in " <code>"MERIDIAN_SECRET"</code> "):"</p>
                    <pre tabindex="0" aria-label="REST request"><code>{curl}</code></pre>
                    {if cs.is_empty() {
                        view! { <p>"CloudStack's API has no command for this: use the REST request."</p> }.into_any()
                    } else {
                        view! {
                            <p>"The same with CloudStack's " <code>"cs"</code> " client:"</p>
                            <pre tabindex="0" aria-label="CloudStack command"><code>{cs}</code></pre>
                        }.into_any()
                    }}
                }
                .into_any(),
                None => view! { <p>"Fill in the form: the request that does the same appears here."</p> }.into_any(),
            }}
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_firewall_rule_form_becomes_a_rest_body_with_numbers_and_a_cs_command_on_an_address() {
        let fields: Vec<(String, String)> = [
            ("zone", "fra1"),
            ("protocol", "tcp"),
            ("port_from", "443"),
            ("port_to", ""),
            ("source", "10.0.0.0/8"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
        let (rest, cs) = firewall_rule_calls(&fields, "https://cloud.example", Some("vm-1"));
        assert!(
            rest.contains(r#"-d '{"zone":"fra1","protocol":"tcp","port_from":443,"source":"10.0.0.0/8"}'"#),
            "{rest}"
        );
        assert!(
            rest.ends_with("https://cloud.example/api/v1/firewall-rules"),
            "{rest}"
        );
        assert_eq!(
            cs,
            "cs createFirewallRule ipaddressid=vm-1 protocol=tcp startport=443 cidrlist=10.0.0.0/8"
        );
        let (_, cs) = firewall_rule_calls(&fields, "https://cloud.example", None);
        assert!(
            cs.starts_with("# CloudStack puts a rule on a public address"),
            "{cs}"
        );
    }

    #[test]
    fn a_vdc_is_a_post_and_a_cloudstack_network() {
        let (curl, cs) = vdc_create_calls(&fields(&[("name", "hk-prod"), ("zone", "hkg1")]), "http://h");
        assert!(
            curl.contains(r#"-d '{"name":"hk-prod","zone":"hkg1"}'"#)
                && curl.ends_with("http://h/api/v1/vdcs"),
            "{curl}"
        );
        assert_eq!(cs, "cs createNetwork name=hk-prod zoneid=hkg1");
        // Nothing typed yet: still a command, with empty words a shell keeps.
        let (_, cs) = vdc_create_calls(&[], "http://h");
        assert_eq!(cs, "cs createNetwork name='' zoneid=''");
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_vm_in_a_new_zone_is_one_curl_and_one_cs_command() {
        let (curl, cs) = vm_create_calls(
            &fields(&[
                ("vdc_id", "zone:fra1"),
                ("name", "web-1"),
                ("template", "debian-12"),
                ("size", "m"),
                ("breakout", "on"),
                ("ssh_key_ids[0]", "k1"),
            ]),
            "https://meridian.example",
            |_| None,
            |id| (id == "k1").then(|| "laptop".to_owned()),
        );
        assert!(
            curl.contains(r#"-d '{"zone":"fra1","name":"web-1","template":"debian-12","size":"m","breakout":true,"ssh_key_ids":["k1"]}'"#),
            "{curl}"
        );
        assert!(curl.ends_with("https://meridian.example/api/v1/vms"), "{curl}");
        assert!(
            cs.starts_with("cs deployVirtualMachine zoneid=fra1 templateid=debian-12 serviceofferingid=m name=web-1 keypairs=laptop"),
            "{cs}"
        );
    }

    #[test]
    fn an_ssh_key_and_a_template_are_posts_with_what_is_typed() {
        let (curl, cs) = ssh_key_calls(
            &fields(&[("name", "laptop"), ("public_key", "ssh-ed25519 AAAA x@y")]),
            "http://h",
        );
        assert!(
            curl.contains(r#"-d '{"name":"laptop","public_key":"ssh-ed25519 AAAA x@y"}'"#)
                && curl.ends_with("http://h/api/v1/ssh-keys"),
            "{curl}"
        );
        assert_eq!(
            cs,
            "cs registerSSHKeyPair name=laptop publickey='ssh-ed25519 AAAA x@y'"
        );
        let (curl, cs) = template_calls(
            &fields(&[
                ("name", "web"),
                ("base", "debian-12"),
                ("user_data", "#cloud-config\npackages: [nginx]"),
            ]),
            "http://h",
        );
        assert!(
            curl.contains(
                r##"{"name":"web","base":"debian-12","user_data":"#cloud-config\npackages: [nginx]"}"##
            ) && curl.ends_with("http://h/api/v1/templates"),
            "{curl}"
        );
        assert!(cs.is_empty(), "no CloudStack command");
    }

    #[test]
    fn a_latency_budget_goes_into_the_rest_request() {
        let (curl, _) = vm_create_calls(
            &fields(&[
                ("vdc_id", "zone:ams1"),
                ("latency_ms", "10"),
                ("latency_of", "fra1"),
            ]),
            "http://h",
            |_| None,
            |_| None,
        );
        assert!(
            curl.contains(r#""latency":{"max_ms":10,"from_zone":"fra1"}"#),
            "{curl}"
        );
        let (curl, _) = vm_create_calls(
            &fields(&[
                ("vdc_id", "zone:ams1"),
                ("latency_ms", "2.5"),
                ("latency_of", "vm:0b7e"),
            ]),
            "http://h",
            |_| None,
            |_| None,
        );
        assert!(
            curl.contains(r#""latency":{"max_ms":2.5,"from_vm":"0b7e"}"#),
            "{curl}"
        );
    }

    #[test]
    fn a_vdc_names_its_zone_and_what_is_typed_stays_one_word() {
        let (curl, cs) = vm_create_calls(
            &fields(&[
                ("vdc_id", "0b7e"),
                ("name", "it's"),
                ("user_data", "#cloud-config\nruncmd: [\"echo hi\"]"),
            ]),
            "http://127.0.0.1:3000",
            |id| (id == "0b7e").then(|| "lon1".to_owned()),
            |_| None,
        );
        assert!(curl.contains(r#""vdc_id":"0b7e""#), "{curl}");
        assert!(
            curl.contains(r##""user_data":"#cloud-config\nruncmd: [\"echo hi\"]""##),
            "{curl}"
        );
        assert!(
            curl.contains(r#""name":"it'\''s""#),
            "a quote closes and reopens: {curl}"
        );
        assert!(cs.contains("zoneid=lon1 networkids=0b7e"), "{cs}");
        assert!(cs.contains(r#"name='it'\''s'"#), "{cs}");
        assert!(cs.contains("userdata=\"$(base64 -w0 user-data.yaml)\""), "{cs}");
    }
}
