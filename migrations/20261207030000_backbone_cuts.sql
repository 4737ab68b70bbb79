-- Backbone links staff cut for maintenance (issue #16): the backbone's controller reads them and
-- takes the links down (in the lab, `meridian-lab links`); restoring one deletes its row.
CREATE TABLE backbone_cuts (
    edge    TEXT PRIMARY KEY,
    cut_at  BIGINT NOT NULL,
    cut_by  TEXT NOT NULL
);
