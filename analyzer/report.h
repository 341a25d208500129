/*
 * `memsweep report`: one self-contained HTML page of a sweep (docs/report.md). The page
 * is analyzer/report_page.html, compiled in, with the sweep's figures inserted as one JSON
 * document that its script draws: the advisory with its arithmetic, the total RSS of the
 * running runs over time, each run's samples, the peaks by parameter value, the peak
 * views of each run and the large blocks live at its peak. Nothing in it is fetched.
 */
#ifndef MS_ANALYZER_REPORT_H
#define MS_ANALYZER_REPORT_H

#include <stdio.h>

#include <sqlite3.h>

#include "advisory.h"
#include "sweepread.h"

/*
 * Samples drawn of one process at most, and of the whole sweep: a process with more than
 * its share (MS_REPORT_POINTS_TOTAL divided among the processes, at most
 * MS_REPORT_PROC_POINTS and at least MS_REPORT_PROC_POINTS_MIN) is thinned by time slices,
 * keeping each slice's lowest and highest reading, so that every peak and trough is drawn;
 * the page says how many of how many were drawn. The total keeps a sweep of 10,000 runs
 * of long runs within a few MiB of page (each point is about 20 bytes of text).
 */
#define MS_REPORT_PROC_POINTS 600
#define MS_REPORT_PROC_POINTS_MIN 40
#define MS_REPORT_POINTS_TOTAL 400000

/* Time slices of the sweep timeline: each point is the largest total within one. */
#define MS_REPORT_SLICES 1500

/*
 * Writes the page to f: d and a are the sweep as read and its advisory, db the database
 * they were read from (its samples are read again here, one pass, ordered by run). The
 * advisory's text is rendered here as `memsweep advise` prints it. Returns 0, -ENOMEM,
 * or -EIO with a one-line message in err naming the database as name.
 */
int ms_report_write(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d,
                    const ms_advisory_t *a, char *err, size_t errlen);

/*
 * Copies JSON text into a <script> element safely: '<', '>' and '&', which in JSON only
 * occur inside strings, become \u003c, \u003e and \u0026, so no text a database holds can
 * close the element or start a comment. Returns 0 or -EIO when f fails.
 */
int ms_report_copy_json(FILE *f, const char *json, size_t len);

#endif
