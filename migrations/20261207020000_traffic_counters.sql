-- Metering from counters (issue #16): a host agent counts what each VM sends, by destination class
-- (a zone, or 'internet'), cumulatively; the meter bills the difference from the last reading it
-- metered, kept here in the same transaction as the usage rows it produced, so a crash neither
-- loses nor doubles bytes. `read_at` orders readings: an older one (another server's, late) is
-- not metered against a newer.
CREATE TABLE vm_traffic_counters (
    vm_id    TEXT NOT NULL,
    class    TEXT NOT NULL,
    bytes    BIGINT NOT NULL,
    read_at  BIGINT NOT NULL,
    PRIMARY KEY (vm_id, class)
);
