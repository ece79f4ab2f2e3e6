-- Our own re-creation of the Wiki labels PostgreSQL schema (reference/wikilabels.md §3.1),
-- plus a small fixture that reproduces the quirks an import must survive.
-- Timestamps are naive, as in Wiki labels; the tests read them as UTC.

CREATE TABLE campaign (
  id                   SERIAL PRIMARY KEY,
  name                 VARCHAR(255),
  wiki                 VARCHAR(255),
  form                 VARCHAR(255),
  view                 VARCHAR(255),
  info_url             VARCHAR(2000),
  created              TIMESTAMP DEFAULT NOW(),
  labels_per_task      INT,
  tasks_per_assignment INT,
  active               BOOLEAN
);
CREATE INDEX campaign_wiki ON campaign (wiki);

CREATE TABLE task (
  id          SERIAL PRIMARY KEY,
  campaign_id INT REFERENCES campaign (id),
  data        JSON
);

-- No foreign key to task: a label may name a task that does not exist.
CREATE TABLE label (
  task_id     INT,
  user_id     INT,
  "timestamp" TIMESTAMP DEFAULT NOW(),
  data        JSON,
  PRIMARY KEY (task_id, user_id)
);
CREATE INDEX label_user ON label (user_id);

CREATE TABLE workset (
  id          SERIAL PRIMARY KEY,
  campaign_id INT,
  user_id     INT,
  created     TIMESTAMP,
  expires     TIMESTAMP
);
CREATE INDEX workset_user_campaign ON workset (user_id, campaign_id);

-- No foreign key to workset, and nothing ties the task's campaign to the workset's.
CREATE TABLE workset_task (
  workset_id INT,
  task_id    INT REFERENCES task (id),
  PRIMARY KEY (workset_id, task_id)
);

CREATE TABLE event (
  id          SERIAL PRIMARY KEY,
  type        VARCHAR(255),
  "timestamp" TIMESTAMP,
  data        JSON
);
CREATE INDEX event_type_timestamp ON event (type, "timestamp");

-- Campaigns 1 and 2 share (wiki, name); 3 has active NULL; 4 uses a form and view we lack.
INSERT INTO campaign
  (id, name, wiki, form, view, info_url, created, labels_per_task, tasks_per_assignment, active)
VALUES
  (1, 'Edit quality (20k random sample, 2015)', 'enwiki', 'damaging_and_goodfaith',
   'DiffToPrevious', 'https://meta.wikimedia.org/wiki/Wiki_labels', '2015-06-01 12:00:00', 1, 5,
   TRUE),
  (2, 'Edit quality (20k random sample, 2015)', 'enwiki', 'damaging_and_goodfaith',
   'DiffToPrevious', NULL, '2015-06-02 08:30:00.250000', 1, 5, FALSE),
  (3, 'Qualidade das edições', 'ptwiki', 'damaging_and_goodfaith', 'DiffToPrevious', NULL,
   '2015-07-01 00:00:00', 2, 5, NULL),
  (4, 'Item quality', 'wikidatawiki', 'item_quality', 'ItemPage', NULL, '2016-01-15 09:00:00', 3,
   10, TRUE);
SELECT setval('campaign_id_seq', 4);

-- Tasks 1-30 in campaign 1, 31-35 in 2, 36-45 in 3, 46-50 in 4 (50 is wikitext, not a rev_id).
INSERT INTO task (id, campaign_id, data)
SELECT g, CASE WHEN g <= 30 THEN 1 WHEN g <= 35 THEN 2 WHEN g <= 45 THEN 3 ELSE 4 END,
       json_build_object('rev_id', 600000 + g)
FROM generate_series(1, 49) AS g;
INSERT INTO task (id, campaign_id, data) VALUES (50, 4, '{"wikitext": "{{:WP:Sandbox}}"}');
SELECT setval('task_id_seq', 50);

INSERT INTO workset (id, campaign_id, user_id, created, expires) VALUES
  -- Expired, two of five tasks labeled.
  (1, 1, 608705, '2015-06-02 10:00:00', '2015-06-03 10:00:00'),
  -- Campaign 3, but holds tasks of campaign 1 (the Wiki labels fixture's quirk).
  (2, 3, 555755, '2015-07-02 10:00:00', '2015-07-03 10:00:00'),
  -- Expired, fully labeled.
  (3, 1, 608705, '2015-06-10 10:00:00', '2015-06-11 10:00:00'),
  -- Two unexpired worksets of one user in one campaign (the concurrency bug): 5 is newer.
  (4, 3, 700001, '2025-01-01 10:00:00', '2099-01-01 00:00:00'),
  (5, 3, 700001, '2025-01-02 10:00:00', '2099-01-02 00:00:00'),
  -- Task 37 handed to user 700002 twice (in 6 and again in 7).
  (6, 3, 700002, '2015-07-05 10:00:00', '2015-07-06 10:00:00'),
  (7, 3, 700002, '2016-07-05 10:00:00', '2016-07-06 10:00:00'),
  -- Empty (assignment found nothing).
  (8, 1, 700003, '2016-08-01 10:00:00', '2016-08-02 10:00:00');
SELECT setval('workset_id_seq', 8);

INSERT INTO workset_task (workset_id, task_id) VALUES
  (1, 1), (1, 2), (1, 3), (1, 4), (1, 5),
  (2, 21), (2, 22), (2, 23), (2, 24), (2, 25),
  (3, 6), (3, 7), (3, 8), (3, 9), (3, 10),
  (4, 36), (4, 37), (4, 38), (4, 39), (4, 40),
  (5, 41), (5, 42), (5, 43),
  (6, 36), (6, 37),
  (7, 37), (7, 38),
  -- A workset that does not exist.
  (999, 11);

INSERT INTO label (task_id, user_id, "timestamp", data) VALUES
  (1, 608705, '2015-06-02 10:05:00.123456', '{"damaging": false, "good-faith": true}'),
  (2, 608705, '2015-06-02 10:06:00', '{"damaging": true, "good-faith": false}'),
  (6, 608705, '2015-06-10 10:01:00', '{"damaging": false, "good-faith": true}'),
  (7, 608705, '2015-06-10 10:02:00', '{"damaging": false, "good-faith": true}'),
  (8, 608705, '2015-06-10 10:03:00', '{"damaging": false, "good-faith": true}'),
  (9, 608705, '2015-06-10 10:04:00', '{"damaging": false, "good-faith": true}'),
  (10, 608705, '2015-06-10 10:05:00', '{"damaging": false, "good-faith": true}'),
  -- In the cross-campaign workset 2 only; task 22 is a campaign 1 task.
  (22, 555755, '2015-07-02 10:10:00', '{"damaging": true, "good-faith": true}'),
  -- Outside any workset of its user (and task 1 already has its one label: over-assigned).
  (1, 555755, '2015-07-02 10:20:00', '{"damaging": false, "good-faith": true}'),
  -- On a task that does not exist.
  (99999, 555755, '2015-07-02 10:30:00', '{"anything": [1, 2, 3]}'),
  (36, 700001, '2025-01-01 10:10:00', '{"damaging": false, "good-faith": true}'),
  (36, 700002, '2015-07-05 10:10:00', '{"damaging": true, "good-faith": false}'),
  (38, 700002, '2016-07-05 10:10:00', '{"damaging": false, "good-faith": true}');
