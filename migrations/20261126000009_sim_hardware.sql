-- The simulated driver's hardware: what its pretend hosts hold for each VM. Kept in the database so
-- that, like real hardware, it outlives a crash of the control plane (0/1 flags).
CREATE TABLE sim_hardware (
    vm_id     TEXT PRIMARY KEY,
    disk      BIGINT NOT NULL,
    powered   BIGINT NOT NULL,
    network   BIGINT NOT NULL,
    breakout  BIGINT NOT NULL
);
