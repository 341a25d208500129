/*
 * The floor of bench_floor.sh: a preloaded library that does nothing. What it costs is
 * the dynamic loader's work for one more library (open, map, relocate, unmap at exit).
 */
int floor_empty_marker;
int floor_empty_marker = 1;
