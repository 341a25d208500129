DROP TABLE samples;
CREATE TABLE samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id);
INSERT INTO sweeps(sweep_id, started_ns, mem_total_kb, reserve_mb, safety_factor, interval_ms) VALUES (1, 0, 'lots', 1024, 0.85, 9223372036854775807);
INSERT INTO runs(run_id, sweep_id, seq, status, uninstrumented) VALUES (1, 1, -9223372036854775808, 'ok', NULL), (2, 1, 9223372036854775807, 'ok', 'statically linked');
INSERT INTO processes(proc_id, run_id, pid, started_ns, ended_ns, hwm_kb, alloc_dropped, alloc_dropped_rate, alloc_dropped_queue, unstored) VALUES
 (1, 1, -1, 0, 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807),
 (2, 1, -1, 1, NULL, NULL, NULL, 281474976710656, 281474976710656, 281474976710656);
INSERT INTO samples VALUES (1, 0, 4398046511104, 4398046511104, 'tick', NULL, 'x'), (1, 0, 4398046511104, 4398046511104, 'tick', NULL, NULL),
 (2, 0, 4398046511104, NULL, 'alloc', NULL, 3), (2, 1, NULL, NULL, NULL, NULL, NULL), (2, 2.5, 7, 7, 'tick', NULL, NULL),
 (2, 3, x'41', 1, 'tick', NULL, NULL), (2, 4, 1e300, 1, 'tick', NULL, NULL), (2, 5, -0.0, 1, 'tick', NULL, NULL);
INSERT INTO stacks(stack_id, hash, depth, frames) VALUES (3, 1, 1, x'ff00fe');
