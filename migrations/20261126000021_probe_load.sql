-- How busy each backbone edge was at each probe round, in parts per million of its capacity
-- (the map colours edges by it). Rounds recorded before this column have none.
ALTER TABLE probe_samples ADD COLUMN load_ppm BIGINT;
