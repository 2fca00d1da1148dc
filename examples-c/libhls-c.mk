# The one set of rules that builds C programs against libhls, shared by examples-c/Makefile and
# tests/c/Makefile. Before including it, set PROGS (program names, one .c file each), LIBDIR
# (where libhls.so is) and INCLUDE (where hls.h is); CC and CFLAGS may be overridden.
#
#   all    the programs          asan   <prog>-asan (-fsanitize=address,undefined)
#   tsan   <prog>-tsan (-fsanitize=thread)          clean

CC     ?= cc
CFLAGS ?= -O2
# Always on: C11, warnings as errors, threads.
REQUIRED_CFLAGS = -std=c11 -Wall -Wextra -Werror -pthread
ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
TSAN_FLAGS = -O1 -g -fsanitize=thread
HLS_LIBS   = -L$(LIBDIR) -lhls -Wl,-rpath,$(abspath $(LIBDIR))

.PHONY: all asan tsan clean
all: $(PROGS)
asan: $(PROGS:=-asan)
tsan: $(PROGS:=-tsan)

$(PROGS): %: %.c $(INCLUDE)/hls.h
	$(CC) $(REQUIRED_CFLAGS) $(CFLAGS) -I$(INCLUDE) $< -o $@ $(LDFLAGS) $(HLS_LIBS) $(LDLIBS)

$(PROGS:=-asan): %-asan: %.c $(INCLUDE)/hls.h
	$(CC) $(REQUIRED_CFLAGS) $(ASAN_FLAGS) -I$(INCLUDE) $< -o $@ $(LDFLAGS) $(HLS_LIBS) $(LDLIBS)

$(PROGS:=-tsan): %-tsan: %.c $(INCLUDE)/hls.h
	$(CC) $(REQUIRED_CFLAGS) $(TSAN_FLAGS) -I$(INCLUDE) $< -o $@ $(LDFLAGS) $(HLS_LIBS) $(LDLIBS)

clean:
	rm -f $(PROGS) $(PROGS:=-asan) $(PROGS:=-tsan)
