-- The fingerprints of the SSH keys installed into a VM at creation, space-separated.
ALTER TABLE vms ADD COLUMN ssh_keys TEXT NOT NULL DEFAULT '';
