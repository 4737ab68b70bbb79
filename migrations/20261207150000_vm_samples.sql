-- A VM's CPU and network over time, for its page's graphs (issue #22): a ring per VM of one row
-- per minute of the last hour (`span` 'minute', `slot` 0–59) and one per hour of the last day
-- ('hour', 0–23), so what is kept never grows with time. The meter adds each period's figures
-- to the row of the minute and the hour they end in, in the same transaction as the usage; a
-- row whose `start_ms` is not the period's is an old lap of the ring, and is overwritten.
CREATE TABLE vm_samples (
    vm_id        TEXT NOT NULL,
    span         TEXT NOT NULL,
    slot         INTEGER NOT NULL,
    start_ms     BIGINT NOT NULL,
    seconds      BIGINT NOT NULL,
    cpu_ms       BIGINT NOT NULL,
    capacity_ms  BIGINT NOT NULL,
    received     BIGINT NOT NULL,
    sent         BIGINT NOT NULL,
    PRIMARY KEY (vm_id, span, slot)
);
