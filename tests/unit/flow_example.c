/* flow_example.c: see flow_example.h. */
#include "flow_example.h"

const char flow_example[] =
	"{\"start\":\"hours\",\"nodes\":{"
	"\"hours\":{\"type\":\"schedule\",\"open\":\"welcome\",\"closed\":\"closed\","
	"\"week\":{\"mon-fri\":[\"08:30-18:00\"],\"sat\":[\"09:00-12:00\"]},"
	"\"holidays\":[\"2026-10-01\",\"2026-10-02\"]},"
	"\"welcome\":{\"type\":\"menu\",\"prompt\":\"welcome\",\"timeout_s\":5,\"retries\":2,"
	"\"invalid\":\"invalid\",\"options\":{\"1\":\"repair\",\"2\":\"claims_info\",\"0\":\"desk\"},"
	"\"default\":\"desk\"},"
	"\"claims_info\":{\"type\":\"play\",\"prompts\":[\"claims\"],\"next\":\"welcome\"},"
	"\"repair\":{\"type\":\"agent\",\"extension\":\"1001\",\"timeout_s\":20,\"next\":\"desk\"},"
	"\"desk\":{\"type\":\"agent\",\"extension\":\"1000\"},"
	"\"closed\":{\"type\":\"play\",\"prompts\":[\"closed\"],\"next\":\"bye\"},"
	"\"bye\":{\"type\":\"hangup\"}}}";
