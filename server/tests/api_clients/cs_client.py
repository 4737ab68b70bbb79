"""Drives Meridian's CloudStack API with the `cs` client from PyPI, as a customer's script would.

Run by server/tests/api_clients.rs with MERIDIAN_API (…/client/api), MERIDIAN_KEY and
MERIDIAN_SECRET set; exits non-zero with a message on the first thing that is wrong.
"""
import ipaddress
import os

from cs import CloudStack, CloudStackApiException

endpoint = os.environ["MERIDIAN_API"]
key = os.environ["MERIDIAN_KEY"]
secret = os.environ["MERIDIAN_SECRET"]
api = CloudStack(endpoint=endpoint, key=key, secret=secret, poll_interval=0.2, job_timeout=60)

zones = api.listZones(fetch_list=True)
assert len(zones) == 16, zones
la = next(z for z in zones if z["name"] == "Los Angeles")
offerings = api.listServiceOfferings(fetch_list=True)
assert any(o["id"] == "xs" for o in offerings), offerings
templates = api.listTemplates(templatefilter="featured", zoneid=la["id"], fetch_list=True)
coreos = next(t for t in templates if t["id"] == "coreos-docker")

network = api.createNetwork(name="cs-la", zoneid=la["id"], displaytext="cs", networkofferingid="any")["network"]
assert network["zoneid"] == la["id"] and network["zonename"] == "Los Angeles", network

result = api.deployVirtualMachine(
    zoneid=la["id"], serviceofferingid="xs", templateid=coreos["id"], name="cs-vm-1", fetch_result=True
)
vm = result["virtualmachine"]
assert vm["state"] == "Running", vm
assert vm["nic"][0]["ipaddress"].startswith("10."), vm

# The VM is on the network's subnet, allocated with its first VM.
[network] = api.listNetworks(id=network["id"], fetch_list=True)
assert ipaddress.ip_address(vm["nic"][0]["ipaddress"]) in ipaddress.ip_network(network["cidr"]), network

listed = api.listVirtualMachines(id=vm["id"], fetch_list=True)
assert [v["name"] for v in listed] == ["cs-vm-1"], listed
assert listed[0]["zonename"] == "Los Angeles", listed

# A public address for the running VM (internet breakout) and a firewall rule for it; released.
ip = api.associateIpAddress(virtualmachineid=vm["id"], fetch_result=True)["ipaddress"]
assert ip["virtualmachineid"] == vm["id"] and ip["zonename"] == "Los Angeles", ip
assert [a["ipaddress"] for a in api.listPublicIpAddresses(fetch_list=True)] == [ip["ipaddress"]]
rule = api.createFirewallRule(
    ipaddressid=ip["id"], protocol="tcp", startport=443, endport=443, cidrlist="0.0.0.0/0", fetch_result=True
)["firewallrule"]
assert (rule["protocol"], rule["startport"], rule["endport"]) == ("tcp", 443, 443), rule
assert [r["id"] for r in api.listFirewallRules(ipaddressid=ip["id"], fetch_list=True)] == [rule["id"]]
api.disassociateIpAddress(id=ip["id"], fetch_result=True)
assert api.listPublicIpAddresses(fetch_list=True) == []

stopped = api.stopVirtualMachine(id=vm["id"], fetch_result=True)["virtualmachine"]
assert stopped["state"] == "Stopped", stopped
jobs = api.listAsyncJobs(fetch_list=True)
assert {j["jobstatus"] for j in jobs} == {1}, jobs

api.destroyVirtualMachine(id=vm["id"], fetch_result=True)
assert api.listVirtualMachines(id=vm["id"], fetch_list=True) == []

# A zone the account never used: deploying with no network makes the zone's network (as
# CloudStack makes an account's default network), on the same private network as the rest.
madrid = next(z for z in zones if z["name"] == "Madrid")
result = api.deployVirtualMachine(
    zoneid=madrid["id"], serviceofferingid="xs", templateid=coreos["id"], name="cs-vm-mad", fetch_result=True
)
vm = result["virtualmachine"]
assert vm["state"] == "Running" and vm["zonename"] == "Madrid", vm
[made] = api.listNetworks(zoneid=madrid["id"], fetch_list=True)
assert made["name"] == "default-mad1", made
assert ipaddress.ip_address(vm["nic"][0]["ipaddress"]) in ipaddress.ip_network(made["cidr"]), made
api.destroyVirtualMachine(id=vm["id"], fetch_result=True)

# A bad request is refused with CloudStack's error shape and creates nothing.
try:
    api.deployVirtualMachine(zoneid=la["id"], serviceofferingid="huge", templateid=coreos["id"], name="cs-vm-2")
    raise SystemExit("an unknown size was accepted")
except CloudStackApiException as error:
    assert error.error["errorcode"] == 431 and "serviceofferingid" in error.error["errortext"], error.error
assert api.listVirtualMachines(fetch_list=True) == []

try:
    api.listFrobnicators()
    raise SystemExit("an unknown command was answered")
except CloudStackApiException as error:
    assert error.error["errorcode"] == 432, error.error

wrong = CloudStack(endpoint=endpoint, key=key, secret=secret[:-2] + "xx")
try:
    wrong.listZones()
    raise SystemExit("a wrong secret was accepted")
except CloudStackApiException as error:
    assert error.error["errorcode"] == 401, error.error

print("cs: zones, network, deploy, deploy into a fresh zone, list, public address, firewall, stop, destroy, refusals: all as expected")
