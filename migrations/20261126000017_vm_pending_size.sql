-- The size a resize has reserved room for but not yet applied ("vcpus/memory_mib/disk_gib").
ALTER TABLE vms ADD COLUMN pending_size TEXT;
