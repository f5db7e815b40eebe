/* timer.h - monotonic wall-clock time for timings and back-off. */
#ifndef LOAA_TIMER_H
#define LOAA_TIMER_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC); never goes back. */
double loaa_now(void);

/* Seconds since the Unix epoch (CLOCK_REALTIME), for timestamps in the store. */
double loaa_wall_clock(void);

/* Sleeps for the given seconds (fractional), resuming after signals. */
void loaa_sleep(double seconds);

/* Peak resident set size of this process in bytes (0 if unknown). */
long loaa_peak_rss(void);

#endif
