#!/usr/bin/env bash
# Meridian's REST API with curl and jq. Make an API key in Settings → API keys, then:
#   export MERIDIAN_URL=http://127.0.0.1:3000  MERIDIAN_SECRET=…   (the key's secret)
# The tests run this very file against a fresh Meridian (server/tests/http.rs).
set -euo pipefail
api() { # api METHOD PATH [JSON BODY] [extra curl arguments]
  local method=$1 path=$2 body=${3:-}
  shift $(( $# < 3 ? $# : 3 ))
  curl -sS --fail-with-body -X "$method" "$MERIDIAN_URL/api/v1$path" \
    -H "Authorization: Bearer $MERIDIAN_SECRET" ${body:+-H 'Content-Type: application/json' --data "$body"} "$@"
}

# Where Berlin is, and how far London is from it over the backbone.
api GET /zones/ber1 | jq -e '.zone.city == "Berlin" and (.latency[] | select(.zone == "lon1") | .rtt_ms > 0)' >/dev/null

# A VDC in Berlin, then a VM in it. The Idempotency-Key makes a retried create safe.
vdc=$(api POST /vdcs '{"name":"rest-quickstart","zone":"ber1"}' | jq -r .id)
job=$(api POST /vms "{\"vdc_id\":\"$vdc\",\"name\":\"rest-1\",\"template\":\"coreos-docker\",\"size\":\"s\"}" \
  -H 'Idempotency-Key: rest-quickstart-1' | jq -r .job.id)

# Poll the job until it is over.
until api GET "/jobs/$job" | jq -e .finished >/dev/null; do sleep 0.2; done
vm=$(api GET "/jobs/$job" | jq -r 'select(.state == "succeeded") | .vm_id')
api GET "/vms/$vm" | jq -e '.state == "running" and (.private_ip | startswith("10."))' >/dev/null

# Give it a public address, then destroy it.
job=$(api PUT "/vms/$vm/breakout" | jq -r .job.id)
until api GET "/jobs/$job" | jq -e .finished >/dev/null; do sleep 0.2; done
api GET "/vms/$vm" | jq -e '.public_ip != null' >/dev/null
api DELETE "/vms/$vm" >/dev/null
echo "rest quickstart: VM $vm created in Berlin, given a public address, and destroyed"
