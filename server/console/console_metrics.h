/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console_metrics.h: a console's open_result as the result label of
 * mpsd_console_requests_total. A switch, not a cast, so that a new
 * open_result cannot silently land on the wrong label.
 */
#ifndef MPS_CONSOLE_METRICS_H
#define MPS_CONSOLE_METRICS_H

#include "console_priv.h"
#include "metrics.h"

static inline mps_metric_console_result_t
mps_console_metric_result(open_result why)
{
	switch (why) {
	case OPEN_OK:
		return MPS_CONSOLE_OPENED;
	case OPEN_NO_DEVICE:
		return MPS_CONSOLE_NO_DEVICE;
	case OPEN_PORT_REFUSED:
		return MPS_CONSOLE_PORT_REFUSED;
	case OPEN_DEVICE_REFUSED:
		return MPS_CONSOLE_DEVICE_REFUSED;
	case OPEN_TOO_MANY:
		return MPS_CONSOLE_TOO_MANY;
	case OPEN_TIMEOUT:
		return MPS_CONSOLE_TIMEOUT;
	case OPEN_INTERNAL:
	default:
		return MPS_CONSOLE_INTERNAL;
	}
}

#endif /* MPS_CONSOLE_METRICS_H */
