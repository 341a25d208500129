-- Runs against a fresh database with the current schema.
INSERT INTO sweeps(sweep_id, started_ns, mem_total_kb, reserve_mb, safety_factor, interval_ms) VALUES (1, 0, 16777216, 1024, 0.85, 500);
INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (1, 1, 1, 'ok'), (2, 1, 2, 'killed'), (3, 1, 3, 'running');
INSERT INTO processes(proc_id, run_id, pid, started_ns, ended_ns, hwm_kb, unstored, note) VALUES
 (1, 1, 10, 1000000000, 5000000000, 204800, 0, NULL),
 (2, 1, 11, 2000000000, NULL, 4398046511104, 7, 'stopped'),
 (3, 2, 12, 1000000000, NULL, -1, NULL, NULL),
 (4, 2, 12, 1200000000, 3000000000, 1024, NULL, NULL),
 (5, 3, 13, 4102444799999999999, NULL, NULL, NULL, NULL);
INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES
 (1, 1000000000, 1024, 1024, 'start'), (1, 1500000000, 102400, 102400, 'tick'),
 (1, 1500000000, 102400, 102400, 'tick'), (1, 1200000000, 204800, 204800, 'release'),
 (1, 5000000000, 2048, 204800, 'end'), (2, 2000000000, 4398046511104, 0, 'tick'),
 (2, 2500000000, 4398046511105, 0, 'tick'), (3, 1100000000, 500, 500, 'tick'),
 (4, 1200000000, 600, 600, 'start'), (4, 3000000000, 700, 700, 'end'),
 (5, 4102444799999999999, 1, 1, 'tick'), (9, 1, 1, 1, 'tick');
