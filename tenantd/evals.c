#include "api.h"
const struct tn_route tn_eval_routes[] = {
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
