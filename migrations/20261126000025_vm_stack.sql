-- The stack a VM belongs to, if any.
ALTER TABLE vms ADD COLUMN stack_id TEXT REFERENCES stacks (id);
