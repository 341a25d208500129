/*
 * The large blocks live at a run's peak (docs/usage.md, "Large blocks at the peak"): the shim lists the blocks of at
 * least MEMSWEEP_BLOCK_MB live at each of a process image's highest readings, with the
 * part of each that was resident and its allocation stack; the database keeps the list of
 * the highest (tables block_readings and blocks, schema 8). For a run, the process image
 * whose list was taken at the highest reading is shown, its blocks largest first, each
 * stack symbolized offline (symbolize.h).
 */
#ifndef MS_ANALYZER_PEAKBLOCKS_H
#define MS_ANALYZER_PEAKBLOCKS_H

#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "symbolize.h"

/* One frame of a block's stack: as recorded, and as the symbolizer tells it. */
typedef struct ms_block_frame {
    char *raw;  /* "module+0xoffset symbol[ build-id]", as stacks.frames holds it */
    char *text; /* "function at file:line (module+0xoffset)", or the raw frame and why not */
    int symbolized; /* the symbolizer named a function */
} ms_block_frame_t;

typedef struct ms_block_view {
    unsigned long long bytes;  /* allocated */
    long long resident_kb;     /* resident at the reading; -1 when unknown */
    int64_t allocated_ns;      /* when; 0 when unknown */
    long long stack_id;        /* 0: no stack recorded */
    ms_block_frame_t *frames;
    size_t n_frames;
} ms_block_view_t;

typedef struct ms_peak_blocks {
    int have;                     /* a list of the run's blocks was recorded */
    long long pid;                /* of the process image it belongs to */
    int64_t t_ns;                 /* of its reading */
    int64_t run_start_ns;         /* runs.started_ns; 0 when not recorded */
    unsigned long long rss_kb;    /* that reading's RSS (its process's alone) */
    char kind[16];                /* that reading's sample kind; "" when not found */
    unsigned long long untracked; /* large blocks its table had no room for */
    size_t procs;                 /* process images of the run with a list */
    size_t n;
    ms_block_view_t *blocks;      /* largest first */
    unsigned long long resident_kb; /* sum of the blocks' resident parts that are known */
    size_t unknown;                 /* blocks whose resident part is not known */
    unsigned long long proc_max_kb; /* the process's highest sample of any kind; 0: none */
    size_t n_symbolized, n_frames;  /* frames named, of all frames */
} ms_peak_blocks_t;

/*
 * The highest RSS a list of blocks at rss_kb still stands for: the shim writes a new list
 * when RSS rose by 1/32 (1 MiB at least) since the last, so a process whose highest
 * reading is above this had one the list does not describe.
 */
unsigned long long ms_peak_blocks_near(unsigned long long rss_kb);

/* Reads the lists of any number of runs from one database, symbolizing as it goes. */
typedef struct ms_block_reader ms_block_reader_t;

/*
 * Opens a reader on db. A database without the tables (before schema 8) gives a reader
 * that finds nothing. Returns 0, -ENOMEM, or -EIO with SQLite's message in db.
 */
int ms_block_reader_open(sqlite3 *db, ms_block_reader_t **out);
void ms_block_reader_close(ms_block_reader_t *r);

/*
 * The lines of frames (stacks.frames) as `peaks` prints them, symbolized like the stacks
 * of blocks, one per line; malloc'd, NULL when out of memory.
 */
char *ms_frames_symbolized(ms_block_reader_t *r, const char *frames);

/* Fills *out for run_id (out->have 0 when it has no list). Returns 0, -ENOMEM or -EIO. */
int ms_peak_blocks_read(ms_block_reader_t *r, long long run_id, ms_peak_blocks_t *out);
void ms_peak_blocks_free(ms_peak_blocks_t *b);

/*
 * The line that sums a list up, as `peaks` prints it after "LargeBlocks: ": how many
 * blocks were live at which reading, and how much of the reading and of the run's peak
 * (run_peak_kb; 0: not said) their resident parts make.
 */
void ms_peak_blocks_summary(const ms_peak_blocks_t *b, unsigned long long run_peak_kb, char *buf,
                            size_t len);

/* Room for one note of ms_peak_blocks_notes. */
#define MS_PEAK_BLOCKS_NOTE_MAX 200

/*
 * What to add to the summary, at most 3 notes: resident sizes unknown, a higher reading
 * of the process without a list, blocks the shim could not track. Returns how many.
 */
size_t ms_peak_blocks_notes(const ms_peak_blocks_t *b, char notes[][MS_PEAK_BLOCKS_NOTE_MAX]);

/*
 * The text of `memsweep peaks`: a LargeBlocks line and each block with its stack (at most
 * max_frames frames of each; 0: all). run_peak_kb is the run's peak, which the resident
 * blocks are given as a share of.
 */
void ms_peak_blocks_write(FILE *f, const ms_peak_blocks_t *b, unsigned long long run_peak_kb,
                          size_t max_frames);

/* The same as the value of a JSON key: an object, or null without a list. */
void ms_peak_blocks_write_json(FILE *f, const ms_peak_blocks_t *b, unsigned long long run_peak_kb);

#endif
