/* flow_example.h: the example flow of issue 13 as it stands (docs/FLOWS.md),
 * shared by the suites that read flows (test_flow, test_ivr): one copy, in
 * flow_example.c, linked into each (tests/Makefile). */
#ifndef CC_TEST_FLOW_EXAMPLE_H
#define CC_TEST_FLOW_EXAMPLE_H

/* A schedule opening a menu (1 repair, 2 claims_info, 0 desk) on weekdays
 * 08:30-18:00 and Saturday mornings, closed on two holidays. JSON text. */
extern const char flow_example[];

#endif
