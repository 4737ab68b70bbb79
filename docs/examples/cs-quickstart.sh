#!/usr/bin/env bash
# Meridian from the command line with the `cs` CloudStack client (pip install cs).
# Make an API key in Settings → API keys, then:
#   export CLOUDSTACK_ENDPOINT=http://127.0.0.1:3000/client/api
#   export CLOUDSTACK_KEY=mk_…  CLOUDSTACK_SECRET=…
# The tests run this very file against a fresh Meridian (server/tests/api_clients.rs).
set -euo pipefail

# The zones, and a private network (a VDC) in Berlin.
# (Each answer is read whole before it is searched: `cs … | grep -q` can end cs with a broken pipe.)
zones=$(cs listZones)
grep -q '"name": "Berlin"' <<<"$zones"
cs createNetwork name=quickstart zoneid=ber1 displaytext=quickstart networkofferingid=private

# A VM on it, waiting until it runs (the client polls queryAsyncJobResult).
vm=$(cs deployVirtualMachine zoneid=ber1 serviceofferingid=s templateid=coreos-docker name=quickstart-1 \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["virtualmachine"]["id"])')
listed=$(cs listVirtualMachines id="$vm")
grep -q '"state": "Running"' <<<"$listed"

# Stop it, then destroy it.
stopped=$(cs stopVirtualMachine id="$vm")
grep -q '"state": "Stopped"' <<<"$stopped"
cs destroyVirtualMachine id="$vm" >/dev/null
echo "quickstart: VM $vm created, stopped and destroyed"
