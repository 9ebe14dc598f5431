# Shared build settings: every part's Makefile includes this one file.
# SAN=1 builds with AddressSanitizer and UBSan (used by `make asan`).

TOP      := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BUILD    ?= $(TOP)/build$(if $(SAN),-asan,)
CC       ?= cc
PKGS     := libevent libevent_openssl libevent_pthreads jansson libpq openssl libnats sndfile samplerate espeak-ng
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -O2 -g -pthread -I$(TOP)/lib $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lcsv -pthread -lm
ifdef SAN
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

LIBCC    := $(BUILD)/libcc.a
# billing's library for the other programs (billing/rating.h)
LIBRATING := $(BUILD)/billing/librating.a

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
