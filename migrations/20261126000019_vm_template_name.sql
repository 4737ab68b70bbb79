-- The template's name and the image it boots, as they were when the VM was created (a tenant
-- template may be deleted later; the VM keeps running what it was created from).
ALTER TABLE vms ADD COLUMN template_name TEXT NOT NULL DEFAULT '';
ALTER TABLE vms ADD COLUMN image TEXT NOT NULL DEFAULT '';
