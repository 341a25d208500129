ALTER TABLE processes DROP COLUMN unstored;
ALTER TABLE processes DROP COLUMN note;
ALTER TABLE runs DROP COLUMN uninstrumented;
DROP TABLE stacks;
PRAGMA user_version = 1;
INSERT INTO sweeps(sweep_id, started_ns, reserve_mb, safety_factor, interval_ms) VALUES (5, 0, 1024, 0.85, 1), (6, 0, 1024, 0.85, 1);
INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (1, 5, 1, 'ok'), (2, 6, 1, 'ok'), (3, 7, 2, 'timeout');
INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES (1, 1, 1, 1), (2, 2, 1, 1), (3, 1, 1, 2);
INSERT INTO samples(proc_id, t_ns, rss_kb, kind) VALUES (1, 1, 10, 'start'), (3, 2, 20, 'tick'), (2, 1, 30, 'tick');
