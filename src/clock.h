/*
 * clock.h - the time in milliseconds (and microseconds): a monotonic clock for deadlines
 * within a process, the wall clock for times several processes share
 * (the failed-auth counters in the store).
 */
#ifndef CLAW_CLOCK_H
#define CLAW_CLOCK_H

#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and durations. */
static inline long long clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds on CLOCK_MONOTONIC: for durations measured finely
 * (metrics.c's latency histograms). */
static inline long long clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
static inline long long clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
