// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: the tracepoint definitions of trace.h, instantiated once here.
 */
#define CREATE_TRACE_POINTS
#include "trace.h"
