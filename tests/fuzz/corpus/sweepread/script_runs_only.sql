INSERT INTO sweeps(sweep_id, started_ns, mem_total_kb, reserve_mb, safety_factor, interval_ms) VALUES (1, 0, 1048576, 1024, 0.85, 500);
INSERT INTO runs(run_id, sweep_id, seq, status, uninstrumented) VALUES (1, 1, 1, 'ok', 'statically linked'), (2, 1, 2, 'failed', NULL);
INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES (1, 1, 1, 1, 'tick');
