/* recordings.c: placeholder, filled below */
#include "api.h"
const struct tn_route tn_recording_routes[] = {
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
