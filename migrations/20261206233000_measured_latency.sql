-- Measured latency (issue #16): a probe sample says where it came from ('simulated' by the model,
-- 'measured' by host agents over the lab's backbone, 'implausible' when a measurement came in below
-- the fibre limit and is shown as the error it is), with jitter and loss when measured. Agents'
-- latest measurement per edge waits in edge_measurements for the next probe round.
ALTER TABLE probe_samples ADD COLUMN source TEXT NOT NULL DEFAULT 'simulated';
ALTER TABLE probe_samples ADD COLUMN jitter_us BIGINT;
ALTER TABLE probe_samples ADD COLUMN loss_ppm BIGINT;
CREATE TABLE edge_measurements (
    edge       TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    rtt_us     BIGINT,
    jitter_us  BIGINT NOT NULL,
    loss_ppm   BIGINT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('measured', 'implausible'))
);
