-- Latency probes over each backbone edge (RTT in microseconds; lost probes have no RTT), kept two days.
CREATE TABLE probe_samples (
    edge    TEXT NOT NULL,
    at      BIGINT NOT NULL,
    rtt_us  BIGINT,
    lost    BIGINT NOT NULL CHECK (lost IN (0, 1)),
    PRIMARY KEY (edge, at)
);

CREATE INDEX probe_samples_by_time ON probe_samples (at);
