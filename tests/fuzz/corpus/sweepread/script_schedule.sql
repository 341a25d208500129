-- Schema 9: a scheduled sweep, a retried run, an attempt nothing follows, odd values.
INSERT INTO sweeps(sweep_id, started_ns, finished_ns, mem_total_kb, reserve_mb, safety_factor, interval_ms, origin, mem_budget_kb, jobs_auto, stagger_ms, run_order, retry_oom) VALUES (1, 1000000000, 9000000000, 16777216, 1024, 0.85, 500, 'launcher', 921600, 1, -1, 'size', 1);
INSERT INTO runs(run_id, sweep_id, seq, status, attempt, superseded) VALUES (1, 1, 1, 'ok', NULL, NULL), (2, 1, 2, 'oom', 1, 1), (3, 1, 2, 'ok', 2, NULL), (4, 1, 3, 'oom', 1, 1), (5, 1, 4, 'ok', 'x', 9), (6, 1, 2, 'oom', 3, 1);
INSERT INTO processes(proc_id, run_id, pid, started_ns, ended_ns, hwm_kb) VALUES
 (1, 1, 10, 1000000000, 3000000000, 204800), (2, 2, 11, 1500000000, NULL, NULL),
 (3, 3, 12, 4000000000, 5000000000, 102400), (4, 4, 13, 5000000000, NULL, NULL),
 (5, 5, 14, 6000000000, 7000000000, 1024), (6, 6, 15, 2000000000, NULL, NULL);
INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES
 (1, 1500000000, 102400, 102400, 'tick'), (1, 3000000000, 2048, 204800, 'end'),
 (2, 2000000000, 409600, 409600, 'tick'), (3, 4500000000, 102400, 102400, 'tick'),
 (3, 5000000000, 1024, 102400, 'end'), (4, 5500000000, 512000, 512000, 'tick'),
 (5, 6500000000, 1024, 1024, 'tick'), (6, 2500000000, 300000, 300000, 'tick');
INSERT INTO admissions(run_id, decided_ns, rule, predicted_kb, basis, running, running_predicted_kb, running_rss_kb, available_kb, available_source, budget_kb, waited_ms) VALUES
 (1, 1000000000, 'first', NULL, NULL, 0, 0, 0, 8000000, 'MemAvailable', 921600, 0),
 (2, 1500000000, 'fit', 240000, 'same parameters', 1, 240000, 102400, 7800000, 'MemAvailable', 921600, 12),
 (3, 4000000000, 'retry', 481000, 'largest so far', 0, 0, 0, 7900000, 'MemAvailable', 921600, 1500),
 (4, 5000000000, 'alone', 9999999, 'trend of n', 0, 0, 0, -4, 'cgroup /x: limit', 921600, 0),
 (5, 'soon', 'fit', 'big', NULL, -1, NULL, NULL, NULL, NULL, NULL, 2.5),
 (77, 1, 'slot', NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0);
