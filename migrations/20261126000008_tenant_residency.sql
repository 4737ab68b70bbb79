-- A tenant's data-residency policy in its stored text form (`anywhere`, `countries:DE,FR`, `zones:lon1`).
ALTER TABLE tenants ADD COLUMN residency TEXT NOT NULL DEFAULT 'anywhere';
