/* libFuzzer target: lib/audio's decoder (libsndfile's parsers behind it,
 * reading from memory). The first byte picks the format the upload claims;
 * the rest is the file, copied flush against the end of its own buffer for
 * ASan. A result must be a known one, and an accepted prompt must hold
 * samples at both rates, in proportion, peaking at about -3 dBFS. */
#include "audio.h"
#include "cc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_audio a;
	enum cc_audio_result rc;
	char *err = NULL;
	uint8_t *copy;

	if (!size)
		return 0;
	enum cc_audio_format want = (enum cc_audio_format)(data[0] % 5);
	data++, size--;
	copy = malloc(size ? size : 1);
	CC_BUG_ON(!copy);
	memcpy(copy, data, size);
	rc = cc_audio_decode(copy, size, want, &a, &err);
	free(copy);
	CC_BUG_ON(rc < CC_AUDIO_OK || rc > CC_AUDIO_FAILED);
	CC_BUG_ON(rc != CC_AUDIO_OK && (a.pcm8 || a.pcm16 || !err));
	if (rc == CC_AUDIO_OK) {
		int peak = 0;

		CC_BUG_ON(!a.pcm8 || !a.pcm16 || !a.n8 || a.duration_ms < 1 ||
		          a.duration_ms > CC_AUDIO_MAX_MS);
		CC_BUG_ON(a.n16 + 16 < 2 * a.n8 || a.n16 > 2 * a.n8 + 16);
		for (size_t i = 0; i < a.n16; i++)
			peak = abs(a.pcm16[i]) > peak ? abs(a.pcm16[i]) : peak;
		CC_BUG_ON(peak > 23300);          /* -3 dBFS is 23197 */
	}
	cc_audio_free(&a);
	free(err);
	return 0;
}
